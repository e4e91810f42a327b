"""The public API for writing checks: what a course's ``checks/<exercise>.py`` imports.

Everything a check module needs has a stable home here, so a course folder never reaches
into the grader's private modules::

    import numpy as np
    from grader.authoring import Registry, expect_close, strategies as S

    checks = Registry("cross_entropy")

    @checks.add("cross_entropy", "agrees_with_the_formula", S.matrices_of_rows())
    def _(learner, tol, logits):
        ...
        expect_close(learner.cross_entropy(logits, labels), expected, tol, learner=learner)

- :class:`Registry` collects an exercise's checks: ``@checks.add(function, check_id,
  strategy)`` registers a body ``(learner, tol, *example)``; the course file says which
  checks count and their points, tolerances and hints. Without a strategy a check runs once.
- ``learner.<function>(...)`` calls the learner's function in its own locked-down process
  and returns plain data (numbers, strings, lists, arrays, tensors); ``learner.last_call``
  is how the call reads in messages.
- The ``expect_*`` helpers fail a check with a message that teaches: what was called, what
  came back, what was expected. :func:`fail` fails with a message of your own.
- A :class:`Slip` names a recognisable mistake (its value on an example, why, a hint);
  :func:`fail_with` and :func:`diagnose` (with a :func:`probing` of fixed inputs) turn a
  wrong value into "that is ..." and the mistake's own hint.
- A law (symmetry, linearity) is judged on the learner's own values: :func:`judged_number`
  and :func:`judged_array` accept a value the law can weigh, and otherwise raise
  :class:`NotJudged` (through :func:`not_judged`): the check fails once, pointing at the
  value check that reports the real problem.
- :mod:`strategies` holds the shared hypothesis strategies (``reals``, ``vectors``,
  ``arrays``, ``matrices_of_rows``, ...): generated inputs of varied shapes and sizes.
- :func:`assert_caught` and :func:`assert_passes` test the checks themselves: a planted
  mistake must be caught by the check meant to catch it, and a right answer written another
  way must pass every check.

Check modules are trusted teacher code: the grader imports them in its own process, never
in a learner's. Documentation and a worked example: docs/authoring.md and
examples/cross_entropy_course/.
"""
from __future__ import annotations

import os
import tempfile
import textwrap

from . import strategies
from .checks.base import (Learner, NotJudged, Registry, Slip, Tolerance, as_array, as_number, close_enough,
                          diagnose, expect_array, expect_close, expect_float, expect_inputs_unchanged, fail,
                          fail_with, judged_array, judged_number, not_judged, probing)
from .course import COURSE_FILE, PACKAGE_ROOT, Course, course_folder, load_course
from .results import CheckResult, ExerciseResult

__all__ = [
    "Registry", "Learner", "Tolerance", "Slip", "strategies",
    "expect_close", "expect_float", "expect_array", "expect_inputs_unchanged",
    "as_number", "as_array", "close_enough", "fail", "fail_with",
    "diagnose", "probing", "NotJudged", "not_judged", "judged_number", "judged_array",
    "assert_caught", "assert_passes", "grade_planted",
]


def _course_and_solutions(course) -> tuple[Course, str, str | None]:
    """(course, its solutions folder, its course folder or None) from a Course, a course
    folder's path, or None (the active course: ``$GRADE_COURSE`` or the packaged one)."""
    if course is None or isinstance(course, (str, os.PathLike)):
        folder = course_folder(None if course is None else os.fspath(course))
        return load_course(folder.course_file), folder.solutions, folder.root
    if os.path.realpath(course.path) == os.path.realpath(COURSE_FILE):
        return course, os.path.join(PACKAGE_ROOT, "solutions"), None
    root = os.path.dirname(os.path.abspath(course.path))
    return course, os.path.join(root, "solutions"), root


