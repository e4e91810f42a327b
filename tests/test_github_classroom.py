"""GitHub Classroom: a result that always fits and is always produced, read back the way the
classroom's grading reporter reads it (under node when node is here); the step summary and
the annotations; exact partial credit; a total that does not move as a learner progresses.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.quiz
from grader.cli import main
from grader.grading import grade
from grader.quiz.model import QUIZ_DIR_ENV
from grader.reporters import FORMATS
from grader.reporters import github as gh
from grader.results import CheckResult, ExerciseResult, Report
from grader.timing.check import SOLUTIONS_ENV
from helpers import EXERCISES, SOLUTIONS, course
from test_quiz_authoring import write_demo

MODULES = ["vectors", "derivatives", "losses", "gradient_descent", "activations", "backprop", "mlp"]

# What GitHub Classroom's reporter does with the step output (src/main.js and
# src/notify-classroom.js of classroom-resources/autograding-grading-reporter@v1): read the
# environment variable, decode base64, JSON.parse, add up the tests' scores one by one.
REPORTER_JS = r"""
const encoded = process.env[`${"dlgrade".toUpperCase()}_RESULTS`];
const results = JSON.parse(Buffer.from(encoded, "base64").toString("utf-8"));
let totalPoints = 0;
results.tests.forEach(({ score }) => { totalPoints += score; });
console.log(JSON.stringify({ text: `Points ${totalPoints}/${results.max_score}`,
                             tests: results.tests.length, status: results.status }));
"""


def cli(args, env=None):
    runner = CliRunner()
    with runner.isolated_filesystem():
        return runner.invoke(main, ["run", *args, "--no-progress", "-j", "2"], env=env)


def result_line(path: Path) -> str:
    (line,) = [x for x in path.read_text(encoding="utf-8").splitlines() if x.startswith("result=")]
    payload = line[len("result="):]
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", payload)
    return payload


def decode(payload: str) -> dict:
    return json.loads(base64.b64decode(payload, validate=True).decode("utf-8"))


def reporter_sum(doc: dict) -> float:
    """The reporter's total: IEEE doubles added one by one, in test order."""
    total = 0.0
    for t in doc["tests"]:
        total += t["score"]
    return total


