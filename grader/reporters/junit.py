"""JUnit XML: one ``<testsuite>`` per exercise, one ``<testcase>`` per check.

The shape follows the JUnit schema most CI tools read (Jenkins' junit-10.xsd, also used by
pytest's ``--junitxml``)::

    <testsuites name tests failures errors time>
      <testsuite name tests failures errors skipped time>
        <properties><property name value/>...</properties>
        <testcase name classname time>
          <failure message type>full message</failure>   (a wrong answer or not started)
          <error message type>full message</error>       (the module could not be loaded)
          <skipped message type>full message</skipped>   (the check did not run, see below)
        </testcase>

A check that did not run is ``<skipped>``, never a pass: a timed run that waits for its
function's correctness checks, a timed run with no reference solution to time against, a
check not run because an earlier check of its function hung. It still scores what the
other formats say (the suite's ``score`` property). Every check of a module that cannot be
imported, its timed runs included, stays an ``<error>``.

Each ``<testcase>`` also carries ``file`` (the learner's module, relative to where grade
ran, e.g. ``exercises/vectors.py``; a quiz's answers file) and, where the function's
``def`` is found, ``line``: the attributes pytest writes with ``junit_family=xunit1`` and
that GitLab and the GitHub test-report actions read to point at the code. They are the
only additions to junit-10.xsd's testcase (tests/test_junit.py validates the rest
against the vendored schema).

JUnit has no notion of points: each suite carries its ``score``, ``max_score``, ``status``,
``sandbox`` (the isolation the run's learner code ran under: ``namespaces``, ``uid``
or ``none``, the same in every suite) and ``seed`` (``public`` or ``secret``) as
properties, and each failure's text ends with the points it cost. A check
that is not started yet is a failure (``type="not_started"``), never a skip: it scores 0.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from ..results import ExerciseResult, Report, _num
from .github import _line_of
from .safe import encodable

# XML 1.0 cannot carry most control characters, even escaped, nor lone surrogates. Results
# are cleaned already (grader/results.py); this is the last guard.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _BAD_XML.sub("?", str(text))


def _seconds(check) -> float:
    try:
        return max(0.0, float(check.extra.get("seconds", 0.0)))
    except (TypeError, ValueError):
        return 0.0


def _first_line(text: str, limit: int = 300) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def skip_reason(check) -> str | None:
    """Why ``check`` did not run (its message), or None when it ran (or is simply not started)."""
    if check.extra.get("skipped"):
        return check.message or "skipped"
    if check.kind == "timing":
        rows = check.extra.get("timing")
        if isinstance(rows, list):
            if rows and all(isinstance(r, dict) and r.get("outcome") == "skipped" for r in rows):
                return check.message or "skipped"  # e.g. no reference solution to time against
        elif not check.passed and not check.not_started and not check.error:
            return check.message or "skipped"  # waits for its function's correctness checks
    if not check.passed and not check.error and check.message.startswith("not run, because"):
        return check.message  # an earlier check of the function hung
    return None


def _verdict(check) -> str:
    """pass, skipped, error or failure."""
    if skip_reason(check) is not None:
        return "skipped"
    if check.passed:
        return "pass"
    return "error" if check.error else "failure"


def suite(exercise: ExerciseResult, sandbox: str = "", seed: str = "public", source: str = "exercises") -> ET.Element:
    """One exercise's ``<testsuite>``; ``sandbox`` is the report's mode (the weakest of the
    run: one answer per report, as in the other formats); ``source`` the learner's folder as
    given to grade (for each testcase's ``file``)."""
    verdicts = [_verdict(c) for c in exercise.checks]
    time = sum(_seconds(c) for c in exercise.checks)
    el = ET.Element("testsuite", {
        "name": _clean(exercise.name), "tests": str(len(exercise.checks)),
        "failures": str(verdicts.count("failure")), "errors": str(verdicts.count("error")),
        "skipped": str(verdicts.count("skipped")), "time": f"{time:.3f}",
    })
    quiz = bool(exercise.checks) and all(c.kind == "quiz" for c in exercise.checks)
    source = source or "exercises"
    shown = source.rstrip("/\\") or source
    if os.path.isabs(shown):  # relative to where grade ran (the repository), when inside it
        relative = os.path.relpath(shown)
        shown = shown if relative.startswith("..") else relative
    shown = shown.replace(os.sep, "/")
    filename = f"{shown}/quizzes/{exercise.name}.yaml" if quiz else f"{shown}/{exercise.name}.py"
    lines: dict[str, int] = {}
    props = ET.SubElement(el, "properties")
    for name, value in (("score", _num(exercise.score)), ("max_score", _num(exercise.max_score)),
                        ("status", exercise.status), ("state", exercise.state),
                        ("sandbox", sandbox or exercise.sandbox or "none"),
                        ("seed", seed)):
        ET.SubElement(props, "property", {"name": name, "value": str(value)})
    for c, verdict in zip(exercise.checks, verdicts):
        case = ET.SubElement(el, "testcase", {
            "name": _clean(f"{c.function}: {c.name}"),
            "classname": _clean(f"{exercise.name}.{c.function}"),
            "time": f"{_seconds(c):.3f}",
            "file": _clean(filename),
        })
        if not quiz:
            if c.function not in lines:
                lines[c.function] = _line_of(source, exercise.name, c.function)
            if lines[c.function]:
                case.set("line", str(lines[c.function]))
        if verdict == "pass":
            continue
        if verdict == "skipped":
            reason = skip_reason(c)
            skipped = ET.SubElement(case, "skipped", {"message": _clean(_first_line(reason)), "type": c.kind})
            skipped.text = _clean(f"{reason}\n({_num(c.score)}/{_num(c.max_score)} points)")
            continue
        message = c.message or exercise.message or "failed"
        if c.error:
            kind = "error"
        else:
            kind = "not_started" if c.not_started else c.kind
        tag = "error" if c.error else "failure"
        detail = ET.SubElement(case, tag, {"message": _clean(_first_line(message)), "type": kind})
        points = f"{_num(c.score)}/{_num(c.max_score)} points"
        detail.text = _clean(f"{message}\n({points})")
    return el


def render(report: Report, **options) -> str:
    root = ET.Element("testsuites", {"name": "dlgrade"})
    totals = {"tests": 0, "failures": 0, "errors": 0}  # junit-10.xsd: no "skipped" on <testsuites>
    time = 0.0
    sandbox = report.sandbox
    source = options.get("source") or "exercises"
    for e in report.exercises:
        el = suite(e, sandbox, report.seed, source)
        root.append(el)
        for key in totals:
            totals[key] += int(el.get(key))
        time += float(el.get("time"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time:.3f}")
    ET.indent(root)
    return encodable('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode"))
