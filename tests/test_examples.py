"""No work twice (grader/examples.py): kept examples, replayed and sent ahead, change nothing.

With the examples of a check kept, the learner's code sees the same calls in the same order
as in a run without them (which matters to code that keeps state between calls), and the
report is the same, failures and shrunk examples included; examples from a secret seed
never reach the disk; only what the wire format carries exactly is kept.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest

from grader import examples
from grader.runner.expressions import Function
from grader.runner.sandbox import LearnerProcess
from grader.seeds import Seed
from helpers import grade_exercise, submission

# Right, except that every seventh call is wrong: a verdict that depends on the order of calls.
STATEFUL_DOT = """
_calls = [0]

def dot(a, b):
    _calls[0] += 1
    return float(a @ b) + (1.0 if _calls[0] % 7 == 0 else 0.0)
"""
DOT_ONLY = {"functions": {"vectors": ["dot"]}}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GRADE_CACHE_DIR", str(folder))
    monkeypatch.delenv("GRADE_EXAMPLE_CACHE", raising=False)
    examples._memory.clear()
    yield folder / "examples"
    examples._memory.clear()


@pytest.fixture
def frames(monkeypatch):
    """Every call frame sent to each learner process, in order (one by one, or ahead)."""
    sent: dict[int, list] = collections.defaultdict(list)
    send, ahead = LearnerProcess._send_frame, LearnerProcess.prefetch

    def send_frame(self, frame, timeout=None):
        sent[id(self)].append(frame)
        return send(self, frame, timeout)

    def prefetch(self, batch):
        sent[id(self)].extend(batch)
        return ahead(self, batch)

    monkeypatch.setattr(LearnerProcess, "_send_frame", send_frame)
    monkeypatch.setattr(LearnerProcess, "prefetch", prefetch)
    return sent


def calls(sent) -> list[list[bytes]]:
    return [[f for f in frames if b'"op": "call"' in f] for frames in sent.values()]


def report(result) -> str:
    data = result.to_dict()
    for check in data["checks"]:
        check.pop("seconds", None)
        check.get("extra", {}).pop("seconds", None)
    return json.dumps(data, sort_keys=True, default=str)


def plain_run(folder, frames, monkeypatch):
    """The report and the calls of a run without kept examples."""
    monkeypatch.setenv("GRADE_EXAMPLE_CACHE", "0")
    result = grade_exercise(folder, "vectors", **DOT_ONLY)
    (sent,) = calls(frames)
    frames.clear()
    monkeypatch.delenv("GRADE_EXAMPLE_CACHE")
    return result, sent


@pytest.mark.parametrize("dot", [None, STATEFUL_DOT], ids=["right", "stateful"])
def test_with_calls_sent_ahead_the_learner_sees_the_calls_of_a_plain_run(tmp_path, cache, frames, monkeypatch, dot):
    folder = submission(tmp_path / "sub", "vectors", replace={"dot": dot} if dot else None)
    plain, without = plain_run(folder, frames, monkeypatch)
    grade_exercise(submission(tmp_path / "right", "vectors"), "vectors", **DOT_ONLY)  # keeps examples and calls
    frames.clear()
    result = grade_exercise(folder, "vectors", **DOT_ONLY)
    assert report(result) == report(plain)
    processes = calls(frames)
    # Right: one process, its calls sent ahead. Stateful: that attempt fails, and a fresh
    # process makes exactly the calls of a plain run.
    assert len(processes) == (1 if dot is None else 2)
    assert processes[-1] == without
    assert list(cache.iterdir()), "kept on disk for the next grade"


def test_a_check_that_failed_keeps_nothing_and_is_run_by_hypothesis_again(tmp_path, cache, frames, monkeypatch):
    """Only a run in which every example passed is kept (then its examples are exactly
    hypothesis's); the checks that passed are replayed, the one that failed is not."""
    folder = submission(tmp_path / "sub", "vectors", replace={"dot": STATEFUL_DOT})
    plain, without = plain_run(folder, frames, monkeypatch)
    assert plain.status == "failed"
    for run in ("recorded", "replayed"):
        result = grade_exercise(folder, "vectors", **DOT_ONLY)
        assert report(result) == report(plain), run
        assert calls(frames) == [without], run
        frames.clear()


def test_examples_of_a_secret_seed_never_reach_the_disk(tmp_path, cache):
    folder = submission(tmp_path / "sub", "vectors")
    result = grade_exercise(folder, "vectors", seed=Seed(0, b"a secret of sixteen or more"), **DOT_ONLY)
    assert result.status == "passed"
    assert not cache.exists() or not list(cache.iterdir())
    assert examples._memory, "kept in memory for this process only"


def test_only_what_comes_back_exactly_is_kept():
    kept = [(np.arange(6.0).reshape(2, 3), 1.5, -0.0), (Function.scalar(["sin", ["var", 0]]), 2.0),
            {"x": np.float32(1.25)}, ("float64", 7, True, None)]
    for example in kept:
        buffers: list = []
        node = examples.encode(example, buffers)
        again = examples.decode(node, buffers)
        assert examples.ExampleRun._same(example, again)
    not_kept = [(np.arange(6.0).reshape(2, 3).T,), (collections.namedtuple("P", "x")(1.0),),
                ({1: 2.0},), ("x" * 5000,), (object(),)]
    for example in not_kept:
        with pytest.raises(examples.NotKept):
            examples.encode(example, [])


def test_a_damaged_or_foreign_cache_file_is_ignored(tmp_path, cache):
    folder = submission(tmp_path / "sub", "vectors")
    first = grade_exercise(folder, "vectors", **DOT_ONLY)
    files = list(cache.iterdir())
    assert files
    files[0].write_bytes(b"\xff" * 64)
    if len(files) > 1:
        files[1].write_bytes(Path(files[0]).read_bytes()[:10])
    examples._memory.clear()
    assert report(grade_exercise(folder, "vectors", **DOT_ONLY)) == report(first)


def test_grade_example_cache_0_keeps_nothing(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("GRADE_EXAMPLE_CACHE", "0")
    folder = submission(tmp_path / "sub", "vectors")
    assert grade_exercise(folder, "vectors", **DOT_ONLY).status == "passed"
    assert not cache.exists() and not examples._memory
