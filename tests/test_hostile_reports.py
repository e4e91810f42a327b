"""A hostile exception message cannot erase, break or flood a report, in any format.

The submission is the reference ``vectors.py`` with ``dot`` replaced by one that raises an
exception whose class name and message hold a lone surrogate (``"\\udcff"``, which UTF-8
cannot encode: it used to erase the whole report in every format), a terminal escape that
clears the screen, a NUL and a megabyte of text. It is graded by the real pipeline (the
``grade run`` command, the learner code in its own process) into every format, on stdout
and into a file with ``--output``; each document must parse with an independent parser,
hold the text escaped (``\\udcff`` as six visible characters), and stay bounded.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.results import SANDBOX_MODES, CheckResult, ExerciseResult, Report
from grader.text import DEFAULT_LIMIT
from helpers import submission

HOSTILE_DOT = r'''
    def dot(a, b):
        Evil = type("Evil\x1b[31m", (ValueError,), {})  # a class name cannot hold a surrogate
        raise Evil("bad \udcff then \x1b[2J then nul \x00 then " + "A" * 1_000_000 + " end")
    '''
# What must never reach a report, and what must be there instead (as visible text).
RAW = ("\udcff", "\x1b", "\x00")
# The exception's own text (not the source line the report also quotes), shown escaped.
ESCAPED = ("Evil\\x1b[31m", "bad \\udcff then \\x1b[2J then nul \\x00 then AAAA")
FORMATS = ("table", "json", "junit", "gradescope", "github")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return submission(tmp_path_factory.mktemp("hostile_reports"), "vectors", replace={"dot": HOSTILE_DOT})


def run_cli(args, env=None):
    """``grade run ARGS`` in-process, in a fresh current folder."""
    runner = CliRunner()
    with runner.isolated_filesystem():
        return runner.invoke(main, ["run", *args, "--no-progress", "--no-timing", "-j", "2"], env=env)


def assert_clean(text: str, where: str) -> None:
    text.encode("utf-8")  # strict: no lone surrogate is left anywhere
    for raw in RAW:
        assert raw not in text, f"{where}: {raw!r} reached the report"


def dot_messages(doc: dict) -> list[str]:
    return [c["message"] for e in doc["exercises"] for c in e["checks"] if c["function"] == "dot"]


def parse(fmt: str, text: str, github_output: str | None = None) -> list[str]:
    """Parse one document with an independent parser; the failure messages of ``dot``."""
    if fmt == "json":
        return dot_messages(json.loads(text))
    if fmt == "junit":
        root = ET.fromstring(text.encode("utf-8"))
        cases = [c for c in root.iter("testcase") if c.get("classname") == "vectors.dot"]
        assert cases
        verdicts = [next(iter(c)) for c in cases]
        for v in verdicts:
            assert v.get("message") and len(v.get("message")) <= 300
        return [v.text for v in verdicts]
    if fmt == "gradescope":
        doc = json.loads(text)
        assert doc["extra_data"]["sandbox"] in SANDBOX_MODES
        return [t["output"] for t in doc["tests"] if t["tags"][:2] == ["vectors", "dot"]]
    if fmt == "github":
        lines = text.splitlines()
        assert lines[-1].startswith("Points ") and lines[-2].startswith("Isolation: ")
        if github_output is None:
            return []
        (line,) = github_output.splitlines()
        doc = json.loads(base64.b64decode(line[len("result="):], validate=True).decode("utf-8"))
        return [t["message"] for t in doc["tests"] if t["name"].startswith("vectors: dot")]
    assert fmt == "table"
    assert "vectors" in text and text.splitlines()[-1].startswith("sandbox: ")
    return [text]


def assert_messages(fmt: str, messages: list[str]) -> None:
    assert messages, f"{fmt}: the failing checks of dot are missing"
    for message in messages:
        assert_clean(message, fmt)
        words = " ".join(message.split())  # the table wraps long lines
        for escaped in ESCAPED:
            assert escaped in words, f"{fmt}: {escaped!r} is not shown as text"
        if fmt != "table":  # the table holds several messages
            # Bounded; JUnit adds the points it cost, "(0/3 points)".
            assert len(message) <= DEFAULT_LIMIT + (40 if fmt == "junit" else 0), (fmt, len(message))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_hostile_exception_message_leaves_a_valid_bounded_report(fmt, folder, tmp_path):
    out = tmp_path / "github_output"
    out.write_text("", encoding="utf-8")
    env = {"GITHUB_OUTPUT": str(out)} if fmt == "github" else {"GITHUB_OUTPUT": None}

    # On stdout.
    result = run_cli(["vectors", "--source", str(folder), "--format", fmt], env=env)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = result.stdout_bytes.decode("utf-8")  # strict: the bytes are valid UTF-8
    assert_clean(text, f"{fmt} on stdout")
    assert len(text) < 40 * DEFAULT_LIMIT * 2, "the report is bounded"
    assert_messages(fmt, parse(fmt, text, out.read_text(encoding="utf-8") if fmt == "github" else None))

    # Into a file (written whole, atomically, as UTF-8).
    target = tmp_path / f"report.{fmt}"
    out.write_text("", encoding="utf-8")
    result = run_cli(["vectors", "--source", str(folder), "--format", fmt, "-o", str(target)], env=env)
    assert result.exit_code == 1, result.output
    text = target.read_bytes().decode("utf-8")
    assert_clean(text, f"{fmt} in a file")
    assert_messages(fmt, parse(fmt, text, out.read_text(encoding="utf-8") if fmt == "github" else None))


def test_a_hostile_report_reaches_a_real_stdout_as_utf8(folder):
    """As a separate process (stdout a real pipe), the JSON report is one valid UTF-8 document."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_OUTPUT"}
    proc = subprocess.run([sys.executable, "-m", "grader", "run", "vectors", "--source", str(folder),
                           "--format", "json", "--no-progress", "--no-timing", "-j", "2"],
                          cwd=folder, env=env, capture_output=True, timeout=600)
    assert proc.returncode == 1, proc.stderr.decode("utf-8", "replace")[-2000:]
    doc = json.loads(proc.stdout.decode("utf-8"))
    assert doc["sandbox"] in SANDBOX_MODES
    assert_messages("json", dot_messages(doc))
    failing = [(c["name"], c["function"]) for e in doc["exercises"] for c in e["checks"] if not c["passed"]]
    assert failing and all(function == "dot" for _, function in failing)


