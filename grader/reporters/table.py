"""The human report: a table of the code exercises, the quizzes apart, the failing checks
of the next exercise, and what's next.

Every function, and every exercise, is in one of three visible states: passing, correct
but too slow (every correctness check passes, a timed run does not: the docstrings call a
plain loop a right answer), or failing (plus not started and error). Points are shown as
a learner reads them (``1.33/2``, never ``1.333333/2``), and lines are wrapped to the
terminal at word boundaries.

Its last line says which isolation learner code ran under and which kind of seed the
examples came from (``sandbox: namespaces · seed: secret``); when there was no isolation,
it says so plainly: such a run is practice, not a grade.
"""
from __future__ import annotations

import click

from ..format import points_of, sentence_case, wrap
from ..results import ERROR, FAILED, NOT_STARTED, PASSED, STATUS_LABELS, TOO_SLOW, Report, too_slow
from .safe import encodable

COLOURS = {PASSED: "green", TOO_SLOW: "yellow", FAILED: "red", NOT_STARTED: "yellow", ERROR: "red"}
MARKS = {PASSED: "✓", TOO_SLOW: "◐", FAILED: "✗", NOT_STARTED: "·", ERROR: "!"}


def status_text(state: str, *, width: int = 0) -> str:
    """``✓ passed``, ``◐ correct but too slow``, ``✗ failing``...: a state as every screen shows
    it (``width`` pads the text before colouring, so columns line up)."""
    return click.style(f"{MARKS[state]} {STATUS_LABELS[state]}".ljust(width), fg=COLOURS[state])


def is_quiz(e) -> bool:
    return bool(e.checks) and all(c.kind == "quiz" for c in e.checks)


def render(report: Report, *, source: str = "exercises", verbose: bool = False, max_failures: int = 6) -> str:
    """The tables (code exercises, then quizzes), the details of what is not right yet, the
    total and 'next up'."""
    lines = []
    width = max([len("exercise")] + [len(e.name) for e in report.exercises]) + 2
    code = [e for e in report.exercises if not is_quiz(e)]
    quizzes = [e for e in report.exercises if is_quiz(e)]
    for title, count, group in (("exercise", "checks", code), ("quiz", "questions", quizzes)):
        if not group:
            continue
        if lines:
            lines.append("")
        lines.append(click.style(f"{title:<{width}}{count:>9}{'points':>12}   status", bold=True))
        for e in group:
            checks = f"{e.passed_count}/{len(e.checks)}"
            lines.append(f"{e.name:<{width}}{checks:>9}{points_of(e.score, e.max_score):>12}   {status_text(e.state)}")
    lines.append(click.style(f"{'total':<{width}}{'':>9}{points_of(report.score, report.max_score):>12}", bold=True))

    nxt = report.next_up()
    for e in report.exercises:
        show_details = verbose or e is nxt
        if e.state == PASSED or not show_details:
            continue
        lines.append("")
        lines.extend(details(e, source=source, verbose=verbose, max_failures=max_failures))

    lines.append("")
    lines.extend(closing(report, source))
    lines.append(sandbox_line(report.sandbox, report.seed))
    return encodable("\n".join(lines))


def message_text(e, text: str, indent: int) -> str:
    """A check's message as the screens show it: sentence case (the exercise's function
    names kept as code spells them), wrapped to the terminal."""
    return wrap(sentence_case(text, keep={c.function for c in e.checks}), indent)


def details(e, *, source: str = "exercises", verbose: bool = False, max_failures: int = 6,
            indent: int = 2) -> list[str]:
    """What is not right yet in one exercise: failing checks first, then functions that are
    correct but too slow, then the ones not started (every screen shows these the same way)."""
    pad = " " * indent
    if e.state == ERROR:
        return [click.style(f"{e.name}: ", bold=True) + message_text(e, e.message or e.checks[0].message, 4).lstrip()]
    lines = []
    failing = [c for c in e.checks if not c.passed and not c.not_started and not too_slow(c)]
    slow = [c for c in e.checks if too_slow(c)]
    waiting = sorted({c.function for c in e.checks if c.not_started}, key=_order(e))
    if failing:
        lines.append(click.style(f"{e.name}: {len(failing)} failing check{'s' * (len(failing) != 1)}", bold=True))
    for c in failing[: None if verbose else max_failures]:
        lines.append(click.style(f"{pad}✗ {c.function}: {c.name}", fg="red"))
        lines.append(message_text(e, c.message, indent + 4))
    if not verbose and len(failing) > max_failures:
        lines.append(f"{pad}… and {len(failing) - max_failures} more (grade {e.name} -v shows all)")
    if slow:
        names = sorted({c.function for c in slow}, key=_order(e))
        verb = "is" if len(names) == 1 else "are"
        lines.append(click.style(f"{e.name}: {', '.join(names)} {verb} correct but too slow", bold=True)
                     + " (worth trying once the rest passes)" * bool(failing))
        for c in slow:
            lines.append(click.style(f"{pad}◐ {c.function}: {c.name}", fg="yellow"))
            lines.append(message_text(e, c.message, indent + 4))
    if waiting and is_quiz(e):
        if not lines:
            lines.append(click.style(f"{e.name}:", bold=True))
        lines.append(f"{pad}{len(waiting)} question{'s' * (len(waiting) != 1)} not answered yet: run grade quiz {e.name}")
    elif waiting:
        lines.append(wrap(f"not started yet: {', '.join(waiting)} (still raising NotImplementedError)", indent))
    return lines


def closing(report: Report, source: str) -> list[str]:
    """The last words: everything passes, everything is right but some is too slow, or
    what to do next."""
    nxt = report.next_up()
    if nxt is None:
        return [click.style("Everything passes. Well done!", fg="green", bold=True)]
    if nxt.state == TOO_SLOW:
        slow = [e.name for e in report.exercises if e.state == TOO_SLOW]
        return [click.style("Everything is correct.", fg="green", bold=True),
                wrap(f"Still too slow: {', '.join(slow)}. To make {nxt.name} fast enough, edit "
                     f"{source}/{nxt.name}.py, then run: grade {nxt.name} (grade bench {nxt.name} shows "
                     f"the timings).", 0, hanging=0)]
    action = (f"answer it with: grade quiz {nxt.name}" if is_quiz(nxt)
              else f"edit {source}/{nxt.name}.py, then run: grade {nxt.name}")
    return [lead("next up: ", f"{nxt.name} — {action}", bold=True)]


def lead(first: str, rest: str, **style) -> str:
    """``first`` (styled) then ``rest``, wrapped together to the terminal."""
    text = wrap(first + rest, 0, hanging=0)
    return click.style(first, **style) + text[len(first):]


def sandbox_line(mode: str, seed: str | None = None) -> str:
    """``sandbox: namespaces · seed: public``; with no isolation, one plain sentence saying what
    that means. ``seed`` is the kind of seed (public or secret), never the secret."""
    after = f" · seed: {seed}" if seed else ""
    if mode == "none":
        return click.style("sandbox: none — learner code ran without any isolation, with every right "
                           "of the grader's user (practice only: not for grading others' work)." + after,
                           fg="yellow")
    return click.style(f"sandbox: {mode}{after}", dim=True)


def _order(e):
    order = []
    for c in e.checks:
        if c.function not in order:
            order.append(c.function)
    return order.index
