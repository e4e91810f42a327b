"""Gradescope: results.json against the spec field by field, hidden checks, the autograder
zip (setup.sh, run_autograder run against a fake /autograder), and ``--jobs``'s default.

The spec is Gradescope's *Autograder Specifications*
(https://gradescope-autograders.readthedocs.io/en/latest/specs/).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cpus
from grader.cli import main
from grader.reporters import FORMATS
from grader.results import CheckResult, ExerciseResult, Report
from helpers import ROOT, course, course_with, submission

VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
OUTPUT_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
             "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
               "tags", "visibility", "extra_data"}


def _number(value, where):
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r} is not a number"
    assert math.isfinite(value), f"{where}: {value!r} is not finite"


def check_spec(doc: dict) -> None:
    """Gradescope's results.json, field by field: names, types and allowed values."""
    assert isinstance(doc, dict)
    assert set(doc) <= TOP_LEVEL, f"fields Gradescope does not know: {set(doc) - TOP_LEVEL}"
    tests = doc.get("tests", [])
    # "score: optional, but required if not on each test case"
    assert "score" in doc or (tests and all("score" in t for t in tests))
    if "score" in doc:
        _number(doc["score"], "score")
    if "execution_time" in doc:
        _number(doc["execution_time"], "execution_time")
        assert doc["execution_time"] >= 0
    if "output" in doc:
        assert isinstance(doc["output"], str)
    for key in ("output_format", "test_output_format"):
        if key in doc:
            assert doc[key] in OUTPUT_FORMATS, f"{key}: {doc[key]!r}"
    if "test_name_format" in doc:
        assert doc["test_name_format"] in OUTPUT_FORMATS
    for key in ("visibility", "stdout_visibility"):
        if key in doc:
            assert doc[key] in VISIBILITIES, f"{key}: {doc[key]!r}"
    if "extra_data" in doc:
        assert isinstance(doc["extra_data"], dict)
        json.dumps(doc["extra_data"], allow_nan=False)
    assert isinstance(tests, list)
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        assert isinstance(test, dict) and set(test) <= TEST_FIELDS, f"{where}: {set(test) - TEST_FIELDS}"
        for key in ("score", "max_score"):
            if key in test:
                _number(test[key], f"{where}.{key}")
                assert test[key] >= 0
        if "status" in test:
            assert test["status"] in ("passed", "failed"), f"{where}.status: {test['status']!r}"
        for key in ("name", "number", "output"):
            if key in test:
                assert isinstance(test[key], str), f"{where}.{key}: {test[key]!r}"
        for key in ("output_format", "name_format"):
            if key in test:
                assert test[key] in OUTPUT_FORMATS
        if "tags" in test:
            assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
        if "visibility" in test:
            assert test["visibility"] in VISIBILITIES, f"{where}.visibility: {test['visibility']!r}"
        if "extra_data" in test:
            assert isinstance(test["extra_data"], dict)
    if "leaderboard" in doc:
        assert isinstance(doc["leaderboard"], list)
        for j, entry in enumerate(doc["leaderboard"]):
            assert isinstance(entry, dict) and set(entry) <= {"name", "value", "order"}
            assert isinstance(entry["name"], str) and entry["name"]
            assert isinstance(entry["value"], str) or _number(entry["value"], f"leaderboard[{j}].value") is None
            if "order" in entry:
                assert entry["order"] in ("asc", "desc")
    json.dumps(doc, allow_nan=False)  # Gradescope parses strict JSON: no NaN or Infinity


# ----------------------------------------------------------------------------- a varied report

def varied_report() -> Report:
    return Report([
        ExerciseResult("vectors", [
            CheckResult("agrees with numpy", "dot", "correctness", True, 3.0),
            CheckResult("symmetric", "dot", "correctness", False, 1.0, message="dot(a, b) != dot(b, a)"),
            CheckResult("is fast", "dot", "timing", True, 1.0, extra={"ratio": 1.5}),
            CheckResult("cross", "cross", "correctness", False, 2.0, message="not started", not_started=True),
        ]),
        ExerciseResult("losses", [CheckResult("mse", "mse", "correctness", False, 4.0, message="SyntaxError",
                                              error=True)], message="losses.py has a SyntaxError"),
    ], seed="public")


