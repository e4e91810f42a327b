"""Timed runs end to end: real child processes, tiny inputs, the grade hook and the CLI.

Sizes are cut down (``tiny``) so the whole file stays well under a minute on two busy
cores, while a Python loop is still far over the limit: a loop ``dot`` on 2·10⁵ floats
takes tens of milliseconds where ``np.dot`` takes about a tenth of one.
"""
from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import grader.cli as cli
import grader.context as context
from grader.course import Course, load_course
from grader.grading import grade
from grader.runner.sandbox import LearnerProcess
from grader.runner.wire import Handle, Opaque
from grader.timing.check import add_timing, time_exercise
from grader.timing.measure import Side

# Timed runs measure the cores: one at a time, never beside another timed run (pyproject.toml).
pytestmark = pytest.mark.xdist_group("timed")

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
COURSE = load_course()

LOOP_DOT = '''
def dot(a, b):
    total = 0.0
    for i in range(len(a)):
        total += a[i] * b[i]
    return total
'''
WRONG_FAST_DOT = '''
def dot(a, b):
    return float(np.dot(a, b) + 1.0)
'''
SLEEPY_DOT = '''
def dot(a, b):
    import time
    time.sleep(5)
    return float(np.dot(a, b))
'''
PER_SAMPLE_BACKWARD = '''
def two_layer_backward(x, y, W1, b1, W2, b2):
    grads = {"W1": torch.zeros_like(W1), "b1": torch.zeros_like(b1),
             "W2": torch.zeros_like(W2), "b2": torch.zeros_like(b2)}
    for n in range(x.shape[0]):  # one sample at a time
        xn = x[n:n + 1]
        h = xn @ W1.T + b1
        a = torch.relu(h)
        dy = 2 * (a @ W2.T + b2 - y[n:n + 1]) / y.numel()
        grads["W2"] += dy.T @ a
        grads["b2"] += dy[0]
        dh = (dy @ W2) * (h > 0)
        grads["W1"] += dh.T @ xn
        grads["b1"] += dh[0]
    return grads
'''


