"""Hostile submissions against the submission gate, through the real ``grade`` command.

Each attack is a file (or folder) a learner could hand in: a module linked to /dev/zero,
a FIFO, an 8 MB module, ``quizzes`` linked to the reference answers, an ``exercises``
folder that is a link to the solutions, a YAML "billion laughs", a ``.grade/progress.json``
nested 100 000 levels deep. For each, through ``python -m grader`` in a subprocess (so a
regression that hangs or eats memory fails the test at its timeout instead of taking the
test run with it): the verdict, a message that names the learner's file and says why, a
bounded run time, and a report (stdout stays exactly one JSON document with --format json).
The gate itself is unit-tested in tests/test_gate.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import progress
from grader.course import load_course
from grader.results import CheckResult, ExerciseResult, Report
from helpers import SOLUTIONS, copy_modules

BOMB = Path(__file__).resolve().parent / "hostile" / "gate" / "alias_bomb.yaml"
BOUND = 60.0  # seconds a refused submission may take at most, on a loaded two-core machine
FAST = "--no-timing"


def grade(*args, cwd: Path, timeout: float = 120):
    """``python -m grader ARGS`` in ``cwd``: (completed process, seconds it took)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return done, time.monotonic() - started


def report(done) -> dict:
    """The JSON report on stdout, which must be the only thing there, naming no private copy."""
    assert "grade-submission-" not in done.stdout, "a message names the grader's copy, not the learner's file"
    return json.loads(done.stdout)


def exercise(doc: dict, name: str) -> dict:
    return next(e for e in doc["exercises"] if e["name"] == name)


@pytest.fixture
def sub(tmp_path) -> Path:
    """A learner folder holding the reference losses.py (an exercise that must still score full)."""
    return copy_modules(tmp_path / "sub", ["losses"])


# ----------------------------------------------------------------------------- modules