def hidden_course(visibility="hidden", leaderboard=True):
    base = course_with(["vectors"], checks={("vectors", "dot"): ["agrees_with_numpy", "symmetric"]})
    vectors = base.get("vectors")
    dot = vectors.functions[0]
    hidden = dataclasses.replace(dot.checks[1], visibility=visibility)
    changed = dataclasses.replace(vectors, functions=[dataclasses.replace(dot, checks=[dot.checks[0], hidden])])
    return dataclasses.replace(base, exercises=[changed], leaderboard=leaderboard), dot.checks[0], hidden


def test_results_follow_the_spec_field_by_field_for_every_kind_of_verdict():
    doc = json.loads(FORMATS["gradescope"](varied_report(), course=course(), elapsed=2.5))
    check_spec(doc)
    assert doc["score"] == 4 and doc["execution_time"] == 2.5 and doc["output_format"] == "text"
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "passed", "failed", "failed"]
    assert [t["number"] for t in doc["tests"]] == ["1.1", "1.2", "1.3", "1.4", "2.1"]
    assert all(t["visibility"] == "visible" for t in doc["tests"])
    board = json.loads(FORMATS["gradescope"](varied_report(), course=dataclasses.replace(course(), leaderboard=True)))
    check_spec(board)
    assert board["leaderboard"][0] == {"name": "Score", "value": 4, "order": "desc"}


