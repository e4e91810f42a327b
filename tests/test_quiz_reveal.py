"""``grade quiz NAME --reveal QUESTION``: the worked answer after three wrong tries.

Wrong tries are the wrong answers given in ``grade quiz``, counted per question in the
learner's local state (.grade/progress.json). Before the tries are used up, --reveal says
how many remain; after, it shows the worked answer and records the reveal in the answers
file, so the question scores 0 in every report, which says it was revealed. A question
already answered right keeps its points. Driven through click's CliRunner on the demo
quiz of tests/test_quiz_authoring.py.
"""
from __future__ import annotations

import json
import re

from grader import progress
from grader.quiz.cli import REVEAL_AFTER, worked_answer
from grader.quiz.model import load_quiz
from test_quiz_cli import course, grade  # noqa: F401  (course: the demo quiz's fixture)


def plain(text: str) -> str:
    """Output with its line wrapping undone, to look for whole sentences."""
    return " ".join(text.split())


def answer_wrong(times: int, wrong: str = "1") -> None:
    """Answer pick_one (right: 2) wrongly ``times`` times in grade quiz."""
    grade("quiz", "demo", input=f"{wrong}\nq\n")
    for _ in range(times - 1):
        grade("quiz", "demo", "--retry", input=f"{wrong}\nq\n")


def checks_of_report() -> dict:
    report = json.loads(grade("demo", "--format", "json").output)
    return {c["function"]: c for c in report["exercises"][0]["checks"]}


def test_before_the_tries_are_used_up_reveal_says_how_many_remain(course):
    answer_wrong(1)
    result = grade("quiz", "demo", "--reveal", "pick_one")
    assert result.exit_code == 1
    out = plain(result.output)
    assert f"after {REVEAL_AFTER} wrong tries at a question, and you have had 1 at this one (2 more to go)" in out
    assert "grade quiz demo --retry" in out
    assert "The answer" not in out and "Because beta." not in out  # nothing shown yet
    assert "revealed" not in (course / "exercises" / "quizzes" / "demo.yaml").read_text(encoding="utf-8")
    assert progress.load_exercise("exercises", "demo")["tries"] == {"pick_one": 1}


def test_after_three_wrong_tries_reveal_shows_the_answer_and_the_question_scores_zero(course):
    answer_wrong(REVEAL_AFTER - 1)
    third = grade("quiz", "demo", "--retry", input="3\nq\n")
    assert "That was wrong try 3 at this question: grade quiz demo --reveal pick_one" in plain(third.output)

    result = grade("quiz", "demo", "--reveal", "1")  # by number, as the questions are numbered
    assert result.exit_code == 0, result.output
    out = plain(result.output)
    assert "The answer: 2) beta" in out and "Because beta." in out
    assert "marked revealed" in out and "scores 0 points" in out
    saved = (course / "exercises" / "quizzes" / "demo.yaml").read_text(encoding="utf-8")
    assert re.search(r"^revealed: \[pick_one\]", saved, re.M)

    checks = checks_of_report()  # the reveal is in the answers file: every report sees it
    assert checks["pick_one"]["score"] == 0 and not checks["pick_one"]["passed"]
    assert checks["pick_one"]["message"].startswith("Revealed: its worked answer was shown")

    again = grade("quiz", "demo", "--retry", input="2\nq\n")  # answering it right still scores 0
    assert "Right (its answer was revealed, so it scores 0)" in again.output
    checks = checks_of_report()
    assert checks["pick_one"]["score"] == 0 and "though your answer is now right" in checks["pick_one"]["message"]
    assert "revealed with --reveal (0/1)" in grade("quiz", "demo", "--review").output
    state = progress.load_exercise("exercises", "demo")  # kept across the saves of later runs
    assert state["tries"]["pick_one"] == REVEAL_AFTER and state["revealed"] == ["pick_one"]
    assert grade("quiz", "demo", "--reveal", "pick_one").exit_code == 0  # shown again, recorded once
    saved = (course / "exercises" / "quizzes" / "demo.yaml").read_text(encoding="utf-8")
    assert saved.count("pick_one") == 2  # its answer line and the revealed list


def test_a_question_answered_right_keeps_its_points_and_nothing_is_recorded(course):
    grade("quiz", "demo", input="2\nq\n")
    result = grade("quiz", "demo", "--reveal", "pick_one")
    assert result.exit_code == 0
    assert "is right already: nothing to reveal, and it keeps its points" in plain(result.output)
    assert "revealed" not in (course / "exercises" / "quizzes" / "demo.yaml").read_text(encoding="utf-8")
    assert checks_of_report()["pick_one"]["score"] == 1


def test_an_unknown_question_is_a_usage_error_with_a_suggestion(course):
    result = grade("quiz", "demo", "--reveal", "pick_on")
    assert result.exit_code == 2 and "Did you mean 'pick_one'?" in result.output
    assert grade("quiz", "demo", "--reveal", "11").exit_code == 2  # there are 10 questions
    assert grade("quiz", "--reveal", "1").exit_code == 2  # which quiz?
    assert grade("quiz", "demo", "--reveal", "1", "--retry").exit_code == 2


def test_worked_answers_of_every_kind(course):
    quiz = load_quiz("demo")
    assert worked_answer(quiz.get("pick_one"), "reference") == "2) beta"
    assert worked_answer(quiz.get("pick_many"), "reference") == "1) one; 3) three; 5) five"
    assert worked_answer(quiz.get("yes_or_no"), "reference") == "false"
    assert worked_answer(quiz.get("dot"), "ada") == f"{quiz.get('dot').expected('ada'):g}"
    cross = worked_answer(quiz.get("cross"), "ada")
    assert quiz.get("cross").mark(json.loads(cross), "ada").passed  # the learner's own numbers
    # A fixed number or text is only a salted fingerprint in the quiz file: the explanation leads to it.
    assert worked_answer(quiz.get("one_sixth"), "reference") is None
    skip_three_then_a_wrong_sixth = "s\ns\ns\n0.5\nq\n"
    grade("quiz", "demo", input=skip_three_then_a_wrong_sixth)
    for _ in range(REVEAL_AFTER - 1):
        grade("quiz", "demo", "--retry", input=skip_three_then_a_wrong_sixth)
    out = plain(grade("quiz", "demo", "--reveal", "one_sixth").output)
    assert "keeps only a fingerprint of this answer" in out and "Divide." in out
