"""The shared machinery of every check: registering checks, calling learner code, comparing.

A check module (one per exercise, e.g. ``grader/checks/vectors.py``) registers checks::

    checks = Registry("vectors")

    @checks.add("dot", "agrees_with_numpy", S.vector_pairs())
    def _(learner, tol, a, b):
        expect_close(learner.dot(a, b), np.dot(a, b), tol, scale=np.abs(a * b).sum())

The course file (``grader/course.yaml``) says which registered checks count, their points,
tolerances and hints. With a strategy, a check is a hypothesis property: it runs on many
generated examples in the grader's process, each call going to the learner's child
process; on failure hypothesis shrinks to the smallest failing example, and its message
becomes the verdict. Without a strategy, the check runs once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..format import call_text, describe_type, show
from ..runner.sandbox import LearnerProcess, ProcessGone
from ..runner.wire import Opaque, WireTensor


# ----------------------------------------------------------------------------- outcomes


class Mismatch(AssertionError):
    """The learner's answer is wrong for this example (hypothesis shrinks it).

    ``hint`` replaces the course file's hint for this verdict (None keeps it, "" drops it):
    a recognised mistake (:class:`Slip`) brings its own. ``diagnosis`` names that mistake
    (it goes to the result's ``extra["diagnosis"]``).
    """

    def __init__(self, message: str = "", *, hint: str | None = None, diagnosis: str = ""):
        super().__init__(message)
        self.hint = hint
        self.diagnosis = diagnosis


class NotJudged(Mismatch):
    """A property check found nothing to judge: the learner's value is not of the kind the
    property is about (``dot`` returned an array, so "a·b = b·a" cannot be weighed).

    The check fails without a hint, and says which other checks tell what is wrong; a
    property check never repeats what a value check already says.
    """

    def __init__(self, message: str):
        super().__init__(message, hint="", diagnosis="not_judged")


class LearnerRaised(Exception):
    """The learner's function raised an exception for this example (hypothesis shrinks it).

    ``hint``: as for :class:`Mismatch`, set when the error itself is recognisable
    (:func:`raised_hint`).
    """

    def __init__(self, message: str = "", *, hint: str | None = None, diagnosis: str = ""):
        super().__init__(message)
        self.hint = hint
        self.diagnosis = diagnosis


class Abort(BaseException):
    """Stop the check at once, without shrinking.

    A BaseException, so hypothesis does not treat it as a failing example to shrink:
    re-running a hang or a crash dozens of times would only waste the learner's time.
    """

    def __init__(self, message: str, *, not_started: bool = False, timed_out: bool = False):
        super().__init__(message)
        self.message = message
        self.not_started = not_started
        self.timed_out = timed_out  # the call hung: the function's other checks are skipped


@dataclass(frozen=True)
class Tolerance:
    """Allowed error: ``|got - expected| <= atol + rtol * scale`` (scale defaults to |expected|).

    ``options`` carries a check's other settings from the course file (e.g. an accuracy
    threshold, or float32 tolerances); read them with :meth:`option`.
    """

    rtol: float = 1e-9
    atol: float = 1e-12
    options: dict = field(default_factory=dict, compare=False, hash=False)

    def option(self, name: str, default=None):
        return self.options.get(name, default)


# ----------------------------------------------------------------------------- registry


@dataclass
class CheckImpl:
    function: str
    id: str
    body: Callable
    strategy: object | None = None  # a hypothesis strategy of argument tuples, or None
    needs: tuple = ()  # other checks' ids whose setup this one shares (informational)
    examples: tuple = ()  # argument tuples tried after the generated ones (a docstring's worked example)


@dataclass
class Registry:
    """The checks of one exercise, by (function, id)."""

    exercise: str
    checks: dict = field(default_factory=dict)

    def add(self, function: str, id: str, strategy=None, *, examples: tuple = ()):
        """Register ``body`` as the check ``function.id``.

        ``examples``: argument tuples the check also tries on every run, such as a
        docstring's worked example. grader/grading.py tries them once every generated
        example has passed, so a failure is still shown on the smallest generated input
        when there is one.
        """
        def decorate(body):
            key = (function, id)
            if key in self.checks:
                raise ValueError(f"check {function}.{id} registered twice")
            self.checks[key] = CheckImpl(function, id, body, strategy, examples=tuple(examples))
            return body

        return decorate

    def get(self, function: str, id: str) -> CheckImpl | None:
        return self.checks.get((function, id))


# ----------------------------------------------------------------------------- learner proxy


class Learner:
    """Stands for the learner's module inside a check: ``learner.dot(a, b)``.

    Each call goes to the child process. The last call is remembered so that messages
    can say exactly what was called (``dot(a=[1.0], b=[2.0]) returned ...``).
    """

    def __init__(self, process: LearnerProcess, signatures: dict[str, list[str]],
                 check_autograd: bool = False, *, seed=None):
        self._process = process
        # The run's grader.seeds.Seed (None: the public seed 0): checks that make their own
        # data (the MLP's) derive it from this; it never goes to the learner's process.
        self.grading_seed = seed
        self._signatures = signatures
        self._check_autograd = check_autograd
        self.last_call = ""
        self.last_args: list | None = None
        self.last_sent: tuple | None = None  # (name, args, kwargs) of the last plain call
        self.autograd_used: list[str] = []
        self.seconds = 0.0
        self.last_seconds = 0.0

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def call(self, name, *args, _return_args=False, _keep=False, _target=None, _timeout=None, **kwargs):
        """Call the learner's ``name``; raise LearnerRaised or Abort if it does not return."""
        params = self._signatures.get(name, [])
        shown = call_text(name, params, args, kwargs) if _target is None else \
            call_text(f"{_target_name(_target)}.{name}", params, args, kwargs)
        self.last_call = shown
        self.last_sent = (name, args, dict(kwargs)) if _target is None and not _keep else None
        try:
            reply = self._process.call(None if _target is not None else name, args, kwargs,
                                       return_args=_return_args, keep=_keep, target=_target,
                                       method=name if _target is not None else None, timeout=_timeout)
        except ProcessGone as gone:
            raise Abort(f"{shown} {gone.message}", timed_out=gone.reason == "timeout") from None
        self.seconds += reply.seconds
        self.last_seconds = reply.seconds
        if reply.autograd:
            self.autograd_used.extend(reply.autograd)
            if self._process.forbid_autograd:
                # A function that uses autograd, or that the grader cannot read to check (the
                # policy of grader/runner/lint.py), earns nothing: every one of its checks fails.
                from .backprop import by_hand_message

                fail(by_hand_message(shown, list(dict.fromkeys(reply.autograd))))
        if reply.status == "raised":
            error = reply.error or {}
            if error.get("missing") and _target is None:
                raise Abort(f"{self._process.module_name}.py has no function named {name}. The course "
                            f"expects {name}({', '.join(params)}); check the spelling and that it is "
                            f"defined at the top level of the file.")
            if error.get("not_implemented"):
                raise Abort(f"{name} still raises NotImplementedError: write it to start scoring.",
                            not_started=True)
            known = raised_hint(error)
            raise LearnerRaised(f"{shown} raised {error_text(error)}", hint=known[1] if known else None,
                                diagnosis=known[0] if known else "")
        self.last_args = reply.args
        return reply.value

    def keep(self, name, *args, **kwargs):
        """Call ``name`` and keep its result in the child; returns a handle to it."""
        return self.call(name, *args, _keep=True, **kwargs)

    def method(self, handle, name, *args, keep=False, **kwargs):
        return self.call(name, *args, _target=handle, _keep=keep, **kwargs)

    def with_args(self, name, *args, **kwargs):
        """Call ``name`` and also get back its arguments as they are after the call."""
        value = self.call(name, *args, _return_args=True, **kwargs)
        return value, self.last_args

    def describe(self, handle) -> dict:
        try:
            return self._process.describe(handle)
        except ProcessGone as gone:
            raise Abort(f"{self.last_call} {gone.message}") from None


