"""benchmarks/sandbox.py, without running the benchmark: its commands, and how it reads runs."""
from __future__ import annotations

import importlib.util
import json

from grader.reporters import FORMATS
from grader.results import CheckResult, ExerciseResult, Report
from helpers import ROOT


def bench():
    spec = importlib.util.spec_from_file_location("sandbox_benchmark", ROOT / "benchmarks" / "sandbox.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_lists_interleaved_pairs_of_both_modes(capsys):
    b = bench()
    assert b.main(["--dry-run", "--pairs", "2", "--baseline", "uid"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "GRADE_SANDBOX=" in line]
    modes = [line.split()[0].split("=")[1] for line in lines]
    assert modes == ["namespaces", "uid", "namespaces", "uid", "uid", "namespaces"]  # warm-ups, then swapped pairs
    assert all("-m grader run --source solutions --no-timing --format json --no-progress" in line for line in lines)


def test_a_run_counts_only_in_the_mode_it_asked_for():
    b = bench()
    report = Report([ExerciseResult("vectors", [CheckResult("x", "dot", "correctness", True, 2.0)],
                                    sandbox="namespaces")])
    parsed = b.parse_report(FORMATS["json"](report).encode("utf-8"))
    assert parsed == {"sandbox": "namespaces", "score": 2, "max_score": 2}
    assert "error" in b.parse_report(b"Traceback (most recent call last):\n")

    def run(seconds, mode, code=0):
        return {"seconds": seconds, "exit_code": code, "sandbox": mode, "score": 2, "max_score": 2}

    runs = {"namespaces": [run(5.2, "namespaces"), run(5.0, "namespaces"), run(9.0, "namespaces")],
            "uid": [run(5.0, "uid"), run(4.8, "uid"), run(5.0, "uid")]}
    summary = b.summarize(runs, "uid")
    assert summary["modes"]["namespaces"]["median_s"] == 5.2 and summary["modes"]["uid"]["median_s"] == 5.0
    assert summary["ratio"] == 1.04 and summary["valid"] and summary["met"]
    doc = {"summary": summary, "pairs": 3, "machine": {"nproc": 2, "cpu": "Test CPU"}}
    line = b.markdown(doc)
    assert "**1.04×**" in line and "goal ≤ 1.1×: met" in line and "`uid` 5.00 s" in line
    json.dumps(doc)

    # A run that fell back to a weaker mode is not a fast sandbox.
    runs["namespaces"][1] = run(1.0, "none", code=1)
    summary = b.summarize(runs, "uid")
    assert not summary["valid"] and not summary["met"]
    assert "not measured" in b.markdown({**doc, "summary": summary})
    assert "namespaces: exit 1, report says sandbox 'none'" in b.markdown({**doc, "summary": summary})
