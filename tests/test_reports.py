"""CI report formats (junit, gradescope, github) and ``--output``.

Each format is read back with an independent parser (xml.etree, json, base64) and checked
against a written schema, then compared with ``--format json`` check for check: the same
checks, in the same order, with the same verdicts and points.
"""
from __future__ import annotations

import base64
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.reporters import FORMATS
from grader.reporters import github as github_reporter
from grader.results import SANDBOX_MODES, CheckResult, ExerciseResult, Report
from helpers import course, course_with, grade_folder, submission

NOISE = "LEARNER-NOISE-7f3a"

# A submission with every kind of verdict: vectors has a wrong dot, a right cross and a
# matmul not started; losses cannot even be imported (a syntax error). The module prints
# at import and in dot, which must never reach a report.
VECTORS_PLANTED = {
    "dot": f"""
        def dot(a, b):
            print("{NOISE}")
            return float((a * b).sum()) + 1.0
        """,
    "matmul": """
        def matmul(A, B):
            raise NotImplementedError
        """,
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("mixed")
    submission(path, "vectors", replace=VECTORS_PLANTED)
    text = (path / "vectors.py").read_text()
    (path / "vectors.py").write_text(f"print({NOISE!r})\n" + text)
    submission(path, "losses", source="def mse(y_true, y_pred)\n    return 0\n")
    return path


def cli(args, env=None):
    """``grade run ARGS`` in a fresh current folder (its .grade/ state stays out of the way)."""
    runner = CliRunner()
    with runner.isolated_filesystem():
        return runner.invoke(main, ["run", *args, "--no-progress", "-j", "2"], env=env)


@pytest.fixture(scope="module")
def json_doc(folder):
    result = cli(["--source", str(folder), "--format", "json", "vectors", "losses"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


def json_checks(doc):
    """``[(exercise, function, check title, passed, score, max_score)]`` in report order."""
    return [(e["name"], c["function"], c["name"], c["passed"], c["score"], c["max_score"])
            for e in doc["exercises"] for c in e["checks"]]


def test_the_planted_submission_has_every_kind_of_verdict(json_doc):
    statuses = {e["name"]: e["status"] for e in json_doc["exercises"]}
    assert statuses == {"vectors": "failed", "losses": "error"}
    vectors = json_doc["exercises"][0]
    by_function = {}
    for c in vectors["checks"]:
        by_function.setdefault(c["function"], set()).add(c["passed"])
    assert by_function == {"dot": {True, False}, "cross": {True}, "matmul": {False}}
    assert json_doc["sandbox"] in SANDBOX_MODES


# ----------------------------------------------------------------------------- JUnit

def _is_count(text):
    return text is not None and re.fullmatch(r"\d+", text) is not None


def _is_time(text):  # junit-10.xsd's SUREFIRE_TIME: digits, optionally 3 decimals at most
    return text is not None and re.fullmatch(r"\d+(\.\d{1,3})?", text) is not None


def validate_junit(root: ET.Element) -> None:
    """The structure of Jenkins' junit-10.xsd (the schema pytest's --junitxml is checked against)."""
    assert root.tag == "testsuites"
    assert set(root.attrib) <= {"name", "time", "tests", "failures", "errors"}
    assert all(child.tag == "testsuite" for child in root)
    for suite in root:
        assert {"name", "tests", "failures", "errors"} <= set(suite.attrib)
        assert set(suite.attrib) <= {"name", "tests", "failures", "errors", "skipped", "time", "timestamp",
                                     "hostname", "id", "package", "group", "file", "log", "url", "version"}
        for key in ("tests", "failures", "errors", "skipped"):
            assert _is_count(suite.get(key)), (key, suite.get(key))
        assert _is_time(suite.get("time"))
        assert all(child.tag in ("properties", "testcase", "system-out", "system-err") for child in suite)
        for props in suite.findall("properties"):
            assert all(p.tag == "property" and set(p.attrib) == {"name", "value"} for p in props)
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        for case in cases:
            # file and line: the one addition to junit-10.xsd (pytest's xunit1 attributes, see junit.py)
            assert "name" in case.attrib and set(case.attrib) <= {"name", "time", "classname", "group", "file", "line"}
            assert _is_time(case.get("time"))
            assert all(child.tag in ("skipped", "error", "failure", "system-out", "system-err") for child in case)
            for verdict in list(case):
                if verdict.tag in ("failure", "error"):
                    assert verdict.get("message"), "a failure carries its message"
                    assert set(verdict.attrib) <= {"message", "type"}
    for key in ("tests", "failures", "errors"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in root)


def junit_checks(root):
    rows = []
    for suite in root:
        for case in suite.findall("testcase"):
            function, title = case.get("name").split(": ", 1)
            assert case.get("classname") == f"{suite.get('name')}.{function}"
            rows.append((suite.get("name"), function, title, len(list(case)) == 0))
    return rows


def test_junit_output_file_is_valid_and_agrees_with_json(folder, json_doc, tmp_path):
    target = tmp_path / "reports" / "junit.xml"
    result = cli(["--source", str(folder), "--format", "junit", "--output", str(target), "vectors", "losses"])
    assert result.exit_code == 1
    assert result.stdout == "", "with --output the report goes to the file only"
    text = target.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert NOISE not in text
    root = ET.fromstring(text.encode("utf-8"))
    validate_junit(root)
    assert junit_checks(root) == [row[:3] + (row[3],) for row in json_checks(json_doc)]
    # A failing check's message is the JSON message; a broken module is an <error>.
    messages = [c["message"] for e in json_doc["exercises"] for c in e["checks"]]
    cases = [case for suite in root for case in suite.findall("testcase")]
    for case, message in zip(cases, messages):
        verdict = next(iter(case), None)
        if verdict is not None:
            assert verdict.text.startswith(message)
            assert verdict.get("message") == message.splitlines()[0][:300]
    losses = root.find("testsuite[@name='losses']")
    assert int(losses.get("errors")) == int(losses.get("tests")) > 0 and losses.get("failures") == "0"
    matmul = [c for c in cases if c.get("classname") == "vectors.matmul"]
    assert matmul and all(c.find("failure").get("type") == "not_started" for c in matmul)
    assert [s.find("properties/property[@name='sandbox']").get("value") for s in root] == \
        [json_doc["sandbox"]] * len(root)


def test_junit_escapes_markup_and_control_characters():
    check = CheckResult("a <b> & \"c\"", "f", "correctness", False, 1.0, message="got <x> & \x07 bell")
    text = FORMATS["junit"](Report([ExerciseResult("vectors", [check])]))
    root = ET.fromstring(text.encode("utf-8"))
    validate_junit(root)
    case = root.find("testsuite/testcase")
    assert case.get("name") == 'f: a <b> & "c"'
    # The bell was made visible where the result was built (grader/text.py's clean).
    assert case.find("failure").get("message") == "got <x> & \\x07 bell"
    assert "\x07" not in text


# ----------------------------------------------------------------------------- Gradescope

# Gradescope's results.json (see docs/teachers.md), as a JSON-Schema-like spec.
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "simple_format", "html", "md", "ansi"]},
        "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "stdout_visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "score", "max_score", "status", "output", "visibility"],
            "properties": {
                "name": {"type": "string"}, "number": {"type": "string"},
                "score": {"type": "number", "minimum": 0}, "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]}, "output": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
            },
            "additionalProperties": False,
        }},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": "number"},
                           "order": {"enum": ["asc", "desc"]}},
            "additionalProperties": False,
        }},
    },
    "additionalProperties": False,
}


