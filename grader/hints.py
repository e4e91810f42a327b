"""``grade hint EXERCISE``: progressive hints for the first function that does not pass yet.

Each function of the course file has a list of ``hints``, from a gentle nudge to the
idea that unlocks it (never the answer). ``grade hint`` finds the first function of the
exercise that does not pass, and reveals one more of its hints per call, up to the
last. How many were revealed is kept per function in the state file
(:mod:`grader.progress`); the count starts over when the function passes, or with
``grade hint EXERCISE --reset``.

Which function fails comes from the last saved run when the module has not changed
since; otherwise the exercise is graded first (its correctness checks only).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import click

from . import progress
from .course import Course, Exercise
from .results import ERROR, NOT_STARTED, PASSED, TOO_SLOW


@dataclass
class HintStep:
    """What one ``grade hint`` call has to say."""

    exercise: str
    function: str | None  # None: nothing to hint (everything passes, or an import error)
    hints: list[str]  # every hint of the function
    shown: int  # how many are revealed now (the newest is hints[shown - 1])
    state: dict  # {"status", "check", "message"} of the function
    error: str = ""  # the import error, when the module cannot be read


def current_states(course: Course, name: str, source_dir: str, *, regrade: bool | None = None,
                   jobs: int | None = None, announce=None) -> dict:
    """The saved entry of ``name``, graded afresh first if the module changed since.

    ``regrade``: True always grades, False never does, None grades when stale.
    """
    entry = progress.load_exercise(source_dir, name)
    stale = (not entry.get("functions") and entry.get("status") != ERROR) \
        or entry.get("source") != progress.source_hash(source_dir, name)
    if regrade or (regrade is None and stale):
        from .context import explain_refusals, open_submission
        from .grading import grade

        if announce:
            announce(name)
        with open_submission(source_dir) as snap:  # graded from the grader's private copy
            report = grade(course, [name], snap.root, course.seed, jobs=jobs or os.cpu_count() or 1,
                           display_source=source_dir)
            explain_refusals(report, snap, course)
            progress.save(source_dir, report, files_dir=snap.root, course=course)
        entry = progress.load_exercise(source_dir, name)
        if not entry:  # the state file could not be written: use the run itself
            result = report.exercises[0]
            entry = {"status": result.status, "functions": progress.function_states(result),
                     "message": result.message or next((c.message for c in result.checks if c.message), "")}
    return entry


def first_unfinished(exercise: Exercise, entry: dict) -> str | None:
    """The first function, in course order, that does not pass (by the saved states)."""
    states = entry.get("functions") or {}
    for f in exercise.functions:
        if not any(c.kind == "correctness" for c in f.checks):
            continue
        if states.get(f.name, {}).get("status") != PASSED:
            return f.name
    return None


def next_hint(course: Course, name: str, source_dir: str, entry: dict) -> HintStep:
    """Reveal one more hint of the first unfinished function (and remember it)."""
    exercise = course.get(name)
    if entry.get("status") == ERROR:
        return HintStep(name, None, [], 0, {}, error=entry.get("message", ""))
    function = first_unfinished(exercise, entry)
    if function is None:
        return HintStep(name, None, [], 0, {})
    hints = next(f.hints for f in exercise.functions if f.name == function)
    state = (entry.get("functions") or {}).get(function, {"status": NOT_STARTED, "check": "", "message": ""})
    seen = {}

    def reveal(e):
        counts = e.get("hints") if isinstance(e.get("hints"), dict) else {}
        before = counts.get(function, 0) if isinstance(counts.get(function), int) else 0
        counts[function] = min(before + 1, len(hints))
        e["hints"] = counts
        seen["shown"] = counts[function]

    if hints:
        progress.update_exercise(source_dir, name, reveal)
    return HintStep(name, function, hints, seen.get("shown", min(1, len(hints))), state)


def render(step: HintStep, course: Course, source_dir: str, *, again: str = "") -> str:
    """The learner-facing text of one hint step."""
    name = step.exercise
    if step.error:
        return (click.style(f"{name}.py cannot be imported yet, ", bold=True) + "so no function could be graded:\n"
                + _wrap(step.error, 2) + "\nFix that first; then grade hint " + name
                + " gives hints for the first function that does not pass.")
    if step.function is None:
        following = _next_exercise(course, name, source_dir)
        saved = progress.load_exercise(source_dir, name)
        slow = [f for f, s in (saved.get("functions") or {}).items()
                if isinstance(s, dict) and s.get("state") == TOO_SLOW]
        if slow:  # correct: the hints are about correctness; speed is the timed runs' business
            lead = f"Everything in {name} is correct"
            text = _wrap(f"{lead} — no hints needed. Still too slow: {', '.join(slow)} (grade bench {name} "
                         f"shows the timings, and grade {name} the timed runs' advice).", 0)
            text = click.style(lead, fg="green", bold=True) + text[len(lead):]
        else:
            text = click.style(f"Everything in {name} passes", fg="green", bold=True) + " — no hints needed."
        if following:
            text += f"\nNext up: {following} (grade hint {following} when you want a nudge)."
        return text
    lines = []
    state = step.state
    header = f"{name} › {step.function}"
    if state.get("status") == NOT_STARTED:
        header += " (not started: it still raises NotImplementedError)"
    elif state.get("check"):
        header += f" (failing: {state['check']})"
    lines.append(click.style(header, bold=True))
    if not step.hints:
        lines.append(f"  There are no hints for {step.function} yet; its docstring in {source_dir}/{name}.py "
                     f"explains the idea and gives a worked example.")
        return "\n".join(lines)
    total = len(step.hints)
    for i, text in enumerate(step.hints[: step.shown], 1):
        label = f"  hint {i}/{total}  "
        body = _wrap(text, len(label)).lstrip()
        if i == step.shown:
            lines.append(click.style(label, fg="cyan", bold=True) + click.style(body, bold=True))
        else:
            lines.append(click.style(label + body, dim=True))
    if step.shown < total:
        again = again or f"run grade hint {name} again"
        lines.append(f"{again[0].upper()}{again[1:]} for hint {step.shown + 1} of {total}.")
    else:
        lines.append(f"That was the last hint for {step.function}. Still stuck? grade {name} --replay reruns "
                     f"the smallest failing example, with whatever your print(...) calls show.")
    return "\n".join(lines)


def _next_exercise(course: Course, name: str, source_dir: str) -> str | None:
    saved = progress.load(source_dir)
    names = course.names()
    after = names[names.index(name) + 1:] + names[: names.index(name)]
    return next((n for n in after if not progress.is_correct(saved.get(n, {}))), None)


def _wrap(text: str, indent: int) -> str:
    """``text`` wrapped to the terminal at word boundaries, every line indented by ``indent``."""
    from .format import wrap

    return wrap(text, indent, hanging=0)


# ----------------------------------------------------------------------------- the command


def current_exercise(course: Course, source_dir: str) -> str:
    """The first exercise, in course order, not right in the saved runs (one that is correct
    but too slow is right: its hints are about correctness)."""
    saved = progress.load(source_dir)
    return next((n for n in course.names() if not progress.is_correct(saved.get(n, {}))), course.names()[-1])


def check_exercise_name(course: Course, name: str) -> str:
    import difflib

    if name not in course.names():
        close = difflib.get_close_matches(name, course.names(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise click.UsageError(f"unknown exercise '{name}'.{hint} Hints exist for the code exercises: "
                               f"{', '.join(course.names())}.")
    return name


@click.command("hint")
@click.argument("exercise", required=False)
@click.option("--source", "source", metavar="DIR", help="Folder with your modules (default: ./exercises).")
@click.option("--reset", is_flag=True, help="Start the hints of EXERCISE over from the first one.")
def hint_command(exercise, source, reset):
    """Show the next hint for the first function of EXERCISE that does not pass.

    Each call reveals one more hint, up to the last, which points at the idea. Without
    EXERCISE: the first exercise not passed yet.
    """
    from .context import get_course, resolve_source

    course = get_course()
    source_dir = resolve_source(source)
    name = check_exercise_name(course, exercise) if exercise else current_exercise(course, source_dir)
    if reset:
        progress.reset_hints(source_dir, name)
        click.echo(f"The hints for {name} start again from the first one.")
        return
    entry = current_states(course, name, source_dir,
                           announce=lambda n: click.echo(f"grading {n} to see what fails…", err=True))
    click.echo(render(next_hint(course, name, source_dir, entry), course, source_dir))
