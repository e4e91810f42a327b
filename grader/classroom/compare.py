"""``grade compare EXERCISE --ref solutions``: your functions and the ref's, on the same inputs.

Two :class:`~grader.runner.sandbox.LearnerProcess` children are started, one importing
your module and one importing the module as it is at the ref. For each function, the
exercise's first property check (its ``agrees_with_*``/``matches_*`` check when there is
one) generates inputs with its own hypothesis strategy and seed, exactly as ``grade``
does; every call it makes goes to both children, and the answers are compared. The check
then carries on with the ref's answer, so one wrong value does not derail the inputs
that follow. The first disagreements are shown side by side.

Values are compared, not types: ``grade`` still judges whether a float came back where
a float was promised. Numbers agree within a relative 1e-7 (rounding differences between
a loop and ``np.dot`` are not disagreements).
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from ..checks.base import Abort, Learner, LearnerRaised
from ..format import show
from ..runner.expressions import Function
from ..runner.sandbox import LearnerProcess
from ..runner.wire import WireTensor

RTOL = 1e-7
ATOL = 1e-9


@dataclass
class Disagreement:
    call: str
    yours: str
    ref: str
    where: str = ""  # for arrays of one shape: the first entry that differs


@dataclass
class FunctionComparison:
    function: str
    calls: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    total: int = 0  # disagreeing calls, including those not kept
    note: str = ""  # why it could not be compared (not started, ...)
    not_started: bool = False
    stopped: bool = False  # stopped at the first disagreement (your function hung or crashed)
    smallest: bool = False  # disagreements[0] is the smallest disagreeing input hypothesis found

    @property
    def agrees(self) -> bool:
        return not self.note and self.total == 0 and self.calls > 0


class CompareError(Exception):
    """Something that stops the whole comparison (a module that cannot be imported...)."""


class _Disagree(Exception):
    """A disagreement, raised while looking for the smallest input that shows one (hypothesis shrinks it)."""

    def __init__(self, disagreement):
        super().__init__(disagreement.call)
        self.disagreement = disagreement


class _Enough(BaseException):
    """Enough disagreements collected: stop generating inputs for this function."""


class _Incomparable(BaseException):
    """The check keeps objects in the child (a model); calls cannot be mirrored."""


class _RefBroken(BaseException):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _outcome(thunk):
    try:
        return ("value", thunk())
    except LearnerRaised as e:
        return ("raised", str(e))
    except Abort as e:
        return ("not_started" if e.not_started else "gone", e.message)


def _raised_text(message: str) -> str:
    return "raised " + message.split(" raised ", 1)[-1] if " raised " in message else message


class DualLearner(Learner):
    """A :class:`Learner` that sends every call to both children and compares the answers."""

    def __init__(self, mine: LearnerProcess, ref: LearnerProcess, signatures: dict, limit: int):
        super().__init__(mine, signatures)
        self.ref = Learner(ref, signatures)
        self.limit = limit
        self.result: FunctionComparison | None = None
        self.strict = False  # raise _Disagree at the first disagreement (the shrinking pass)

    def call(self, name, *args, _return_args=False, _keep=False, _target=None, _timeout=None, **kwargs):
        if _keep or _target is not None:
            raise _Incomparable()
        yours = _outcome(lambda: Learner.call(self, name, *args, _return_args=_return_args,
                                              _timeout=_timeout, **kwargs))
        call_shown = self.last_call
        if yours[0] == "not_started":
            raise Abort(yours[1], not_started=True)
        if yours[0] == "gone" and "has no function named" in yours[1]:
            raise Abort(yours[1])
        theirs = _outcome(lambda: self.ref.call(name, *args, _return_args=_return_args,
                                                _timeout=_timeout, **kwargs))
        if theirs[0] in ("not_started", "gone"):
            raise _RefBroken(theirs[1])
        result = self.result
        agree = _same_outcome(yours, theirs)
        if self.strict:
            if not agree:
                raise _Disagree(_disagreement(call_shown, yours, theirs))
        else:
            result.calls += 1
            if not agree:
                result.total += 1
                if len(result.disagreements) < self.limit:
                    result.disagreements.append(_disagreement(call_shown, yours, theirs))
                if yours[0] == "gone":  # a hang or a crash: once is enough to show, and each costs time
                    result.stopped = True
                    raise _Enough()
        self.last_call = call_shown
        if theirs[0] == "raised":
            raise LearnerRaised(theirs[1])
        self.last_args = self.ref.last_args
        return theirs[1]


def _disagreement(call: str, yours, theirs) -> Disagreement:
    where = ""
    if yours[0] == theirs[0] == "value":
        a, b = _numeric(yours[1]), _numeric(theirs[1])
        if a is not None and b is not None and a.shape == b.shape and a.ndim > 0:
            finite = np.abs(b[np.isfinite(b)])
            scale = max(1.0, float(finite.max())) if finite.size else 1.0
            bad = ~np.isclose(a, b, rtol=RTOL, atol=ATOL * scale, equal_nan=True)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                shown = idx[0] if len(idx) == 1 else idx
                where = f"first difference at index {shown}: {show(a[idx].item())} vs {show(b[idx].item())}"
    return Disagreement(call, _describe(yours, call), _describe(theirs, call), where)


def _describe(outcome, call: str = "") -> str:
    kind, value = outcome
    if kind == "value":
        return show(value)
    if kind == "raised":
        return _raised_text(value)
    return value[len(call):].strip() if call and value.startswith(call) else value


def _same_outcome(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "raised":  # the same exception type is agreement enough
        return _raised_text(a[1]).split(":")[0] == _raised_text(b[1]).split(":")[0]
    if a[0] == "gone":
        return False
    return same_value(a[1], b[1])


def _numeric(value):
    if isinstance(value, WireTensor):
        return value.array
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.number)):
        return np.asarray(value, dtype=float)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(float)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=float)
    return None


def same_value(yours, ref) -> bool:
    a, b = _numeric(yours), _numeric(ref)
    if a is not None and b is not None:
        if a.shape != b.shape:
            return False
        finite = np.abs(b[np.isfinite(b)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL * scale, equal_nan=True))
    if isinstance(yours, dict) and isinstance(ref, dict):
        return yours.keys() == ref.keys() and all(same_value(yours[k], ref[k]) for k in ref)
    if isinstance(yours, (list, tuple)) and isinstance(ref, (list, tuple)):
        return len(yours) == len(ref) and all(same_value(x, y) for x, y in zip(yours, ref))
    if isinstance(ref, Function) or isinstance(yours, Function):
        return isinstance(yours, Function) and isinstance(ref, Function) and yours.text() == ref.text()
    try:
        return bool(yours == ref) and type(yours) is type(ref)
    except Exception:
        return False


def _pick_check(exercise, function):
    """The check whose inputs the comparison uses, and its implementation."""
    registry = exercise.registry()
    candidates = [(s, registry.get(function.name, s.id)) for s in function.checks if s.kind == "correctness"]
    candidates = [(s, impl) for s, impl in candidates if impl is not None]
    for prefer in (lambda s, i: i.strategy is not None and s.id.startswith(("agrees_with", "matches")),
                   lambda s, i: i.strategy is not None, lambda s, i: True):
        for spec, impl in candidates:
            if prefer(spec, impl):
                return spec, impl
    return None, None


def compare_function(exercise, function, learner: DualLearner, seed: int, examples: int) -> FunctionComparison:
    from ..grading import check_seed
    from ..seeds import independent_examples

    result = FunctionComparison(function.name)
    learner.result = result
    spec, impl = _pick_check(exercise, function)
    if impl is None:
        result.note = f"has no check to draw inputs from; run grade {exercise.name} instead"
        return result

    def body(*example):
        try:
            impl.body(learner, spec.tolerance, *example)
        except _Disagree:
            raise
        except Exception:  # the check's own verdict does not matter here, only the answers
            pass

    if impl.strategy is None:
        test = body
    else:
        @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                  phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck),
                  verbosity=Verbosity.quiet, print_blob=False)
        @hypothesis_seed(check_seed(seed, exercise.name, spec))
        @given(impl.strategy)
        def test(example):
            body(*example)

    try:
        with contextlib.redirect_stdout(sys.stderr), independent_examples():  # the inputs grade sends
            test()
    except _Enough:
        pass
    except _Incomparable:
        result.note = (f"builds objects inside your process (like a model), which cannot be mirrored; "
                       f"run grade {exercise.name} instead")
    except Abort as stop:
        result.note = stop.message
        result.not_started = stop.not_started
    if result.total and not result.stopped and impl.strategy is not None:
        _find_smallest(result, impl, learner, check_seed(seed, exercise.name, spec), examples, body)
    return result


def _find_smallest(result: FunctionComparison, impl, learner: DualLearner, seed: int, examples: int, body):
    """Let hypothesis shrink a disagreement to the smallest input that still shows one."""
    from ..seeds import independent_examples

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @hypothesis_seed(seed)
    @given(impl.strategy)
    def shrink(example):
        body(*example)

    learner.strict = True
    try:
        with contextlib.redirect_stdout(sys.stderr), independent_examples():
            shrink()
    except _Disagree as found:
        smallest = found.disagreement
        others = [d for d in result.disagreements if d.call != smallest.call]
        result.disagreements = [smallest, *others][: max(1, learner.limit)]
        result.smallest = True
    except (Exception, _Enough, _Incomparable, Abort):  # no smaller one to show: keep what phase one found
        pass
    finally:
        learner.strict = False


def compare_exercise(exercise, source_dir: str, ref_dir: str, *, seed: int, examples: int = 25,
                     limit: int = 3) -> list[FunctionComparison]:
    from ..grading import import_error_text

    mine_path = os.path.join(source_dir, exercise.module_file)
    ref_path = os.path.join(ref_dir, exercise.module_file)
    if not os.path.isfile(mine_path):
        raise CompareError(f"{mine_path} was not found.")
    if not os.path.isfile(ref_path):
        raise CompareError(f"the ref has no {exercise.module_file} in its exercises folder.")
    options = dict(torch=exercise.framework == "torch", forbid_autograd=exercise.forbid_autograd, seed=seed)
    with LearnerProcess(exercise.name, mine_path, exercise.limits, **options) as mine, \
            LearnerProcess(exercise.name, ref_path, exercise.limits, **options) as ref:
        for process, path, whose in ((mine, mine_path, "yours"), (ref, ref_path, "the ref's")):
            try:
                error = process.start()
            except Exception as gone:
                error = {"type": "", "message": getattr(gone, "message", str(gone)), "gone": True}
            if error is not None:
                raise CompareError(f"{whose}: " + import_error_text(exercise, path, error))
        learner = DualLearner(mine, ref, exercise.signatures(), limit)
        results = []
        for function in exercise.functions:
            try:
                results.append(compare_function(exercise, function, learner, seed, examples))
            except _RefBroken as broken:
                raise CompareError(f"the ref's {function.name} did not answer: {broken.message}") from None
    return results


# ----------------------------------------------------------------------------- display

def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def side_by_side(d: Disagreement, ref_label: str, width: int = 100) -> list[str]:
    col = (width - 7) // 2
    left, right = "yours", ref_label
    where = [f"    {d.where}"] if d.where else []
    if len(d.yours) <= col and len(d.ref) <= col:
        w = max(len(left), len(d.yours), 8)
        return [f"  {d.call}", f"    {left:<{w}} │ {right}", f"    {d.yours:<{w}} │ {d.ref}", *where]
    return [f"  {_clip(d.call, width * 3)}", f"    {left}: {_clip(d.yours, width - 10)}",
            f"    {right}: {_clip(d.ref, width - 10)}", *where]


def render(exercise_name: str, ref: str, results: list[FunctionComparison], limit: int) -> str:
    import click

    lines = [f"Comparing your {exercise_name}.py with the one at '{ref}' on the same generated inputs.", ""]
    for r in results:
        if r.note:
            label = "not started" if r.not_started else "not compared"
            lines.append(click.style(f"· {r.function}: {label}", fg="yellow") + f" — {r.note}")
        elif r.total == 0:
            lines.append(click.style(f"✓ {r.function}: agrees on all {r.calls} calls", fg="green"))
        else:
            count = "stopped at the first disagreement" if r.stopped else f"{r.total} of {r.calls} calls disagree"
            lines.append(click.style(f"✗ {r.function}: {count}", fg="red", bold=True))
            for i, d in enumerate(r.disagreements):
                if r.smallest:
                    lines.append("  the smallest input found:" if i == 0 else "  another one:")
                lines += side_by_side(d, ref)
        lines.append("")
    if any(r.total for r in results):
        lines.append("Look at the smallest disagreeing input first and work it out by hand: which "
                     "answer is right, and why?")
    return "\n".join(lines).rstrip("\n")
