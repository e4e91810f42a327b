"""`grade quiz` and the quizzes in `grade`: the interactive flow (click's runner and a real
pseudo-terminal), the answers file (saved as given, atomically, never lost), bad input,
and the reports."""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.quiz
from grader.cli import main
from grader.quiz.model import QUIZ_DIR_ENV, load_index, load_quiz
from test_quiz_authoring import write_demo

ROOT = Path(__file__).resolve().parent.parent

# Right answers to the demo quiz for the student "reference", in question order.
RIGHT = ["2", "1 3 5", "f", "1/6", "13.4", "3, 2", "3 -6; 0 12", "the Softmax function"]


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course folder with an empty exercises/ and the demo quiz as the only quiz."""
    quiz_dir, ref_dir = write_demo(tmp_path)
    (tmp_path / "exercises").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(QUIZ_DIR_ENV, str(quiz_dir))
    monkeypatch.setattr(grader.quiz, "_default_student", "reference")
    return tmp_path


def grade(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def answers_file(root):
    return root / "exercises" / "quizzes" / "demo.yaml"


def dot_cross(student="reference"):
    quiz = load_quiz("demo")
    dot, cross = quiz.get("dot").expected(student), quiz.get("cross").expected(student)
    return f"{dot:g}", ", ".join(f"{x:g}" for x in cross)


# --- the interactive flow -------------------------------------------------------------------

def test_answering_every_question_right_scores_full(course):
    dot, cross = dot_cross()
    result = grade("quiz", "demo", input="\n".join(RIGHT + [dot, cross]) + "\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("✓ Right!") == 10
    assert "demo: 14/14 points" in result.output
    assert "Because beta." in result.output and "Multiply and add." in result.output  # explanations
    saved = answers_file(course).read_text(encoding="utf-8")
    assert "student: reference" in saved
    for line in ("pick_one: 2", "pick_many: [1, 3, 5]", "yes_or_no: false", "one_sixth: 1/6",
                 "mse_value: 13.4", "shape: [3, 2]", "tripled: [[3, -6], [0, 12]]",
                 "word: the Softmax function"):
        assert f"  {line} " in saved or saved.count(f"  {line}\n"), line


def test_a_finished_quiz_says_so_and_asks_nothing(course):
    dot, cross = dot_cross()
    grade("quiz", "demo", input="\n".join(RIGHT + [dot, cross]) + "\n")
    result = grade("quiz", "demo", input="")
    assert result.exit_code == 0
    assert "Every question is answered: 14/14 points." in result.output and "Question" not in result.output
    assert re.search(r"demo\s+10/10\s+14/14\s+passed", grade("quiz").output)


def test_conflicting_options_and_a_stray_answers_file(course):
    assert grade("quiz", "demo", "--retry", "--review").exit_code == 2
    assert grade("quiz", "--retry").exit_code == 2
    stray = course / "exercises" / "quizzes" / "dmeo.yaml"
    stray.parent.mkdir(parents=True)
    stray.write_text("answers: {}\n", encoding="utf-8")
    result = grade("quiz")
    assert result.exit_code == 0
    assert "dmeo.yaml is not read: there is no quiz 'dmeo' (did you mean demo.yaml?)" in result.output


def test_hints_bad_input_wrong_and_partial_answers(course):
    result = grade("quiz", "demo", input="?\n?\n7\nbeta?\n1\n1 3\nq\n")
    out = result.output
    assert result.exit_code == 1
    assert "Hint: Not the first letter of the alphabet." in out
    assert "No more hints for this one" in out
    assert "there is no choice 7" in out and "Try again" in out
    assert "✗ Not right." in out and "Because beta." in out
    assert "◐ Partly right: 2 of 3 points." in out
    assert "Stopped. The answers you gave are saved" in out
    saved = answers_file(course).read_text(encoding="utf-8")
    assert re.search(r"^  pick_one: 1 ", saved, re.M) and re.search(r"^  pick_many: \[1, 3\] ", saved, re.M)
    assert re.search(r"^  yes_or_no: +#", saved, re.M)  # listed, still empty


def test_each_answer_is_saved_as_it_is_given_and_the_next_run_carries_on(course):
    grade("quiz", "demo", input="2\n")  # input ends: like closing the terminal after one answer
    saved = answers_file(course).read_text(encoding="utf-8")
    assert re.search(r"^  pick_one: 2 ", saved, re.M)
    result = grade("quiz", "demo", input="s\nq\n")
    assert "Question 2 of 10" in result.output and "Question 1 of 10" not in result.output
    assert "Skipped" in result.output


def test_retry_asks_the_wrong_ones_again(course):
    grade("quiz", "demo", input="1\n1 3 5\nq\n")
    result = grade("quiz", "demo", "--retry", input="2\nq\n")
    assert "Question 1 of 10" in result.output and "Question 2 of 10" not in result.output.split("Question 3")[0]
    saved = answers_file(course).read_text(encoding="utf-8")
    assert re.search(r"^  pick_one: 2 ", saved, re.M) and re.search(r"^  pick_many: \[1, 3, 5\] ", saved, re.M)


def test_review_shows_verdicts_and_explanations_of_answered_questions_only(course):
    grade("quiz", "demo", input="3\nq\n")
    result = grade("quiz", "demo", "--review")
    assert result.exit_code == 1
    assert "✗ your answer: 3 (0/1)" in result.output and "Because beta." in result.output
    assert "not answered yet" in result.output and "The odd ones out." not in result.output


def test_listing_shows_progress_and_what_is_next(course):
    result = grade("quiz")
    assert result.exit_code == 0
    assert re.search(r"demo\s+0/10\s+0/14\s+not started\s+A demo quiz", result.output)
    assert "next up: grade quiz demo" in result.output
    grade("quiz", "demo", input="2\nq\n")
    assert re.search(r"demo\s+1/10\s+1/14\s+in progress", grade("quiz").output)


def test_an_unknown_quiz_name_is_a_usage_error(course):
    result = grade("quiz", "dem")
    assert result.exit_code == 2 and "Did you mean 'demo'?" in result.output


def test_the_real_terminal_flow_in_a_pseudo_terminal(course):
    """`grade quiz` in a pty: prompts appear, typed answers are read and saved."""
    import pty

    env = dict(os.environ, **{QUIZ_DIR_ENV: os.environ[QUIZ_DIR_ENV]}, COLUMNS="100",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "quiz", "demo", "--student", "reference"],
                            stdin=terminal, stdout=terminal, stderr=terminal, cwd=course, env=env,
                            close_fds=True)
    os.close(terminal)
    seen = b""

    def read_until(marker: bytes, timeout: float = 30.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            ready, _, _ = select.select([controller], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {marker!r} in: {seen.decode(errors='replace')[-2000:]}")
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"ended before {marker!r}: {seen.decode(errors='replace')[-2000:]}")
            seen += chunk

    try:
        read_until(b"answer (the number of your choice (1-3)):")
        os.write(controller, b"2\n")
        read_until(b"Right!")
        read_until(b"answer (the numbers of every choice you pick")
        os.write(controller, b"1 3\n")
        read_until(b"Partly right")
        read_until(b"answer (t (true) or f (false)):")
        os.write(controller, b"q\n")
        read_until(b"To carry on: grade quiz demo")
        assert proc.wait(timeout=30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    saved = answers_file(course).read_text(encoding="utf-8")
    assert re.search(r"^  pick_one: 2 ", saved, re.M) and re.search(r"^  pick_many: \[1, 3\] ", saved, re.M)


# --- the answers file: bad input never loses saved answers ------------------------------------

def test_a_malformed_answers_file_is_refused_and_left_untouched(course):
    path = answers_file(course)
    path.parent.mkdir(parents=True)
    text = "answers:\n  pick_one: 2\n  pick_many: [1, 3\n  yes_or_no: false\n"
    path.write_text(text, encoding="utf-8")
    for args in (["quiz", "demo"], ["demo"], ["quiz"], ["quiz", "demo", "--review"]):
        result = grade(*args, input="2\n")
        assert result.exit_code == 2, (args, result.output)
        assert re.search(r"exercises/quizzes/demo\.yaml, line \d+: is not valid YAML", result.output), result.output
        assert "no answer saved in it is lost" in result.output and "Traceback" not in result.output
        assert path.read_text(encoding="utf-8") == text


def test_an_answers_file_naming_an_unknown_question_gives_file_and_line(course):
    path = answers_file(course)
    path.parent.mkdir(parents=True)
    text = "student: reference\nanswers:\n  pick_one: 2\n  pick_two: 3\n"
    path.write_text(text, encoding="utf-8")
    for args in (["quiz", "demo"], ["demo", "--format", "json"]):
        result = grade(*args, input="1\n")
        assert result.exit_code == 2
        assert "demo.yaml, line 4, field 'pick_two': there is no question 'pick_two'" in result.output
        assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("text, words", [
    ("pick_one: 2\n", "line 1, field 'pick_one': 'pick_one' is a question: put it under 'answers:'"),
    ("answers: [2, 3]\n", "line 1, field 'answers': must map question ids"),
    ("answers:\n  pick_one: 2\n  pick_one: 3\n", "line 3, field 'pick_one': appears twice"),
    ("studnet: me\n", "line 1, field 'studnet': unknown field"),
])
def test_other_answers_file_mistakes(course, text, words):
    path = answers_file(course)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    result = grade("demo")
    assert result.exit_code == 2 and words in result.output, result.output
    assert path.read_text(encoding="utf-8") == text


def test_a_hand_written_answer_that_cannot_be_read_is_a_wrong_answer_with_its_line(course):
    path = answers_file(course)
    path.parent.mkdir(parents=True)
    path.write_text("answers:\n  pick_one: 2\n  one_sixth: a sixth\n", encoding="utf-8")
    result = grade("demo", "--format", "json")
    assert result.exit_code == 1
    checks = {c["function"]: c for c in json.loads(result.output)["exercises"][0]["checks"]}
    assert checks["pick_one"]["passed"] and checks["pick_one"]["score"] == 1
    message = checks["one_sixth"]["message"]
    assert "demo.yaml, line 3" in message and "is not a number" in message and checks["one_sixth"]["score"] == 0


def test_saving_is_atomic_and_leaves_no_temporary_files(course, monkeypatch):
    grade("quiz", "demo", input="2\nq\n")
    before = answers_file(course).read_text(encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    result = grade("quiz", "demo", input="1 3 5\n")
    assert result.exit_code == 2
    assert "your answer could not be saved (No space left on device)" in result.output
    assert answers_file(course).read_text(encoding="utf-8") == before
    assert sorted(p.name for p in answers_file(course).parent.iterdir()) == ["demo.yaml"]


# --- students and parameterised numbers ------------------------------------------------------

def test_the_student_saved_in_the_answers_file_picks_the_numbers_when_grading(course):
    dot, _ = dot_cross("ada@example.com")
    shown = grade("quiz", "demo", "--student", "Ada@Example.com", input="s\n" * 8 + dot + "\nq\n").output
    # kept and shown as the learner set it; the numbers come from its normalised form
    assert "student: Ada@Example.com" in answers_file(course).read_text(encoding="utf-8")
    assert "numbers drawn for student id Ada@Example.com." in " ".join(shown.split())

    def dot_passed(*extra):
        report = json.loads(grade("demo", "--format", "json", *extra).output)
        return next(c for c in report["exercises"][0]["checks"] if c["function"] == "dot")["passed"]

    assert dot_passed()                          # the file's student, not git's "reference"
    assert not dot_passed("--student", "bob")    # another learner's numbers


def test_without_a_student_id_the_quiz_says_where_its_numbers_come_from(course, monkeypatch):
    shown = " ".join(grade("quiz", "demo", input="q\n").output.split())
    assert ("numbers drawn for reference, your git e-mail (grade quiz demo --student ID sets your "
            "student id instead).") in shown  # "reference" stands for git's e-mail here
    assert "student: reference" in answers_file(course).read_text(encoding="utf-8")  # saved: used from now on
    assert "numbers drawn for student id reference." in " ".join(grade("quiz", "demo", input="q\n").output.split())
    answers_file(course).unlink()
    monkeypatch.setattr(grader.quiz, "_default_student", "anonymous")
    shown = " ".join(grade("quiz", "demo", input="q\n").output.split())
    assert "numbers drawn for 'anonymous' (no student id is set: grade quiz demo --student ID sets yours)." in shown


def test_default_student_comes_from_git_or_is_anonymous(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setattr(grader.quiz, "_default_student", None)
    assert grader.quiz.default_student() == "anonymous"
    (tmp_path / "gitconfig").write_text("[user]\n\temail = Grace@Example.com\n", encoding="utf-8")
    monkeypatch.setattr(grader.quiz, "_default_student", None)
    try:
        found = grader.quiz.default_student()
    finally:
        monkeypatch.setattr(grader.quiz, "_default_student", None)
    assert found == "grace@example.com" or found == "anonymous" and not _has_git()


def _has_git() -> bool:
    try:
        return subprocess.run(["git", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


# --- quizzes in `grade` reports ----------------------------------------------------------------

def test_a_quiz_is_an_exercise_of_the_json_report(course):
    grade("quiz", "demo", input="2\n1 3\nt\nq\n")
    result = grade("demo", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    (exercise,) = report["exercises"]
    assert exercise["name"] == "demo" and exercise["status"] == "failed"
    assert exercise["score"] == 3 and exercise["max_score"] == 14
    checks = {c["function"]: c for c in exercise["checks"]}
    assert all(c["kind"] == "quiz" for c in checks.values())
    assert checks["pick_one"] == {"name": "pick one", "function": "pick_one", "kind": "quiz", "passed": True,
                                  "score": 1, "max_score": 1, "message": ""}
    assert checks["pick_many"]["score"] == 2 and not checks["pick_many"]["passed"]
    assert checks["yes_or_no"]["score"] == 0 and "not right" in checks["yes_or_no"]["message"]
    assert checks["word"]["message"].startswith("Not answered yet")


def test_reference_answers_in_solutions_score_full(tmp_path, monkeypatch):
    monkeypatch.delenv(QUIZ_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    names = load_index()
    result = grade(*names, "--source", str(ROOT / "solutions"), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [e["name"] for e in report["exercises"]] == names
    assert report["score"] == report["max_score"] > 0
    assert all(e["status"] == "passed" for e in report["exercises"])


def test_the_shipped_exercises_score_zero_on_every_quiz_as_not_started(tmp_path, monkeypatch):
    monkeypatch.delenv(QUIZ_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    names = load_index()
    from helpers import EXERCISES  # the stubs as built: a learner's own answers are not "shipped"

    assert not [p for p in (EXERCISES / "quizzes").glob("*.yaml")]  # shipped empty
    result = grade(*names, "--source", str(EXERCISES), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["score"] == 0 and report["max_score"] >= 40
    for e in report["exercises"]:
        assert e["status"] == "not_started" and e["score"] == 0
        assert all(not c["passed"] and c["kind"] == "quiz" for c in e["checks"])


def test_plain_grade_lists_the_quizzes_after_the_code_exercises(monkeypatch):
    monkeypatch.delenv(QUIZ_DIR_ENV, raising=False)
    from grader.cli import all_names, get_course

    course = get_course()
    names = all_names(course)
    assert names[: len(course.names())] == course.names()
    assert names[len(course.names()):] == load_index()