# ----------------------------------------------------------------------------- where results are built

def test_results_clean_learner_text_whenever_it_is_set():
    check = CheckResult("na\x1bme", "f\x00", "correctness", False, 1.0, message="a\udcffb",
                        extra={"note": "\x1b[2J", "seconds": 0.5, "replay": {"example": ["\x00"]}})
    assert (check.name, check.function, check.message) == ("na\\x1bme", "f\\x00", "a\\udcffb")
    assert check.extra == {"note": "\\x1b[2J", "seconds": 0.5, "replay": {"example": ["\x00"]}}
    check.message = "later \x00"  # a quiz sets its feedback after building the check
    assert check.message == "later \\x00"
    check.message = None
    assert check.message == ""
    exercise = ExerciseResult("vec\u202etors", [check], message="\udcff")
    exercise.message = "x" * 10 ** 6
    assert exercise.name == "vec\\u202etors" and len(exercise.message) == DEFAULT_LIMIT


def test_a_long_message_is_cut_in_the_middle_keeping_its_hint():
    text = "dot raised: " + "\x00" * 500_000 + "A" * 500_000 + "\n(vectors.py, line 3)\nHint: add the products"
    message = CheckResult("x", "dot", "correctness", False, 1.0, message=text).message
    assert len(message) == DEFAULT_LIMIT and message.count("…") == 1
    assert message.startswith("dot raised: \\x00\\x00")
    assert message.endswith("A\n(vectors.py, line 3)\nHint: add the products")
    # Messages within the bound are kept whole, even one that ends in "…" of its own.
    for whole in ("ok", "x" * (DEFAULT_LIMIT - 1) + "…", "a\n\tb"):
        assert CheckResult("x", "dot", "correctness", False, 1.0, message=whole).message == whole


def test_every_format_survives_text_that_slipped_past_the_cleaning(monkeypatch):
    """The reporters' own last guard: a lone surrogate set behind the results' back costs an escape."""
    from grader.reporters import FORMATS as RENDER

    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    check = CheckResult("x", "dot", "correctness", False, 1.0, message="fine")
    object.__setattr__(check, "message", "sneaky \udcff \x1b[2J")  # bypasses the cleaning
    report = Report([ExerciseResult("vectors", [check], sandbox="none")])
    for fmt in FORMATS:
        text = RENDER[fmt](report)
        text.encode("utf-8")
        assert "\udcff" not in text, fmt
    assert json.loads(RENDER["json"](report))["exercises"][0]["checks"][0]["message"].startswith("sneaky ")
    ET.fromstring(RENDER["junit"](report).encode("utf-8"))
    json.loads(RENDER["gradescope"](report))