def grade_planted(course, exercise: str, function: str, source: str, *, seed: int = 0) -> ExerciseResult:
    """Grade the checks of ``exercise.function`` on the course's solution module with
    ``source`` added at its end (a later ``def`` replaces the solution's function).

    ``course``: a :class:`~grader.course.Course`, a course folder's path, or None for the
    course being graded (``$GRADE_COURSE``, else the packaged course). ``source`` is
    dedented, so it can be written indented in a test. The learner's code runs in its own
    process, exactly as under ``grade``.
    """
    from .context import off_limits
    from .grading import grade_exercise

    course, solutions, root = _course_and_solutions(course)
    spec = course.get(exercise) if exercise in course.names() else None
    if spec is None:
        raise AssertionError(f"the course has no exercise {exercise!r} (it has {', '.join(course.names())})")
    if function not in [f.name for f in spec.functions]:
        raise AssertionError(f"{exercise} has no function {function!r} in the course file "
                             f"(it has {', '.join(f.name for f in spec.functions)})")
    with open(os.path.join(solutions, spec.module_file), encoding="utf-8") as f:
        text = f.read()
    planted = textwrap.dedent(source).strip("\n")
    with tempfile.TemporaryDirectory(prefix="dlgrade-planted-") as folder:
        with open(os.path.join(folder, spec.module_file), "w", encoding="utf-8") as f:
            f.write(f"{text}\n\n# --- planted\n{planted}\n")
        with off_limits(os.path.realpath(root) if root else None):
            return grade_exercise(spec, folder, seed, [function])


def _check_ids(course: Course, exercise: str, result: ExerciseResult) -> dict[str, CheckResult]:
    titles = {(c.function, c.title): c.id for c in course.get(exercise).checks()}
    return {titles.get((c.function, c.name), c.name): c for c in result.checks}


def _summary(result: ExerciseResult, by_id: dict[str, CheckResult]) -> str:
    lines = []
    for check_id, c in by_id.items():
        mark = "passed" if c.passed else ("not started" if c.not_started else "failed")
        message = f": {c.message.splitlines()[0]}" if c.message else ""
        lines.append(f"  {c.function}.{check_id} {mark}{message}")
    return "\n".join(lines) or f"  (no checks ran: {result.message})"


def assert_caught(course, exercise: str, function: str, planted_source: str, check_id: str, *,
                  only: bool = False, seed: int = 0) -> CheckResult:
    """Assert that the planted mistake ``planted_source`` is caught by the check ``check_id``.

    The mistake is a redefinition of ``function`` (e.g. ``def cross_entropy(logits, labels):
    ...``), graded on the course's solution module as :func:`grade_planted` does. The check
    must fail with a message (not as *not started*, not because the module broke); with
    ``only``, every other check of the function must pass. Returns the failing check's
    result, whose ``message`` a test may read further. An AssertionError lists every
    check's verdict.
    """
    course_obj, _, _ = _course_and_solutions(course)
    result = grade_planted(course_obj, exercise, function, planted_source, seed=seed)
    by_id = _check_ids(course_obj, exercise, result)
    if check_id not in by_id:
        raise AssertionError(f"{function} has no check {check_id!r}; its checks:\n{_summary(result, by_id)}")
    caught = by_id[check_id]
    if caught.passed or caught.not_started or result.status == "error":
        raise AssertionError(f"the planted mistake was not caught by {function}.{check_id}:\n"
                             f"{_summary(result, by_id)}")
    if only:
        others = [i for i, c in by_id.items() if i != check_id and not c.passed]
        if others:
            raise AssertionError(f"the planted mistake should fail {function}.{check_id} only, but "
                                 f"{', '.join(others)} failed too:\n{_summary(result, by_id)}")
    return caught


def assert_passes(course, exercise: str, function: str, source: str, *, seed: int = 0) -> ExerciseResult:
    """Assert that ``source``, a right answer written another way, passes every check of
    ``function`` (a check that rejects it is too strict: fix the check, not the answer)."""
    course_obj, _, _ = _course_and_solutions(course)
    result = grade_planted(course_obj, exercise, function, source, seed=seed)
    by_id = _check_ids(course_obj, exercise, result)
    if not by_id or not all(c.passed for c in by_id.values()):
        raise AssertionError(f"this right answer of {function} does not pass every check:\n"
                             f"{_summary(result, by_id)}")
    return result
