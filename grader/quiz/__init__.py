"""Quizzes: questions on the course's ideas, graded offline (issue 5 fills this in).

Contract with the rest of the grader:

- ``quiz_names()`` -> the quiz names in course order (each is an exercise in reports).
- ``grade_quizzes(names, source_dir, student)`` -> one ExerciseResult per quiz, each
  question a check of kind ``quiz``; answers are read from ``<source_dir>/quizzes/``.
"""
from __future__ import annotations

from ..results import ExerciseResult


def quiz_names() -> list[str]:
    return []


def grade_quizzes(names: list[str], source_dir: str, student: str | None = None) -> list[ExerciseResult]:
    return []