def _target_name(handle) -> str:
    return "model" if "Module" in handle.type_name or handle.type_name.endswith("MLP") else "obj"


def error_text(error: dict) -> str:
    """``IndexError: index 3 is out of bounds (vectors.py, line 12: return a[3])``."""
    text = error.get("type", "an exception")
    if error.get("message"):
        text += f": {error['message']}"
    where = location_text(error)
    return f"{text} ({where})" if where else text


# Errors whose message alone says what the learner did: (diagnosis, what the message
# contains, the idea to look at). The hint replaces the check's general one.
RAISED = (
    ("whole_array_question", "truth value of an array with more than one element is ambiguous",
     "Python's if, and, or, and the built-in max and min ask one yes-or-no question of a whole array. "
     "Work entry by entry with NumPy instead: np.maximum, np.where, or a mask such as x > 0."),
    ("whole_tensor_question", "Boolean value of Tensor with more than one value is ambiguous",
     "Python's if, and, or, and the built-in max and min ask one yes-or-no question of a whole tensor. "
     "Work entry by entry with tensor operations instead: a mask such as x > 0, or torch.where."),
    ("shapes_do_not_fit", "shapes cannot be multiplied",
     "The inner sizes of a matrix product must agree, (a, b) @ (b, c): compare the shapes of both sides. A "
     "transpose is missing, or one too many."),
    ("shapes_do_not_fit", "mismatch in its core dimension",
     "The inner sizes of a matrix product must agree, (a, b) @ (b, c): compare the shapes of both sides. A "
     "transpose is missing, or one too many."),
    ("integer_array_updated_in_place", "Cannot cast ufunc",
     "The array updated in place holds integers, which cannot store a fractional result. Work on a "
     "float copy, e.g. np.array(x, dtype=float)."),
)


