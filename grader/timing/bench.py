"""``grade bench [EXERCISE...]``: only the timed runs, as a table.

Unlike ``grade``, bench does not run the correctness checks first, so it is quick to
repeat while making a function faster; every timed call is still compared with the
reference's answer, so a wrong answer shows as "wrong answer", never as fast.
"""
from __future__ import annotations

import json
import os
import sys

import click

from .check import cuda_status, describe, fmt_limit, fmt_ratio, fmt_seconds, solutions_dir, time_exercise
from .measure import Measured

VERDICTS = {
    "pass": "pass",
    "fail": "too slow",
    "undecided": "pass (undecided, in your favour)",
    "wrong": "wrong answer",
    "raised": "error",
    "not_started": "not started",
    "error": "reference failed (counts as pass)",
    "skipped": "skipped",
}


def verdict_text(m: Measured) -> str:
    text = VERDICTS.get(m.outcome, m.outcome)
    if m.outcome == "skipped" and m.detail:
        text += f": {m.detail}"
    return text


def render(rows: list[tuple[str, object, Measured]]) -> str:
    """The table (function, device, learner, reference, ratio, limit, verdict), then details."""
    header = ("function", "device", "learner", "reference", "ratio", "limit", "verdict")
    body = [(f"{ex}.{m.function}", m.device,
             ("> " if m.censored * 2 > m.rounds else "") + fmt_seconds(m.learner_s),
             fmt_seconds(m.reference_s), fmt_ratio(m.ratio), fmt_limit(m.limit), verdict_text(m))
            for ex, _, m in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header) - 1)]
    right = {2, 3, 4, 5}

    def line(cells):
        out = []
        for i, cell in enumerate(cells[:-1]):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out + [cells[-1]])

    lines = [click.style(line(header), bold=True)]
    for (ex, spec, m), cells in zip(rows, body):
        colour = {"pass": "green", "undecided": "green", "skipped": "yellow", "not_started": "yellow"}.get(
            m.outcome, "red")
        lines.append(line(cells[:-1] + (click.style(cells[-1], fg=colour),)))
    details = [f"  {ex}: {describe(spec, m)}" for ex, spec, m in rows if m.outcome not in ("pass", "skipped")]
    if details:
        lines += ["", *details]
    decided = [m for _, _, m in rows if m.rounds]
    if decided:
        conf = decided[0].confidence
        lines += ["", f"learner and reference: median net time per call; ratio: median of the paired ratios "
                      f"({min(m.rounds for m in decided)}–{max(m.rounds for m in decided)} rounds, judged on its "
                      f"{conf:.0%} interval; see docs/timing.md)"]
    return "\n".join(lines)


@click.command("bench")
@click.argument("exercises", nargs=-1)
@click.option("--source", "source", metavar="DIR", help="Folder with the modules to time (default: ./exercises).")
@click.option("--reference", "reference", metavar="DIR", default=None,
              help="Folder with the reference solutions (default: the course's solutions/).")
@click.option("--seed", type=int, default=None, help="Change the generated inputs (default: the course's seed).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--secret-seed-file", "secret_seed_file", metavar="FILE", default=None,
              help="Derive the timing inputs from the secret in FILE, as an official grade run does "
                   "(default: $GRADE_SECRET_SEED if set, else the course's public seed).")
def bench(exercises, source, reference, seed, fmt, secret_seed_file=None):
    """Time your functions against the reference solution (only the timed runs).

    \b
    grade bench                 every timed function
    grade bench vectors losses  only these exercises
    """
    from ..context import (DEFAULT_SOURCE, fail_setup, get_course, open_submission, resolve_names, resolve_seed,
                           resolve_source, secret_file_off_limits)

    course = get_course()
    names = [n for n in resolve_names(course, exercises) if n in course.names()]
    timed = [course.get(n) for n in names if course.get(n).timing_specs()]
    if not timed:
        having = ", ".join(e.name for e in course.exercises if e.timing_specs())
        fail_setup(f"{', '.join(exercises) or 'the course'} has no timed runs; these exercises have: {having}.")
    source_dir = resolve_source(source)
    reference_dir = reference or solutions_dir()
    if not os.path.isdir(reference_dir):
        fail_setup(f"there is no folder of reference solutions at {reference_dir}, so there is nothing to time "
                   f"against. Timing needs the course's solutions/ folder (a class release may leave it out); "
                   f"point to one with --reference DIR.")
    seed = resolve_seed(course, seed, secret_seed_file)
    rows = []
    show_progress = fmt == "table" and sys.stderr.isatty()
    with open_submission(source_dir) as snap, secret_file_off_limits(secret_seed_file):  # as in grade
        for exercise in timed:
            def done(spec, measured, exercise=exercise):
                for m in measured:
                    rows.append((exercise.name, spec, m))
                    if show_progress:
                        click.echo(f"\r{exercise.name}.{m.function} ({m.device}): {verdict_text(m):<40}",
                                   err=True, nl=False)
            time_exercise(exercise, exercise.timing_specs(), snap.root, seed, reference_dir=reference_dir,
                          on_done=done, display_source=source_dir)
    if show_progress:
        click.echo("\r" + " " * 70 + "\r", err=True, nl=False)
    if fmt == "json":
        cuda, why = cuda_status() if any(m.device == "cuda" for _, _, m in rows) else (None, "")
        # "seed": the public seed; "seed_kind": public or secret (the secret itself never).
        doc = {"source": source or DEFAULT_SOURCE, "reference": reference_dir, "seed": seed.public,
               "seed_kind": seed.kind,
               "cuda": {"available": cuda, "reason": why},
               "rows": [{"exercise": ex, **m.to_dict(), "passed": m.passed, "message": describe(spec, m)}
                        for ex, spec, m in rows]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo(render(rows))
    sys.exit(0 if all(m.passed for _, _, m in rows) else 1)
