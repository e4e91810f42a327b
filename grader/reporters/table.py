"""The human report: a table of exercises, the failing checks of the next one, and what's next.

Its last line says which isolation learner code ran under and which kind of seed the
examples came from (``sandbox: namespaces · seed: secret``); when there was no isolation,
it says so plainly: such a run is practice, not a grade.
"""
from __future__ import annotations

import textwrap

import click

from ..results import ERROR, FAILED, NOT_STARTED, PASSED, STATUS_LABELS, Report, _num
from .safe import encodable

_COLOURS = {PASSED: "green", FAILED: "red", NOT_STARTED: "yellow", ERROR: "red"}
_MARKS = {PASSED: "✓", FAILED: "✗", NOT_STARTED: "·", ERROR: "!"}


def status_text(status: str) -> str:
    return click.style(f"{_MARKS[status]} {STATUS_LABELS[status]}", fg=_COLOURS[status])


def render(report: Report, *, source: str = "exercises", verbose: bool = False, max_failures: int = 6) -> str:
    """The table, then details of failures, then the total and 'next up'."""
    lines = []
    width = max([len("exercise")] + [len(e.name) for e in report.exercises]) + 2
    lines.append(click.style(f"{'exercise':<{width}}{'checks':>8}{'points':>12}   status", bold=True))
    for e in report.exercises:
        checks = f"{e.passed_count}/{len(e.checks)}"
        points = f"{_num(e.score)}/{_num(e.max_score)}"
        lines.append(f"{e.name:<{width}}{checks:>8}{points:>12}   {status_text(e.status)}")
    total = f"{_num(report.score)}/{_num(report.max_score)}"
    lines.append(click.style(f"{'total':<{width}}{'':>8}{total:>12}", bold=True))

    nxt = report.next_up()
    for e in report.exercises:
        show_details = verbose or e is nxt
        if e.status == PASSED or not show_details:
            continue
        lines.append("")
        if e.status == ERROR:
            lines.append(click.style(f"{e.name}: ", bold=True) + _wrap(e.message or e.checks[0].message, 4).lstrip())
            continue
        failing = [c for c in e.checks if not c.passed and not c.not_started]
        waiting = sorted({c.function for c in e.checks if c.not_started}, key=_order(e))
        if failing:
            lines.append(click.style(f"{e.name}: {len(failing)} failing check{'s' * (len(failing) != 1)}", bold=True))
        for c in failing[: None if verbose else max_failures]:
            lines.append(click.style(f"  ✗ {c.function}: {c.name}", fg="red"))
            lines.append(_wrap(c.message, 6))
        if not verbose and len(failing) > max_failures:
            lines.append(f"  … and {len(failing) - max_failures} more (grade {e.name} -v shows all)")
        if waiting and _is_quiz(e):
            lines.append(f"  {len(waiting)} question{'s' * (len(waiting) != 1)} not answered yet: run grade quiz {e.name}")
        elif waiting:
            lines.append(f"  not started yet: {', '.join(waiting)} (still raising NotImplementedError)")

    lines.append("")
    if nxt is None:
        lines.append(click.style("Everything passes. Well done!", fg="green", bold=True))
    else:
        action = (f"answer it with: grade quiz {nxt.name}" if _is_quiz(nxt)
                  else f"edit {source}/{nxt.name}.py, then run: grade {nxt.name}")
        lines.append(click.style("next up: ", bold=True) + f"{nxt.name} — {action}")
    lines.append(sandbox_line(report.sandbox, report.seed))
    return encodable("\n".join(lines))


def sandbox_line(mode: str, seed: str | None = None) -> str:
    """``sandbox: namespaces · seed: public``; with no isolation, one plain sentence saying what
    that means. ``seed`` is the kind of seed (public or secret), never the secret."""
    after = f" · seed: {seed}" if seed else ""
    if mode == "none":
        return click.style("sandbox: none — learner code ran without any isolation, with every right "
                           "of the grader's user (practice only: not for grading others' work)." + after,
                           fg="yellow")
    return click.style(f"sandbox: {mode}{after}", dim=True)


def _is_quiz(e) -> bool:
    return bool(e.checks) and all(c.kind == "quiz" for c in e.checks)


def _order(e):
    order = []
    for c in e.checks:
        if c.function not in order:
            order.append(c.function)
    return order.index


def _wrap(text: str, indent: int) -> str:
    pad = " " * indent
    out = []
    for para in text.splitlines() or [""]:
        out.append(textwrap.fill(para, width=100, initial_indent=pad, subsequent_indent=pad + "  ",
                                 break_long_words=False, break_on_hyphens=False) or pad)
    return "\n".join(out)
