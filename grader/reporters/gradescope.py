"""Gradescope's ``results.json``: the report an autograder leaves in /autograder/results/.

Format (Gradescope's "Autograder Specifications", see docs/teachers.md)::

    {"score": 44.0, "execution_time": 13.2, "output": "...", "output_format": "text",
     "tests": [{"name", "number", "score", "max_score", "status": "passed" | "failed",
                "output", "tags", "visibility"}],
     "extra_data": {"sandbox": "namespaces" | "uid" | "none", "seed": "public" | "secret"},
     "leaderboard": [{"name", "value", "order"}]}        (only when the course file asks)

The top-level ``output`` (the summary table) ends with the isolation learner code ran
under and the kind of seed, e.g. ``Isolation: namespaces (bubblewrap) · seed: secret``;
``extra_data.sandbox`` and ``extra_data.seed`` hold them for scripts (Gradescope stores
``extra_data`` with the submission). The seed is only ever named by its kind.

One test per check, in course order, numbered ``exercise.check``; ``visibility`` comes from
the check's ``visibility`` in the course file (visible, hidden, after_due_date,
after_published). With ``leaderboard: true`` at the top of the course file, the total score
and the timing checks' speed ratios (learner time / reference time, lower is better) become
leaderboard columns.

Hidden checks (any visibility but ``visible``): Gradescope hides the total from students
while some test is hidden, but the top-level ``output`` and the ``leaderboard`` are always
shown. So then the summary counts only the visible checks (``visible points`` per exercise,
a status from the visible checks alone) and says the total comes with the hidden checks,
and the leaderboard's score column is the visible checks' score (``Score (visible
checks)``) with no speed ratio of a hidden timed run. ``score`` and the tests are whole:
Gradescope itself keeps them from students until the hidden checks are released.
"""
from __future__ import annotations

import math

from ..results import ERROR, NOT_STARTED, PASSED, STATUS_LABELS, TOO_SLOW, Report, _num, checks_state
from .safe import dumps, isolation_line


def _course(options):
    course = options.get("course")
    if course is None:
        try:
            from ..course import load_course

            course = load_course()
        except Exception:  # a report is still worth writing without the course's extras
            return None
    return course


def check_specs(course) -> dict:
    """``{(exercise, function, title): CheckSpec}`` for looking up a reported check."""
    if course is None:
        return {}
    return {(e.name, s.function, s.title): s for e in course.exercises for s in e.checks()}


def visibility_of(check, exercise: str, specs: dict) -> str:
    if check.extra.get("visibility"):
        return str(check.extra["visibility"])
    spec = specs.get((exercise, check.function, check.name))
    return spec.visibility if spec is not None else "visible"


def timing_ratio(check):
    """A timing check's learner-time / reference-time ratio, when the check measured one.

    Timing checks keep their measurements in ``extra["timing"]`` (one row per device, see
    grader/timing/); the slowest device's ratio counts. ``extra["ratio"]`` wins if set.
    """
    values = [check.extra.get("ratio")]
    rows = check.extra.get("timing")
    if isinstance(rows, list):
        values += [row.get("ratio") for row in rows if isinstance(row, dict)]
    ratios = []
    for value in values:
        try:
            if value is not None and math.isfinite(float(value)):  # JSON has no NaN or Infinity
                ratios.append(float(value))
        except (TypeError, ValueError, OverflowError):
            continue
    if check.extra.get("ratio") is not None and ratios:
        return ratios[0]
    return max(ratios) if ratios else None


VISIBLE = "visible"


def _visible_status(checks) -> str:
    if not checks:
        return ""
    if all(c.passed for c in checks):
        return STATUS_LABELS[PASSED]
    return STATUS_LABELS[TOO_SLOW] if checks_state(checks) == TOO_SLOW else STATUS_LABELS["failed"]


