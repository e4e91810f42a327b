"""The worked example of docs/authoring.md: examples/cross_entropy_course, a course outside the grader.

It is graded here as a teacher would grade it (``grade --course DIR``): the solution scores
full marks, the stub built from it scores nothing as *not started*, its planted mistakes are
caught by the checks meant to catch them (``grader.authoring.assert_caught``), a right
answer written another way passes, and its quiz is sealed and checked.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.author.build import differences
from grader.authoring import assert_caught, assert_passes
from grader.cli import main
from grader.course import COURSE_ENV

COURSE = Path(__file__).resolve().parent.parent / "examples" / "cross_entropy_course"


@pytest.fixture(autouse=True)
def only_this_course(monkeypatch):
    for name in (COURSE_ENV, "DLGRADE_QUIZ_DIR", "GRADE_SOLUTIONS"):
        monkeypatch.delenv(name, raising=False)


def grade(*args):
    result = CliRunner().invoke(main, ["--course", str(COURSE), *args, "--format", "json", "--no-timing",
                                       "--no-progress", "-j", "1"])
    return result, json.loads(result.stdout)


def test_the_committed_stub_is_what_the_build_writes():
    assert differences(str(COURSE / "solutions"), str(COURSE / "exercises")) == []


def test_the_solution_scores_full_marks_on_the_exercise_and_the_quiz():
    result, doc = grade("--source", str(COURSE / "solutions"))
    assert result.exit_code == 0, result.output
    assert [(e["name"], e["status"]) for e in doc["exercises"]] == [("cross_entropy", "passed"),
                                                                    ("cross_entropy_ideas", "passed")]
    assert doc["score"] == doc["max_score"] == 17


def test_the_stub_scores_nothing_as_not_started():
    result, doc = grade("--source", str(COURSE / "exercises"))
    assert result.exit_code == 1
    (code, quiz) = doc["exercises"]
    assert code["status"] == quiz["status"] == "not_started" and doc["score"] == 0
    assert all(not c["passed"] and "still raises NotImplementedError" in c["message"] for c in code["checks"])


PLANTED = [
    ("cross_entropy", "agrees_with_the_formula", "sums_over_the_batch", """
        def cross_entropy(logits, labels):
            shifted = logits - logits.max(axis=1, keepdims=True)
            rows = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(labels)), labels]
            return float(rows.sum())
    """),
    ("cross_entropy", "stays_finite_for_huge_logits", "", """
        def cross_entropy(logits, labels):
            rows = np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(labels)), labels]
            return float(rows.mean())
    """),
    ("cross_entropy", "returns_a_float", "", """
        def cross_entropy(logits, labels):
            shifted = logits - logits.max(axis=1, keepdims=True)
            return np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(labels)), labels],
                           keepdims=True)
    """),
    ("cross_entropy_grad", "agrees_with_the_formula", "forgets_the_one_hot", """
        def cross_entropy_grad(logits, labels):
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True) / len(labels)
    """),
    ("cross_entropy_grad", "leaves_its_inputs_unchanged", "", """
        def cross_entropy_grad(logits, labels):
            logits -= logits.max(axis=1, keepdims=True)
            z = np.exp(logits)
            grad = z / z.sum(axis=1, keepdims=True)
            grad[np.arange(len(labels)), labels] -= 1.0
            return grad / len(labels)
    """),
]


@pytest.mark.parametrize("function, check, diagnosis, source", PLANTED,
                         ids=[f"{p[0]}-{p[1]}" for p in PLANTED])
def test_each_planted_mistake_is_caught_by_its_check(function, check, diagnosis, source):
    caught = assert_caught(COURSE, "cross_entropy", function, source, check)
    assert caught.message.startswith(f"{function}(logits=")  # the smallest failing call, as learners see it
    if diagnosis:
        assert caught.extra.get("diagnosis") == diagnosis, caught.message


def test_the_overflow_is_the_only_thing_wrong_with_an_unshifted_loss():
    assert_caught(COURSE, "cross_entropy", "cross_entropy", PLANTED[1][3], "stays_finite_for_huge_logits", only=True)


def test_right_answers_written_another_way_pass():
    assert_passes(COURSE, "cross_entropy", "cross_entropy", """
        def cross_entropy(logits, labels):
            total = 0.0
            for row, label in zip(logits, labels):
                total += np.logaddexp.reduce(row) - row[label]
            return total / len(labels)
    """)
    assert_passes(COURSE, "cross_entropy", "cross_entropy_grad", """
        def cross_entropy_grad(logits, labels):
            p = np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))
            return (p - np.eye(logits.shape[1])[labels]) / logits.shape[0]
    """)


def test_assert_caught_says_when_a_mistake_slips_through():
    right = """
        def cross_entropy(logits, labels):
            return float(np.mean(np.logaddexp.reduce(logits, axis=1) - logits[np.arange(len(labels)), labels]))
    """
    with pytest.raises(AssertionError, match="was not caught by cross_entropy.agrees_with_the_formula"):
        assert_caught(COURSE, "cross_entropy", "cross_entropy", right, "agrees_with_the_formula")
    with pytest.raises(AssertionError, match="should fail cross_entropy.agrees_with_the_formula only"):
        assert_caught(COURSE, "cross_entropy", "cross_entropy", PLANTED[0][3], "agrees_with_the_formula", only=True)


def test_the_quiz_is_sealed_and_its_reference_answers_score_full_marks():
    result = CliRunner().invoke(main, ["--course", str(COURSE), "quiz", "--check", "--source", str(COURSE / "solutions")])
    assert result.exit_code == 0, result.output
    assert "1 quiz file, 3 questions" in result.output