def module(folder: Path, name: str, extra: str = "") -> Path:
    """``folder/<name>.py``: the solution with ``extra`` appended (a later def wins)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")
    (folder / f"{name}.py").write_text(text + "\n\n" + textwrap.dedent(extra), encoding="utf-8")
    return folder


def tiny_spec(exercise: str, function: str, size: dict, **settings):
    (spec,) = [t for t in COURSE.get(exercise).timing_specs() if t.function == function]
    settings = {"warmup": 1, "max_rounds": 24} | settings
    return dataclasses.replace(spec, size=size, settings=dataclasses.replace(spec.settings, **settings))


DOT = tiny_spec("vectors", "dot", {"n": 200_000})


def tiny_course(*, keep=("dot",)) -> Course:
    """The real course with vectors cut down to ``keep`` and dot timed on 2·10⁵ floats."""
    vectors = COURSE.get("vectors")
    functions = [dataclasses.replace(f, timing=[DOT] if f.name == "dot" else [])
                 for f in vectors.functions if f.name in keep]
    return dataclasses.replace(COURSE, exercises=[dataclasses.replace(vectors, functions=functions)])


def time_dot(folder: Path, spec=DOT, **kw):
    exercise = tiny_course().get("vectors")
    ((m,),) = time_exercise(exercise, [spec], str(folder), 0, **kw).values()
    return m


# ----------------------------------------------------------------------------- the child's ops


def test_child_keeps_inputs_calls_on_them_and_forgets_them():
    process = LearnerProcess("vectors", str(SOLUTIONS / "vectors.py"), COURSE.get("vectors").limits)
    side = Side("reference", process)
    try:
        assert side.start() is None
        a, b = np.arange(4.0), np.ones(4)
        args, kwargs, drop = side.stage((a, b), {}, sync=False)
        assert all(isinstance(h, Handle) for h in args) and len(drop) == 2
        seconds, result = side.timed_call("dot", args, kwargs, timeout=10, sync=True)
        assert seconds > 0 and isinstance(result, Handle) and result.id not in drop
        assert side.fetch(result, drop + [result.id], sync=False) == 6.0
        gone = side.fetch(result, [], sync=False)  # dropped: nothing to send back
        assert isinstance(gone, Opaque) and "could not be read" in gone.text
        again, _, _ = side.stage((a,), {}, sync=False)  # new handles never reuse dropped ids
        assert again[0].id > result.id
        assert side.round_trip() == 0.0 and side.ping() > 0 and side.round_trip() > 0
    finally:
        side.close()


# ----------------------------------------------------------------------------- verdicts, end to end


def test_the_solution_passes_against_itself():
    m = time_dot(SOLUTIONS)
    assert m.outcome in ("pass", "undecided"), m
    assert m.rounds >= 8 and m.ratio < 10 and m.reference_s > 0 and m.learner_s > 0


def test_a_python_loop_dot_fails_with_figures(tmp_path):
    m = time_dot(module(tmp_path, "vectors", LOOP_DOT))
    assert m.outcome == "fail", m
    assert m.low > 10 and m.ratio > 10 and m.learner_s > 10 * m.reference_s


def test_a_fast_wrong_answer_never_passes(tmp_path):
    m = time_dot(module(tmp_path, "vectors", WRONG_FAST_DOT))
    assert m.outcome == "wrong" and "where the reference's is" in m.detail


def test_a_stub_is_not_started():
    m = time_dot(ROOT / "exercises")
    assert m.outcome == "not_started"


def test_a_call_far_over_the_limit_is_stopped_and_still_fails(tmp_path):
    spec = tiny_spec("vectors", "dot", {"n": 1000}, censor_floor=0.05, warmup=0)
    m = time_dot(module(tmp_path, "vectors", SLEEPY_DOT), spec)
    # The first round times the reference first (the learner's deadline needs its time).
    assert m.outcome == "fail" and m.censored == m.rounds == 8
    assert m.learner_s == pytest.approx(0.05)


def test_without_reference_solutions_timing_is_skipped(tmp_path):
    m = time_dot(SOLUTIONS, reference_dir=str(tmp_path / "nowhere"))
    assert m.outcome == "skipped" and "no reference solution" in m.detail


# ----------------------------------------------------------------------------- the grade hook


def test_grade_appends_timing_after_correctness_and_keeps_full_marks():
    (result,) = grade(tiny_course(), ["vectors"], str(SOLUTIONS), 0, timing=True).exercises
    kinds = [c.kind for c in result.checks]
    assert kinds[-1] == "timing" and set(kinds[:-1]) == {"correctness"}
    assert result.status == "passed" and result.score == result.max_score
    assert "dot on 10⁵" not in result.checks[-1].message and "(limit 10×)" in result.checks[-1].message
    (plain,) = grade(tiny_course(), ["vectors"], str(SOLUTIONS), 0).exercises
    assert all(c.kind == "correctness" for c in plain.checks)


def test_timing_waits_for_correctness(tmp_path):
    broken = module(tmp_path / "broken", "vectors", "def dot(a, b):\n    return float(np.sum(a))\n")
    (result,) = grade(tiny_course(), ["vectors"], str(broken), 0, timing=True).exercises
    timing = result.checks[-1]
    assert timing.kind == "timing" and not timing.passed and "waits for correctness" in timing.message
    (stub,) = grade(tiny_course(), ["vectors"], str(ROOT / "exercises"), 0, timing=True).exercises
    assert stub.status == "not_started" and stub.checks[-1].not_started


def test_add_timing_without_solutions_skips_for_zero_points(tmp_path):
    report = grade(tiny_course(), ["vectors"], str(SOLUTIONS), 0)
    add_timing(tiny_course(), report, str(SOLUTIONS), 0, reference_dir=str(tmp_path))
    timing = report.exercises[0].checks[-1]
    assert timing.passed and timing.max_score == 0 and "skipped" in timing.message
    assert report.exercises[0].status == "passed"


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def tiny_cli(monkeypatch):
    monkeypatch.setattr(context, "load_course", lambda *a, **k: tiny_course())
    return CliRunner()


def test_no_timing_leaves_timing_out(tiny_cli):
    out = tiny_cli.invoke(cli.main, ["vectors", "--source", str(SOLUTIONS), "--no-timing", "--format", "json",
                                     "-j", "1", "--examples", "3"])
    assert out.exit_code == 0, out.output
    checks = json.loads(out.stdout)["exercises"][0]["checks"]
    assert checks and {c["kind"] for c in checks} == {"correctness"}
    timed = tiny_cli.invoke(cli.main, ["vectors", "--source", str(SOLUTIONS), "--format", "json", "-j", "1",
                                       "--examples", "3"])
    assert timed.exit_code == 0, timed.output
    kinds = [c["kind"] for c in json.loads(timed.stdout)["exercises"][0]["checks"]]
    assert kinds.count("timing") == 1


def test_bench_prints_the_table(tiny_cli, tmp_path):
    ok = tiny_cli.invoke(cli.main, ["bench", "vectors", "--source", str(SOLUTIONS)])
    assert ok.exit_code == 0, ok.output
    lines = ok.stdout.splitlines()
    assert lines[0].split() == ["function", "device", "learner", "reference", "ratio", "limit", "verdict"]
    assert lines[1].split()[:2] == ["vectors.dot", "cpu"] and lines[1].rstrip().endswith("pass")
    slow = tiny_cli.invoke(cli.main, ["bench", "vectors", "--source", str(module(tmp_path, "vectors", LOOP_DOT))])
    assert slow.exit_code == 1 and "too slow" in slow.stdout and "replace the Python loop" in slow.stdout


def test_bench_json_and_setup_errors(tiny_cli, tmp_path):
    doc = tiny_cli.invoke(cli.main, ["bench", "vectors", "--source", str(SOLUTIONS), "--format", "json"])
    assert doc.exit_code == 0, doc.output
    (row,) = json.loads(doc.stdout)["rows"]
    assert row["function"] == "dot" and row["outcome"] in ("pass", "undecided") and row["passed"]
    missing = tiny_cli.invoke(cli.main, ["bench", "vectors", "--reference", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "reference solutions" in missing.output and "Traceback" not in missing.output
    unknown = tiny_cli.invoke(cli.main, ["bench", "vectorz"])
    assert unknown.exit_code == 2 and "vectors" in unknown.output


# ----------------------------------------------------------------------------- PyTorch: CPU always, CUDA when there


torch = pytest.importorskip("torch")
BACKWARD = tiny_spec("backprop", "two_layer_backward", {"batch": 512, "features": 64, "hidden": 8, "outputs": 2})
TRAIN = tiny_spec("mlp", "train", {"points": 512, "hidden": 8, "epochs": 1})


def time_torch(exercise: str, spec, folder: Path, devices=("cpu",)):
    spec = dataclasses.replace(spec, devices=tuple(devices))
    ((rows),) = time_exercise(COURSE.get(exercise), [spec], str(folder), 0).values()
    return rows


def test_torch_cpu_path_solution_passes_and_cuda_runs_or_says_why_not():
    rows = time_torch("backprop", BACKWARD, SOLUTIONS, devices=("cpu", "cuda"))
    assert [m.device for m in rows] == ["cpu", "cuda"]
    assert rows[0].outcome in ("pass", "undecided") and rows[0].rounds >= 8, rows[0]
    if torch.cuda.is_available():
        assert rows[1].outcome in ("pass", "undecided"), rows[1]
    else:
        assert rows[1].outcome == "skipped" and "torch.cuda.is_available() is False" in rows[1].detail


def test_torch_cpu_path_per_sample_loop_fails(tmp_path):
    (slow,) = time_torch("backprop", BACKWARD, module(tmp_path, "backprop", PER_SAMPLE_BACKWARD))
    assert slow.outcome == "fail" and slow.ratio > 10, slow


def test_mlp_training_is_timed_and_checked_on_the_cpu():
    (m,) = time_torch("mlp", TRAIN, SOLUTIONS)
    assert m.outcome in ("pass", "undecided") and m.rounds >= 8, m


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")
def test_cuda_timing_synchronises_and_judges(tmp_path):
    rows = time_torch("backprop", BACKWARD, SOLUTIONS, devices=("cpu", "cuda"))
    assert [m.outcome in ("pass", "undecided") for m in rows] == [True, True], rows
    (slow,) = time_torch("backprop", BACKWARD, module(tmp_path, "backprop", PER_SAMPLE_BACKWARD), devices=("cuda",))
    assert slow.outcome == "fail", slow
    (mlp,) = time_torch("mlp", TRAIN, SOLUTIONS, devices=("cuda",))
    assert mlp.outcome in ("pass", "undecided"), mlp
