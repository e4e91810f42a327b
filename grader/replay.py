"""``grade EXERCISE --replay``: rerun the last failing example, with the learner's prints shown.

Every ``grade`` run keeps, per exercise, the smallest failing example of its first
failing check (see :func:`grader.grading.run_check` and :mod:`grader.progress`). Replay
reads it back, starts the learner's module in a fresh isolated child (as grading does),
runs that one check once on that one example, and shows every call the check made,
what each returned, what the learner's code printed, and the verdict now. A learner can
add ``print`` calls to a function and see them here, on exactly the input that fails.
"""
from __future__ import annotations

import os
import subprocess
import threading

import click

from . import progress
from .checks.base import Abort, Learner, LearnerRaised, Mismatch
from .course import Course, Exercise
from .format import show
from .runner.sandbox import LearnerProcess
from .runner import wire
from .runner.wire import Handle

OUTPUT_LIMIT = 8000  # characters of printed output shown
MAX_CALLS_SHOWN = 12


class NothingToReplay(Exception):
    """No saved failing example: the message says why and what to do (exit code given)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class RecordingLearner(Learner):
    """A Learner that also remembers every call it made and what came back."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[dict] = []

    def call(self, name, *args, **kwargs):
        entry = {"call": "", "value": None, "error": None}
        self.calls.append(entry)
        try:
            value = super().call(name, *args, **kwargs)
        except (LearnerRaised, Abort) as exc:
            entry["call"] = self.last_call
            entry["error"] = getattr(exc, "message", None) or str(exc)
            raise
        entry["call"] = self.last_call
        entry["value"] = value
        return value


class OutputKeeper:
    """Keeps the latest snapshot of the child's printed output while calls run.

    A child that hangs or crashes is killed and its captured output removed with it; the
    snapshot taken just before is what the learner gets to see.
    """

    def __init__(self, process: LearnerProcess, every: float = 0.05):
        self.process = process
        self.every = every
        self.text = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self._grab()
            self._stop.wait(self.every)

    def _grab(self):
        text = self.process.output_tail(OUTPUT_LIMIT)  # "" once the child's folder is gone
        if text:
            self.text = text

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._grab()


def saved_example(course: Course, name: str, source_dir: str):
    """(exercise, spec, impl, example, saved entry) of the last failing example, or NothingToReplay."""
    entry = progress.load_exercise(source_dir, name)
    if not entry:
        raise NothingToReplay(f"{name} has not been graded from {source_dir} yet, so there is no failing "
                              f"example to replay. Run grade {name} first; it saves the smallest failing "
                              f"example, and grade {name} --replay reruns it.")
    replay = entry.get("replay")
    if not isinstance(replay, dict):
        status = entry.get("status")
        if status == "passed":
            raise NothingToReplay(f"{name} passed in your last run: there is no failing example to replay.", 0)
        if status == "not_started":
            raise NothingToReplay(f"{name} has no failing example yet: its functions still raise "
                                  f"NotImplementedError. Write one, run grade {name}, then replay.", 2)
        if status == "error":
            raise NothingToReplay(f"{name}.py could not be imported in your last run, so no example "
                                  f"ran: {entry.get('message', '')}", 2)
        raise NothingToReplay(f"the last run of {name} saved no example that can be replayed. Run "
                              f"grade {name} again first.", 2)
    exercise = course.get(name)
    spec = next((s for s in exercise.checks() if s.function == replay.get("function")
                 and (s.id == replay.get("check") or s.title == replay.get("title"))), None)
    impl = exercise.registry().get(spec.function, spec.id) if spec is not None else None
    if spec is None or impl is None:
        raise NothingToReplay(f"the saved example belongs to a check the course no longer has "
                              f"({replay.get('function')}: {replay.get('title')}). Run grade {name} again.", 2)
    try:
        example = progress.decode_example(replay.get("example"))
    except ValueError as exc:
        raise NothingToReplay(f"{exc}; run grade {name} again to save a fresh one.", 2) from None
    return exercise, spec, impl, example, replay


