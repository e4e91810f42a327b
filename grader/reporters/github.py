"""GitHub Classroom: a result for the autograding grading reporter, and ``Points X/Y``.

GitHub Classroom's reporter (``classroom-resources/autograding-grading-reporter``) reads,
for every runner id listed in its ``runners`` input, the variable ``<RUNNER-ID>_RESULTS``:
a step output holding base64 of one JSON document (see docs/teachers.md)::

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": 133,
     "tests": [{"name", "status": "pass" | "fail" | "error", "score", "message",
                "test_code", "filename", "line_no", "duration"}]}

It adds up the tests' ``score`` against ``max_score`` and posts ``Points X/Y`` to the
classroom. When ``$GITHUB_OUTPUT`` is set (inside GitHub Actions), this reporter appends
``result=<base64>`` to it, so ``steps.<id>.outputs.result`` is exactly that value; it
always prints ``Points X/Y``, with one line per exercise and the isolation learner code
ran under and the kind of seed (``Isolation: namespaces (bubblewrap) · seed: secret``, see
grader/results.py) above it.

The result always fits the environment variable the reporter reads it from (Linux caps
one variable at 128 KiB): a message repeated under several checks (one import error
under every check of a module) is sent once and referred to after that, each message is
cut to :data:`MESSAGE_LIMIT` characters, and the encoded whole is kept within
:data:`ENCODED_LIMIT` bytes by shortening the least important messages first (passed
checks, then checks not started, then wrong answers, errors last); no test and no point
is ever left out. The tests' scores add up, in the reporter's own float arithmetic, to
exactly the report's total (no ``2.000001``).

The reporter prints messages only for tests whose status is ``error``, so learners read
why a check failed elsewhere: when ``$GITHUB_STEP_SUMMARY`` is set, a Markdown summary (a
table per exercise, then each failing check's message: the smallest failing call, what
came back, what was expected, the hint) is appended to it, and inside GitHub Actions
(``$GITHUB_ACTIONS`` is ``true``) up to :data:`ANNOTATION_LIMIT` ``::error`` workflow
commands on stdout, before the table, point at the learner's file and line.
"""
from __future__ import annotations

import base64
import math
import os
import re

from ..results import ERROR, PASSED, STATUS_LABELS, TOO_SLOW, Report, _clean_text, _num
from .safe import dumps, encodable, isolation_line

_MARKS = {PASSED: "✓", TOO_SLOW: "◐"}

# The encoded result (``result=`` excluded) stays within this many bytes: half of the
# 128 KiB Linux allows one environment variable (MAX_ARG_STRLEN), with room for the rest.
ENCODED_LIMIT = 64 * 1024
# Characters of one message at most; then, while the whole is still too big, these.
MESSAGE_LIMIT = 2000
_SHORTER = (1000, 400, 160, 60, 0)
# A message longer than this, seen before under another check, is sent once.
_REPEAT = 160
# GitHub shows at most 10 error annotations per step.
ANNOTATION_LIMIT = 10
# GitHub takes at most 1 MiB of step summary per step.
SUMMARY_LIMIT = 512 * 1024


def _status(check) -> str:
    if check.passed:
        return "pass"
    return "error" if check.error else "fail"


_REPEATED = -1  # the rank of a reference to a message sent before: the first to go


def _rank(check) -> int:
    """How much a check's message matters: errors most, then wrong answers, then the rest."""
    if check.passed:
        return 0
    if check.error:
        return 3
    return 1 if check.not_started else 2


def _message(exercise, check) -> str:
    return check.message or (exercise.message if not check.passed else "")


def _first_line(text: str, limit: int = _REPEAT) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _refer(first: str, message: str) -> str:
    """A repeated message, briefly: the test it was first given under, and how it begins."""
    return f"same message as \"{first}\": {_first_line(message)}"


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


def _located(report: Report, source: str):
    """``(exercise, check, filename, line)`` for every check, in report order."""
    for e in report.exercises:
        quiz = all(c.kind == "quiz" for c in e.checks) and e.checks
        filename = f"{source}/quizzes/{e.name}.yaml" if quiz else f"{source}/{e.name}.py"
        lines: dict[str, int] = {}
        for c in e.checks:
            if c.function not in lines:
                lines[c.function] = 0 if quiz else _line_of(source, e.name, c.function)
            yield e, c, filename, lines[c.function]


def _name(exercise, check) -> str:
    return f"{exercise.name}: {check.function} — {check.name}"


