"""JUnit XML: one ``<testsuite>`` per exercise, one ``<testcase>`` per check.

The shape follows the JUnit schema most CI tools read (Jenkins' junit-10.xsd, also used by
pytest's ``--junitxml``)::

    <testsuites name tests failures errors time>
      <testsuite name tests failures errors skipped time>
        <properties><property name value/>...</properties>
        <testcase name classname time>
          <failure message type>full message</failure>   (a wrong answer or not started)
          <error message type>full message</error>       (the module could not be loaded)
        </testcase>

JUnit has no notion of points: each suite carries its ``score``, ``max_score``, ``status``,
``sandbox`` (the isolation the run's learner code ran under: ``namespaces``, ``uid``
or ``none``, the same in every suite) and ``seed`` (``public`` or ``secret``) as
properties, and each failure's text ends with the points it cost. A check
that is not started yet is a failure (``type="not_started"``), never a skip: it scores 0.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..results import ExerciseResult, Report, _num
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


def suite(exercise: ExerciseResult, sandbox: str = "", seed: str = "public") -> ET.Element:
    """One exercise's ``<testsuite>``; ``sandbox`` is the report's mode (the weakest of the
    run: one answer per report, as in the other formats)."""
    failures = sum(1 for c in exercise.checks if not c.passed and not c.error)
    errors = sum(1 for c in exercise.checks if c.error)
    time = sum(_seconds(c) for c in exercise.checks)
    el = ET.Element("testsuite", {
        "name": _clean(exercise.name), "tests": str(len(exercise.checks)), "failures": str(failures),
        "errors": str(errors), "skipped": "0", "time": f"{time:.3f}",
    })
    props = ET.SubElement(el, "properties")
    for name, value in (("score", _num(exercise.score)), ("max_score", _num(exercise.max_score)),
                        ("status", exercise.status), ("sandbox", sandbox or exercise.sandbox or "none"),
                        ("seed", seed)):
        ET.SubElement(props, "property", {"name": name, "value": str(value)})
    for c in exercise.checks:
        case = ET.SubElement(el, "testcase", {
            "name": _clean(f"{c.function}: {c.name}"),
            "classname": _clean(f"{exercise.name}.{c.function}"),
            "time": f"{_seconds(c):.3f}",
        })
        if c.passed:
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


def render(report: Report, **_) -> str:
    root = ET.Element("testsuites", {"name": "dlgrade"})
    totals = {"tests": 0, "failures": 0, "errors": 0}  # junit-10.xsd: no "skipped" on <testsuites>
    time = 0.0
    sandbox = report.sandbox
    for e in report.exercises:
        el = suite(e, sandbox, report.seed)
        root.append(el)
        for key in totals:
            totals[key] += int(el.get(key))
        time += float(el.get("time"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time:.3f}")
    ET.indent(root)
    return encodable('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode"))