def run_reporter(payload: str) -> dict:
    """The reporter's decoding under node, the value passed through the environment as Actions does."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    out = subprocess.run([node, "-e", REPORTER_JS], env={"DLGRADE_RESULTS": payload},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# ----------------------------------------------------------------------------- a result that always fits


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    """Seven modules that each fail at import with a printed array of ~30 KB."""
    folder = tmp_path_factory.mktemp("huge")
    for name in MODULES:
        (folder / f"{name}.py").write_text(
            "import numpy as np\nnp.set_printoptions(threshold=10**6)\n"
            "raise ValueError(str(np.arange(6000)))\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out") / "github_output"
    result = cli(["--source", str(folder), "--format", "github", "--no-timing", *MODULES],
                 env={"GITHUB_OUTPUT": str(out), "GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None})
    assert result.exit_code == 1, result.output
    doc_json = json.loads(cli(["--source", str(folder), "--format", "json", "--no-timing", *MODULES]).stdout)
    return folder, result_line(out), doc_json


def test_a_result_at_the_limit_fits_and_keeps_every_test(huge):
    folder, payload, doc_json = huge
    assert len(payload) <= gh.ENCODED_LIMIT < 128 * 1024
    doc = decode(payload)
    checks = [(e["name"], c) for e in doc_json["exercises"] for c in e["checks"]]
    assert len(doc["tests"]) == len(checks) and doc["max_score"] == doc_json["max_score"] > 0
    assert [t["score"] for t in doc["tests"]] == [c["score"] for _, c in checks]
    assert doc["status"] == "error" and all(t["status"] == "error" for t in doc["tests"])
    # Each module's error is sent in full once (the most important message survives).
    for name in MODULES:
        mine = [t["message"] for t in doc["tests"] if t["name"].startswith(f"{name}:")]
        assert mine[0].startswith(f"{name}.py raised ValueError") and len(mine[0]) > 500, name
        assert all(m == "" or m.startswith("same message as") and len(m) < 400 for m in mine[1:]), name


def test_repeated_messages_are_sent_once_and_referred_to():
    message = "vectors.py raised ValueError: " + "x" * 3000
    checks = [CheckResult(f"check {i}", "dot", "correctness", False, 1.0, message=message, error=True)
              for i in range(5)]
    doc = gh.to_dict(Report([ExerciseResult("vectors", checks)]))
    messages = [t["message"] for t in doc["tests"]]
    assert len(messages[0]) <= gh.MESSAGE_LIMIT and messages[0].startswith("vectors.py raised ValueError")
    assert messages[1:] == ['same message as "vectors: dot — check 0": vectors.py raised ValueError: '
                            + "x" * 129 + "…"] * 4


def test_many_distinct_long_messages_are_shortened_never_dropped():
    exercises = [ExerciseResult(f"ex{j}", [CheckResult(f"check {i}", f"f{i}", "correctness", i % 2 == 0, 1.5,
                                                       message=f"{j}/{i} " + "é" * 3990, error=i % 3 == 0)
                                           for i in range(40)]) for j in range(8)]
    report = Report(exercises)
    payload = gh.encode(report)
    assert len(payload) <= gh.ENCODED_LIMIT
    doc = decode(payload)
    assert len(doc["tests"]) == 320 and doc["max_score"] == 480
    assert reporter_sum(doc) == report.score == 8 * 20 * 1.5
    # Errors keep more of their message than wrong answers, which keep more than passes.
    by_status = {s: max(len(t["message"]) for t in doc["tests"] if t["status"] == s) for s in ("pass", "fail", "error")}
    assert by_status["error"] >= by_status["fail"] >= by_status["pass"]


def test_the_reporter_reads_the_result_under_node(huge):
    _, payload, doc_json = huge
    read = run_reporter(payload)
    assert read == {"text": f"Points 0/{doc_json['max_score']}", "tests": len(decode(payload)["tests"]),
                    "status": "error"}
    report = partial_credit_report()
    assert run_reporter(gh.encode(report))["text"] == "Points 2/3"


# ----------------------------------------------------------------------------- always produced


@pytest.fixture
def quiz_course(tmp_path, monkeypatch):
    quiz_dir, _ = write_demo(tmp_path)
    (tmp_path / "exercises" / "quizzes").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(QUIZ_DIR_ENV, str(quiz_dir))
    monkeypatch.setattr(grader.quiz, "_default_student", "reference")
    return tmp_path


def test_a_malformed_quiz_answers_file_still_gives_a_result(quiz_course, tmp_path):
    path = quiz_course / "exercises" / "quizzes" / "demo.yaml"
    path.write_text("answers:\n  pick_one: 2\n  pick_many: [1, 3\n  yes_or_no: false\n", encoding="utf-8")
    out = tmp_path / "github_output"
    result = CliRunner().invoke(main, ["demo", "--format", "github", "--no-progress"],
                                env={"GITHUB_OUTPUT": str(out), "GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None})
    assert result.exit_code == 1, result.output
    doc = decode(result_line(out))
    quiz = grader.quiz.get_quiz("demo")
    assert doc["max_score"] == sum(q.points for q in quiz.questions) and len(doc["tests"]) == len(quiz.questions)
    assert all(t["score"] == 0 and t["status"] == "error" for t in doc["tests"])
    assert "is not valid YAML" in doc["tests"][0]["message"]
    assert result.stdout.strip().splitlines()[-1] == f"Points 0/{doc['max_score']}"
    assert "is not valid YAML" in result.stderr
    # At a terminal the table format still stops with the paragraph (exit 2), the file untouched.
    assert CliRunner().invoke(main, ["demo"]).exit_code == 2


# ----------------------------------------------------------------------------- points


def partial_credit_report() -> Report:
    checks = [CheckResult(f"q{i}", f"q{i}", "quiz", False, 1.0, awarded=2 / 3 * 1.0) for i in range(3)]
    return Report([ExerciseResult("demo", checks[:1]), ExerciseResult("demo2", checks[1:])])


def test_three_partial_credits_of_two_thirds_total_exactly_two(monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    report = partial_credit_report()
    assert report.score == 2
    assert json.loads(FORMATS["json"](report))["score"] == 2
    assert reporter_sum(gh.to_dict(report)) == 2
    assert FORMATS["github"](report).splitlines()[-1] == "Points 2/3"
    assert json.loads(FORMATS["gradescope"](report, course=course()))["score"] == 2
    # Even the rounded 6-decimal scores a quiz used to give add up exactly in the reporter.
    rounded = Report([ExerciseResult("demo", [CheckResult(f"q{i}", f"q{i}", "quiz", False, 1.0, awarded=0.666667)
                                              for i in range(3)])])
    assert reporter_sum(gh.to_dict(rounded)) == rounded.score == 2.000001


def _max_scores(report: Report) -> dict:
    root = ET.fromstring(FORMATS["junit"](report).encode("utf-8"))
    junit = sum(float(p.get("value")) for p in root.iter("property") if p.get("name") == "max_score")
    return {"json": json.loads(FORMATS["json"](report))["max_score"],
            "github": gh.to_dict(report)["max_score"],
            "gradescope": sum(t["max_score"] for t in json.loads(FORMATS["gradescope"](report, course=course()))["tests"]),
            "junit": junit}


def test_the_total_does_not_move_when_a_function_passes_without_a_reference(tmp_path, monkeypatch):
    """A class release has no solutions: timing is skipped, and worth the same before and after."""
    monkeypatch.setenv(SOLUTIONS_ENV, str(tmp_path / "no-solutions"))
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    stubs = grade(course(), ["vectors"], str(EXERCISES), 0, timing=True)
    done = grade(course(), ["vectors"], str(SOLUTIONS), 0, timing=True)
    assert stubs.exercises[0].status == "not_started" and done.exercises[0].status == "passed"
    assert [c.kind for c in stubs.exercises[0].checks].count("timing") > 0
    assert _max_scores(stubs) == _max_scores(done)
    assert len(set(_max_scores(done).values())) == 1
    # grade list shows the same worth as a graded report here.
    from click.testing import CliRunner

    from grader.cli import main

    monkeypatch.chdir(tmp_path)  # no .grade/ state of an earlier run here: the course's worth is shown
    listed = CliRunner().invoke(main, ["list", "--source", str(EXERCISES)])
    row = next(line for line in listed.output.splitlines() if " vectors " in line)
    assert f" {done.exercises[0].max_score:g} " in f" {row.split()[2]} ", row


# ----------------------------------------------------------------------------- what learners see


def test_workflow_command_escaping():
    assert gh.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert gh.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def failing_report(n: int) -> Report:
    checks = [CheckResult("agrees with NumPy", f"f{i}", "correctness", False, 1.0,
                          message=f"f{i}([1, 2]) returned 3, expected 5.\nHint: 100% sure, a:b") for i in range(n)]
    return Report([ExerciseResult("vectors", checks)])


def test_annotations_point_at_the_learners_file_and_line_and_are_capped(tmp_path, monkeypatch):
    (tmp_path / "vectors.py").write_text("import numpy\n\ndef f0(a):\n    return 3\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path.parent))
    (first,) = gh.annotations(failing_report(1), source=str(tmp_path))
    assert first == (f"::error file={tmp_path.name}/vectors.py,line=3,title=vectors%3A f0 — agrees with NumPy"
                     f"::f0([1, 2]) returned 3, expected 5.%0AHint: 100%25 sure, a:b")
    many = gh.annotations(failing_report(15), source=str(tmp_path))
    assert len(many) == gh.ANNOTATION_LIMIT and "6 more failing functions" in many[-1]


def test_inside_actions_the_grade_step_writes_a_summary_and_annotations(tmp_path, monkeypatch):
    folder = tmp_path / "exercises"
    folder.mkdir()
    text = (SOLUTIONS / "vectors.py").read_text(encoding="utf-8")
    (folder / "vectors.py").write_text(text + "\n\ndef dot(a, b):\n    return 0.0\n", encoding="utf-8")
    summary, out = tmp_path / "summary.md", tmp_path / "output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(out),
           "GITHUB_WORKSPACE": str(tmp_path)}
    result = cli(["--source", str(folder), "--format", "github", "--no-timing", "vectors"], env=env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("::error file=exercises/vectors.py,line=")
    assert lines[-1].startswith("Points ") and lines[-2].startswith("Isolation: ")
    line = int(re.search(r"line=(\d+)", lines[0]).group(1))
    assert (folder / "vectors.py").read_text().splitlines()[line - 1].startswith("def dot(")
    md = summary.read_text(encoding="utf-8")
    assert md.startswith("## Points ") and "### vectors: " in md
    assert "| function | check | status | points |" in md and "| dot | " in md and "✗ failed" in md
    assert f"(`exercises/vectors.py, line {line}`)" in md and "```text\n" in md
    assert decode(result_line(out))["max_score"] > 0
