"""Results of grading: what every reporter is built from.

The data path is: course definition -> checks -> runner (isolated) -> results -> reporters.
These dataclasses are the "results" step. ``Report.to_dict()`` *is* the documented JSON
schema of ``grade --format json``; keep it stable, CI tools and other formats read it.

Schema (all keys always present)::

    {"score": float, "max_score": float,
     "sandbox": "namespaces" | "uid" | "none",
     "seed": "public" | "secret",
     "exercises": [{"name": str, "score": float, "max_score": float,
                    "status": "passed" | "failed" | "not_started" | "error",
                    "state": "passed" | "too_slow" | "failed" | "not_started" | "error",
                    "functions": {function: state, ...},
                    "checks": [{"name": str, "function": str,
                                "kind": "correctness" | "timing" | "quiz",
                                "passed": bool, "score": float, "max_score": float,
                                "message": str}]}]}

``state`` is what a learner sees: ``status``, except that an exercise whose correctness
checks all pass and whose only failures are timed runs that were too slow is
``too_slow`` ("correct but too slow"), where ``status`` says ``failed``. ``functions``
gives the same state for each function in course order (for a quiz: each question),
so a report says which function is right, which is right but too slow, which fails.

``sandbox`` is the isolation the learner's code ran under (see docs/security.md): ``namespaces``
(bubblewrap: its own mount, PID, IPC and network namespaces), ``uid`` (a fresh user per
learner process, where namespaces are refused, e.g. in a Docker container) or ``none``
(the grader's own user: practice only). When exercises ran under different modes, the
weakest counts; a report of quizzes alone gives the machine's mode.

``seed`` is the kind of seed the examples came from (see grader/seeds.py): ``public``
(the course's seed: practice, anyone can reproduce the inputs) or ``secret`` (a teacher's
secret seed: official grades, inputs no one could compute in advance). The secret itself,
or anything computed from it, is never in a report.

Every string that may come from a submission (a check's ``message``; names; string values
of ``extra``) is passed through :func:`grader.text.clean` whenever it is set, so a report
never holds a lone surrogate, a control character (but newline and tab) or more than
``grader.text.DEFAULT_LIMIT`` characters in one message, and every format can be written.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .text import DEFAULT_LIMIT, clean

PASSED = "passed"
FAILED = "failed"
NOT_STARTED = "not_started"
ERROR = "error"

# The state a learner sees, per function and per exercise: ``status`` (the JSON schema's,
# unchanged) with one more value. A function whose correctness checks all pass but whose
# timed run is too slow is *correct* (the docstrings say a plain loop is a right answer)
# and shows as "correct but too slow", not as failing. An exercise is too slow when all
# its correctness checks pass and only timed runs fail that way.
TOO_SLOW = "too_slow"
STATES = (PASSED, TOO_SLOW, FAILED, NOT_STARTED, ERROR)

STATUS_LABELS = {PASSED: "passed", TOO_SLOW: "correct but too slow", FAILED: "failing",
                 NOT_STARTED: "not started", ERROR: "error"}

# Isolation modes, weakest first (see docs/security.md).
SANDBOX_MODES = ("none", "uid", "namespaces")
# Older names of the modes (LearnerProcess.sandbox before namespaces): a uid of its own
# (with or without the right to read every file), or the grader's own user.
_SANDBOX_ALIASES = {"user": "uid", "user+read": "uid", "off": "none"}
# What each mode means, in a few words (reports print them; docs/security.md has the details).
SANDBOX_NOTES = {
    "namespaces": "bubblewrap",
    "uid": "a fresh user per learner process, without namespaces",
    "none": "learner code ran without isolation: practice only",
}

# Fields that may hold learner-controlled text; cleaned whenever they are set.
_TEXT_FIELDS = frozenset({"name", "function", "message"})


def sandbox_name(mode) -> str:
    """``mode`` as one of :data:`SANDBOX_MODES` (older names mapped; anything unknown is ``none``)."""
    mode = _SANDBOX_ALIASES.get(str(mode or "").strip().lower(), str(mode or "").strip().lower())
    return mode if mode in SANDBOX_MODES else "none"


def machine_sandbox(torch: bool = False) -> str:
    """The isolation this machine gives learner code (``none`` when that cannot be told)."""
    try:
        from .runner.sandbox import sandbox_mode

        return sandbox_name(sandbox_mode(torch=torch))
    except Exception:  # noqa: BLE001 - a report is still written; it claims no isolation
        return "none"


# What a message keeps of its end when it is cut: the hint and the file and line come last.
_TAIL = DEFAULT_LIMIT // 4


def _clean_text(value, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` cleaned (see grader/text.py) and at most ``limit`` characters.

    A text too long is cut in the middle, not at the end: its start (what went wrong) and
    its last ``limit // 4`` characters (the hint, the file and line) are kept.
    """
    if value is None:
        return ""
    text = value if type(value) is str else clean(value, 4 * limit)
    if len(text) <= 2 * limit:  # an escape is at most 6 characters (\\udcff)
        whole = clean(text, 12 * limit)
        if len(whole) <= limit:
            return whole
    tail = min(_TAIL, len(text) // 2)
    end = clean(text[len(text) - tail:], 6 * tail)[-(limit // 2):]
    head = clean(text[: min(len(text) - tail, limit)], 6 * limit)
    return head[: limit - len(end) - 1] + "…" + end


_NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?|nan|inf)"
# NumPy 2's scalar reprs (np.float64(0.5), np.True_) and array reprs of plain numbers
# (array([1., 2.]), array(3.)); not when preceded by a name or a dot (np.array(...) in code).
_SCALAR_REPR = re.compile(rf"(?<![\w.])np\.(?:float|int|uint|complex)\d*\(({_NUMBER}(?:[-+]{_NUMBER}j)?)\)",
                          re.IGNORECASE)
_BOOL_REPR = re.compile(r"(?<![\w.])np\.(True|False)_(?!\w)")
_ARRAY_REPR = re.compile(r"(?<![\w.])array\((\[[-+\d.einfa,\s\[\]]*\]|" + _NUMBER + r")(?:,\s*dtype=[\w.]+)?\)")


def plain_numbers(text: str) -> str:
    """``text`` with NumPy reprs of numbers written as plain numbers and lists, as a learner
    writes them: ``np.float64(0.0)`` → ``0.0``, ``array([1., 2.])`` → ``[1.0, 2.0]``.

    Messages are built from values with :func:`grader.format.show`; this is the safety net
    for a value that reached a message through an f-string's repr."""
    if "np." not in text and "array(" not in text:
        return text
    text = _SCALAR_REPR.sub(lambda m: m.group(1), text)
    text = _BOOL_REPR.sub(lambda m: m.group(1), text)

    def listed(m: re.Match) -> str:
        inner = re.sub(r"\s+", " ", m.group(1))
        inner = re.sub(r"(\d)\.(?![\d])", r"\1.0", inner)  # 1. → 1.0
        return re.sub(r"\s*\]", "]", re.sub(r"\[\s*", "[", inner))

    return _ARRAY_REPR.sub(listed, text)


def _clean_message(value) -> str:
    return plain_numbers(_clean_text(value))


def _clean_extra(extra) -> dict:
    """``extra`` with its string values cleaned (nested data, e.g. a replay example, is kept)."""
    if not isinstance(extra, dict):
        return {}
    return {k: clean(v) if isinstance(v, str) else v for k, v in extra.items()}


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

    def __setattr__(self, key, value):
        if key == "message":
            value = _clean_message(value)
        elif key in _TEXT_FIELDS:
            value = _clean_text(value)
        object.__setattr__(self, key, value)

    def __post_init__(self):
        self.extra = _clean_extra(self.extra)

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
    # The isolation its learner process ran under ("namespaces", "uid", "none"; older
    # names are mapped); "" when no learner code ran (a quiz, a missing module).
    sandbox: str = ""

    def __setattr__(self, key, value):
        if key == "message":
            value = _clean_message(value)
        elif key in _TEXT_FIELDS:
            value = _clean_text(value)
        elif key == "sandbox":
            value = sandbox_name(value) if value else ""
        object.__setattr__(self, key, value)

    @property
    def score(self) -> float:
        return _total(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return _total(c.max_score for c in self.checks)

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

    @property
    def state(self) -> str:
        """What a learner sees: :attr:`status`, or ``too_slow`` for a correct exercise whose
        only failures are timed runs that were too slow (see :func:`checks_state`)."""
        if self.message and not self.checks:
            return ERROR
        return checks_state(self.checks)

    def function_states(self) -> dict[str, str]:
        """``{function: state}`` in the order of the checks (for a quiz: each question)."""
        by_function: dict[str, list] = {}
        for c in self.checks:
            by_function.setdefault(c.function, []).append(c)
        return {name: checks_state(checks) for name, checks in by_function.items()}

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "status": self.status,
            "state": self.state,
            "functions": self.function_states(),
            "checks": [c.to_dict() for c in self.checks],
        }


# Timed-run outcomes (grader/timing/measure.py) that say nothing against the answer itself;
# "wrong" (a wrong answer on the large input) and "raised" do.
_SPEED_OUTCOMES = frozenset({"pass", "fail", "undecided", "skipped", "error"})


def too_slow(check: CheckResult) -> bool:
    """Whether ``check`` is a timed run that failed on speed alone: it ran, every answer it
    saw was right, and the learner's function took too long."""
    if check.kind != "timing" or check.passed or check.not_started or check.error:
        return False
    rows = check.extra.get("timing") if isinstance(check.extra, dict) else None
    return all(isinstance(r, dict) and r.get("outcome") in _SPEED_OUTCOMES for r in rows or [])


def checks_state(checks) -> str:
    """The state of one function, or of a whole exercise, from its checks.

    ``error`` (the module cannot be graded), ``passed`` (every check), ``not_started``
    (nothing passes and every failure is a stub), ``too_slow`` (every correctness check
    passes and every failure is a timed run that was too slow: correct, but not fast
    enough yet) or ``failed``.
    """
    checks = list(checks)
    if any(c.error for c in checks):
        return ERROR
    if checks and all(c.passed for c in checks):
        return PASSED
    failing = [c for c in checks if not c.passed]
    if all(c.not_started for c in failing) and not any(c.passed for c in checks):
        return NOT_STARTED
    if all(too_slow(c) for c in failing) and any(c.kind != "timing" for c in checks):
        return TOO_SLOW
    return FAILED


SEED_KINDS = ("public", "secret")


@dataclass
class Report:
    exercises: list[ExerciseResult] = field(default_factory=list)
    # The kind of seed the examples came from: "public" or "secret" (never the secret).
    seed: str = "public"

    def __setattr__(self, key, value):
        if key == "seed":
            value = value if value in SEED_KINDS else "public"
        object.__setattr__(self, key, value)

    @property
    def score(self) -> float:
        return _total(c.score for e in self.exercises for c in e.checks)

    @property
    def max_score(self) -> float:
        return _total(c.max_score for e in self.exercises for c in e.checks)

    @property
    def all_passed(self) -> bool:
        return all(e.status == PASSED for e in self.exercises)

    @property
    def sandbox(self) -> str:
        """The weakest isolation any exercise ran under; the machine's when no code ran."""
        modes = [e.sandbox for e in self.exercises if e.sandbox]
        if not modes:
            return machine_sandbox()
        return min(modes, key=SANDBOX_MODES.index)

    def next_up(self) -> ExerciseResult | None:
        """The first exercise, in course order, that is not right yet; when every one is
        right, the first that is still too slow (correctness comes before speed)."""
        return (next((e for e in self.exercises if e.state not in (PASSED, TOO_SLOW)), None)
                or next((e for e in self.exercises if e.state == TOO_SLOW), None))

    def to_dict(self) -> dict:
        return {
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "sandbox": self.sandbox,
            "seed": self.seed,
            "exercises": [e.to_dict() for e in self.exercises],
        }


def _total(values) -> float:
    """The sum of points without float drift: added exactly (``math.fsum``) from the checks'
    own scores (never from rounded subtotals), then rounded once, like every printed number,
    to 6 decimals. Three partial credits of 2/3 make exactly 2 in every format."""
    return round(math.fsum(float(v) for v in values), 6)


def _num(x: float) -> float | int:
    """Whole numbers print as ints in JSON (``3`` not ``3.0``); others are rounded."""
    x = round(float(x), 6)
    return int(x) if x == int(x) else x