def to_dict(report: Report, **options) -> dict:
    source = options.get("source") or "exercises"
    tests, ranks = [], []
    first: dict[str, str] = {}
    for e, c, filename, line in _located(report, source):
        try:
            duration = int(round(float(c.extra.get("seconds", 0.0)) * 1000))
        except (TypeError, ValueError):
            duration = 0
        name = _name(e, c)
        message = _message(e, c)
        rank = _rank(c)
        if len(message) > _REPEAT:
            if message in first:
                brief = _refer(first[message], message)
                if len(brief) < len(message):
                    message, rank = brief, _REPEATED
            else:
                first[message] = name
        tests.append({
            "name": name,
            "status": _status(c),
            "score": _num(c.score),
            "message": _clean_text(message, MESSAGE_LIMIT),
            "test_code": f"grade {e.name}",
            "filename": filename,
            "line_no": line,
            "duration": duration,
        })
        ranks.append(rank)
    _add_up_exactly(tests, _num(report.score))
    if report.all_passed:
        status = "pass"
    elif any(e.status == ERROR for e in report.exercises):
        status = "error"
    else:
        status = "fail"
    doc = {"version": 1, "status": status, "max_score": _num(report.max_score), "tests": tests}
    _fit(doc, ranks, options.get("limit", ENCODED_LIMIT))
    return doc


def _add_up_exactly(tests: list[dict], total) -> None:
    """Make the tests' scores, added up one by one as the reporter does (IEEE doubles, in
    order), come to exactly ``total``: the last test with points absorbs the rounding."""
    acc = 0.0
    for t in tests:
        acc += t["score"]
    if acc == total or not tests:
        return
    last = max((i for i, t in enumerate(tests) if t["score"]), default=len(tests) - 1)
    before = 0.0
    for t in tests[:last]:
        before += t["score"]
    rest = tests[last + 1:]  # scores of 0: adding them changes nothing
    gap = float(total) - before
    for x in (round(gap, 6), gap, math.nextafter(gap, math.inf), math.nextafter(gap, -math.inf)):
        if x >= 0 and before + x == total and all(t["score"] == 0 for t in rest):
            tests[last]["score"] = _num(x) if _num(x) == x else x
            return