def test_a_module_linked_to_dev_zero_is_refused_with_a_clear_message(tmp_path, sub):
    (sub / "vectors.py").symlink_to("/dev/zero")
    done, seconds = grade("vectors", "losses", FAST, "--source", sub, "--format", "json", cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 1, done.stderr
    doc = report(done)
    vectors = exercise(doc, "vectors")
    assert vectors["score"] == 0 and vectors["status"] == "error"
    expected = f"{sub}/vectors.py is a symbolic link, so the grader left it out"
    assert all(c["message"].startswith(expected) and "nothing in this exercise could be graded" in c["message"]
               for c in vectors["checks"])
    assert exercise(doc, "losses")["status"] == "passed"
    assert f"warning: {expected}" in done.stderr


def test_a_fifo_module_does_not_block_the_grader(tmp_path, sub):
    os.mkfifo(sub / "vectors.py")
    done, seconds = grade("vectors", "losses", FAST, "--source", sub, cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 1
    assert f"{sub}/vectors.py is a FIFO, so the grader left it out" in done.stderr
    assert "losses" in done.stdout and "Traceback" not in done.stdout + done.stderr


def test_an_8_mb_module_is_refused_before_it_is_linted(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    line = "x = torch.autograd.grad  # a name the autograd linter has to look at\n"
    (folder / "backprop.py").write_text(line * (8_000_000 // len(line)))
    done, seconds = grade("backprop", FAST, "--source", folder, "--format", "json", cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 1, done.stderr
    (check, *_) = exercise(report(done), "backprop")["checks"]
    assert check["message"].startswith(f"{folder}/backprop.py is larger than 1 MB (the limit for one file), "
                                       f"so the grader left it out")


def test_a_missing_module_is_named_in_the_learners_folder(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    done, _ = grade("vectors", FAST, "--source", folder, "--format", "json", cwd=tmp_path)
    (check, *_) = exercise(report(done), "vectors")["checks"]
    assert check["message"] == (f"{folder}/vectors.py was not found: grade looks for a file named vectors.py "
                                f"in {folder}")


# ----------------------------------------------------------------------------- links to the solutions


def test_an_exercises_folder_linked_to_the_solutions_gets_nothing(tmp_path):
    (tmp_path / "exercises").symlink_to(SOLUTIONS)
    done, _ = grade("vectors", "calculus", FAST, "--format", "json", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "error: exercises is a symbolic link, not a folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_quizzes_folder_linked_to_the_reference_answers_scores_nothing(tmp_path):
    honest = tmp_path / "honest"
    (honest / "quizzes").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "quizzes" / "calculus.yaml", honest / "quizzes")
    done, _ = grade("calculus", "--source", honest, "--format", "json", cwd=tmp_path)
    calculus = exercise(report(done), "calculus")
    assert calculus["score"] == calculus["max_score"] > 0, "the same answers as a real file score full"

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "quizzes").symlink_to(SOLUTIONS / "quizzes")
    done, _ = grade("calculus", "--source", linked, "--format", "json", cwd=tmp_path)
    assert done.returncode == 1
    calculus = exercise(report(done), "calculus")
    assert calculus["score"] == 0
    assert all(c["message"].startswith(f"{linked}/quizzes is a symbolic link, so the grader left it out")
               for c in calculus["checks"])


def test_grade_quiz_will_not_save_answers_through_a_linked_quizzes_folder(tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(SOLUTIONS / "quizzes", reference)
    before = (reference / "calculus.yaml").read_bytes()
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "quizzes").symlink_to(reference)
    done, _ = grade("quiz", "calculus", "--source", folder, cwd=tmp_path)
    assert done.returncode == 2
    assert f"{folder}/quizzes is a symbolic link" in done.stderr and "real quizzes folder" in done.stderr
    assert (reference / "calculus.yaml").read_bytes() == before


def test_a_yaml_alias_bomb_in_an_answers_file_fails_at_once(tmp_path):
    folder = tmp_path / "sub"
    (folder / "quizzes").mkdir(parents=True)
    shutil.copy(BOMB, folder / "quizzes" / "calculus.yaml")
    done, seconds = grade("calculus", "--source", folder, "--format", "json", cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 2 and done.stdout == ""
    assert (f"{folder}/quizzes/calculus.yaml, line 7: uses YAML anchors/aliases (& and *), which answers "
            f"files may not use") in done.stderr
    assert "grade-submission-" not in done.stderr


# ----------------------------------------------------------------------------- state files


def test_a_deeply_nested_progress_file_is_set_aside_and_the_report_is_written(tmp_path):
    state = tmp_path / ".grade" / "progress.json"
    state.parent.mkdir()
    state.write_text("[" * 100_000 + "]" * 100_000)
    done, seconds = grade("losses", FAST, "--source", SOLUTIONS, "--format", "json", cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 0, done.stderr
    assert exercise(report(done), "losses")["status"] == "passed"
    assert done.stderr.count("warning: ") == 1
    assert "the grader's state file .grade/progress.json is nested more than 64 levels deep" in done.stderr
    assert (tmp_path / ".grade" / "progress.json.broken").exists()
    saved = json.loads(state.read_text())  # a fresh state file, with this run in it
    assert saved[str(SOLUTIONS)]["losses"]["status"] == "passed"

    listed, _ = grade("list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stderr == ""


# ----------------------------------------------------------------------------- the other commands


@pytest.mark.parametrize("command", [["hint", "vectors"], ["watch", "--once"], ["quiz"], ["bench", "vectors"],
                                     ["plot", "activations"]])
def test_every_command_refuses_a_linked_source_folder(tmp_path, command):
    (tmp_path / "exercises").symlink_to(SOLUTIONS)
    done, _ = grade(*command, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "exercises is a symbolic link, not a folder" in done.stderr and "Traceback" not in done.stderr


def test_hint_and_watch_grade_through_the_gate(tmp_path, sub):
    (sub / "vectors.py").symlink_to("/dev/zero")
    hint, seconds = grade("hint", "vectors", "--source", sub, cwd=tmp_path)
    assert seconds < BOUND
    assert f"{sub}/vectors.py is a symbolic link, so the grader left it out" in hint.stdout + hint.stderr
    watch, seconds = grade("watch", "--once", "--exercise", "vectors", "--source", sub, cwd=tmp_path)
    assert seconds < BOUND and watch.returncode == 1
    assert f"{sub}/vectors.py is a symbolic link, so the grader left it out" in watch.stdout


def test_replay_refuses_a_module_that_became_a_link(tmp_path, sub, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the state file lives in the current folder
    import numpy as np

    spec = next(s for s in load_course().get("vectors").checks() if s.function == "dot")
    failed = CheckResult(spec.title, "dot", "correctness", False, spec.points, "dot returned 0.0, expected 1.0",
                         extra={"replay": {"check": spec.id, "example": (np.array([1.0]), np.array([1.0]))}})
    progress.save(str(sub), Report([ExerciseResult("vectors", [failed])]))
    assert progress.load_exercise(str(sub), "vectors")["replay"]["function"] == "dot"
    (sub / "vectors.py").symlink_to("/dev/zero")
    done, seconds = grade("vectors", "--replay", "--source", sub, cwd=tmp_path)
    assert seconds < BOUND and done.returncode == 2
    assert f"{sub}/vectors.py is a symbolic link, so the grader left it out" in done.stdout
