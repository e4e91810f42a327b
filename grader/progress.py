"""A small state file remembering each exercise's last results, for ``grade list``, hints and replay.

Kept at ``.grade/progress.json`` in the current directory, keyed by the graded folder
(its absolute path), then by exercise::

    {"/home/me/course/exercises": {
        "vectors": {
            "status": "failed", "state": "failed", "score": 12, "max_score": 25,
            "untimed": true,                     # graded without the timed runs (grade --no-timing)
            "source": "<sha1 of vectors.py when it was graded>",
            "message": "",                       # the import error, for status "error"
            "functions": {"dot": {"status": "passed", "state": "too_slow", "check": "", "message": ""},
                          "cross": {"status": "failed", "state": "failed", "check": "agrees with NumPy",
                                    "message": "cross(a=[...], b=[...]) returned ..."}},
            "hints": {"cross": 2},               # hints shown so far, per function
            "replay": {"function": "cross", "check": "agrees_with_numpy",
                       "title": "agrees with NumPy", "message": "...",
                       "example": {"value": <wire tree>, "buffers": [<base64>, ...]}}},
        "linear_algebra": {                      # a quiz
            "status": "failed", "state": "failed", "score": 3, "max_score": 15,
            "tries": {"dot_product": 3},         # wrong answers given in grade quiz, per question
            "revealed": ["dot_product"]}}}       # questions whose answer grade quiz --reveal showed

``status`` is the JSON report's; ``state`` is what the screens show (``too_slow``: correct
but too slow, see grader/results.py). ``score`` and ``max_score`` are on one scale, the
scale of a graded report: the timed runs' points are in ``max_score`` even after a run
without them (``untimed``), so ``grade list``, ``grade watch`` and ``grade`` agree on every
total.

It only feeds displays and ``grade EXERCISE --replay``: verdicts are always computed
afresh. The saved example is encoded with the runner's wire format (JSON plus raw
buffers, here base64'd), never pickled, so reading the file back can never run code.
A failure to read or write the file never affects grading: it is read through
:func:`grader.gate.load_state_json`, so one that is huge, nested without end, a link or
not JSON is set aside (``progress.json.broken``) with one warning on stderr.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import click

from . import gate
from .atomic import write_atomic
from .results import ERROR, FAILED, NOT_STARTED, PASSED, TOO_SLOW, Report

STATE_DIR = ".grade"
STATE_FILE = os.path.join(STATE_DIR, "progress.json")

MAX_EXAMPLE_BYTES = 2 * 1024 * 1024  # larger failing examples are not kept for replay
MAX_EXAMPLE_DEPTH = 40  # deeper ones neither: the file as a whole may nest at most MAX_STATE_DEPTH
MAX_MESSAGE = 1500
# Several saved examples of up to 2 MB (base64'd) fit; far more is not a file the grader wrote.
MAX_STATE_BYTES = 64 * 1024 * 1024
MAX_STATE_DEPTH = 64

_warned: set[str] = set()


# ----------------------------------------------------------------------------- reading and writing


def _read_all() -> dict:
    data, warning = gate.load_state_json(STATE_FILE, max_bytes=MAX_STATE_BYTES, max_depth=MAX_STATE_DEPTH)
    if warning is not None and warning not in _warned:
        _warned.add(warning)
        click.echo(click.style("warning: ", fg="yellow", bold=True) + warning, err=True)
    return data if isinstance(data, dict) else {}


def _write_all(data: dict) -> None:
    try:
        write_atomic(STATE_FILE, json.dumps(data, indent=1))
    except (OSError, TypeError, ValueError):
        pass


def load(source_dir: str) -> dict:
    """``{exercise: {"status", "score", "max_score", ...}}`` from the last runs on ``source_dir``."""
    entry = _read_all().get(os.path.abspath(source_dir), {})
    if not isinstance(entry, dict):
        return {}
    return {k: v for k, v in entry.items() if isinstance(v, dict)}


def load_exercise(source_dir: str, exercise: str) -> dict:
    return load(source_dir).get(exercise, {})


def update_exercise(source_dir: str, exercise: str, change) -> dict:
    """Read-modify-write one exercise's entry: ``change(entry)`` edits it in place."""
    data = _read_all()
    folder = data.get(os.path.abspath(source_dir))
    if not isinstance(folder, dict):
        folder = data[os.path.abspath(source_dir)] = {}
    entry = folder.get(exercise)
    if not isinstance(entry, dict):
        entry = folder[exercise] = {}
    change(entry)
    _write_all(data)
    return entry


