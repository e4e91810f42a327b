"""What a learner reads: three states per function, points, plain numbers, sentence case,
lines that fit the terminal, and the quizzes apart from the code exercises.

Built from hand-made results (no grading, no timing: each test is instant and exact), so
they pin down the screens themselves; tests/test_cli.py and tests/test_watch.py drive the
commands that show them.
"""
from __future__ import annotations

import json
import re

import click
import numpy as np
import pytest

from grader.format import points, points_of, sentence_case, show, wrap, wrap_items
from grader.reporters import FORMATS
from grader.reporters import table
from grader.results import (CheckResult, ExerciseResult, Report, checks_state, plain_numbers, too_slow)


def render(report, **options) -> str:
    """The table report as a pipe or a file gets it (click.echo drops the colours there)."""
    return click.unstyle(table.render(report, **options))


def ok(function, kind="correctness", points=1.0, name="agrees"):
    return CheckResult(name, function, kind, True, points)


def slow(function, outcome="fail"):
    """A timed run that failed: on speed alone (``fail``), or on a wrong answer (``wrong``)."""
    return CheckResult("fast enough on 10**6 floats", function, "timing", False, 1.0,
                       f"{function} on 10**6 floats: 185 ms vs reference 733 us = 263x (limit 10x)",
                       extra={"timing": [{"outcome": outcome}]})


def wrong(function, message="dot(a=[1.0], b=[2.0]) returned 3.0, expected 2.0"):
    return CheckResult("agrees with NumPy", function, "correctness", False, 3.0, message)


def stub(function):
    return CheckResult("agrees with NumPy", function, "correctness", False, 3.0,
                       f"{function} still raises NotImplementedError: write it to start scoring.", not_started=True)


# ----------------------------------------------------------------------------- three states


def test_a_correct_function_whose_timed_run_is_too_slow_is_correct_but_too_slow():
    result = ExerciseResult("vectors", [ok("dot"), slow("dot"), ok("cross"), ok("cross", "timing")])
    assert result.status == "failed"  # the JSON schema's status is unchanged...
    assert result.state == "too_slow"  # ...what a learner sees is not "failing"
    assert result.function_states() == {"dot": "too_slow", "cross": "passed"}


@pytest.mark.parametrize("checks, state", [
    ([ok("dot"), ok("dot", "timing")], "passed"),
    ([ok("dot"), slow("dot")], "too_slow"),
    ([wrong("dot"), slow("dot")], "failed"),            # wrong and slow: failing
    ([ok("dot"), slow("dot", outcome="wrong")], "failed"),  # wrong on the large input: failing
    ([ok("dot"), slow("dot", outcome="raised")], "failed"),
    ([stub("dot")], "not_started"),
    ([slow("dot")], "failed"),                          # no correctness check: nothing says it is right
], ids=["fast", "slow", "wrong-and-slow", "wrong-when-timed", "raised-when-timed", "stub", "timing-only"])
def test_states_of_one_function(checks, state):
    assert checks_state(checks) == state


def test_a_failing_function_beside_a_slow_one_makes_the_exercise_failing():
    result = ExerciseResult("vectors", [ok("dot"), slow("dot"), wrong("cross")])
    assert result.state == "failed"
    assert result.function_states() == {"dot": "too_slow", "cross": "failed"}
    assert too_slow(result.checks[1]) and not too_slow(result.checks[2])


def test_the_table_shows_three_states_and_sends_the_learner_to_what_is_wrong_first():
    report = Report([ExerciseResult("vectors", [ok("dot"), slow("dot")]),
                     ExerciseResult("losses", [ok("mse"), wrong("mse_grad")]),
                     ExerciseResult("derivatives", [ok("derivative")])])
    text = render(report, source="exercises")
    assert re.search(r"^vectors\s+1/2\s+1/2\s+◐ correct but too slow$", text, re.M), text
    assert re.search(r"^losses\s+1/2\s+1/4\s+✗ failing$", text, re.M)
    assert re.search(r"^derivatives\s+1/1\s+1/1\s+✓ passed$", text, re.M)
    assert "next up: losses" in text  # correctness before speed
    assert "✗ mse_grad: agrees with NumPy" in text and "dot is correct but too slow" not in text

    right = Report([report.exercises[0], report.exercises[2]])
    text = render(right, source="exercises")
    assert "Everything passes" not in text
    assert "Everything is correct." in text and "Still too slow: vectors." in text
    assert "vectors: dot is correct but too slow" in text and "◐ dot: fast enough" in text
    assert "✗" not in text


def test_machine_readable_reports_carry_the_state_too():
    report = Report([ExerciseResult("vectors", [ok("dot"), slow("dot"), ok("cross")])])
    doc = json.loads(FORMATS["json"](report))
    (vectors,) = doc["exercises"]
    assert (vectors["status"], vectors["state"]) == ("failed", "too_slow")
    assert vectors["functions"] == {"dot": "too_slow", "cross": "passed"}
    junit = FORMATS["junit"](report, source="exercises")
    assert '<property name="state" value="too_slow"' in junit
    github = FORMATS["github"](report, source="exercises")
    assert "correct but too slow" in github


# ----------------------------------------------------------------------------- the quiz section