def raised_hint(error: dict) -> tuple[str, str] | None:
    """(diagnosis, hint) when an exception's message is one :data:`RAISED` recognises."""
    message = str(error.get("message", ""))
    for name, words, hint in RAISED:
        if words in message:
            return name, hint
    return None


def location_text(error: dict) -> str:
    import os

    if not error.get("file"):
        return ""
    where = f"{os.path.basename(str(error['file']))}, line {error.get('line')}"
    if error.get("text"):
        where += f": {str(error['text']).strip()}"
    return where


# ----------------------------------------------------------------------------- comparisons


def fail(message: str, *, hint: str | None = None, diagnosis: str = ""):
    raise Mismatch(message, hint=hint, diagnosis=diagnosis)


@dataclass(frozen=True)
class Slip:
    """A recognisable mistake: what it would return on this example, and what to say then.

    ``value`` computes, from the example at hand, what the mistake returns (None where it
    cannot arise, e.g. a transpose of a non-square matrix); ``why`` completes "returned X,
    expected Y: ..." (it starts in lower case: "that is ..."); ``hint`` is the idea to look
    at, a full sentence, and replaces the check's general hint; ``name`` is the diagnosis,
    stable for tests and reports (``extra["diagnosis"]``).
    """

    name: str
    value: Callable[[], object]
    why: str
    hint: str = ""
    rtol: float | None = None  # how close counts as "the same" (default: diagnose's rtol)


def diagnose(got, slips, *, rtol: float = 1e-9, atol: float = 1e-12, probe=None) -> Slip | None:
    """The first of ``slips`` whose value ``got`` equals (same shape, within rtol/atol), if any.

    A shrunk example is often too small to tell mistakes apart (on ``[0.0]`` and ``[2.0]``
    the mean absolute error and the root of the MSE are both 2.0). ``probe``, when given,
    yields ``(got, slips)`` for other, fixed examples the learner's function is tried on;
    the slips that explain those as well are kept, until one name is left.
    """
    found = _matching(got, slips, rtol, atol)
    if len({slip.name for slip in found}) > 1 and probe is not None:
        try:
            for other, other_slips in probe():
                names = {slip.name for slip in _matching(other, other_slips, rtol, atol)}
                found = [slip for slip in found if slip.name in names] or found
                if len({slip.name for slip in found}) == 1:
                    break
        except (Mismatch, LearnerRaised):  # the probe itself went wrong: keep the first reading
            pass
    return found[0] if found else None


def probing(call, slips_of, *examples):
    """A ``probe`` for :func:`diagnose`: ``call`` (the learner's function) and ``slips_of``
    (the slips of an example) on each of the fixed ``examples``, argument tuples chosen so
    that the recognisable mistakes all give different numbers on them."""
    def run():
        for example in examples:
            yield call(*example), slips_of(*example)
    return run


def _matching(got, slips, rtol, atol) -> list:
    try:
        arr = np.asarray(got.array if isinstance(got, WireTensor) else got, dtype=float)
    except (TypeError, ValueError):
        return []
    found = []
    for slip in slips:
        with np.errstate(all="ignore"):
            try:
                target = slip.value()
            except (ArithmeticError, ValueError, IndexError):
                target = None
            if target is None:
                continue
            target = np.asarray(target, dtype=float)
            close = slip.rtol if slip.rtol is not None else rtol
            if target.shape == arr.shape and np.allclose(arr, target, rtol=close, atol=atol, equal_nan=True):
                found.append(slip)
    return found


def fail_with(message: str, slip: Slip | None, *, hint: str | None = None):
    """Fail with ``message``, completed by the diagnosis of ``slip`` when one was recognised."""
    if slip is None:
        fail(message, hint=hint)
    fail(f"{message}: {slip.why}", hint=slip.hint or hint, diagnosis=slip.name)


