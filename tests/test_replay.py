"""``grade EXERCISE --replay``: rerun the saved smallest failing example, with the learner's prints.

``grade`` saves the first failing check's smallest example in ``.grade/progress.json``
(wire format, base64 buffers, never pickle); ``--replay`` runs that check once on it in
a fresh isolated child and shows the calls, what they returned and what was printed.
"""
import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from grader import cli, progress
from grader.course import load_course
from grader.replay import run_once
from grader.results import CheckResult, ExerciseResult, Report
from grader.runner.expressions import Function
from helpers import submission

PRINTING_DOT = """
def dot(a, b):
    print("dot got", len(a), "entries; first pair", a[0], b[0])
    total = 0.0
    for i in range(len(a) - 1):  # one short: the last pair is never added
        total += a[i] * b[i]
    return total
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def grade(*args):
    return CliRunner().invoke(cli.main, [*args, "--no-progress", "--no-timing"], catch_exceptions=False)


def replay(*args):
    return CliRunner().invoke(cli.main, [*args, "--replay"], catch_exceptions=False)


def test_replay_shows_the_call_what_it_returned_and_the_prints():
    folder = submission("sub", "vectors", replace={"dot": PRINTING_DOT})
    graded = grade("vectors", "--source", str(folder))
    assert graded.exit_code == 1
    assert "dot(a=[1.0], b=[1.0]) returned 0.0, expected 1.0" in graded.output

    # The example is saved as wire JSON with base64 buffers (no pickle), and reads back.
    state = json.loads(open(".grade/progress.json").read())
    saved = state[str(folder.resolve())]["vectors"]["replay"]
    assert saved["function"] == "dot" and saved["check"] == "agrees_with_numpy"
    assert saved["example"]["value"]["t"] == "tuple"
    assert all(isinstance(b, str) for b in saved["example"]["buffers"])
    a, b = progress.decode_example(saved["example"])
    assert np.array_equal(a, [1.0]) and np.array_equal(b, [1.0])

    result = replay("vectors", "--source", str(folder))
    assert result.exit_code == 1, result.output
    out = result.output
    assert "Replaying vectors › dot: agrees with NumPy" in out
    assert "call 1: dot(a=[1.0], b=[1.0])" in out
    assert "returned 0.0" in out
    assert "│ dot got 1 entries; first pair 1.0 1.0" in out, "the learner's print must be shown"
    assert "still failing — dot(a=[1.0], b=[1.0]) returned 0.0, expected 1.0" in out

    # Fixed since: the same example now passes (no grading in between).
    submission("sub", "vectors")
    fixed = replay("vectors", "--source", str(folder))
    assert fixed.exit_code == 0, fixed.output
    assert "this example passes" in fixed.output
    assert "(nothing — add print(...)" in fixed.output


def test_functions_travel_as_expressions_in_the_saved_example():
    forward = """
    def derivative(f, x, h=1e-5):
        return (f(x + h) - f(x)) / h
    """
    folder = submission("sub", "derivatives", replace={"derivative": forward})
    assert grade("derivatives", "--source", str(folder)).exit_code == 1
    saved = progress.load_exercise(str(folder), "derivatives")["replay"]
    example = progress.decode_example(saved["example"])
    assert isinstance(example[0], Function)
    out = replay("derivatives", "--source", str(folder)).output
    assert "call 1: derivative(f=lambda x: " in out
    assert "still failing" in out


def test_a_hang_is_replayed_as_a_hang():
    hanging = """
    def d_sin_x_squared(x):
        print("about to loop", flush=True)
        while True:
            pass
    """
    folder = submission("sub", "derivatives", replace={"d_sin_x_squared": hanging})
    exercise = load_course().get("derivatives")
    exercise = dataclasses.replace(exercise, limits=dataclasses.replace(exercise.limits, call_timeout=2.0))
    spec = next(s for s in exercise.checks() if s.function == "d_sin_x_squared")
    impl = exercise.registry().get(spec.function, spec.id)
    outcome, calls, printed = run_once(exercise, str(folder / "derivatives.py"), spec, impl, (0.5,), 0)
    assert outcome[0] == "failed" and "took longer than 2 s" in outcome[1]
    assert calls[0]["call"] == "d_sin_x_squared(x=0.5)" and calls[0]["error"]
    assert "about to loop" in printed, "output flushed before the hang is shown"


def test_nothing_to_replay_says_what_to_do():
    folder = submission("sub", "vectors")
    never = replay("vectors", "--source", str(folder))
    assert never.exit_code == 2 and "has not been graded" in never.output and "grade vectors" in never.output
    checks = [CheckResult(c.title, c.function, c.kind, True, c.points) for c in load_course().get("vectors").checks()]
    progress.save(str(folder), Report([ExerciseResult("vectors", checks)]))
    passed = replay("vectors", "--source", str(folder))
    assert passed.exit_code == 0 and "passed in your last run" in passed.output


def test_replay_needs_exactly_one_exercise():
    folder = submission("sub", "vectors")
    for args in ([], ["vectors", "losses"]):
        result = replay(*args, "--source", str(folder))
        assert result.exit_code == 2 and "exactly one" in result.output
