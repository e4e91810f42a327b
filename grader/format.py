"""Show values in the learner's terms: ``[1.0, 0.0]`` rather than ``array([1., 0.])``."""
from __future__ import annotations

import re

import numpy as np

from .runner.expressions import Function
from .runner.wire import Handle, Opaque, WireTensor

MAX_ITEMS = 8


def show(value, max_items: int = MAX_ITEMS) -> str:
    """A short, copy-pasteable rendering of an input or a returned value."""
    if isinstance(value, Function):
        return value.text()
    if isinstance(value, WireTensor):
        device = "" if value.device == "cpu" else f", device='{value.device}'"
        return f"tensor({_nested(value.array, max_items)}, dtype=torch.{value.dtype}{device})"
    if _is_torch_tensor(value):
        arr = value.detach().cpu().numpy()
        device = "" if value.device.type == "cpu" else f", device='{value.device}'"
        return f"tensor({_nested(arr, max_items)}, dtype={value.dtype}{device})"
    if isinstance(value, np.ndarray):
        text = _nested(value, max_items)
        if value.size > max_items or value.ndim == 0:
            text += f" (shape {tuple(value.shape)})"
        return text
    if isinstance(value, (np.float16, np.float32)):  # their own shortest text: 0.1, not 0.0999755859375
        return _scalar(float(str(value)))
    if isinstance(value, np.generic):  # np.float64(0.5), np.True_, np.str_('a'): as plain Python values
        return show(value.item(), max_items)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(show(v, max_items) for v in value[:max_items])
        if len(value) > max_items:
            inner += ", ..."
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show(k, max_items)}: {show(v, max_items)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return repr(str(value)) if len(value) < 300 else repr(str(value)[:300]) + "..."
    if isinstance(value, (Opaque, Handle)):
        return repr(value)
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def describe_type(value) -> str:
    """What kind of thing a value is, for messages like 'returned a list'."""
    if isinstance(value, WireTensor):
        return f"a torch.{value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} object"
    if isinstance(value, np.generic):
        return f"a NumPy {value.dtype} scalar"
    if value is None:
        return "None (is a `return` missing?)"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _nested(arr: np.ndarray, max_items: int) -> str:
    if arr.ndim == 0:
        return _scalar(arr.item())
    if arr.ndim == 1:
        if arr.dtype == np.float32:  # float32's own shortest repr, not float64's long one
            items = [_scalar(float(str(v))) for v in arr[:max_items]]
        else:
            items = [_scalar(v) for v in arr[:max_items].tolist()]
        if arr.shape[0] > max_items:
            items.append("...")
        return "[" + ", ".join(items) + "]"
    if arr.size > max_items:  # a big array: a corner of it (the shape is said after it)
        rows = [_nested(r, max(3, max_items // 2)) for r in arr[:3]]
    else:
        rows = [_nested(r, max_items) for r in arr[: max(2, max_items // 2)]]
    if arr.shape[0] > len(rows):
        rows.append("...")
    return "[" + ", ".join(rows) + "]"


def _scalar(v) -> str:
    if isinstance(v, float):
        return repr(v) if abs(v) >= 1e-4 or v == 0 or v != v else f"{v:.3g}"
    return repr(v)


def _is_torch_tensor(value) -> bool:
    t = type(value)
    return t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter")


def points(x) -> str:
    """Points as a learner reads them: ``3``, ``0.5``, ``1.33`` (two decimals at most, never
    ``1.33333``). Totals are added exactly first (grader/results.py); only the text is rounded."""
    x = round(float(x), 2)
    if x == 0:
        return "0"
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text


def points_of(score, max_score) -> str:
    """``score/max_score`` in :func:`points`' form: ``1.33/2``."""
    return f"{points(score)}/{points(max_score)}"


MIN_WIDTH, MAX_WIDTH = 40, 100


def terminal_width(default: int = MAX_WIDTH) -> int:
    """The width learner-facing lines are wrapped to: the terminal's (``$COLUMNS`` when set),
    between 40 and 100 columns; ``default`` when there is no terminal (a pipe, a file)."""
    import shutil

    columns = shutil.get_terminal_size((default, 24)).columns
    return max(MIN_WIDTH, min(columns - 1, MAX_WIDTH))


def columns(default: int = 120) -> int:
    """The terminal's width for tables (not capped: a wide terminal shows long titles on one
    line); ``default`` without a terminal."""
    import shutil

    return max(MIN_WIDTH, shutil.get_terminal_size((default, 24)).columns - 1)


def wrap(text: str, indent: int = 0, *, hanging: int = 2, width: int | None = None) -> str:
    """Every paragraph of ``text`` wrapped to the terminal at word boundaries, indented by
    ``indent`` and continued ``hanging`` columns further in (a long word, such as a path,
    is never broken: it gets a line of its own)."""
    import textwrap

    pad = " " * indent
    width = width or terminal_width()
    return "\n".join(textwrap.fill(p, width=width, initial_indent=pad, subsequent_indent=pad + " " * hanging,
                                   break_long_words=False, break_on_hyphens=False) or pad
                     for p in (text or "").splitlines() or [""])


def wrap_items(items: list[str], *, separator: str = "  ", indent: int = 0, width: int | None = None) -> str:
    """``items`` (each kept whole, such as ``[n] next exercise``) on as few lines as fit
    the terminal: a line breaks between items, never inside one."""
    width = width or terminal_width()
    lines, line = [], " " * indent
    for item in items:
        candidate = item if not line.strip() else line + separator + item
        if line.strip() and len(candidate) > width:
            lines.append(line)
            line = " " * indent + item
        else:
            line = candidate if line.strip() else " " * indent + item
    lines.append(line)
    return "\n".join(lines)


_SENTENCE_START = re.compile(r"(^|(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)[.!?] +)([a-z][a-z']*)(?![\w.(\[=/:`'-])")
# Words that stay lower case at the start of a sentence: commands a learner types.
_COMMANDS = frozenset({"grade", "python", "python3", "pip", "git", "bash", "pytest", "np", "torch", "numpy"})


def sentence_case(text: str, keep=()) -> str:
    """``text`` with a capital letter at its start and at the start of every sentence after
    a full stop (``right. the`` → ``right. The``), as prose is written.

    A name stays as the code spells it: the words in ``keep`` (the exercise's function
    names), commands (``grade``), and any word written as code (``dot(``, ``np.dot``,
    ``x=``, ``vectors.py``); ``e.g.`` and ``i.e.`` do not end a sentence."""
    keep = _COMMANDS | set(keep)

    def upper(m: re.Match) -> str:
        word = m.group(2)
        if word in keep or (len(word) == 1 and word not in "ai"):  # x, y: a parameter, not a word
            return m.group(0)
        return m.group(1) + word[0].upper() + word[1:]

    return _SENTENCE_START.sub(upper, text)


def call_text(function: str, params: list[str], args, kwargs=None) -> str:
    """``dot(a=[1.0, 0.0], b=[1.0, 0.0])`` — a call as the learner would write it.

    An array passed twice is shown by the name it was first given (``dot(a=[1.0, 2.0], b=a)``):
    the function got one array twice, which is not the same as two equal arrays.
    """
    parts, named = [], []  # named: (array, the parameter it was first passed as)
    items = [(params[i] if i < len(params) else None, a) for i, a in enumerate(args)]
    for name, value in items + list((kwargs or {}).items()):
        first = next((n for v, n in named if v is value), None)
        shown = first if first is not None else show(value)
        if name is not None and first is None and hasattr(value, "shape"):
            named.append((value, name))
        parts.append(f"{name}={shown}" if name else shown)
    return f"{function}({', '.join(parts)})"
