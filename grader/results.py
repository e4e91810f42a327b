"""Results of grading: what every reporter is built from.

The data path is: course definition -> checks -> runner (isolated) -> results -> reporters.
These dataclasses are the "results" step. ``Report.to_dict()`` *is* the documented JSON
schema of ``grade --format json``; keep it stable, CI tools and other formats read it.

Schema (all keys always present)::

    {"score": float, "max_score": float,
     "exercises": [{"name": str, "score": float, "max_score": float,
                    "status": "passed" | "failed" | "not_started" | "error",
                    "checks": [{"name": str, "function": str,
                                "kind": "correctness" | "timing" | "quiz",
                                "passed": bool, "score": float, "max_score": float,
                                "message": str}]}]}
"""
from __future__ import annotations

from dataclasses import dataclass, field

PASSED = "passed"
FAILED = "failed"
NOT_STARTED = "not_started"
ERROR = "error"

STATUS_LABELS = {PASSED: "passed", FAILED: "failing", NOT_STARTED: "not started", ERROR: "error"}


@dataclass
class CheckResult:
    """The verdict of one check.

    ``not_started`` marks a check that could not run because the function still raises
    ``NotImplementedError``; such a check has ``passed=False``. ``error`` marks a check
    that could not run because the module itself is broken (syntax error, crash at import).
    """

    name: str
    function: str
    kind: str
    passed: bool
    max_score: float
    message: str = ""
    not_started: bool = False
    error: bool = False
    # Extra, reporter-only facts (e.g. visibility for Gradescope, seconds taken).
    # Not part of the JSON schema.
    extra: dict = field(default_factory=dict)
    # Partial credit (e.g. a multiple-choice quiz question half right): when set, it is
    # the score, whatever ``passed`` says.
    awarded: float | None = None

    @property
    def score(self) -> float:
        if self.awarded is not None:
            return self.awarded
        return self.max_score if self.passed else 0.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "function": self.function,
            "kind": self.kind,
            "passed": self.passed,
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "message": self.message,
        }


@dataclass
class ExerciseResult:
    """All check results of one exercise (a module of ``exercises/`` or a quiz)."""

    name: str
    checks: list[CheckResult] = field(default_factory=list)
    # A message about the whole exercise (e.g. "syntax error in vectors.py, line 3").
    message: str = ""

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)

    @property
    def passed_count(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    @property
    def status(self) -> str:
        if any(c.error for c in self.checks) or (self.message and not self.checks):
            return ERROR
        if self.checks and all(c.passed for c in self.checks):
            return PASSED
        if all(c.not_started for c in self.checks if not c.passed) and not any(
            c.passed for c in self.checks
        ):
            return NOT_STARTED
        return FAILED

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class Report:
    exercises: list[ExerciseResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    @property
    def all_passed(self) -> bool:
        return all(e.status == PASSED for e in self.exercises)

    def next_up(self) -> ExerciseResult | None:
        """The first exercise, in course order, that has not passed yet."""
        return next((e for e in self.exercises if e.status != PASSED), None)

    def to_dict(self) -> dict:
        return {
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "exercises": [e.to_dict() for e in self.exercises],
        }


def _num(x: float) -> float | int:
    """Whole numbers print as ints in JSON (``3`` not ``3.0``); others are rounded."""
    x = round(float(x), 6)
    return int(x) if x == int(x) else x