def source_hash(source_dir: str, exercise: str) -> str:
    """The sha1 of ``<source_dir>/<exercise>.py`` ("" if it cannot be read or the gate refuses it:
    a link to /dev/zero or a FIFO is never read here either)."""
    try:
        return hashlib.sha1(gate.read_file(os.path.join(source_dir, f"{exercise}.py"))).hexdigest()
    except (OSError, gate.GateError):
        return ""


# ----------------------------------------------------------------------------- saving a run


def function_states(result) -> dict:
    """``{function: {"status", "state", "check", "message"}}`` from an exercise's checks.

    ``status``: passed when every one of the function's correctness checks passes (what
    hints go by); ``state``: what the screens show, ``too_slow`` when it is correct but a
    timed run is too slow. ``check`` and ``message`` describe its first failing
    correctness check.
    """
    shown = result.function_states()
    states: dict[str, dict] = {}
    for c in result.checks:
        if c.kind != "correctness":
            continue
        state = states.setdefault(c.function, {"status": PASSED, "state": shown.get(c.function, PASSED),
                                               "check": "", "message": ""})
        if c.passed:
            continue
        status = ERROR if c.error else NOT_STARTED if c.not_started else FAILED
        if state["status"] == PASSED or (state["status"] == NOT_STARTED and status != NOT_STARTED):
            state.update(status=status, check=c.name, message=c.message[:MAX_MESSAGE])
    return states


def timed_points(exercise) -> float:
    """What the timed runs of ``exercise`` are worth here: nothing for those this machine
    cannot time (no reference solutions, CUDA-only without CUDA), as in a graded report."""
    specs = exercise.timing_specs()
    if not specs:
        return 0.0
    from .timing.check import unmeasurable_specs

    unmeasurable = unmeasurable_specs(exercise, specs, None)
    return sum(t.points for t in specs if t not in unmeasurable)


def full_max_score(exercise) -> float:
    """An exercise's points on the one scale every screen uses: its checks' and its timed runs'."""
    return round(exercise.max_score + timed_points(exercise), 6)


def shown_state(entry: dict) -> str | None:
    """The state a saved entry shows (``too_slow`` included); None when never graded."""
    state = entry.get("state", entry.get("status"))
    return state if isinstance(state, str) else None


def is_correct(entry: dict) -> bool:
    """Whether a saved exercise is right: passed, or correct but too slow."""
    return shown_state(entry) in (PASSED, TOO_SLOW)


def course_points(course, saved: dict) -> tuple[float, float]:
    """``(points, max points)`` of the code exercises, on the one scale (see :func:`save`)."""
    total = earned = 0.0
    for e in course.exercises:
        top = full_max_score(e)
        total += top
        score = saved.get(e.name, {}).get("score", 0)
        earned += min(float(score), top) if isinstance(score, (int, float)) else 0.0
    return round(earned, 6), round(total, 6)


# What a run does not decide, kept from the entry before it: a quiz's wrong tries and
# revealed questions (grade quiz --reveal).
_KEPT = ("tries", "revealed")