def test_results_of_a_real_run_follow_the_spec(tmp_path):
    submission(tmp_path, "vectors")
    out = tmp_path / "results.json"
    runner = CliRunner()
    with runner.isolated_filesystem():
        result = runner.invoke(main, ["run", "vectors", "--source", str(tmp_path), "--format", "gradescope",
                                      "--no-timing", "--no-progress", "-j", "1", "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    check_spec(doc)
    assert doc["tests"] and doc["score"] == sum(t["score"] for t in doc["tests"])


def test_the_spec_checker_rejects_what_gradescope_would():
    good = {"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1, "status": "passed"}]}
    check_spec(good)
    for bad in ({**good, "score": "1"}, {**good, "visibility": "secret"}, {**good, "output_format": "markdown"},
                {**good, "tests": [{"score": 1, "status": "error"}]}, {**good, "tests": [{"number": 1.1}]},
                {**good, "score": float("nan")}, {**good, "leaderboard": [{"name": "x", "value": 1, "order": "up"}]},
                {**good, "unknown": 1}):
        with pytest.raises(AssertionError):
            check_spec(bad)


# ----------------------------------------------------------------------------- hidden checks

@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published"])
def test_hidden_checks_keep_the_total_out_of_visible_output_and_leaderboard(visibility):
    c, shown, hidden = hidden_course(visibility)
    report = Report([ExerciseResult("vectors", [
        CheckResult(shown.title, "dot", "correctness", True, 3.0),
        CheckResult(hidden.title, "dot", "correctness", True, 7.0),
        CheckResult("is fast", "dot", "timing", True, 1.0, extra={"ratio": 1.25, "visibility": visibility}),
    ])])
    doc = json.loads(FORMATS["gradescope"](report, course=c))
    check_spec(doc)
    assert doc["score"] == 11  # Gradescope itself hides it from students while tests are hidden
    assert [t["visibility"] for t in doc["tests"]] == ["visible", visibility, visibility]
    output = doc["output"]
    assert "total" not in output.split("\n")[-3:-1] and "11" not in output and "/11" not in output
    assert "7" not in output.replace("vectors", "")  # no hidden check's points
    assert "3/3" in output and "hidden" in output.lower()
    assert "passed" in output  # the visible checks' status
    assert doc["leaderboard"] == [{"name": "Score (visible checks)", "value": 3, "order": "desc"}]
    assert "1.25" not in json.dumps(doc["leaderboard"])  # a hidden timed run's ratio stays hidden


def test_a_failing_hidden_check_does_not_show_in_the_visible_status():
    c, shown, hidden = hidden_course("after_due_date", leaderboard=False)
    report = Report([ExerciseResult("vectors", [CheckResult(shown.title, "dot", "correctness", True, 3.0),
                                                CheckResult(hidden.title, "dot", "correctness", False, 7.0,
                                                            message="secretly wrong")])])
    doc = json.loads(FORMATS["gradescope"](report, course=c))
    assert "failing" not in doc["output"] and "secretly" not in doc["output"]
    assert "leaderboard" not in doc


def test_without_hidden_checks_the_output_shows_the_total():
    doc = json.loads(FORMATS["gradescope"](varied_report(), course=course()))
    assert any(line.startswith("total") and "4/" in line for line in doc["output"].splitlines())


# ----------------------------------------------------------------------------- the autograder zip

PIN = "dlgrade @ git+https://github.com/ORG/COURSE@v1.0"


def build(tmp_path, *extra):
    out = tmp_path / "autograder.zip"
    result = CliRunner().invoke(main, ["gradescope-zip", "--out", str(out), "--pin", PIN, "--course", str(ROOT),
                                       *extra])
    assert result.exit_code == 0, result.output
    return out, result


def test_zip_holds_setup_and_run_autograder_at_its_root(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-seed\n")
    out, result = build(tmp_path, "--secret-seed-file", str(secret))
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert names[:2] == ["setup.sh", "run_autograder"]  # at the root, not under a folder
        solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.py"))
        assert sorted(n.split("/", 1)[1] for n in names if n.startswith("solutions/")) == solutions
        assert "secret_seed" in names and z.read("secret_seed") == b"s3cret-seed\n"
        for name in ("setup.sh", "run_autograder"):
            mode = z.getinfo(name).external_attr >> 16
            assert mode & stat.S_IXUSR, f"{name} is not executable"
            assert z.read(name).startswith(b"#!/usr/bin/env bash\n")
        setup = z.read("setup.sh").decode()
        run = z.read("run_autograder").decode()
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup
    assert "bubblewrap" in setup and "apt-get" in setup and "python3-venv" in setup
    assert f"PIN='{PIN}'" in setup and 'pip install "$PIN"' in setup
    assert setup.index("download.pytorch.org") < setup.index('pip install "$PIN"')  # torch first: CPU build kept
    assert "--format gradescope" in run and "/autograder" in run and "results/results.json" in run
    assert "upload" in result.output.lower()
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", "-c", (setup if script == "setup.sh" else run)], check=True)


def test_zip_needs_a_pin_on_one_line(tmp_path):
    result = CliRunner().invoke(main, ["gradescope-zip", "--out", str(tmp_path / "a.zip"), "--pin", "a\nb"])
    assert result.exit_code == 2 and not (tmp_path / "a.zip").exists()
    result = CliRunner().invoke(main, ["gradescope-zip", "--out", str(tmp_path / "a.zip")])
    assert result.exit_code == 2


def fake_autograder(tmp_path, grade_script: str) -> tuple[Path, dict]:
    """A /autograder tree in tmp_path with the zip unpacked in source/, and the environment."""
    out, _ = build(tmp_path)
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    with zipfile.ZipFile(out) as z:
        z.extractall(root / "source")
        for info in z.infolist():  # extractall drops the mode bits; Gradescope keeps them
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "run_autograder").chmod(0o755)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "ada@example.org"}]}))
    grade = tmp_path / "grade"
    grade.write_text(grade_script)
    grade.chmod(0o755)
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "DLGRADE_GRADE": str(grade),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return root, env


def run_autograder(root: Path, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    assert os.access(root / "run_autograder", os.X_OK)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done, json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_run_autograder_grades_the_submission_into_a_valid_results_json(tmp_path):
    # The real grader, on vectors only and without timed runs, to keep the test short.
    root, env = fake_autograder(tmp_path, f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\n'
                                          f'exec "{sys.executable}" -m grader "$@" vectors --no-timing -j 1\n')
    folder = root / "submission" / "exercises"
    folder.mkdir()
    submission(folder, "vectors")
    done, doc = run_autograder(root, env)
    check_spec(doc)
    assert [t["tags"][0] for t in doc["tests"]] == ["vectors"] * len(doc["tests"])
    assert doc["score"] == sum(t["max_score"] for t in doc["tests"]) > 0, doc["output"]
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("--format") + 1] == "gradescope"
    assert args[args.index("--output") + 1] == str(root / "results" / "results.json")
    assert args[args.index("--student") + 1] == "ada@example.org"
    assert args[args.index("--source") + 1].endswith("/exercises")
    assert not (root / "submission" / "exercises" / ".grade").exists()  # graded a copy