def not_judged(what: str, got, needs: str, function: str):
    """A property check cannot weigh ``got``: say why once, and where the real problem is reported."""
    raise NotJudged(f"Could not be judged: {what} returned {show(got)}, which is {describe_type(got)}, and "
                    f"this property is about {needs}. The other checks of {function} say what to change; "
                    f"once they pass, this one can judge.")


def judged_number(got, what: str, function: str) -> float:
    """``got`` as a float for a property check, or :class:`NotJudged` if it is not one number."""
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)) \
            and not (isinstance(got, np.ndarray) and got.ndim == 0 and got.dtype.kind in "iuf"):
        not_judged(what, got, f"the number {function} returns", function)
    return float(got)


def judged_array(got, shape: tuple, what: str, function: str) -> np.ndarray:
    """``got`` as a float array of ``shape`` for a property check (lists of numbers too), or
    :class:`NotJudged` if it is not one."""
    arr = None
    if isinstance(got, np.ndarray) and got.dtype.kind in "biuf":
        arr = got.astype(float)
    elif isinstance(got, (list, tuple)):
        try:
            arr = np.array(got, dtype=float)
        except (TypeError, ValueError):
            arr = None
    if arr is None or arr.shape != tuple(shape):
        not_judged(what, got, f"a result of shape {tuple(shape)}", function)
    return arr


def as_number(got, what: str) -> float:
    """The returned value as a float, or a Mismatch that explains what came back instead."""
    if got is None:
        fail(f"{what} returned None; expected a number (is a `return` statement missing?)")
    if isinstance(got, (bool, np.bool_)) or isinstance(got, (str, Opaque, list, tuple, dict)):
        fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a number")
    if isinstance(got, np.ndarray):
        if got.ndim != 0:
            fail(f"{what} returned {describe_type(got)}; expected a single number")
        got = got.item()
    if isinstance(got, WireTensor):
        fail(f"{what} returned {describe_type(got)}; expected a single number")
    if isinstance(got, complex) or isinstance(got, np.complexfloating):
        fail(f"{what} returned the complex number {got}; expected a real number")
    return float(got)


def as_array(got, what: str, *, allow_lists: bool = True) -> np.ndarray:
    """The returned value as a float array (lists of numbers are accepted for values)."""
    if isinstance(got, WireTensor):
        return got.array
    if isinstance(got, np.ndarray):
        if got.dtype.kind not in "biuf":
            fail(f"{what} returned {describe_type(got)}; expected an array of numbers")
        return got.astype(float) if got.dtype.kind != "f" else got
    if allow_lists and isinstance(got, (list, tuple)):
        try:
            arr = np.array(got, dtype=float)
        except (TypeError, ValueError):
            fail(f"{what} returned {show(got)}, which is not an array of numbers")
        return arr
    fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a NumPy array")


def close_enough(got, expected, tol: Tolerance, scale=None) -> np.ndarray:
    """Elementwise verdict: within ``atol + rtol*scale``, NaN only where NaN is expected."""
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = np.abs(expected) if scale is None else np.abs(np.asarray(scale, dtype=float))
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.abs(got - expected) <= tol.atol + tol.rtol * scale
        ok |= (got == expected)  # equal infinities
        ok |= np.isnan(got) & np.isnan(expected)
    return ok


def expect_close(got, expected, tol: Tolerance, *, scale=None, what: str | None = None,
                 learner: Learner | None = None, hint: str = "", slips=(), probe=None):
    """Fail unless ``got`` equals ``expected`` (a number or an array) within ``tol``.

    ``what`` names the call in the message (default: the learner's last call). ``hint``
    is a sentence added to the message; ``slips`` are the recognisable mistakes
    (:class:`Slip`) of this example: the first that ``got`` equals is named instead
    (``probe``: see :func:`diagnose`).
    """
    what = what or (learner.last_call if learner else "the function")
    expected_arr = np.asarray(expected, dtype=float)

    def wrong(message: str, value) -> None:
        """Fail with ``message``, naming the mistake when one is recognised."""
        slip = aliasing_slip(learner, expected_arr, tol, scale) or \
            (diagnose(value, slips, probe=probe) if slips else None)
        if slip is not None:
            fail_with(message, slip)
        fail(message + _hint(hint))

    if expected_arr.ndim == 0:
        value = as_number(got, what)
        if not close_enough(value, expected_arr, tol, scale).all():
            wrong(f"{what} returned {show(value)}, expected {show(float(expected_arr))}", value)
        return value
    try:
        arr = as_array(got, what)
    except Mismatch as wrong:  # not an array at all; a recognisable slip may still explain it
        slip = diagnose(got, slips, probe=probe) if slips else None
        if slip is None:
            raise
        fail_with(str(wrong), slip)
    if arr.shape != expected_arr.shape:
        wrong(f"{what} returned {describe_type(got)}; expected shape {tuple(expected_arr.shape)}", arr)
    ok = close_enough(arr, expected_arr, tol, scale)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        at = f" (first difference at index {idx[0] if len(idx) == 1 else idx}: " \
             f"{show(arr[idx].item())} vs {show(expected_arr[idx].item())})"
        wrong(f"{what} returned {show(arr)}, expected {show(expected_arr)}{at}", arr)
    return arr