def encoded_size(doc: dict) -> int:
    """Bytes of base64 that ``doc`` becomes (see :func:`encode`)."""
    n = len(dumps(doc, separators=(",", ":")).encode("utf-8"))
    return 4 * ((n + 2) // 3)


def _fit(doc: dict, ranks: list[int], limit: int) -> None:
    """Shorten messages, least important first, until ``doc`` encodes within ``limit`` bytes.

    First the references to a message sent before, then the messages of passed checks
    (timing figures), then those of checks not started, wrong answers and errors, all
    three cut a little at a time. Tests and points are never touched; only ``message``.
    """
    if encoded_size(doc) <= limit:
        return
    tests = doc["tests"]
    steps = ([(_REPEATED, cap) for cap in _SHORTER] + [(0, cap) for cap in _SHORTER]
             + [(rank, cap) for cap in _SHORTER for rank in (1, 2, 3)])
    for rank, cap in steps:
        changed = False
        for t, r in zip(tests, ranks):
            if r == rank and len(t["message"]) > cap:
                t["message"] = _clean_text(t["message"], cap) if cap else ""
                changed = True
        if changed and encoded_size(doc) <= limit:
            return


def encode(report: Report, **options) -> str:
    """The step output's value: base64 (one line) of the compact JSON."""
    data = dumps(to_dict(report, **options), separators=(",", ":"))
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def points(report: Report) -> str:
    return f"Points {_num(report.score)}/{_num(report.max_score)}"


def render(report: Report, **options) -> str:
    """One line per exercise, then ``Points X/Y``."""
    width = max([0] + [len(e.name) for e in report.exercises]) + 2
    lines = [f"{_MARKS.get(e.state, '✗')} {e.name:<{width}}{_num(e.score)}/{_num(e.max_score)}"
             f"  {STATUS_LABELS[e.state]}" for e in report.exercises]
    lines.append(isolation_line(report.sandbox, report.seed))
    lines.append(points(report))
    return encodable("\n".join(lines))


# ----------------------------------------------------------------------------- annotations


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's runner reads it back."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _workspace_path(filename: str) -> str:
    """``filename`` relative to ``$GITHUB_WORKSPACE`` when it lies in it (what annotations need)."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and os.path.isabs(filename):
        try:
            rel = os.path.relpath(filename, workspace)
        except ValueError:
            return filename
        if not rel.startswith(os.pardir):
            return rel.replace(os.sep, "/")
    return filename


def annotations(report: Report, **options) -> list[str]:
    """``::error file=…,line=…,title=…::message`` for the failing checks, at most
    :data:`ANNOTATION_LIMIT`: one per failing function (a module that cannot be imported:
    one for the module), pointing at the learner's file and the function's ``def``."""
    source = options.get("source") or "exercises"
    found, seen = [], set()
    for e, c, filename, line in _located(report, source):
        if c.passed or c.not_started:
            continue
        message = _message(e, c) or f"{c.name}: failed"
        key = (e.name, message) if c.error else (e.name, c.function)
        if key in seen:
            continue
        seen.add(key)
        props = [f"file={escape_property(_workspace_path(filename))}"]
        if line and not c.error:
            props.append(f"line={line}")
        title = f"{e.name}: {e.name + '.py cannot be graded' if c.error else c.function + ' — ' + c.name}"
        props.append(f"title={escape_property(_first_line(title, 200))}")
        found.append(f"::error {','.join(props)}::{escape_data(_clean_text(message, 1000))}")
    if len(found) > ANNOTATION_LIMIT:
        more = len(found) - (ANNOTATION_LIMIT - 1)
        found = found[: ANNOTATION_LIMIT - 1] + [
            f"::error title=More failing checks::{more} more failing functions: see the job summary"]
    return [encodable(a) for a in found]


# ----------------------------------------------------------------------------- step summary


def _cell(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fence(text: str) -> str:
    longest = max([0] + [len(run) for run in re.findall(r"`+", text)])
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def summary(report: Report, **options) -> str:
    """The Markdown for ``$GITHUB_STEP_SUMMARY``: the points, a table per exercise, and the
    message of every failing check (the smallest failing call, what came back, what was
    expected, the hint), each message once and the whole within :data:`SUMMARY_LIMIT`."""
    source = options.get("source") or "exercises"
    out = [f"## {points(report)}", "", isolation_line(report.sandbox, report.seed), ""]
    details: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    rows: dict[str, list[str]] = {}
    for e, c, filename, line in _located(report, source):
        mark = "✓ passed" if c.passed else ("not started" if c.not_started else
                                             ("✗ error" if c.error else "✗ failed"))
        rows.setdefault(e.name, []).append(
            f"| {_cell(c.function)} | {_cell(c.name)} | {mark} | {_num(c.score)}/{_num(c.max_score)} |")
        if c.passed or c.not_started:
            continue
        message = _message(e, c)
        where = f"{_workspace_path(filename)}" + (f", line {line}" if line else "")
        head = f"**{_cell(c.function)} — {_cell(c.name)}** (`{where}`)"
        if message in first:
            text = f"{head}: the same as for {first[message]} above."
        else:
            first[message] = f"{c.function} — {c.name}"
            text = f"{head}\n\n{_fence(_clean_text(message, MESSAGE_LIMIT))}" if message else head
        details.setdefault(e.name, []).append(text)
    size = 0
    cut = 0
    for e in report.exercises:
        out += [f"### {_cell(e.name)}: {_num(e.score)}/{_num(e.max_score)} · {STATUS_LABELS[e.state]}", "",
                "| function | check | status | points |", "|---|---|---|---|", *rows.get(e.name, []), ""]
        for text in details.get(e.name, []):
            size += len(text.encode("utf-8"))
            if size > SUMMARY_LIMIT:
                cut += 1
                continue
            out += [text, ""]
    if cut:
        out.append(f"_{cut} more failing checks left out to keep this summary short: run "
                   f"`grade -v` to see them all._")
    return encodable("\n".join(out) + "\n")


def _append(variable: str, text: str, what: str) -> None:
    target = os.environ.get(variable)
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        import click

        click.echo(click.style("warning: ", fg="yellow", bold=True) + f"could not append {what} to "
                   f"${variable} ({target}: {e.strerror or e}).", err=True)


def to_github(report: Report, **options) -> str:
    """The ``github`` format: append ``result=`` to ``$GITHUB_OUTPUT`` and the summary to
    ``$GITHUB_STEP_SUMMARY`` when set; inside GitHub Actions print the annotations (workflow
    commands are read from stdout) before the text; return the text."""
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
    _append("GITHUB_STEP_SUMMARY", summary(report, **options), "the summary")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        import click

        for line in annotations(report, **options):
            click.echo(line)
    return render(report, **options)
