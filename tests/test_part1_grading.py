"""Part 1 graded end to end in-process: solutions, stubs, determinism and seeds."""
import json

import numpy as np
import pytest

from helpers import (EXERCISES, PART1, SOLUTIONS, SentInputs, assert_full_marks, check_id, course, exercise,
                     grade_exercise, grade_folder, submission, summary)


@pytest.fixture(scope="module")
def solutions_report():
    return grade_folder(SOLUTIONS, PART1)


@pytest.fixture(scope="module")
def stubs_report():
    return grade_folder(EXERCISES, PART1)


def test_course_lists_part1_in_order():
    assert course().names()[:3] == PART1
    for name in PART1:
        e = exercise(name)
        assert e.framework == "numpy" and e.max_score > 0
        for f in e.functions:
            titles = [c.title for c in f.checks]
            assert len(set(titles)) == len(titles), f"{name}.{f.name}: check titles must be unique"
            assert all(c.kind == "correctness" for c in f.checks)


def test_solutions_score_full_marks(solutions_report):
    assert [e.name for e in solutions_report.exercises] == PART1
    for result in solutions_report.exercises:
        assert_full_marks(result)
        assert result.max_score == exercise(result.name).max_score
        assert all(c.message == "" for c in result.checks)
    assert solutions_report.all_passed and solutions_report.next_up() is None


def test_stubs_score_zero_as_not_started(stubs_report):
    for result in stubs_report.exercises:
        assert result.status == "not_started", summary(result)
        assert result.score == 0 and result.max_score == exercise(result.name).max_score
        # Every check of the course is reported, each one marked not started.
        assert len(result.checks) == sum(1 for _ in exercise(result.name).checks())
        for check in result.checks:
            assert check.not_started and not check.passed and not check.error
            assert f"{check.function} still raises NotImplementedError" in check.message
            assert "Traceback" not in check.message and "Hint:" not in check.message
    assert stubs_report.next_up().name == "vectors"


def test_a_check_reports_its_id_through_its_title(solutions_report):
    result = solutions_report.exercises[0]
    assert [check_id(result, c) for c in result.checks[:2]] == ["agrees_with_numpy", "symmetric"]


# ----------------------------------------------------------------------------- determinism

SKIPS_LAST = """
    def dot(a, b):
        return float(np.dot(a[:-1], b[:-1]))
"""

def test_same_wrong_submission_gets_identical_verdicts(tmp_path):
    folder = submission(tmp_path, "vectors", replace={"dot": SKIPS_LAST})
    first = grade_exercise(folder, "vectors", functions={"vectors": ["dot"]})
    second = grade_exercise(folder, "vectors", functions={"vectors": ["dot"]})
    assert first.status == "failed"
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())
    # The shrunk example is the smallest one that shows the mistake.
    message = [c for c in first.checks if c.name == "agrees with NumPy"][0].message
    assert message.startswith("dot(a=[1.0], b=[1.0]) returned 0.0, expected 1.0"), message


def test_examples_are_fixed_by_the_seed(monkeypatch):
    sent = SentInputs.install(monkeypatch, "dot")

    def inputs(seed):
        result = grade_exercise(SOLUTIONS, "vectors", seed=seed, functions={"vectors": ["dot"]},
                                checks={("vectors", "dot"): ["agrees_with_numpy"]})
        assert result.status == "passed", summary(result)
        return sent.take()

    seed0 = inputs(0)
    spec = exercise("vectors").functions[0].checks[0]
    worked = exercise("vectors").registry().get("dot", spec.id).examples  # the docstring's, tried last
    assert len(seed0) == spec.examples + len(worked) and seed0[-1] == [w.tolist() for w in worked[-1]]
    assert inputs(0) == seed0
    seed1 = inputs(1)
    assert seed1 != seed0 and len(seed1) == len(seed0)
    # Generated inputs meet the awkward cases: several lengths, exact zeros, whole numbers.
    everything = seed0 + seed1
    assert len({len(a) for a, _ in everything}) >= 3
    values = [v for a, b in everything for v in a + b]
    assert 0.0 in values and any(v == int(v) and v != 0 for v in values)


# ----------------------------------------------------------------------------- messages


def test_messages_name_types_in_plain_english():
    from grader.format import call_text, describe_type, show

    assert describe_type(3) == "an int" and describe_type([1.0]) == "a list"
    assert describe_type(np.zeros((2, 3))) == "a NumPy array of shape (2, 3) and dtype float64"
    assert describe_type(None).startswith("None") and "return" in describe_type(None)
    assert show(np.array([1.0, 0.0])) == "[1.0, 0.0]" and show(np.float64(2.5)) == "2.5"
    assert call_text("dot", ["a", "b"], [np.array([1.0]), np.array([2.0])]) == "dot(a=[1.0], b=[2.0])"
