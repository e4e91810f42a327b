"""Timed runs as checks of kind ``timing``: run them for an exercise and report them.

:func:`add_timing` is the hook :func:`grader.grading.grade` calls after the correctness
checks (``grade`` without ``--no-timing``): for every timed function whose correctness
checks all passed it measures the learner against the reference solution and appends
one :class:`~grader.results.CheckResult` per timed run to the exercise's results. A
function that is not written yet, or not right yet, is not timed: its timing check says
that timing waits for correctness.

The reference is the course's own solution, ``solutions/<exercise>.py`` beside the
``grader`` package. Where there is none (a class release without solutions), timing
checks are skipped, worth 0 points, and say why.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Callable

from ..course import Course, Exercise
from ..results import CheckResult, ExerciseResult, Report
from ..runner.sandbox import LearnerProcess
from .measure import Measured, Side, time_function
from .spec import TimingSpec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOLUTIONS_ENV = "GRADE_SOLUTIONS"  # another folder of reference solutions (used by the tests)


def solutions_dir() -> str:
    """Where the reference solutions are: $GRADE_SOLUTIONS, else the course's: a course folder's
    ``solutions/`` (``grade --course DIR``), or ``solutions/`` beside ``grader/``."""
    if os.environ.get(SOLUTIONS_ENV):
        return os.environ[SOLUTIONS_ENV]
    from ..course import course_folder

    return course_folder().solutions


def _nvidia_driver() -> bool:
    import glob

    return os.path.exists("/proc/driver/nvidia") or bool(glob.glob("/dev/nvidia[0-9]*"))


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be timed here, and why not.

    On Linux without NVIDIA's driver (no /proc/driver/nvidia, no /dev/nvidia*), CUDA cannot
    be there: the grader then answers without importing torch, which would cost its own
    process a few hundred MiB (benchmarks/memory.py: the difference under Gradescope's 768 MB).
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False, "PyTorch is not installed"
    if sys.platform.startswith("linux") and not _nvidia_driver():
        return False, "no CUDA device here (torch.cuda.is_available() is False)"
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA device here (torch.cuda.is_available() is False)"
    return True, ""


# ----------------------------------------------------------------------------- measuring


def time_exercise(exercise: Exercise, specs: list[TimingSpec], source_dir: str, seed, *,
                  reference_dir: str | None = None,
                  on_done: Callable[[TimingSpec, list[Measured]], None] | None = None,
                  display_source: str | None = None) -> dict[tuple[str, str], list[Measured]]:
    """Measure ``specs`` (timed runs of ``exercise``): ``{(function, id): [one Measured per device]}``.

    One learner process and one reference process serve all the specs; they are started
    together and closed at the end. Nothing here decides whether a function is ready to be
    timed (that is :func:`add_timing`'s business); a stub simply comes back not started.
    ``source_dir`` is the grader's snapshot of the learner's folder (grader/gate.py);
    ``display_source`` the folder itself, for messages. ``seed``: the run's
    :class:`~grader.seeds.Seed` (an int is a public seed); every timing input derives from it,
    while both children are seeded with its public part only.
    """
    from ..seeds import Seed

    seed = Seed.of(seed)
    out: dict[tuple[str, str], list[Measured]] = {}
    reference_dir = reference_dir or solutions_dir()
    reference_path = os.path.join(reference_dir, exercise.module_file)
    learner_path = os.path.join(source_dir, exercise.module_file)
    devices_ok, why_not = (True, "")
    if any("cuda" in s.devices for s in specs):
        devices_ok, why_not = cuda_status()

    def every(outcome: str, detail: str, devices=None):
        for spec in specs:
            rows = [Measured(spec.function, d, spec.limit, outcome, detail=detail)
                    for d in (devices or spec.devices)]
            out[(spec.function, spec.id)] = rows
            if on_done:
                on_done(spec, rows)
        return out

    if not specs:
        return out
    if not os.path.isfile(reference_path):
        return every("skipped", f"there is no reference solution to time against ({reference_path} is "
                                f"missing; timing needs the course's solutions folder)", ["cpu"])
    if not os.path.isfile(learner_path):
        shown = os.path.join(display_source, exercise.module_file) if display_source is not None else learner_path
        return every("raised", f"{shown} was not found")

    torch = exercise.framework == "torch"
    # read_policy=False: a function is timed only once its checks, the autograd policy's
    # included, have passed; reading the policy again would load torch into the grader.
    make = lambda path: LearnerProcess(exercise.name, path, exercise.limits, torch=torch,  # noqa: E731
                                       forbid_autograd=exercise.forbid_autograd, seed=seed.public,
                                       read_policy=False)
    learner, reference = Side("learner", make(learner_path)), Side("reference", make(reference_path))
    try:
        errors = _start_both(learner, reference)
        if errors[1] is not None:
            return every("error", f"the reference solution {reference_path} could not be imported "
                                  f"({errors[1].get('message', '')})")
        if errors[0] is not None:
            return every("raised", f"{exercise.module_file} could not be imported "
                                   f"({errors[0].get('type', '')}: {errors[0].get('message', '')})")
        for spec in specs:
            rows = []
            for device in spec.devices:
                if device == "cuda" and not devices_ok:
                    rows.append(Measured(spec.function, device, spec.limit, "skipped", detail=why_not))
                    continue
                rows.append(time_function(spec, device, learner, reference, seed=seed,
                                          call_timeout=exercise.limits.call_timeout))
            out[(spec.function, spec.id)] = rows
            if on_done:
                on_done(spec, rows)
    finally:
        learner.close()
        reference.close()
    return out


def _start_both(learner: Side, reference: Side) -> list:
    """Start both children at once (importing torch takes a while); their import errors."""
    # The children's pre-exec hook imports ``resource``; with it already imported here, a
    # fork from one thread never waits on an import lock held by the other.
    import resource  # noqa: F401

    errors = [None, None]

    def start(i, side):
        errors[i] = side.start()

    threads = [threading.Thread(target=start, args=(i, side)) for i, side in enumerate((learner, reference))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


# ----------------------------------------------------------------------------- reporting


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        ms = seconds * 1e3
        return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def fmt_limit(limit: float) -> str:
    return f"{limit:g}×"


def describe(spec: TimingSpec, m: Measured) -> str:
    """One sentence about one device's timed run, in the learner's terms."""
    where = f"{spec.function} on {spec.label}" + (f" ({m.device})" if len(spec.devices) > 1 else "")
    hint = spec.hint or "look for a Python loop over the entries and let NumPy (or torch) do it in one operation"
    if m.outcome in ("pass", "fail", "undecided"):
        more = "more than " if m.censored * 2 > m.rounds else ""
        figures = (f"{where}: {more}{fmt_seconds(m.learner_s)} vs reference {fmt_seconds(m.reference_s)} = "
                   f"{more}{fmt_ratio(m.ratio)} (limit {fmt_limit(m.limit)})")
        if m.outcome == "fail":
            return f"{figures} — {hint}"
        if m.outcome == "undecided":
            interval = (f", {m.confidence:.0%} interval {fmt_ratio(m.low)}–{fmt_ratio(m.high)}"
                        if m.low is not None else "")
            return (f"{figures}. After {m.rounds} rounds the timing could not tell for sure whether this is "
                    f"within the limit{interval}, so it counts as passed, in your favour")
        return figures
    if m.outcome == "wrong":
        return (f"{where}: {m.detail} for the same inputs. Timing only counts right answers: the correctness "
                f"checks use small inputs, so look for what changes with size (a hard-coded length, integer "
                f"arithmetic, float32 sums)")
    if m.outcome == "raised":
        return f"{where}: {spec.function} {m.detail}" if m.detail.startswith("raised") else f"{where}: {m.detail}"
    if m.outcome == "not_started":
        return f"{spec.function} still raises NotImplementedError: timing starts once it is written"
    if m.outcome == "skipped":
        return f"{where}: skipped — {m.detail}"
    return f"{where}: could not be timed ({m.detail}), so it counts as passed"


def timing_result(spec: TimingSpec, rows: list[Measured]) -> CheckResult:
    """One check of kind ``timing`` from the rows of every device."""
    ran = [m for m in rows if m.outcome != "skipped"]
    message = "\n".join(describe(spec, m) for m in rows)
    extra = {"timing": [m.to_dict() for m in rows], "visibility": spec.visibility,
             "seconds": round(sum(m.seconds for m in rows), 6)}
    if not ran:  # no reference (class release): worth nothing, in either direction
        return CheckResult(spec.title, spec.function, "timing", True, 0.0, message, extra=extra)
    not_started = any(m.outcome == "not_started" for m in ran)
    if not_started:
        message = describe(spec, next(m for m in ran if m.outcome == "not_started"))
    passed = all(m.passed for m in ran)
    return CheckResult(spec.title, spec.function, "timing", passed, spec.points, message,
                       not_started=not_started, extra=extra)


def waiting_result(spec: TimingSpec, state: str) -> CheckResult:
    """The timing check of a function that is not ready to be timed."""
    if state == "not_started":
        return CheckResult(spec.title, spec.function, "timing", False, spec.points,
                           f"{spec.function} still raises NotImplementedError: timing starts once it is "
                           f"written and its correctness checks pass", not_started=True)
    if state == "error":
        return CheckResult(spec.title, spec.function, "timing", False, spec.points,
                           f"timing waits until the module can be imported and {spec.function} is graded",
                           error=True)
    return CheckResult(spec.title, spec.function, "timing", False, spec.points,
                       f"timing waits for correctness: {spec.function} is timed once all of its correctness "
                       f"checks pass (a fast wrong answer is still wrong)")


def correctness_state(result: ExerciseResult, function: str) -> str:
    """ready, not_started, failed or error: may ``function`` be timed?"""
    mine = [c for c in result.checks if c.function == function and c.kind == "correctness"]
    if any(c.error for c in mine):
        return "error"
    if any(c.not_started for c in mine):
        return "not_started"
    if not all(c.passed for c in mine):
        return "failed"
    if not mine and result.message:
        return "error"
    return "ready"


def unmeasurable_specs(exercise: Exercise, specs: list[TimingSpec], reference_dir: str | None) -> list[TimingSpec]:
    """The specs that cannot be timed on this machine whatever the learner writes (no
    reference solution; only CUDA runs and no CUDA here). Their timing check is worth 0
    points once it runs (:func:`timing_result`), so it is worth 0 while it waits too: the
    total does not move as a learner progresses."""
    reference = os.path.join(reference_dir or solutions_dir(), exercise.module_file)
    if not os.path.isfile(reference):
        return list(specs)
    cuda_only = [s for s in specs if s.devices and all(d == "cuda" for d in s.devices)]
    if cuda_only and not cuda_status()[0]:
        return cuda_only
    return []


def add_timing(course: Course, report: Report, source_dir: str, seed, *,
               progress: Callable[[str, int, int], None] | None = None,
               reference_dir: str | None = None) -> Report:
    """Append the timing checks of every graded exercise to ``report`` (in place)."""
    todo = [(r, course.get(r.name)) for r in report.exercises if r.name in course.names()]
    todo = [(r, e) for r, e in todo if e.timing_specs()]
    for i, (result, exercise) in enumerate(todo):
        if progress:
            progress(f"{exercise.name} (timing)", i, len(todo))
        specs = exercise.timing_specs()
        states = {s.function: correctness_state(result, s.function) for s in specs}
        ready = [s for s in specs if states[s.function] == "ready"]
        measured = time_exercise(exercise, ready, source_dir, seed, reference_dir=reference_dir) if ready else {}
        unmeasurable = unmeasurable_specs(exercise, specs, reference_dir)
        for spec in specs:
            if spec in ready:
                result.checks.append(timing_result(spec, measured[(spec.function, spec.id)]))
            else:
                waiting = waiting_result(spec, states[spec.function])
                if spec in unmeasurable:  # worth what it will be worth once it runs: nothing here
                    waiting.max_score = 0.0
                result.checks.append(waiting)
    if progress and todo:
        progress("", len(todo), len(todo))
    return report


__all__ = ["add_timing", "time_exercise", "timing_result", "describe", "solutions_dir", "cuda_status",
           "fmt_seconds", "fmt_ratio"]
