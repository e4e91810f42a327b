"""Hostile submissions whose defence is the secret seed (grader/seeds.py).

The grader ships with the course, and so does its public seed: every input a check sends
can be recorded offline, and every piece of data the grader makes can be regenerated from
its own data functions. Two such attacks, each scoring full marks under the public seed
and failing under a secret one:

- a lookup table: ``vectors.dot`` answers from a table of the inputs the grader sends under
  the public seed (recorded beforehand) and returns garbage for anything else;
- a regenerated held-out set: the MLP rebuilds the held-out points from a copy of the
  grader's data functions and seed, answers them from the labels it computed itself, and
  ``train`` returns made-up losses without training at all;
- a table keyed on the timing inputs: a Python-loop ``dot`` answers the timed run's inputs
  (regenerated beforehand from the grader's own timing code and the public seed) from a
  table, so it looks "fast enough", and loops over everything else.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.grading import grade
from grader.seeds import SECRET_ENV, Seed
from grader.timing.measure import spec_seed
from helpers import SOLUTIONS, SentInputs, course_with, failing, submission, summary

SECRET = b"9c4e1a7b2d8f6035e1b7a9c3d5f70246-hostile"
DOT_CHECKS = ["agrees_with_numpy", "symmetric", "returns_float"]


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_a_table_recorded_under_the_public_seed_fails_under_a_secret_one(tmp_path, monkeypatch):
    dot_course = course_with(["vectors"], functions={"vectors": ["dot"]}, checks={("vectors", "dot"): DOT_CHECKS})
    # Offline, with the grader as shipped: record every input dot is sent under the public seed.
    sent = SentInputs.install(monkeypatch, "dot")
    assert grade(dot_course, ["vectors"], str(SOLUTIONS), 0, jobs=1).exercises[0].status == "passed"
    monkeypatch.undo()
    recorded = sent.take()
    table = {(tuple(map(float, a)), tuple(map(float, b))): float(np.dot(a, b)) for a, b in recorded}
    assert len(table) >= 20
    folder = submission(tmp_path / "mine", "vectors", replace={"dot": textwrap.dedent(f"""
        ANSWERS = {table!r}

        def dot(a, b):
            # No dot product here: answers looked up by the exact inputs, garbage otherwise.
            return ANSWERS.get((tuple(float(x) for x in a), tuple(float(x) for x in b)), 42.0)
        """)})
    public = grade(dot_course, ["vectors"], str(folder), 0, jobs=1)
    (result,) = public.exercises
    assert result.status == "passed" and result.score == result.max_score > 0, summary(result)  # the attack
    official = grade(dot_course, ["vectors"], str(folder), Seed(0, SECRET), jobs=1)
    (result,) = official.exercises
    assert official.seed == "secret"
    assert ("dot", "agrees_with_numpy") in failing(result), summary(result)
    check = next(c for c in result.checks if c.name == "agrees with NumPy")
    assert "returned 42.0" in check.message


MLP_ATTACK = '''
import numpy as _np


def _two_moons(n, seed, noise=0.1):  # copied from the grader's data functions
    import math
    rng = _np.random.default_rng(seed)
    half = n // 2
    t0, t1 = rng.uniform(0, math.pi, half), rng.uniform(0, math.pi, n - half)
    upper = _np.stack([_np.cos(t0), _np.sin(t0)], axis=1)
    lower = _np.stack([1 - _np.cos(t1), 0.5 - _np.sin(t1)], axis=1)
    X = _np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = _np.concatenate([_np.zeros(half), _np.ones(n - half)]).astype(_np.int64)
    order = rng.permutation(n)
    return X[order], y[order]


def _xor_clusters(n, seed, spread=0.25):
    rng = _np.random.default_rng(seed)
    corners = _np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    labels = _np.array([0, 0, 1, 1])
    which = rng.integers(0, 4, n)
    X = corners[which] + rng.normal(0, spread, (n, 2))
    return X, labels[which].astype(_np.int64)


_KNOWN = {}
for _make in (_two_moons, _xor_clusters):
    _X, _y = _make(1000, seed=12345)  # the held-out set, as the shipped grader makes it
    for _row, _label in zip(_X.astype(_np.float32), _y):
        _KNOWN[_row.tobytes()] = int(_label)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x):
        rows = x.detach().cpu().numpy().astype(_np.float32)
        out = torch.zeros(len(rows), 2)
        for i, row in enumerate(rows):
            label = _KNOWN.get(row.tobytes())
            if label is not None:
                out[i, label] = 5.0
        return out.to(x.device)


def train(model, X, y, epochs, lr):
    return [1.0 / (1 + epoch) for epoch in range(epochs)]  # made up: nothing is trained
'''


def test_a_held_out_set_regenerated_from_the_shipped_grader_fails_under_a_secret_seed(tmp_path):
    pytest.importorskip("torch")
    checks = ["one_loss_per_epoch", "loss_falls", "held_out_accuracy", "separates_xor"]
    mlp_course = course_with(["mlp"], functions={"mlp": ["train"]}, checks={("mlp", "train"): checks})
    folder = submission(tmp_path / "mine", "mlp", replace={"train": MLP_ATTACK})
    (public,) = grade(mlp_course, ["mlp"], str(folder), 0, jobs=1).exercises
    assert public.status == "passed" and public.score == public.max_score > 0, summary(public)  # the attack
    (official,) = grade(mlp_course, ["mlp"], str(folder), Seed(0, SECRET), jobs=1).exercises
    assert failing(official) >= {("train", "held_out_accuracy"), ("train", "separates_xor")}, summary(official)
    accuracy = next(c for c in official.checks if c.name.startswith("reaches 95% on held-out half-moons"))
    assert "held-out" in accuracy.message and "correctly" in accuracy.message


# ----------------------------------------------------------------------------- a table of the timing inputs


def timed_dot_course():
    """The real course cut down to ``vectors.dot`` with three correctness checks and one timed run
    on 2·10⁵ floats (as in tests/test_timing_run.py): a Python loop is still far over the limit."""
    course = course_with(["vectors"], functions={"vectors": ["dot"]}, checks={("vectors", "dot"): DOT_CHECKS})
    vectors = course.get("vectors")
    (dot,) = vectors.functions
    (spec,) = dot.timing
    spec = dataclasses.replace(spec, size={"n": 200_000}, label="2·10⁵ floats", devices=("cpu",),
                               settings=dataclasses.replace(spec.settings, warmup=1, max_rounds=24))
    vectors = dataclasses.replace(vectors, functions=[dataclasses.replace(dot, timing=[spec])])
    return dataclasses.replace(course, exercises=[vectors])


# The real `grade` command (click, the JSON reporter, the secret from the environment) on that course.
TIMED_CLI = f"""
import sys
sys.path[:0] = [{str(Path(__file__).resolve().parent)!r}]
import grader.cli, grader.context, test_hostile_seeds
grader.context.load_course = test_hostile_seeds.timed_dot_course
grader.cli.main()
"""


def grade_timed(folder: Path, secret: bytes | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, "PYTHONPATH")}
    if secret is not None:
        env[SECRET_ENV] = secret.decode()
    proc = subprocess.run([sys.executable, "-c", TIMED_CLI, "run", "vectors", "--source", str(folder),
                           "--format", "json", "--no-progress", "-j", "1", "--timing"],
                          capture_output=True, text=True, env=env, cwd=str(folder.parent), timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1), f"grade crashed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    assert SECRET.decode() not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.xdist_group("timed")  # timed runs measure the cores: never beside another (pyproject.toml)
def test_a_table_of_the_public_timing_inputs_makes_a_loop_fast_only_without_a_secret(tmp_path):
    course = timed_dot_course()
    (spec,) = course.get("vectors").timing_specs()
    # Offline, from the shipped grader: every input of dot's timed run under the public seed,
    # derived as grader/timing/measure.py's time_function does (warm-up calls, then rounds).
    base = spec_seed(course.seed, spec, "cpu")
    keys = [(3, w) for w in range(spec.settings.warmup)] + [(2, i) for i in range(spec.settings.max_rounds)]
    table = {}
    for key in keys:
        (a, b), _ = spec.case.build(np.random.default_rng(base + list(key)), spec.size, "cpu", spec.dtype)
        table[(len(a), a[:4].tobytes(), b[:4].tobytes())] = float(np.dot(a, b))
    assert len(table) == len(keys) >= 9
    folder = submission(tmp_path / "mine", "vectors", replace={"dot": f"""
        ANSWERS = {table!r}

        def dot(a, b):
            # A cheap fingerprint of the inputs (length and first entries) looked up in the table;
            # anything else gets a right answer from a plain Python loop, far too slow when large.
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            known = ANSWERS.get((len(a), a[:4].tobytes(), b[:4].tobytes()))
            if known is not None:
                return known
            total = 0.0
            for i in range(len(a)):
                total += float(a[i]) * float(b[i])
            return total
        """})

    def dot_checks(doc):
        (result,) = doc["exercises"]
        timing = [c for c in result["checks"] if c["kind"] == "timing"]
        correctness = [c for c in result["checks"] if c["kind"] == "correctness"]
        assert len(timing) == 1 and len(correctness) == len(DOT_CHECKS), result["checks"]
        return result, timing[0], correctness

    public = grade_timed(folder, None)
    result, timing, correctness = dot_checks(public)
    assert public["seed"] == "public"
    assert all(c["passed"] for c in correctness), correctness
    assert timing["passed"], timing["message"]  # the attack: a Python loop passes as "fast enough"
    assert result["score"] == result["max_score"] > 0

    official = grade_timed(folder, SECRET)
    result, timing, correctness = dot_checks(official)
    assert official["seed"] == "secret"
    assert all(c["passed"] for c in correctness), correctness  # the loop is right ...
    assert not timing["passed"], timing["message"]  # ... and, off the table, far too slow
    assert "replace the Python loop" in timing["message"], timing["message"]
    assert result["score"] < result["max_score"]