def validate(value, schema, where="$"):
    """A small JSON Schema subset: type, required, properties, additionalProperties, items, enum, minimum."""
    types = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int}
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "type" in schema:
        assert isinstance(value, types[schema["type"]]) and not isinstance(value, bool), \
            f"{where}: {value!r} is not {schema['type']}"
    if "minimum" in schema:
        assert value >= schema["minimum"], f"{where}: {value!r} < {schema['minimum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} is missing"
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(props), f"{where}: unexpected {set(value) - set(props)}"
        for key, sub in props.items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")


def test_gradescope_results_follow_the_schema_and_agree_with_json(folder, json_doc, tmp_path):
    target = tmp_path / "results.json"
    result = cli(["--source", str(folder), "--format", "gradescope", "-o", str(target), "vectors", "losses"])
    assert result.exit_code == 1
    doc = json.loads(target.read_text(encoding="utf-8"))
    validate(doc, GRADESCOPE_SCHEMA)
    assert doc["score"] == json_doc["score"]
    assert doc["execution_time"] > 0
    assert "leaderboard" not in doc  # the course file does not ask for one
    rows = json_checks(json_doc)
    assert len(doc["tests"]) == len(rows)
    for test, (exercise, function, title, passed, score, max_score) in zip(doc["tests"], rows):
        assert test["name"] == f"{exercise}: {function} — {title}"
        assert (test["status"] == "passed") == passed
        assert (test["score"], test["max_score"]) == (score, max_score)
        assert test["tags"][:2] == [exercise, function]
    messages = [c["message"] for e in json_doc["exercises"] for c in e["checks"]]
    assert [t["output"] for t in doc["tests"]] == messages
    assert NOISE not in json.dumps(doc)
    assert [t["number"] for t in doc["tests"]][:2] == ["1.1", "1.2"]
    assert doc["extra_data"] == {"sandbox": json_doc["sandbox"], "seed": json_doc["seed"]} and json_doc["seed"] == "public"
    assert doc["output"].splitlines()[-1].startswith(f"Isolation: {json_doc['sandbox']} (")
    assert doc["output"].splitlines()[-1].endswith(" · seed: public")


