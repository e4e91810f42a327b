"""Show values in the learner's terms: ``[1.0, 0.0]`` rather than ``array([1., 0.])``."""
from __future__ import annotations

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
    if isinstance(value, (np.floating, np.integer)):
        return repr(value.item())
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
        return "{" + ", ".join(f"{k!r}: {show(v, max_items)}" for k, v in value.items()) + "}"
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


def call_text(function: str, params: list[str], args, kwargs=None) -> str:
    """``dot(a=[1.0, 0.0], b=[1.0, 0.0])`` — a call as the learner would write it."""
    parts = []
    for i, a in enumerate(args):
        name = params[i] if i < len(params) else None
        parts.append(f"{name}={show(a)}" if name else show(a))
    for k, v in (kwargs or {}).items():
        parts.append(f"{k}={show(v)}")
    return f"{function}({', '.join(parts)})"