def test_quizzes_have_a_table_of_their_own_after_the_code_exercises():
    quiz = ExerciseResult("linear_algebra", [CheckResult("dot product", "dot_product", "quiz", True, 2.0),
                                             CheckResult("cross", "cross_product", "quiz", False, 2.0,
                                                         "Not answered yet", not_started=True)])
    report = Report([ExerciseResult("vectors", [ok("dot")]), quiz])
    lines = render(report).splitlines()
    assert re.match(r"exercise\s+checks\s+points\s+status$", lines[0])
    assert lines[1].startswith("vectors") and lines[2] == ""
    assert re.match(r"quiz\s+questions\s+points\s+status$", lines[3])
    assert lines[4].startswith("linear_algebra") and lines[5].startswith("total")


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value, text", [
    (2, "2"), (2.0, "2"), (0.5, "0.5"), (4 / 3, "1.33"), (2 / 3, "0.67"), (1.005, "1"), (0, "0"), (12.25, "12.25"),
])
def test_points_are_whole_or_two_decimals(value, text):
    assert points(value) == text


def test_a_partial_quiz_score_reads_as_two_decimals():
    quiz = ExerciseResult("q", [CheckResult("pick", "pick", "quiz", False, 2.0, awarded=4 / 3)])
    assert points_of(quiz.score, quiz.max_score) == "1.33/2"
    assert re.search(r"^q\s+0/1\s+1.33/2\s", render(Report([quiz])), re.M)


@pytest.mark.parametrize("value, text", [
    (np.float64(0.0), "0.0"), (np.int64(3), "3"), (np.bool_(True), "True"), (np.float32(0.1), "0.1"),
    (np.float16(0.1), "0.1"), (np.str_("a"), "'a'"), ([np.float64(1.0), np.float64(2.0)], "[1.0, 2.0]"),
    ({np.str_("k"): np.float64(2)}, "{'k': 2.0}"), (np.array([1.0, 2.0]), "[1.0, 2.0]"),
    ((np.float64(1), np.array([3.0])), "(1.0, [3.0])"),
], ids=lambda v: type(v).__name__)
def test_show_writes_plain_numbers_and_lists(value, text):
    assert show(value) == text
    assert "np." not in show(value) and "array(" not in show(value)


def test_show_gives_a_big_array_as_a_corner_and_its_shape():
    text = show(np.zeros((50, 50)))
    assert text.endswith("(shape (50, 50))") and len(text) < 120 and "array" not in text


@pytest.mark.parametrize("raw, plain", [
    ("dot(a, b) gave np.float64(0.5) for the same vectors", "dot(a, b) gave 0.5 for the same vectors"),
    ("a=[np.float64(1.0), np.float64(-2.5e-05)]", "a=[1.0, -2.5e-05]"),
    ("returned array([[1., 2.],\n       [3., 4.]])", "returned [[1.0, 2.0], [3.0, 4.0]]"),
    ("returned array([ 0.5, -1. ])", "returned [0.5, -1.0]"),
    ("np.True_ where np.False_ was expected", "True where False was expected"),
    ("your line: x = np.array([1., 2.])", "your line: x = np.array([1., 2.])"),  # code stays code
    ("np.float64(x) is not a number", "np.float64(x) is not a number"),
])
def test_numpy_reprs_in_a_message_become_plain_numbers(raw, plain):
    assert plain_numbers(raw) == plain
    assert CheckResult("t", "dot", "correctness", False, 1.0, raw).message == plain


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize("raw, cased", [
    ("your answer 3 is not right. think it over.", "Your answer 3 is not right. Think it over."),
    ("dot(a=[1.0]) returned 2.0. the dot product adds.", "dot(a=[1.0]) returned 2.0. The dot product adds."),
    ("cross still raises NotImplementedError. write it.", "cross still raises NotImplementedError. Write it."),
    ("it is fast. grade bench vectors shows it.", "It is fast. grade bench vectors shows it."),
    ("use e.g. the sum. np.dot works. vectors.py is read.", "Use e.g. the sum. np.dot works. vectors.py is read."),
])
def test_sentences_start_with_a_capital_but_names_stay_as_code_spells_them(raw, cased):
    assert sentence_case(raw, keep={"cross", "dot"}) == cased


def test_the_table_writes_messages_in_sentence_case():
    report = Report([ExerciseResult("losses", [wrong("mse", "mse(y_true=[1.0], y_pred=[1.0]) returned 1.0. "
                                                     "the error of a perfect prediction is 0.")])])
    assert "returned 1.0. The error of a perfect prediction is 0." in " ".join(render(report).split())


def test_every_line_fits_the_terminal_and_no_word_is_broken(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    long = "a message " * 30 + "in exercises/some/very/long/path/to/a/module_that_does_not_break.py"
    report = Report([ExerciseResult("losses", [wrong("mse", long)])])
    for line in render(report).splitlines():
        assert len(line) <= 59 or "module_that_does_not_break.py" in line, line
    assert "exercises/some/very/long/path/to/a/module_that_does_not_break.py" in render(report)
    keys = ["[n] next exercise", "[p] previous", "[h] hint", "[l] list", "[r] grade again", "[q] quit"]
    wrapped = wrap_items(keys, width=30).splitlines()
    assert len(wrapped) > 1 and all(len(line) <= 30 for line in wrapped)
    assert sum((line.split("  ") for line in wrapped), []) == keys  # never inside a key
    assert all(len(line) <= 40 for line in wrap("word " * 40, 2, width=40).splitlines())
