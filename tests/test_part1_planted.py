"""Planted answers for every Part-1 function: wrong ones are caught, right ones score full marks.

The answers themselves are data in ``tests/submissions/part1.py``; see docs/maintainers.md to
add one. Each planted answer is graded on its own function only: every function has its
own learner process and checks, so the rest of the module (the reference solution, which
scores full marks: tests/test_part1_grading.py) cannot change its verdict. A right answer
must therefore pass every check of its function, which brings the exercise to full marks.
"""
from collections import Counter

import pytest

from helpers import PART1, assert_full_marks, course, failing, find_check, grade_exercise, submission, summary
from submissions.part1 import RIGHT, WRONG

FUNCTIONS = [(e.name, f.name) for e in course().exercises if e.name in PART1 for f in e.functions]


def test_every_part1_function_has_three_wrong_and_two_right_answers():
    wrong = Counter((p.exercise, p.function) for p in WRONG)
    right = Counter((p.exercise, p.function) for p in RIGHT)
    assert len(FUNCTIONS) == 9
    for key in FUNCTIONS:
        assert wrong[key] >= 3, f"{key}: only {wrong[key]} planted mistakes"
        assert right[key] >= 2, f"{key}: only {right[key]} right answers"
    assert len({p.id for p in WRONG}) == len(WRONG) and len({p.id for p in RIGHT}) == len(RIGHT)


def test_every_planted_mistake_names_a_check_of_the_course():
    for p in WRONG:
        ids = [c.id for f in course().get(p.exercise).functions if f.name == p.function for c in f.checks]
        assert p.catches in ids, f"{p.id}: {p.catches!r} is not a check of {p.function} ({ids})"


@pytest.mark.parametrize("planted", WRONG, ids=lambda p: p.id)
def test_planted_mistake_is_caught(planted, tmp_path):
    folder = submission(tmp_path, planted.exercise, replace={planted.function: planted.source})
    # Only the named check is run (the others would fail too, each shrinking its own
    # counterexample); with ``only`` every check of the function is.
    keep = {(planted.exercise, planted.function): [planted.catches]} if not planted.only else None
    result = grade_exercise(folder, planted.exercise, functions={planted.exercise: [planted.function]},
                            checks=keep)

    assert result.status == "failed", summary(result)
    check = find_check(result, planted.function, planted.catches)
    assert not check.passed, f"{planted.id} was not caught by {planted.catches}\n{summary(result)}"
    # The verdict teaches: it shows the call that went wrong, in the learner's terms.
    assert f"{planted.function}(" in check.message or "no function" in check.message, check.message
    assert "Traceback" not in check.message
    if planted.only:
        assert failing(result) == {(planted.function, planted.catches)}, summary(result)
    # A wrong answer never scores full marks, and a caught check scores nothing.
    assert check.score == 0 and result.score < result.max_score


@pytest.mark.parametrize("planted", RIGHT, ids=lambda p: p.id)
def test_right_answer_scores_full_marks(planted, tmp_path):
    folder = submission(tmp_path, planted.exercise, replace={planted.function: planted.source})
    result = grade_exercise(folder, planted.exercise, functions={planted.exercise: [planted.function]})
    assert_full_marks(result)
    assert {c.function for c in result.checks} == {planted.function}
