"""benchmarks/vs_otter.py, stubs.py, watch.py and ratio.py, without running the benchmarks: their
commands, their fixed cases and how they read runs."""
from __future__ import annotations

import doctest
import importlib.util
import json
import sys

import numpy as np
import pytest

from helpers import ROOT

BENCHMARKS = ROOT / "benchmarks"


def load(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"dlgrade_benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(seconds, valid=True, why=""):
    return {"seconds": seconds, "valid": valid, **({"why": why} if why else {})}


def test_a_ratio_is_the_median_over_the_median_and_names_its_goal():
    ratio = load("ratio")
    runs = {"grade": [run(1.0), run(1.2), run(0.9)], "otter": [run(4.0), run(5.0), run(4.5)]}
    s = ratio.summarize(runs, "grade", "otter", 0.33)
    assert s["median_s"] == {"grade": 1.0, "otter": 4.5} and s["ratio"] == 0.222 and s["met"]
    doc = {"summary": s, "runs": runs, "pairs": 3, "machine": {"nproc": 2, "cpu": "Test CPU"}}
    line = ratio.line(doc, "One exercise vs otter")
    assert "**0.22×**" in line and "goal ≤ 0.33×: met" in line and "grade 1.00 s" in line
    runs["otter"][1] = run(1.0, valid=False, why="otter: Autograder Failed")
    s = ratio.summarize(runs, "grade", "otter", 0.33)
    assert not s["valid"] and not s["met"] and s["ratio"] is None
    assert "not measured (otter: Autograder Failed)" in ratio.line({**doc, "summary": s}, "x")
    json.dumps(doc)


def test_the_otter_cases_are_fifteen_ok_format_doctests_the_loop_answer_passes():
    otter = load("vs_otter")
    files = otter.otter_tests()
    assert sorted(files) == ["cross.py", "dot.py", "matmul.py"] and otter.case_count() == 15
    answer: dict = {}
    exec(otter.LOOP_ANSWER, answer)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for name, text in files.items():
        env: dict = {}
        exec(text, env)  # what otter does with a test file
        assert env["OK_FORMAT"] is True and env["test"]["name"] == name[:-3]
        cases = env["test"]["suites"][0]["cases"]
        assert len(cases) == 5 and env["test"]["points"] == 5
        for case in cases:
            test = doctest.DocTestParser().get_doctest(case["code"], {**answer, "np": np}, name, name, 0)
            assert runner.run(test, out=lambda _: None).failed == 0, case["code"]
    # and a wrong answer fails some of them
    wrong = dict(answer, dot=lambda a, b: float(sum(a)))
    failed = 0
    for text in files.values():
        env = {}
        exec(text, env)
        for case in env["test"]["suites"][0]["cases"]:
            test = doctest.DocTestParser().get_doctest(case["code"], {**wrong, "np": np}, "x", "x", 0)
            failed += runner.run(test, out=lambda _: None).failed
    assert failed


def test_a_grade_run_counts_only_with_every_point(tmp_path):
    otter = load("vs_otter")
    assert otter.grade_ok(json.dumps({"score": 23, "max_score": 23}).encode()) == (True, "")
    assert not otter.grade_ok(json.dumps({"score": 20, "max_score": 23}).encode())[0]
    assert not otter.grade_ok(b"Traceback")[0]
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"tests": [{"name": "Public Tests", "status": "passed"}] + [
        {"name": n, "score": 5.0, "max_score": 5.0} for n in ("dot", "cross", "matmul")]}))
    assert otter.otter_ok(results) == (True, "")
    results.write_text(json.dumps({"tests": [{"name": "Autograder Failed", "status": "failed"}]}))
    assert not otter.otter_ok(results)[0]


def test_the_stubs_count_only_when_every_exercise_is_not_started():
    stubs = load("stubs")
    exercises = [{"name": n, "status": "not_started", "checks": [{"kind": "correctness"}]} for n in stubs.EXERCISES]
    quiz = {"name": "calculus", "status": "not_started", "checks": [{"kind": "quiz"}]}
    doc = {"score": 0, "exercises": exercises + [quiz]}
    assert stubs.not_started(json.dumps(doc).encode()) == (True, "")
    exercises[0]["status"] = "failed"
    assert not stubs.not_started(json.dumps(doc).encode())[0]


@pytest.mark.parametrize("name", ["vs_otter", "stubs", "watch"])
def test_dry_runs_print_both_commands(name, capsys):
    assert load(name).main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-m grader" in out or "Watcher" in out
    if name == "vs_otter":
        assert "otter run -a" in out and "15 otter cases" in out
    if name == "stubs":
        assert "import torch" in out
