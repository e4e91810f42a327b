"""Quizzes: questions on the course's ideas, graded offline without shipping the answers.

Contract with the rest of the grader:

- ``quiz_names()`` -> the quiz names in course order (each is an exercise in reports).
- ``grade_quizzes(names, source_dir, student)`` -> one ExerciseResult per quiz, each
  question a check of kind ``quiz``; answers are read from ``<source_dir>/quizzes/``
  (``grade`` passes its snapshot of the learner's folder, see grader/gate.py).

Pieces: model.py (quiz files, question types, marking), hashing.py (normalising and the
salted answer key), generators.py (parameterised questions), answers.py (the learner's
answers file), seal.py (writing the answer key), cli.py (``grade quiz``).
"""
from __future__ import annotations

import subprocess

import click

from ..results import CheckResult, ExerciseResult
from ..yamlfile import YamlError
from .answers import AnswersFile, _dump, answers_path, normalise_student, read_answers
from .model import Quiz, load_index, load_quiz

ANONYMOUS = "anonymous"


class QuizSetupError(click.ClickException):
    """A broken quiz or answers file: one paragraph on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None):
        click.echo(click.style("error: ", fg="red", bold=True) + self.format_message(), err=True)


def setup_error(e: YamlError) -> QuizSetupError:
    return QuizSetupError(str(e))


def quiz_names() -> list[str]:
    try:
        return load_index()
    except YamlError as e:
        raise setup_error(e) from None


def get_quiz(name: str) -> Quiz:
    try:
        return load_quiz(name)
    except YamlError as e:
        raise QuizSetupError(f"the quiz file is broken: {e}") from None


def get_answers(quiz: Quiz, source_dir: str, *, display_source: str | None = None) -> AnswersFile:
    """The answers in ``<source_dir>/quizzes/``; ``display_source``: the learner's folder to
    name in messages when ``source_dir`` is the grader's snapshot of it (grader/gate.py)."""
    shown = answers_path(display_source, quiz.name) if display_source is not None else None
    try:
        return read_answers(answers_path(source_dir, quiz.name), quiz, shown_as=shown)
    except YamlError as e:
        raise QuizSetupError(f"{e}. Fix the answers file (grade quiz leaves it untouched until "
                             f"then, so no answer saved in it is lost).") from None


_default_student: str | None = None


def default_student() -> str:
    """``git config user.email``, or "anonymous" when git or the setting is missing."""
    global _default_student
    if _default_student is None:
        try:
            out = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True,
                                 timeout=10, stdin=subprocess.DEVNULL)
            email = out.stdout.strip() if out.returncode == 0 else ""
        except (OSError, subprocess.SubprocessError):
            email = ""
        _default_student = normalise_student(email) if email else ANONYMOUS
    return _default_student


def resolve_student(explicit: str | None, answers: AnswersFile | None = None) -> str:
    """Whose numbers: --student, else the one recorded in the answers file, else git's e-mail."""
    if explicit is not None and explicit.strip():
        return normalise_student(explicit)
    if answers is not None and answers.student:
        return answers.student
    return default_student()


def student_as_set(explicit: str | None, answers: AnswersFile | None = None) -> str | None:
    """The student id as the learner set it (``--student`` as typed, else the answers file's
    ``student:`` as written); None when they set none (git's e-mail or "anonymous" is used)."""
    if explicit is not None and explicit.strip():
        return " ".join(explicit.split())
    if answers is not None and answers.student:
        return answers.student_as_set or answers.student
    return None


def student_label(explicit: str | None, answers: AnswersFile | None = None, quiz: str = "NAME") -> str:
    """Whose numbers, for a learner to read: the id as they set it, or where it came from
    when they set none (never a bare e-mail address that seems to come from nowhere)."""
    chosen = student_as_set(explicit, answers)
    if chosen is not None:
        return f"student id {chosen}"
    found = default_student()
    if found == ANONYMOUS:
        return f"'anonymous' (no student id is set: grade quiz {quiz} --student ID sets yours)"
    return f"{found}, your git e-mail (grade quiz {quiz} --student ID sets your student id instead)"


def grade_quizzes(names: list[str], source_dir: str, student: str | None = None, *,
                  display_source: str | None = None, keep_going: bool = False) -> list[ExerciseResult]:
    """One ExerciseResult per quiz. A broken quiz or answers file raises
    :class:`QuizSetupError`, or with ``keep_going`` (reports that CI systems read, which
    must always be written) costs that quiz alone: :func:`broken_quiz`."""
    results = []
    for name in names:
        try:
            quiz = get_quiz(name)
        except QuizSetupError as e:
            if not keep_going:
                raise
            results.append(ExerciseResult(name, message=e.format_message()))
            continue
        try:
            answers = get_answers(quiz, source_dir, display_source=display_source)
        except QuizSetupError as e:
            if not keep_going:
                raise
            results.append(broken_quiz(quiz, e.format_message()))
            continue
        results.append(grade_quiz(quiz, answers, resolve_student(student, answers)))
    return results


def broken_quiz(quiz: Quiz, message: str) -> ExerciseResult:
    """A quiz whose answers file cannot be read: every question scores 0 of its points
    (the total stays what it always is), with the reason as its message."""
    checks = [CheckResult(name=q.label, function=q.id, kind="quiz", passed=False, max_score=q.points,
                          message=message, error=True) for q in quiz.questions]
    return ExerciseResult(quiz.name, checks=checks, message=message)


def grade_quiz(quiz: Quiz, answers: AnswersFile, student: str) -> ExerciseResult:
    """One check per question. A question whose worked answer ``grade quiz --reveal`` showed
    (listed under ``revealed:`` in the answers file) scores 0 whatever the answer, and says so."""
    checks = []
    for q in quiz.questions:
        given = answers.answers.get(q.id)
        check = CheckResult(name=q.label, function=q.id, kind="quiz", passed=False, max_score=q.points)
        if q.id in answers.revealed:
            right = given is not None and q.mark(given.value, student).passed
            check.message = (f"Revealed: its worked answer was shown (grade quiz {quiz.name} --reveal {q.id}), "
                             f"so it scores 0 points{', though your answer is now right' if right else ''}.")
            check.extra["revealed"] = True
        elif given is None:
            check.not_started = True
            check.message = f"Not answered yet: run grade quiz {quiz.name}."
        else:
            verdict = q.mark(given.value, student)
            check.passed = verdict.passed
            if 0 < verdict.fraction < 1:
                # Unrounded: reports add the points exactly and round once (grader/results.py).
                check.awarded = verdict.fraction * q.points
            check.message = feedback(quiz, q, given, verdict, student, answers.path)
        checks.append(check)
    return ExerciseResult(quiz.name, checks=checks)


def feedback(quiz, q, given, verdict, student, path: str) -> str:
    """What a report says about an answer: never the right answer, always a way on."""
    if verdict.passed:
        return ""
    from ..format import points

    retry = f"grade quiz {quiz.name} --retry"
    shown = _dump(given.value)
    if verdict.problem:
        line = f", line {given.line}" if given.line else ""
        return (f"Your answer {shown} ({path}{line}) cannot be read: {verdict.problem}. "
                f"Correct it there, or answer again with: {retry}")
    hint = f" Hint: {q.fill(q.hints[0], student)}" if q.hints else ""
    if verdict.fraction > 0:
        return (f"Partly right ({points(verdict.fraction * q.points)} of {points(q.points)} points): weigh each "
                f"choice on its own; a wrong pick costs as much as a right one earns.{hint} "
                f"Answer again with: {retry}")
    return f"Your answer {shown} is not right.{hint} Think it over, then answer again with: {retry}"
