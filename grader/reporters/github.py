"""GitHub Classroom: a result for the autograding grading reporter, and ``Points X/Y``.

GitHub Classroom's reporter (``classroom-resources/autograding-grading-reporter``) reads,
for every runner id listed in its ``runners`` input, the variable ``<RUNNER-ID>_RESULTS``:
a step output holding base64 of one JSON document (see the README's Classrooms section)::

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": 133,
     "tests": [{"name", "status": "pass" | "fail" | "error", "score", "message",
                "test_code", "filename", "line_no", "duration"}]}

It adds up the tests' ``score`` against ``max_score`` and posts ``Points X/Y`` to the
classroom. When ``$GITHUB_OUTPUT`` is set (inside GitHub Actions), this reporter appends
``result=<base64>`` to it, so ``steps.<id>.outputs.result`` is exactly that value; it
always prints ``Points X/Y``, with one line per exercise and the isolation learner code
ran under and the kind of seed (``Isolation: namespaces (bubblewrap) · seed: secret``, see
grader/results.py) above it.
"""
from __future__ import annotations

import base64
import os
import re

from ..results import ERROR, PASSED, STATUS_LABELS, Report, _num
from .safe import dumps, encodable, isolation_line

_MARKS = {PASSED: "✓"}


def _status(check) -> str:
    if check.passed:
        return "pass"
    return "error" if check.error else "fail"


def _line_of(source: str, exercise: str, function: str) -> int:
    """The line where ``function`` is defined in the learner's module (0 when unknown).

    The last definition counts, as in Python.
    """
    found = 0
    try:
        with open(os.path.join(source, f"{exercise}.py"), encoding="utf-8", errors="replace") as f:
            pattern = re.compile(rf"^(?:async\s+)?(?:def|class)\s+{re.escape(function)}\b")
            for number, line in enumerate(f, 1):
                if pattern.match(line):
                    found = number
    except OSError:
        pass
    return found


def to_dict(report: Report, **options) -> dict:
    source = options.get("source") or "exercises"
    tests = []
    for e in report.exercises:
        quiz = all(c.kind == "quiz" for c in e.checks) and e.checks
        filename = f"{source}/quizzes/{e.name}.yaml" if quiz else f"{source}/{e.name}.py"
        lines: dict[str, int] = {}
        for c in e.checks:
            if c.function not in lines:
                lines[c.function] = 0 if quiz else _line_of(source, e.name, c.function)
            try:
                duration = int(round(float(c.extra.get("seconds", 0.0)) * 1000))
            except (TypeError, ValueError):
                duration = 0
            tests.append({
                "name": f"{e.name}: {c.function} — {c.name}",
                "status": _status(c),
                "score": _num(c.score),
                "message": c.message or (e.message if not c.passed else ""),
                "test_code": f"grade {e.name}",
                "filename": filename,
                "line_no": lines[c.function],
                "duration": duration,
            })
    if report.all_passed:
        status = "pass"
    elif any(e.status == ERROR for e in report.exercises):
        status = "error"
    else:
        status = "fail"
    return {"version": 1, "status": status, "max_score": _num(report.max_score), "tests": tests}


def encode(report: Report, **options) -> str:
    """The step output's value: base64 (one line) of the compact JSON."""
    data = dumps(to_dict(report, **options), separators=(",", ":"))
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def points(report: Report) -> str:
    return f"Points {_num(report.score)}/{_num(report.max_score)}"


def render(report: Report, **options) -> str:
    """One line per exercise, then ``Points X/Y``."""
    width = max([0] + [len(e.name) for e in report.exercises]) + 2
    lines = [f"{_MARKS.get(e.status, '✗')} {e.name:<{width}}{_num(e.score)}/{_num(e.max_score)}"
             f"  {STATUS_LABELS[e.status]}" for e in report.exercises]
    lines.append(isolation_line(report.sandbox, report.seed))
    lines.append(points(report))
    return encodable("\n".join(lines))


def to_github(report: Report, **options) -> str:
    """The ``github`` format: append ``result=`` to ``$GITHUB_OUTPUT`` when set; return the text."""
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        try:
            with open(target, "a", encoding="utf-8") as f:
                f.write(f"result={encode(report, **options)}\n")
        except OSError as e:
            import click

            click.echo(click.style("warning: ", fg="yellow", bold=True) + f"could not append the result to "
                       f"$GITHUB_OUTPUT ({target}: {e.strerror or e}); the classroom will not get these points.",
                       err=True)
    return render(report, **options)
