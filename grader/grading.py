"""Grade exercises: run each check of the course against the learner's isolated module.

This is the middle of the data path: course definition -> **checks -> runner** -> results.
For every exercise a :class:`~grader.runner.sandbox.LearnerProcess` imports the learner's
module in a child process; every check runs in *this* process (hypothesis, oracles,
comparisons), sending only inputs to the child and getting only plain data back.
"""
from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky, HypothesisException

from .checks.base import Abort, CheckImpl, Learner, LearnerRaised, Mismatch, location_text
from .course import CheckSpec, Course, Exercise
from .examples import ExampleRun, key_for
from .examples import enabled as examples_enabled
from .format import show
from .results import CheckResult, ExerciseResult, Report
from .runner.sandbox import Diverged, LearnerProcess, held_signals, release_signals
from .seeds import Seed, independent_examples

Progress = Callable[[str, int, int], None]  # (exercise name, done, total)


def check_seed(base_seed: Seed | int, exercise: str, spec: CheckSpec) -> int:
    """A fixed seed per check: the same submission always meets the same examples.

    Derived from the run's :class:`~grader.seeds.Seed` (a plain int is a public seed): public
    seeds give the values the grader has always used, a secret one values no one can
    compute without it.
    """
    return Seed.of(base_seed).derive(f"{exercise}/{spec.function}/{spec.id}")