def test_run_autograder_takes_bare_modules_too(tmp_path):
    root, env = fake_autograder(tmp_path, f'#!/bin/sh\nfor a; do [ -n "$next" ] && ls "$a" > "{tmp_path}/seen"; '
                                          f'next=; [ "$a" = --source ] && next=1; done\nexit 1\n')
    (root / "submission" / "vectors.py").write_text("x = 1\n")
    done, doc = run_autograder(root, env)
    assert (tmp_path / "seen").read_text().split() == ["vectors.py"]
    check_spec(doc)


@pytest.mark.parametrize("script", ['#!/bin/sh\necho "the course file is broken: line 3" >&2\nexit 2\n',
                                    '#!/bin/sh\necho "{not json" > "$(echo "$@" | sed "s/.*--output //;s/ .*//")"\n'
                                    'exit 1\n',
                                    None])
def test_run_autograder_always_writes_results_json(tmp_path, script):
    root, env = fake_autograder(tmp_path, script or "#!/bin/sh\nexit 0\n")
    if script is None:
        env["DLGRADE_GRADE"] = str(tmp_path / "no-such-grade")
    (root / "submission" / "vectors.py").write_text("x = 1\n")
    done, doc = run_autograder(root, env)
    check_spec(doc)
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["output"].startswith("The autograder could not grade this submission")
    if script and "broken" in script:
        assert "the course file is broken: line 3" in doc["output"] and "status 2" in doc["output"]


# ----------------------------------------------------------------------------- --jobs: usable CPUs

@pytest.fixture
def machine(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(cpus, "_read", lambda path, real=cpus._read: (
        None if path == "/proc/self/cgroup" else real(path)))
    return tmp_path


def test_usable_cpus_without_limits_is_the_machine(machine):
    assert cpus.usable_cpus(str(machine)) == 64


def test_usable_cpus_follows_affinity(machine, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5, 7})
    assert cpus.usable_cpus(str(machine)) == 3


@pytest.mark.parametrize("text, expected", [("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1),
                                            ("max 100000", 64), ("400000", 4), ("garbage", 64)])
def test_usable_cpus_follows_a_cgroup_v2_quota(machine, text, expected):
    (machine / "cpu.max").write_text(text + "\n")
    assert cpus.usable_cpus(str(machine)) == expected


@pytest.mark.parametrize("quota, expected", [("300000", 3), ("-1", 64), ("25000", 1)])
def test_usable_cpus_follows_a_cgroup_v1_quota(machine, quota, expected):
    folder = machine / "cpu,cpuacct"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text(quota + "\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.usable_cpus(str(machine)) == expected


def test_usable_cpus_is_never_more_than_cpu_count_and_at_least_one(machine, monkeypatch):
    (machine / "cpu.max").write_text("12800000 100000\n")
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    assert cpus.usable_cpus(str(machine)) == 4
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set())
    assert cpus.usable_cpus(str(machine)) == 1


def test_usable_cpus_reads_the_process_own_cgroup(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    (tmp_path / "grading.slice").mkdir()
    (tmp_path / "grading.slice" / "cpu.max").write_text("300000 100000\n")
    real = cpus._read
    monkeypatch.setattr(cpus, "_read", lambda path: "0::/grading.slice\n" if path == "/proc/self/cgroup"
                        else real(path))
    assert cpus.usable_cpus(str(tmp_path)) == 3


def test_grade_defaults_jobs_to_the_usable_cpus(monkeypatch, tmp_path):
    import grader.grading

    seen = {}

    def fake_grade(course, names, source_dir, seed, *, jobs=1, **_):
        seen["jobs"] = jobs
        return Report([ExerciseResult("vectors", [CheckResult("a", "dot", "correctness", True, 1.0)])])

    monkeypatch.setattr(grader.grading, "grade", fake_grade)
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 3)
    submission(tmp_path, "vectors")
    runner = CliRunner()
    with runner.isolated_filesystem():
        result = runner.invoke(main, ["run", "vectors", "--source", str(tmp_path), "--format", "json",
                                      "--no-progress", "--no-timing"])
        assert seen["jobs"] == 3, result.output
        runner.invoke(main, ["run", "vectors", "--source", str(tmp_path), "--format", "json", "--no-progress",
                             "--no-timing", "-j", "5"])
        assert seen["jobs"] == 5