def test_gradescope_visibility_comes_from_the_course_file_and_leaderboard_is_a_switch():
    import dataclasses

    base = course_with(["vectors"], checks={("vectors", "dot"): ["agrees_with_numpy", "symmetric"]})
    vectors = base.get("vectors")
    dot = vectors.functions[0]
    hidden = dataclasses.replace(dot.checks[1], visibility="after_due_date")
    changed = dataclasses.replace(vectors, functions=[dataclasses.replace(dot, checks=[dot.checks[0], hidden])])
    c = dataclasses.replace(base, exercises=[changed])
    checks = [CheckResult(dot.checks[0].title, "dot", "correctness", True, 3.0),
              CheckResult(hidden.title, "dot", "correctness", False, 1.0, message="no"),
              CheckResult("is fast", "dot", "timing", True, 1.0, extra={"ratio": 1.25})]
    report = Report([ExerciseResult("vectors", checks)])

    doc = json.loads(FORMATS["gradescope"](report, course=c))
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "after_due_date", "visible"]
    assert "leaderboard" not in doc

    board = json.loads(FORMATS["gradescope"](report, course=dataclasses.replace(c, leaderboard=True)))
    validate(board, GRADESCOPE_SCHEMA)
    # a hidden check: the leaderboard ranks by the visible checks' score (tests/test_gradescope.py)
    assert board["leaderboard"] == [{"name": "Score (visible checks)", "value": 4, "order": "desc"},
                                    {"name": "vectors.dot time ratio", "value": 1.25, "order": "asc"}]


def test_course_file_reads_the_leaderboard_switch(tmp_path):
    from grader.course import load_course
    from grader.yamlfile import YamlError

    text = open(course().path, encoding="utf-8").read()
    assert load_course().leaderboard is False
    on = tmp_path / "on.yaml"
    on.write_text("leaderboard: true\n" + text, encoding="utf-8")
    assert load_course(str(on)).leaderboard is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("leaderboard: sometimes\n" + text, encoding="utf-8")
    with pytest.raises(YamlError) as error:
        load_course(str(bad))
    assert "leaderboard" in str(error.value) and "line 1" in str(error.value)


# ----------------------------------------------------------------------------- GitHub Classroom

def decode_result(line: str) -> dict:
    assert line.startswith("result=")
    payload = line[len("result="):]
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", payload), "one line of standard base64"
    return json.loads(base64.b64decode(payload, validate=True).decode("utf-8"))