def aliasing_slip(learner: Learner | None, expected, tol: Tolerance, scale=None) -> Slip | None:
    """The diagnosis of a function that is wrong only when one array is passed twice.

    ``dot(a, a)`` gives the function one array as both arguments. If the learner's last call
    did, and the same call with separate copies returns ``expected``, the function writes into
    one argument while still reading the other. (One extra call, made only on a failure.)
    """
    if learner is None or learner.last_sent is None:
        return None
    name, args, kwargs = learner.last_sent
    params = learner._signatures.get(name, [])
    names = [params[i] if i < len(params) else f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
    values = list(args) + list(kwargs.values())
    pairs = [(names[i], names[j]) for j in range(len(values)) for i in range(j)
             if values[j] is values[i] and hasattr(values[i], "shape")]
    if not pairs:
        return None
    copied = [WireTensor(v.array.copy(), v.dtype, v.device) if isinstance(v, WireTensor)
              else v.copy() if isinstance(v, np.ndarray) else v for v in values]
    shown = learner.last_call
    try:
        again = learner.call(name, *copied[:len(args)], **dict(zip(kwargs, copied[len(args):])))
        right = close_enough(as_array(again, shown) if np.ndim(expected) else as_number(again, shown),
                             expected, tol, scale).all()
    except Exception:  # noqa: BLE001 - raising, hanging or wrong again: no diagnosis, the first failure stands
        right = False
    finally:
        learner.last_call, learner.last_sent = shown, (name, args, kwargs)
    if not right:
        return None
    first, second = pairs[0]
    kind = "tensor" if any(isinstance(v, WireTensor) for v in values) else "array"
    return Slip("aliased_arguments", lambda: None,
                f"{second} was the same {kind} as {first}, and given two separate {kind}s with the same values it "
                f"returns the right answer. It writes into one argument while still reading the other",
                f"A caller may pass one {kind} for both arguments, as in {name}({first}, {first}). Put results in "
                f"a new {kind}, one your function creates, rather than into an input: then reading one argument "
                f"never sees what was written into the other.")


def _hint(hint: str) -> str:
    """A sentence after the message: ``. It should ...`` (always in sentence case)."""
    return f". {hint[:1].upper()}{hint[1:]}" if hint else ""


def is_finite_number(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)


# ----------------------------------------------------------------------------- shared checks


def expect_float(got, what: str) -> float:
    """The contract promises a plain number (Python float or NumPy float scalar)."""
    if isinstance(got, bool) or not isinstance(got, (float, np.floating)):
        fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a float "
             f"(e.g. wrap the result in float(...))")
    return float(got)


def expect_array(got, shape: tuple, what: str) -> np.ndarray:
    """The contract promises a float NumPy array of ``shape``."""
    if not isinstance(got, np.ndarray):
        fail(f"{what} returned {show(got)}, which is {describe_type(got)}; expected a NumPy array "
             f"of shape {shape}")
    if got.shape != tuple(shape):
        fail(f"{what} returned an array of shape {got.shape}; expected shape {tuple(shape)}")
    if got.dtype.kind != "f":
        fail(f"{what} returned an array of dtype {got.dtype}; expected floats (dtype float64) — "
             f"integer results lose the fractional part")
    return got


def expect_inputs_unchanged(learner: Learner, name: str, args: tuple, **kwargs) -> None:
    """Call ``name`` and fail if it changed any array it was given (callers keep their data)."""
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    learner.call(name, *args, _return_args=True, **kwargs)
    after = learner.last_args or []
    params = learner._signatures.get(name, [])
    for i, (b, a) in enumerate(zip(before, after)):
        if isinstance(b, np.ndarray) and (not isinstance(a, np.ndarray) or a.shape != b.shape
                                          or not np.array_equal(a, b, equal_nan=True)):
            pname = params[i] if i < len(params) else f"argument {i + 1}"
            fail(f"{learner.last_call} changed its input {pname}: it was {show(b)} before the call and "
                 f"{show(a)} after. Work on a copy (e.g. {pname} = {pname}.copy() or "
                 f"np.array({pname}, dtype=float)) so the caller's data stays as it was")