def summary(report: Report, sandbox: str | None = None, hidden: set | None = None) -> str:
    """The always-visible summary table; with ``hidden`` (ids of hidden checks) it names
    no total and no score of a hidden check: only the visible checks' points."""
    hidden = hidden or set()
    width = max([len("exercise")] + [len(e.name) for e in report.exercises]) + 2
    if hidden:
        lines = [f"{'exercise':<{width}}{'visible points':>16}   status (visible checks)"]
    else:
        lines = [f"{'exercise':<{width}}{'points':>10}   status"]
    for e in report.exercises:
        if hidden:
            shown = [c for c in e.checks if id(c) not in hidden]
            score = _num(sum(c.score for c in shown))
            most = _num(sum(c.max_score for c in shown))
            status = (STATUS_LABELS[e.status] if e.status in (ERROR, NOT_STARTED)
                      else _visible_status(shown) or "hidden")
            lines.append(f"{e.name:<{width}}{f'{score}/{most}':>16}   {status}")
        else:
            lines.append(f"{e.name:<{width}}{f'{_num(e.score)}/{_num(e.max_score)}':>10}   "
                         f"{STATUS_LABELS[e.state]}")
    if hidden:
        lines += ["", f"Some checks are hidden ({len(hidden)}): the total is shown when they are released."]
    else:
        lines.append(f"{'total':<{width}}{f'{_num(report.score)}/{_num(report.max_score)}':>10}")
    for e in report.exercises:
        if e.status == ERROR:
            lines += ["", f"{e.name}: {e.message or e.checks[0].message}"]
        elif e.status == NOT_STARTED:
            lines += ["", f"{e.name}: not started yet."]
    lines += ["", isolation_line(report.sandbox if sandbox is None else sandbox, report.seed)]
    return "\n".join(lines)


def to_dict(report: Report, **options) -> dict:
    course = _course(options)
    specs = check_specs(course)
    sandbox = report.sandbox
    tests, hidden = [], set()
    for i, e in enumerate(report.exercises, 1):
        for j, c in enumerate(e.checks, 1):
            output = c.message or (e.message if not c.passed else "")
            visibility = visibility_of(c, e.name, specs)
            if visibility != VISIBLE:
                hidden.add(id(c))
            tests.append({
                "name": f"{e.name}: {c.function} — {c.name}",
                "number": f"{i}.{j}",
                "score": _num(c.score),
                "max_score": _num(c.max_score),
                "status": PASSED if c.passed else "failed",
                "output": output,
                "tags": [e.name, c.function, c.kind],
                "visibility": visibility,
            })
    data = {
        "score": _num(report.score),
        "execution_time": round(float(options.get("elapsed") or 0.0), 2),
        "output": summary(report, sandbox, hidden),
        "output_format": "text",
        "tests": tests,
        "extra_data": {"sandbox": sandbox, "seed": report.seed},
    }
    if course is not None and getattr(course, "leaderboard", False):
        if hidden:
            visible_score = sum(c.score for e in report.exercises for c in e.checks if id(c) not in hidden)
            board = [{"name": "Score (visible checks)", "value": _num(visible_score), "order": "desc"}]
        else:
            board = [{"name": "Score", "value": _num(report.score), "order": "desc"}]
        for e in report.exercises:
            for c in e.checks:
                ratio = timing_ratio(c) if c.kind == "timing" and id(c) not in hidden else None
                if ratio is not None:
                    board.append({"name": f"{e.name}.{c.function} time ratio", "value": round(ratio, 4),
                                  "order": "asc"})
        data["leaderboard"] = board
    return data


def fallback(error: str, elapsed: float = 0.0) -> dict:
    """The results.json for a run that could not grade at all: score 0, the error as output.

    Gradescope shows "autograder failed" when results.json is missing; this one says why.
    """
    return {"score": 0, "execution_time": round(float(elapsed), 2),
            "output": f"The autograder could not grade this submission:\n{error}", "output_format": "text",
            "tests": [], "extra_data": {"error": True}}


def render(report: Report, **options) -> str:
    return dumps(to_dict(report, **options), indent=2)