def save(source_dir: str, report: Report, *, files_dir: str | None = None, course=None) -> None:
    """Merge this run's results in; a failure to write never affects grading.

    Hint counters are kept, except for functions that now pass (their hints start over
    if they ever fail again). The first failing check's smallest example is kept for
    ``grade EXERCISE --replay``. The state is kept under the learner's ``source_dir``;
    ``files_dir`` (the snapshot that was graded) is where the modules' hashes come from.

    With ``course``, an exercise graded without its timed runs (``--no-timing``, a hint's
    regrade) is saved on the scale of a graded report all the same: its ``max_score``
    includes the timed runs' points, which it has not earned yet (``untimed``).
    """
    try:
        data = _read_all()
        folder = data.get(os.path.abspath(source_dir))
        if not isinstance(folder, dict):
            folder = data[os.path.abspath(source_dir)] = {}
        for e in report.exercises:
            old = folder.get(e.name) if isinstance(folder.get(e.name), dict) else {}
            entry = {"status": e.status, "state": e.state, "score": e.score, "max_score": e.max_score}
            if course is not None and e.name in course.names() and not any(c.kind == "timing" for c in e.checks):
                missing = timed_points(course.get(e.name))
                if missing:  # not timed: worth nothing yet; "untimed" when timing could have earned them
                    entry.update(max_score=round(e.max_score + missing, 6))
                    if e.state == PASSED:
                        entry["untimed"] = True
            entry.update({k: old[k] for k in _KEPT if k in old})
            functions = function_states(e)
            if functions:
                entry["functions"] = functions
                entry["source"] = source_hash(files_dir or source_dir, e.name)
            if e.status == ERROR:
                entry["message"] = (e.message or next((c.message for c in e.checks if c.message), ""))[:MAX_MESSAGE]
            hints = old.get("hints") if isinstance(old.get("hints"), dict) else {}
            hints = {f: n for f, n in hints.items()
                     if isinstance(n, int) and functions.get(f, {}).get("status") != PASSED}
            if hints:
                entry["hints"] = hints
            replay = _replay_entry(e)
            if replay is not None:
                entry["replay"] = replay
            folder[e.name] = entry
        _write_all(data)
    except (OSError, TypeError, ValueError, AttributeError):
        pass


def reset_hints(source_dir: str, exercise: str) -> None:
    update_exercise(source_dir, exercise, lambda entry: entry.pop("hints", None))


# ----------------------------------------------------------------------------- replay examples


def _replay_entry(result) -> dict | None:
    """The first failing correctness check that left a replayable example (see grading.run_check)."""
    for c in result.checks:
        if c.passed or c.not_started or c.error or c.kind != "correctness":
            continue
        replay = c.extra.get("replay") if isinstance(c.extra, dict) else None
        if not isinstance(replay, dict) or "example" not in replay:
            continue
        encoded = encode_example(replay["example"])
        if encoded is None:
            continue
        return {"function": c.function, "check": replay.get("check", ""), "title": c.name,
                "message": c.message[:MAX_MESSAGE], "example": encoded}
    return None


def encode_example(example) -> dict | None:
    """A check's example (a tuple of arguments) as wire JSON with base64 buffers, or None."""
    from .runner.expressions import Function
    from .runner.wire import encode

    buffers: list = []
    try:
        tree = encode(tuple(example), buffers,
                      expr_to_tree=lambda v: v.to_wire() if isinstance(v, Function) else None)
    except Exception:
        return None
    text = json.dumps(tree)
    if '"opaque"' in text or sum(len(b) for b in buffers) > MAX_EXAMPLE_BYTES \
            or gate.json_depth(text.encode(), MAX_EXAMPLE_DEPTH) > MAX_EXAMPLE_DEPTH:
        return None  # something that cannot travel faithfully, or too big to keep
    return {"value": tree, "buffers": [base64.b64encode(b).decode("ascii") for b in buffers]}


def decode_example(encoded) -> tuple:
    """Inverse of :func:`encode_example`; raises ValueError on anything malformed."""
    from .runner.expressions import validate
    from .runner.wire import WireError, decode

    try:
        buffers = [base64.b64decode(b, validate=True) for b in encoded["buffers"]]
        value = decode(encoded["value"], buffers, expr_factory=validate)
    except (KeyError, TypeError, ValueError, WireError) as exc:
        raise ValueError(f"the saved example cannot be read ({exc})") from None
    if not isinstance(value, tuple):
        raise ValueError("the saved example is not a tuple of arguments")
    return value