def test_github_appends_a_result_the_classroom_reporter_can_read(folder, json_doc, tmp_path):
    out = tmp_path / "github_output"
    out.write_text("earlier=step\n", encoding="utf-8")
    result = cli(["--source", str(folder), "--format", "github", "vectors", "losses"],
                 env={"GITHUB_OUTPUT": str(out)})
    assert result.exit_code == 1
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier=step" and len(lines) == 2, "appended, one line"
    doc = decode_result(lines[1])
    assert set(doc) == {"version", "status", "max_score", "tests"}
    assert doc["version"] == 1 and doc["status"] == "error" and doc["max_score"] == json_doc["max_score"]
    rows = json_checks(json_doc)
    assert len(doc["tests"]) == len(rows)
    for test, (exercise, function, title, passed, score, max_score) in zip(doc["tests"], rows):
        assert set(test) == {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
        assert test["name"] == f"{exercise}: {function} — {title}"
        assert test["status"] in ("pass", "fail", "error") and (test["status"] == "pass") == passed
        assert test["score"] == score
        assert isinstance(test["line_no"], int) and isinstance(test["duration"], int) and test["duration"] >= 0
        assert test["filename"] == f"{folder}/{exercise}.py"
    # What the reporter posts to the classroom: the tests' scores against max_score.
    assert sum(t["score"] for t in doc["tests"]) == json_doc["score"]
    assert result.stdout.strip().splitlines()[-1] == f"Points {json_doc['score']}/{json_doc['max_score']}"
    assert result.stdout.strip().splitlines()[-2].startswith(f"Isolation: {json_doc['sandbox']} (")
    # line_no points at the learner's def of the function.
    source_lines = (folder / "vectors.py").read_text().splitlines()
    dot = next(t for t in doc["tests"] if t["name"].startswith("vectors: dot"))
    assert source_lines[dot["line_no"] - 1].startswith("def dot(")
    assert NOISE not in json.dumps(doc)


def test_github_status_is_pass_only_when_everything_passes(monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    passed = Report([ExerciseResult("vectors", [CheckResult("x", "dot", "correctness", True, 2.0)])])
    failed = Report([ExerciseResult("vectors", [CheckResult("x", "dot", "correctness", True, 2.0),
                                                CheckResult("y", "dot", "correctness", False, 1.5)])])
    assert github_reporter.to_dict(passed)["status"] == "pass"
    assert github_reporter.to_dict(failed)["status"] == "fail"
    assert FORMATS["github"](failed).splitlines()[-1] == "Points 2/3.5"
    assert not (tmp_path / "github_output").exists()


# ----------------------------------------------------------------------------- --output

def test_output_is_written_whole_or_not_at_all(folder, tmp_path, monkeypatch):
    from grader import atomic as files

    target = tmp_path / "report.json"
    target.write_text("previous report\n", encoding="utf-8")

    # A run that fails before reporting (a set-up error) leaves the old file untouched.
    result = cli(["--source", str(tmp_path / "missing"), "--format", "json", "-o", str(target)])
    assert result.exit_code == 2
    assert target.read_text(encoding="utf-8") == "previous report\n"

    # A run interrupted while the report is being written leaves no partial file and no temp file.
    real_fdopen = os.fdopen

    class Interrupted(BaseException):
        pass

    def failing_fdopen(fd, *args, **kwargs):
        f = real_fdopen(fd, *args, **kwargs)
        original = f.write

        def write(text):
            original(text[: len(text) // 2])
            raise Interrupted()
        f.write = write
        return f

    monkeypatch.setattr(files.os, "fdopen", failing_fdopen)
    with pytest.raises(Interrupted):
        files.write_atomic(str(target), '{"score": 1}\n')
    monkeypatch.setattr(files.os, "fdopen", real_fdopen)
    assert target.read_text(encoding="utf-8") == "previous report\n"
    assert os.listdir(tmp_path) == ["report.json"]

    # A real run replaces it whole; the file is readable like any other (not private to mkstemp).
    result = cli(["--source", str(folder), "--format", "json", "-o", str(target), "vectors"])
    assert result.exit_code == 1 and result.stdout == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert [e["name"] for e in doc["exercises"]] == ["vectors"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


def test_every_format_is_built_from_the_same_report(folder):
    report = grade_folder(folder, ["vectors"])
    rows = json_checks(json.loads(FORMATS["json"](report)))
    root = ET.fromstring(FORMATS["junit"](report).encode("utf-8"))
    assert junit_checks(root) == [r[:4] for r in rows]
    gradescope = json.loads(FORMATS["gradescope"](report, course=course()))
    assert [(t["score"], t["status"] == "passed") for t in gradescope["tests"]] == [(r[4], r[3]) for r in rows]
    github = github_reporter.to_dict(report)
    assert [(t["score"], t["status"] == "pass") for t in github["tests"]] == [(r[4], r[3]) for r in rows]


def test_output_files_have_no_terminal_colours(tmp_path, capsys, monkeypatch):
    from grader.atomic import emit

    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)

    report = Report([ExerciseResult("vectors", [CheckResult("x", "dot", "correctness", False, 1.0, message="no")])])
    table = FORMATS["table"](report)
    assert "\x1b[" in table  # the table is coloured for terminals...
    emit(table, str(tmp_path / "table.txt"), "table")
    text = (tmp_path / "table.txt").read_text(encoding="utf-8")
    assert "\x1b[" not in text and "vectors" in text  # ...but not in files
    assert capsys.readouterr().out == ""
    emit(FORMATS["github"](report), str(tmp_path / "github.txt"), "github")
    assert capsys.readouterr().out.strip().endswith("Points 0/1")  # github still prints its points


# ----------------------------------------------------------------------------- sandbox: which isolation

def _report(*modes):
    """A report with one exercise per mode ("" for one that ran no learner code, e.g. a quiz)."""
    return Report([ExerciseResult(f"e{i}", [CheckResult("x", "f", "correctness", i % 2 == 0, 1.0, message="no")],
                                  sandbox=mode) for i, mode in enumerate(modes)])


def test_the_report_names_the_weakest_isolation_of_its_exercises(monkeypatch):
    import grader.results as results

    assert _report("namespaces", "namespaces").sandbox == "namespaces"
    assert _report("namespaces", "uid", "").sandbox == "uid"
    assert _report("uid", "none", "namespaces").sandbox == "none"
    # Older names from the runner are mapped; anything unknown claims nothing.
    assert [ExerciseResult("e", sandbox=m).sandbox for m in ("user", "user+read", "off", "bwrap?", "")] == \
        ["uid", "uid", "none", "none", ""]
    # No learner code ran (quizzes only): the machine's own mode.
    monkeypatch.setattr(results, "machine_sandbox", lambda torch=False: "uid")
    assert _report("", "").sandbox == "uid" and Report().sandbox == "uid"
    assert Report().to_dict()["sandbox"] == "uid"


@pytest.mark.parametrize("mode", SANDBOX_MODES)
def test_every_format_says_which_isolation_learner_code_ran_under(mode, monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    report = _report(mode, "")
    assert json.loads(FORMATS["json"](report))["sandbox"] == mode
    root = ET.fromstring(FORMATS["junit"](report).encode("utf-8"))
    validate_junit(root)
    assert [p.get("value") for p in root.iter("property") if p.get("name") == "sandbox"] == [mode, mode]
    gradescope = json.loads(FORMATS["gradescope"](report, course=course()))
    validate(gradescope, GRADESCOPE_SCHEMA)
    assert gradescope["extra_data"] == {"sandbox": mode, "seed": "public"}
    isolation = gradescope["output"].splitlines()[-1]
    assert isolation == {"namespaces": "Isolation: namespaces (bubblewrap)",
                         "uid": "Isolation: uid (a fresh user per learner process, without namespaces)",
                         "none": "Isolation: none (learner code ran without isolation: practice only)"}[mode] \
        + " · seed: public"
    github = FORMATS["github"](report).splitlines()
    assert github[-2] == isolation and github[-1] == "Points 1/2"
    from click import unstyle

    table = unstyle(FORMATS["table"](report)).splitlines()
    assert table[-1].startswith(f"sandbox: {mode}")
    if mode == "none":  # said plainly, in one sentence
        assert "without any isolation" in table[-1] and "practice only" in table[-1]
    else:
        assert table[-1] == f"sandbox: {mode} · seed: public"
    assert table[-1].endswith(" · seed: public")
    # A secret seed is named by its kind in every format, next to the sandbox.
    report.seed = "secret"
    assert json.loads(FORMATS["json"](report))["seed"] == "secret"
    root = ET.fromstring(FORMATS["junit"](report).encode("utf-8"))
    assert [p.get("value") for p in root.iter("property") if p.get("name") == "seed"] == ["secret", "secret"]
    gradescope = json.loads(FORMATS["gradescope"](report, course=course()))
    assert gradescope["extra_data"] == {"sandbox": mode, "seed": "secret"}
    assert gradescope["output"].splitlines()[-1] == isolation.replace("seed: public", "seed: secret")
    assert FORMATS["github"](report).splitlines()[-2] == isolation.replace("seed: public", "seed: secret")
    assert unstyle(FORMATS["table"](report)).splitlines()[-1].endswith(" · seed: secret")