def run_check(impl: CheckImpl, spec: CheckSpec, learner: Learner, seed: int, *, ahead: bool = False) -> CheckResult:
    """Run one check; turn whatever happens into a verdict with a teaching message.

    ``ahead``: replay kept examples with their calls sent ahead (grader/examples.py); this
    raises :class:`~grader.runner.sandbox.Diverged` when the learner's code ran calls a
    plain run would not have, and the caller grades the task again without
    (see :func:`grade_exercise`).
    """
    from time import perf_counter

    started = perf_counter()  # extra["seconds"]: the check's wall time, for CI reports

    def verdict(passed: bool, message: str = "", *, failure=None, **flags) -> CheckResult:
        # A recognised mistake brings its own hint (checks/base.py Slip); "" means none.
        hint = spec.hint if getattr(failure, "hint", None) is None else failure.hint
        if message and not passed and hint and not flags.get("not_started"):
            message = f"{message}\nHint: {hint}"
        result = CheckResult(name=spec.title, function=spec.function, kind=spec.kind, passed=passed,
                             max_score=spec.points, message=message,
                             extra={"seconds": round(perf_counter() - started, 6)}, **flags)
        if getattr(failure, "diagnosis", ""):  # e.g. "not_judged", "divides_by_h"
            result.extra["diagnosis"] = failure.diagnosis
        if not passed and not result.not_started:  # the smallest failing example, for grade --replay
            result.extra["replay"] = {"check": spec.id, "example": example_seen[0]}
        return result

    example_seen = [()]  # the example being tried; after shrinking, the smallest failing one

    if impl.strategy is None:
        def test():
            impl.body(learner, spec.tolerance)
    else:
        # Every setting from hypothesis's own default profile, never from one the calling
        # process loaded (a test suite's profile, hypothesis's "ci" profile): the examples
        # depend on the seed alone.
        @settings(settings.get_profile("default"), max_examples=spec.examples, database=None,
                  deadline=None, derandomize=False,
                  phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
        @hypothesis_seed(seed)
        @given(impl.strategy)
        def test(example):
            example_seen[0] = example
            if kept.intercept(example):  # already run (grader/examples.py)
                return
            impl.body(learner, spec.tolerance, *example)

        def replayed(example):
            example_seen[0] = example
            impl.body(learner, spec.tolerance, *example)

        # The examples of this seed, drawn once and replayed (hypothesis runs when one fails).
        secret = getattr(getattr(learner, "grading_seed", None), "is_secret", True)
        kept = ExampleRun(key_for(impl, spec, seed), secret=secret, process=getattr(learner, "_process", None),
                          ahead=ahead)

    try:
        with contextlib.redirect_stdout(sys.stderr), independent_examples():
            if impl.strategy is None:
                test()
            else:
                kept.run(test, replayed)
                # A docstring's worked example (checks/base.py Registry.add examples=), tried once the
                # generated examples pass: a failure is still shown on the smallest one when there is one.
                for known in getattr(impl, "examples", ()):
                    example_seen[0] = known
                    impl.body(learner, spec.tolerance, *known)
    except Abort as stop:
        if stop.timed_out:
            result = CheckResult(name=spec.title, function=spec.function, kind=spec.kind, passed=False,
                                 max_score=spec.points, message=f"{stop.message}. Look for a loop that never "
                                 f"ends, or one that runs far more often than it needs to.")
            result.extra["timed_out"] = True
            return result
        return verdict(False, stop.message, not_started=stop.not_started)
    except (Mismatch, LearnerRaised) as failure:
        return verdict(False, str(failure), failure=failure)
    except Flaky as flaky:
        inner = _first_learner_failure(flaky)
        return verdict(False, "gave different answers when called twice with the same input"
                       + (f": {inner}" if inner else "") + " — does it depend on randomness or on "
                       "values kept from earlier calls?")
    except HypothesisException as exc:
        return verdict(False, f"the check could not run ({type(exc).__name__}); please report this")
    except Exception as exc:  # a value the check could not even compare
        return verdict(False, f"{learner.last_call} returned a value the check could not use "
                       f"({type(exc).__name__}: {exc})")
    return verdict(True)


def _first_learner_failure(group) -> str:
    for exc in getattr(group, "exceptions", ()):
        if isinstance(exc, (Mismatch, LearnerRaised)):
            return str(exc)
    return ""


def grade_exercise(exercise: Exercise, source_dir: str, seed: Seed | int,
                   functions: list[str] | None = None, *, display_source: str | None = None) -> ExerciseResult:
    """Grade one exercise module found in ``source_dir`` (its correctness checks).

    ``seed``: the run's :class:`~grader.seeds.Seed` (an int is a public seed); every
    example and every piece of data the checks generate derives from it. The learner's
    process itself is seeded with the public seed only.

    ``functions`` limits grading to some of its functions (used to spread one exercise
    over several worker processes); each call starts its own learner process.
    ``display_source``: the learner's folder, named in messages when ``source_dir`` is the
    grader's private snapshot of it (grader/gate.py).
    """
    seed = Seed.of(seed)
    path = os.path.join(source_dir, exercise.module_file)
    specs = [s for s in exercise.checks() if s.kind == "correctness"
             and (functions is None or s.function in functions)]

    ran_under = [""]  # the sandbox mode, once a learner process has been started

    def all_checks(message: str, **flags) -> ExerciseResult:
        return ExerciseResult(exercise.name, message=message, sandbox=ran_under[0], checks=[
            CheckResult(name=s.title, function=s.function, kind=s.kind, passed=False,
                        max_score=s.points, message=message, **flags) for s in specs])

    if not os.path.isfile(path):
        shown = display_source if display_source is not None else source_dir
        return all_checks(f"{os.path.join(shown, exercise.module_file)} was not found: grade looks for a "
                          f"file named {exercise.module_file} in {shown}", error=True)
    registry = exercise.registry()
    # First with the kept calls sent ahead (grader/examples.py); if that made the learner's
    # code run a call a plain run would not have, again in a fresh process without.
    for ahead in (True, False) if examples_enabled() else (False,):
        try:
            return _grade_task(exercise, path, specs, registry, seed, all_checks, ran_under, ahead=ahead)
        except Diverged:
            continue
    raise AssertionError("unreachable: a plain run never diverges")


def _grade_task(exercise: Exercise, path: str, specs: list[CheckSpec], registry, seed: Seed, all_checks,
                ran_under: list, *, ahead: bool) -> ExerciseResult:
    """One learner process for these checks (see :func:`grade_exercise`).

    torch is imported in this process only where a check needs a torch value of its own (an
    oracle, the CUDA question), lazily, in the check. A function that is still a stub answers
    "not started" on its first call, so grading the untouched stubs imports torch only in the
    warm zygote. Where the module has code written for these functions, its checks will need
    torch, so the import starts now, while the learner process is being started."""
    written = exercise.framework == "torch" and _written(path, {spec.function for spec in specs})
    importing = _import_meanwhile("torch") if written else None
    try:
        return _run_checks(exercise, path, specs, registry, seed, all_checks, ran_under, ahead=ahead,
                           importing=importing)
    finally:
        if importing is not None:  # done before anything else forks this process
            importing.join()


def _run_checks(exercise: Exercise, path: str, specs: list[CheckSpec], registry, seed: Seed, all_checks,
                ran_under: list, *, ahead: bool, importing=None) -> ExerciseResult:
    with LearnerProcess(exercise.name, path, exercise.limits, torch=exercise.framework == "torch",
                        forbid_autograd=exercise.forbid_autograd, seed=seed.public) as process:
        try:
            load_error = process.start()
        except Exception as gone:  # ProcessGone while importing: hang, exit, crash
            load_error = {"type": "", "message": getattr(gone, "message", str(gone)), "gone": True}
        ran_under[0] = process.sandbox
        if importing is not None:
            # The import overlaps the learner process's start, never a check: a check importing
            # torch while the thread does can be handed the half-imported module (Python's
            # answer to two threads importing torch's submodules in opposite orders).
            importing.join()
        if process.violations:  # read the reference solution or looked at the grader: nothing counts
            return all_checks(f"{exercise.module_file} {process.violation_message()}.", extra={"flagged": True})
        if load_error is not None:
            return all_checks(import_error_text(exercise, path, load_error), error=True)
        learner = Learner(process, exercise.signatures(), seed=seed)
        results, not_started, hung = [], set(), {}
        for spec in specs:
            if spec.function in not_started:
                results.append(CheckResult(spec.title, spec.function, spec.kind, False, spec.points,
                                           f"{spec.function} still raises NotImplementedError: write it "
                                           f"to start scoring.", not_started=True))
                continue
            if spec.function in hung:  # one hang costs its time limit once, not once per check
                results.append(CheckResult(spec.title, spec.function, spec.kind, False, spec.points,
                                           f"not run, because an earlier check of {spec.function} hung: "
                                           f"{hung[spec.function]}"))
                continue
            result = run_check(registry.get(spec.function, spec.id), spec, learner,
                               check_seed(seed, exercise.name, spec), ahead=ahead)
            if result.not_started:
                not_started.add(spec.function)
            if result.extra.get("timed_out"):
                hung[spec.function] = result.message.split(". Look for")[0]
            results.append(result)
        if process.violations:
            return all_checks(f"{exercise.module_file} {process.violation_message()}.", extra={"flagged": True})
    return ExerciseResult(exercise.name, checks=results, sandbox=process.sandbox)


def _import_meanwhile(name: str):
    """Import ``name`` in a thread, returned (None if there is nothing to import): while this
    process waits for its learner process (a zygote importing torch), the import runs on the
    other core, not after. The caller joins it before this process could fork again."""
    import importlib
    import threading

    if name in sys.modules:
        return None

    def load():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not installed: the checks say so, in their own words
            pass

    thread = threading.Thread(target=load, name=f"import-{name}", daemon=True)
    thread.start()
    return thread


def _written(path: str, functions: set[str]) -> bool:
    """Whether the module at ``path`` has code written for one of ``functions``, read from its
    source (never run): a top-level function or class of that name none of whose bodies (the
    function's, or each method's) raises ``NotImplementedError`` at its top level, as the stubs
    do. Only a guess about whether torch will be needed, never a verdict: a file that cannot
    be read or parsed counts as written."""
    import ast

    def raises_not_implemented(body) -> bool:
        raised = [stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
                  for stmt in body if isinstance(stmt, ast.Raise)]
        return any(isinstance(exc, ast.Name) and exc.id == "NotImplementedError" for exc in raised)

    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except Exception:  # noqa: BLE001 - unreadable, not Python, or more than the parser takes: unsure
        return True
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in functions:
            if not raises_not_implemented(node.body):
                return True
        elif isinstance(node, ast.ClassDef) and node.name in functions:
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if not any(raises_not_implemented(m.body) for m in methods):
                return True
    return False


def warm_up(tasks, source_dir: str) -> None:
    """Start the warm grader's zygotes now, one per framework (grader/runner/warm.py): they
    import NumPy or PyTorch while the grader gets going, and every worker process forked
    after this shares them, so torch's import is paid once per run. Where there can be
    none (another sandbox mode), learner processes start cold, as before."""
    first: dict[str, Exercise] = {}
    for exercise, _ in tasks:
        first.setdefault(exercise.framework, exercise)
    for framework, exercise in sorted(first.items()):
        LearnerProcess(exercise.name, os.path.join(source_dir, exercise.module_file), exercise.limits,
                       torch=framework == "torch").warm_up()


def _end_on_sigterm() -> None:
    """In a worker: SIGTERM unwinds, so the learner process it runs is closed on the way out."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    release_signals()  # forked while the grader held them (runner/sandbox.py held_signals)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            worker.terminate()
        except (OSError, ValueError, AttributeError):
            pass


def _weakest(modes: list[str]) -> str:
    """The weakest isolation any part of an exercise ran under ("" if none ran code)."""
    ranked = [m for m in ("none", "uid", "namespaces") if m in modes]
    return ranked[0] if ranked else ""


TORCH_INSTALL = "python3 -m pip install torch --index-url https://download.pytorch.org/whl/cpu"


def _missing_torch(message: str) -> bool:
    """Whether an import error is torch itself missing ("No module named 'torch'" or 'torch.nn')."""
    import re

    return re.search(r"No module named '?torch(\.|'|$)", str(message)) is not None


def import_error_text(exercise: Exercise, path: str, error: dict) -> str:
    """One paragraph naming the file and line, for a module that cannot even be imported."""
    name = os.path.basename(path)
    if error.get("gone"):
        message = str(error["message"]).rstrip(".?! ")
        return f"Importing {name} {message}. Nothing in this exercise could be graded."
    where = location_text(error) or name
    kind = error.get("type", "Error")
    message = error.get("message", "")
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        article = "an" if kind[0] in "AEIOU" else "a"
        return (f"{name} has {article} {kind} ({where}): {message}. Python could not read the file, so none of "
                f"its functions could be graded; fix that line and run grade again.")
    if kind in ("ModuleNotFoundError", "ImportError") and exercise.framework == "torch" and _missing_torch(message):
        # Not the learner's mistake, and often not even their line (the grader imports torch first).
        return (f"{name} needs PyTorch, which is not installed for the Python that runs grade "
                f"({kind}: {message}). Install it with bash scripts/install.sh (in a checkout of the course), or "
                f"the CPU build with {TORCH_INSTALL}, then run grade again.")
    if kind in ("ModuleNotFoundError", "ImportError"):
        return (f"{name} could not import what it needs ({where}): {kind}: {message}. Only NumPy"
                f"{' and PyTorch' if exercise.framework == 'torch' else ''} and the standard library "
                f"are available to exercises.")
    if kind in ("SystemExit", "KeyboardInterrupt"):
        return (f"{name} raised {kind} while being imported ({where}): code at the top level of the file "
                f"runs on import, so keep exit() and input() out of it.")
    return (f"{name} raised {kind}: {message} while being imported ({where}). Code at the top level of "
            f"the file runs on import; nothing in this exercise could be graded.")


def grade(course: Course, names: list[str], source_dir: str, seed: Seed | int, *, jobs: int = 1,
          progress: Progress | None = None, timing: bool = False,
          display_source: str | None = None) -> Report:
    """Grade ``names`` (reported in course order) from ``source_dir``.

    The commands grade from a snapshot of the learner's folder (grader/gate.py) and pass
    the folder itself as ``display_source``, the one messages name.

    With ``timing`` the timed runs follow the correctness checks, one exercise at a time
    and never in parallel (see grader/timing/): checks of kind ``timing`` are appended to
    each exercise's results.

    With ``jobs > 1`` the work is spread over worker processes, one function's checks per
    task, so one exercise can use every core; each task has its own learner process.

    ``seed`` is a :class:`~grader.seeds.Seed` (public, or secret for official grades) or a
    plain int (a public seed); the report says which kind it was (``report.seed``), never
    the secret. The examples depend on the seed alone, not on what this process imported.
    """
    seed = Seed.of(seed)
    exercises = [e for e in course.exercises if e.name in names]
    # A task is one function's checks, so one exercise can use every core; but a torch
    # exercise stays whole, since each task's child pays about a second to import torch.
    tasks = []
    for e in exercises:
        graded = [f.name for f in e.functions if any(c.kind == "correctness" for c in f.checks)]
        if e.framework == "torch" and graded:
            tasks.append((e, tuple(graded)))
        else:
            tasks.extend((e, (name,)) for name in graded)
    # Longest first (torch), so no core idles at the end.
    tasks.sort(key=lambda t: t[0].framework != "torch")
    parts: dict[tuple, ExerciseResult] = {}
    done_per_exercise = {e.name: 0 for e in exercises}
    needed = {e.name: sum(1 for t in tasks if t[0] is e) for e in exercises}
    finished = 0

    def record(task, result):
        nonlocal finished
        parts[(task[0].name, task[1][0])] = result
        done_per_exercise[task[0].name] += 1
        if done_per_exercise[task[0].name] == needed[task[0].name]:
            finished += 1
            if progress:
                progress(task[0].name, finished, len(exercises))

    if progress:
        progress("", 0, len(exercises))
    warm_up(tasks, source_dir)
    if jobs > 1 and len(tasks) > 1:
        # Memory: a torch task's learner process and the worker checking it each hold torch
        # (a few hundred MiB); two at once took the whole course past Gradescope's 768 MB
        # (benchmarks/memory.py). So torch tasks run one at a time, in one worker of their
        # own, and the other tasks share the remaining jobs.
        torch_tasks = [t for t in tasks if t[0].framework == "torch"]
        other_tasks = [t for t in tasks if t[0].framework != "torch"]
        groups = [(1, torch_tasks)] if torch_tasks else []
        if other_tasks:
            groups.append((max(1, min(jobs - len(groups), len(other_tasks))), other_tasks))
        with contextlib.ExitStack() as stack:
            pools = [(stack.enter_context(ProcessPoolExecutor(max_workers=n, initializer=_end_on_sigterm)), group)
                     for n, group in groups]
            try:
                with held_signals():  # the workers are forked here: a SIGTERM meanwhile must not be lost
                    futures = {pool.submit(grade_exercise, t[0], source_dir, seed, list(t[1]),
                                           display_source=display_source): t for pool, group in pools for t in group}
                for future in as_completed(futures):
                    record(futures[future], future.result())
            except BaseException:  # SIGTERM or Ctrl-C: each worker closes its learner processes now
                for pool, _ in pools:
                    _stop_workers(pool)
                raise
    else:
        for t in tasks:
            record(t, grade_exercise(t[0], source_dir, seed, list(t[1]), display_source=display_source))
    report = Report(seed=seed.kind)
    for e in exercises:
        pieces = [parts[(e.name, f.name)] for f in e.functions if (e.name, f.name) in parts]
        merged = ExerciseResult(e.name, checks=[c for p in pieces for c in p.checks],
                                message=next((p.message for p in pieces if p.message), ""),
                                sandbox=_weakest([p.sandbox for p in pieces]))
        flag = next((c.message for c in merged.checks if c.extra.get("flagged")), None)
        if flag is not None:  # one function's process read the reference solution: the exercise scores 0
            merged = ExerciseResult(e.name, message=flag, sandbox=merged.sandbox, checks=[
                CheckResult(c.name, c.function, c.kind, False, c.max_score, flag, extra={"flagged": True})
                for c in merged.checks])
        report.exercises.append(merged)
    for e in [e for e in exercises if needed[e.name] == 0] if progress else []:
        progress(e.name, len(exercises), len(exercises))
    if timing:
        from .timing import add_timing

        add_timing(course, report, source_dir, seed, progress=progress)
    return report


__all__ = ["grade", "grade_exercise", "run_check", "check_seed", "show"]