def replay(course: Course, name: str, source_dir: str, *, echo=click.echo) -> int:
    """Rerun the saved failing example of ``name``; print the story; return the exit code."""
    try:
        exercise, spec, impl, example, saved = saved_example(course, name, source_dir)
    except NothingToReplay as nothing:
        if nothing.exit_code == 0:
            echo(nothing.message)
        else:  # nothing to replay yet: a set-up problem, on stderr
            click.echo(click.style("error: ", fg="red", bold=True) + nothing.message, err=True)
        return nothing.exit_code
    from .context import open_submission

    path = os.path.join(source_dir, exercise.module_file)
    echo(click.style(f"Replaying {name} › {spec.function}: {spec.title}", bold=True))
    echo(f"the smallest failing example from your last `grade {name}`, run once on {path} as it is now\n")
    with open_submission(source_dir) as snap:  # run from the grader's private copy, as grade does
        refused = snap.refusal_of(exercise.module_file)
        if refused is not None:
            echo(snap.sentence(refused))
            return 2
        copy = os.path.join(snap.root, exercise.module_file)
        if not os.path.isfile(copy):
            echo(f"{path} was not found.")
            return 2
        outcome, calls, printed = run_once(exercise, copy, spec, impl, example, course.seed)
    shown = calls[-MAX_CALLS_SHOWN:]
    if len(calls) > len(shown):
        echo(f"  … {len(calls) - len(shown)} earlier calls not shown")
    for i, call in enumerate(shown, len(calls) - len(shown) + 1):
        echo(click.style(f"call {i}: ", bold=True) + (call["call"] or "(the call could not be made)"))
        if call["error"] is not None:
            echo(f"   did not return: {call['error']}")
        else:
            echo(f"   returned {_shown(call['value'])}")
    if not calls and outcome[0] != "import":
        echo("(the check made no call to your code)")
    echo("")
    echo(click.style("What your code printed:", bold=True))
    if printed.strip():
        if len(printed) >= OUTPUT_LIMIT:
            echo(f"  (only the last {OUTPUT_LIMIT} characters)")
        for line in printed.rstrip("\n").splitlines():
            echo(f"  │ {line}")
    else:
        echo(f"  (nothing — add print(...) calls to {spec.function} in {path} and replay again "
             f"to watch what happens inside)")
    if kind_of(outcome) == "stopped":
        echo("  Output still waiting in Python's buffer is lost when a call is stopped; "
             "print(..., flush=True) writes it out at once.")
    echo("")
    kind, message = outcome
    if kind == "passed":
        echo(click.style("Now: ", bold=True) + click.style("this example passes", fg="green")
             + f". Run grade {name} to grade everything again.")
        return 0
    label = "Now: " + ("still failing" if kind == "failed" else "it did not run")
    echo(click.style(label, bold=True, fg="red") + f" — {message}")
    if spec.hint and kind == "failed":
        echo(click.style("Hint: ", bold=True) + spec.hint)
    if saved.get("message") and saved["message"].split("\nHint:")[0] != message.split("\nHint:")[0]:
        echo(click.style("Last run said: ", bold=True) + saved["message"])
    return 1


def run_once(exercise: Exercise, path: str, spec, impl, example, seed: int):
    """Run ``impl`` once on ``example`` in a fresh child: ((kind, message), calls, printed)."""
    from .grading import import_error_text

    with LearnerProcess(exercise.name, path, exercise.limits, torch=exercise.framework == "torch",
                        forbid_autograd=exercise.forbid_autograd, seed=seed) as process:
        learner = RecordingLearner(process, exercise.signatures())
        with OutputKeeper(process) as output:
            try:
                load_error = process.start()
            except Exception as gone:  # ProcessGone while importing
                load_error = {"type": "", "message": getattr(gone, "message", str(gone)), "gone": True}
            if load_error is not None:
                outcome = ("import", import_error_text(exercise, path, load_error))
            else:
                outcome = _verdict(impl, spec, learner, example)
            _let_child_exit(process)
        return outcome, learner.calls, output.text


def _let_child_exit(process: LearnerProcess) -> None:
    """Ask a live child to end normally, so that Python flushes what the learner printed.

    The child's stdout is a file, so ``print`` output sits in a buffer until the process
    exits; the grader normally kills the child, which loses it. (A child that hung or
    crashed is gone already: then only what reached the file can be shown.)
    """
    proc = getattr(process, "proc", None)
    to_child = getattr(process, "_to_child", None)
    if proc is None or proc.poll() is not None or to_child is None:
        return
    try:
        os.write(to_child, wire.pack({"op": "bye"}, []))
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        pass


def _verdict(impl, spec, learner, example):
    try:
        impl.body(learner, spec.tolerance, *example)
    except Abort as stop:
        return ("failed" if not stop.not_started else "not_started", stop.message)
    except (Mismatch, LearnerRaised) as failure:
        return "failed", str(failure)
    except Exception as exc:
        return "failed", (f"{learner.last_call} returned a value the check could not use "
                          f"({type(exc).__name__}: {exc})")
    return "passed", ""


def kind_of(outcome) -> str:
    """"stopped" for a call that hung or ended the process, else the outcome's kind."""
    kind, message = outcome
    if kind in ("failed", "import") and any(s in message for s in STOPPED):
        return "stopped"
    return kind


STOPPED = ("took longer than", "was stopped by signal", "ended the Python process", "stopped answering")


def _shown(value) -> str:
    if isinstance(value, Handle):
        return f"a {value.type_name} object (kept for the next calls)"
    return show(value)



def replay_command(course: Course, exercises: tuple, source_dir: str) -> int:
    """``grade EXERCISE --replay``: exactly one code exercise; returns the exit code."""
    code = [n for n in exercises if n in course.names()]
    if len(exercises) != 1 or len(code) != 1:
        raise click.UsageError("--replay reruns the failing example of one exercise: name exactly one, "
                               "e.g. grade vectors --replay.")
    return replay(course, code[0], source_dir)
