"""Timed runs, the parts that need no child process: the verdict, the course file, messages.

The verdict logic (grader/timing/stats.py) is tested on synthetic paired ratios; the
course-file parsing on small edits of the real course file; the comparison of learner
and reference answers and the messages on hand-made values.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from grader.course import COURSE_FILE, load_course
from grader.runner.wire import WireTensor
from grader.timing import cases, stats
from grader.timing.check import fmt_ratio, fmt_seconds, timing_result, waiting_result
from grader.timing.measure import Measured, compare
from grader.timing.spec import TimingSettings
from grader.yamlfile import YamlError

COURSE = load_course()


def spec_of(exercise: str, function: str):
    (spec,) = [t for t in COURSE.get(exercise).timing_specs() if t.function == function]
    return spec


def run_sequential(ratios, limit=10.0, **kw):
    """Feed ratios one by one, as measure.time_function does; (decision, rounds used)."""
    settings = dict(confidence=0.99, min_rounds=8, max_rounds=40) | kw
    seen = []
    for r in ratios:
        seen.append(r)
        if len(seen) >= settings["min_rounds"]:
            d = stats.decide(seen, limit, **settings)
            if d.outcome != stats.MORE:
                return d, len(seen)
    return stats.decide(seen, limit, **settings), len(seen)


# ----------------------------------------------------------------------------- the verdict


def test_binomial_cdf_is_exact():
    assert stats.binomial_cdf(0, 8) == 1 / 256
    assert stats.binomial_cdf(1, 12) == 13 / 4096
    assert stats.binomial_cdf(-1, 5) == 0 and stats.binomial_cdf(5, 5) == 1
    assert math.isclose(stats.binomial_cdf(10, 20) + stats.binomial_cdf(9, 20), 1.0)


def test_interval_rank_matches_the_sign_test_tables():
    # 99%: no interval below 8 ratios; [r(1), r(8)] at 8; [r(2), r(11)] at 12; [r(3), r(14)] at 16.
    assert [stats.interval_rank(n, 0.99) for n in (7, 8, 12, 16, 20)] == [0, 1, 2, 3, 4]
    assert [stats.interval_rank(n, 0.95) for n in (5, 6, 9, 20)] == [0, 1, 2, 6]
    assert stats.min_rounds_for(0.99) == 8 and stats.min_rounds_for(0.95) == 6


def test_interval_coverage_is_at_least_the_confidence():
    for n in range(8, 60):
        iv = stats.median_interval(list(range(n)), 0.99)
        assert iv.coverage >= 0.99
        assert iv.low <= iv.median <= iv.high


def test_clear_pass_decides_at_the_first_look():
    ratios = [0.9, 1.1, 1.0, 0.95, 1.2, 1.05, 0.85, 1.0]
    decision, rounds = run_sequential(ratios)
    assert decision.outcome == stats.PASS and rounds == 8
    assert decision.interval.high == 1.2 and decision.interval.low == 0.85


def test_clear_fail_decides_at_the_first_look():
    decision, rounds = run_sequential([46, 51, 40, 300, 44, 47, 49, 45])
    assert decision.outcome == stats.FAIL and rounds == 8
    assert 40 <= decision.interval.low and decision.interval.median == pytest.approx(46.5)


def test_an_outlier_costs_rounds_not_the_verdict():
    # A preempted reference call makes one learner ratio look 50× slow: more rounds, then pass.
    ratios = [1.0, 50.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0] + [1.0, 1.1, 0.9, 1.05] * 3
    decision, rounds = run_sequential(ratios)
    assert decision.outcome == stats.PASS and rounds == 12
    # ... and a slow learner with one lucky round still fails.
    decision, rounds = run_sequential([80, 0.5, 90, 85, 70, 95, 88, 77] + [80] * 10)
    assert decision.outcome == stats.FAIL and rounds == 12


def test_straddling_the_limit_runs_to_the_cap_then_is_undecided():
    ratios = [5.0, 20.0] * 30  # median right at the limit
    decision, rounds = run_sequential(ratios, max_rounds=40)
    assert decision.outcome == stats.UNDECIDED and rounds == 40
    assert decision.interval.low < 10 < decision.interval.high


def test_cap_and_too_few_rounds():
    assert stats.decide([1.0] * 7, 10, confidence=0.99, min_rounds=8, max_rounds=40).outcome == stats.MORE
    assert stats.decide([1.0] * 7, 10, confidence=0.99, min_rounds=8, max_rounds=40).interval.low is None
    near = [9.0, 11.0] * 4
    assert stats.decide(near, 10, confidence=0.99, min_rounds=8, max_rounds=9).outcome == stats.MORE
    assert stats.decide(near + [9.5], 10, confidence=0.99, min_rounds=8, max_rounds=9).outcome == stats.UNDECIDED


def test_the_verdict_ignores_the_order_of_the_rounds():
    rng = np.random.default_rng(0)
    ratios = list(1 + rng.exponential(0.5, 20))
    outcomes = {stats.decide(list(rng.permutation(ratios)), 10, confidence=0.99, min_rounds=8,
                             max_rounds=40).outcome for _ in range(20)}
    assert outcomes == {stats.PASS}


def test_noisy_solution_and_noisy_loop_keep_their_verdicts():
    """Heavy-tailed noise on both sides (as on a loaded machine): 200 simulated runs each."""
    rng = np.random.default_rng(1)

    def noisy(n):  # lognormal jitter plus occasional 20× stalls
        stall = np.where(rng.random(n) < 0.1, 20.0, 1.0)
        return np.exp(rng.normal(0, 0.3, n)) * stall

    same, loop = set(), set()
    for _ in range(200):
        ref = 1e-3 * noisy(40)
        same.add(run_sequential(list(1e-3 * noisy(40) / ref))[0].outcome in (stats.PASS, stats.UNDECIDED))
        loop.add(run_sequential(list(0.3 * noisy(40) / ref))[0].outcome)
    assert same == {True} and loop == {stats.FAIL}


# ----------------------------------------------------------------------------- the course file


def _course_with(tmp_path: Path, old: str, new: str) -> Path:
    text = Path(COURSE_FILE).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "course.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


DOT_HINT = '\n             hint: "replace the Python loop with a NumPy operation:'
DOT_TIMING = 'size: {n: 1000000},' + DOT_HINT


def _error(tmp_path, old, new) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_course(str(_course_with(tmp_path, old, new)))
    return info.value


def test_the_course_declares_timing_for_every_exercise_the_issue_names():
    timed = {e.name for e in COURSE.exercises if e.timing_specs()}
    assert {"vectors", "losses", "activations", "backprop", "mlp"} <= timed
    assert spec_of("vectors", "dot").size == {"n": 1_000_000}
    assert spec_of("vectors", "matmul").size == {"m": 256, "k": 256, "p": 256}
    assert spec_of("activations", "softmax").size == {"rows": 1000, "cols": 1000}
    bp = spec_of("backprop", "two_layer_backward")
    assert (bp.size["batch"], bp.size["features"]) == (4096, 512) and bp.devices == ("cpu", "cuda")
    assert spec_of("mlp", "train").size["epochs"] == 1
    for e in COURSE.exercises:
        for t in e.timing_specs():
            assert t.limit == 10 and t.settings.confidence == 0.99 and t.hint
            assert t.case is not None and t.devices[0] == "cpu"


def test_timing_points_stay_out_of_the_correctness_total():
    vectors = COURSE.get("vectors")
    assert vectors.max_score == sum(c.points for c in vectors.checks())
    assert all(c.kind == "correctness" for c in vectors.checks())


@pytest.mark.parametrize("old, new, field, words", [
    (DOT_TIMING, "size: {n: 1000000}, colour: red," + DOT_HINT, "colour", "not a known field"),
    (DOT_TIMING, "size: {n: 10, m: 3}," + DOT_HINT, "m", "not a size"),
    (DOT_TIMING, "size: {m: 1000000}," + DOT_HINT, "n", "is missing"),
    (DOT_TIMING, "size: {n: 0}," + DOT_HINT, "n", "1 or more"),
    (DOT_TIMING, "size: {n: 10}, devices: [cpu, cuda]," + DOT_HINT, "devices", "cuda needs a PyTorch"),
    (DOT_TIMING, "size: {n: 10}, limit: 1," + DOT_HINT, "limit", "must be above 1"),
    (DOT_TIMING, "size: {n: 10}, min_rounds: 5," + DOT_HINT, "min_rounds", "at least 8"),
    (DOT_TIMING, "size: {n: 10}, max_rounds: 7," + DOT_HINT, "max_rounds", "at least min_rounds"),
    ("    limit: 10            # K", "    limit: fast          # K", "limit", "must be a number"),
    ("    min_rounds: 8 ", "    min_round: 8 ", "min_round", "not a timing setting"),
])
def test_timing_mistakes_in_the_course_file_name_file_line_and_field(tmp_path, old, new, field, words):
    error = _error(tmp_path, old, new)
    assert error.field == field and words in error.problem, str(error)
    assert error.line and str(error).startswith(str(tmp_path / "course.yaml"))
    line = Path(error.path).read_text(encoding="utf-8").splitlines()[error.line - 1]
    assert f"{field}:" in line or (words == "is missing" and "size:" in line), (error.line, line)


def test_timing_for_a_function_without_inputs_is_refused(tmp_path):
    error = _error(tmp_path, "      - name: cross\n        params: [a, b]\n",
                   "      - name: cross\n        params: [a, b]\n        timing: [{size: {n: 3}}]\n")
    assert error.field == "timing" and "no builder for vectors.cross" in error.problem


def test_a_timed_run_that_is_not_a_mapping_is_refused_at_its_line(tmp_path):
    error = _error(tmp_path, "      - name: dot\n        params: [a, b]\n        timing:\n",
                   "      - name: dot\n        params: [a, b]\n        timing:\n          - 1000000\n")
    assert error.field == "timing" and "must be a mapping" in error.problem
    assert Path(error.path).read_text(encoding="utf-8").splitlines()[error.line - 1].strip() == "- 1000000"


def test_a_timing_check_among_the_checks_is_refused(tmp_path):
    old = "          - {id: symmetric, title: \"is symmetric: a·b = b·a\", points: 1}"
    error = _error(tmp_path, old, old[:-1] + ", kind: timing}")
    assert error.field == "kind" and "timing:" in error.problem


def test_with_examples_changes_every_check_and_nothing_else():
    fewer = COURSE.with_examples(3)
    assert {c.examples for e in fewer.exercises for c in e.checks()} == {3}
    assert [c.title for c in fewer.get("vectors").checks()] == [c.title for c in COURSE.get("vectors").checks()]
    assert fewer.get("vectors").timing_specs() == COURSE.get("vectors").timing_specs()


# ----------------------------------------------------------------------------- inputs and answers


def test_inputs_are_fresh_every_round_and_the_same_for_both_sides():
    case = cases.get("vectors", "dot")
    (a1, b1), _ = case.build(np.random.default_rng([0, 1, 2]), {"n": 5}, "cpu", "float64")
    (a2, _), _ = case.build(np.random.default_rng([0, 1, 2]), {"n": 5}, "cpu", "float64")
    (a3, _), _ = case.build(np.random.default_rng([0, 1, 3]), {"n": 5}, "cpu", "float64")
    assert np.array_equal(a1, a2) and not np.array_equal(a1, a3) and a1.dtype == np.float64


def test_torch_inputs_carry_dtype_and_device():
    args, _ = cases.get("backprop", "two_layer_backward").build(
        np.random.default_rng(0), {"batch": 3, "features": 4, "hidden": 5, "outputs": 2}, "cuda", "float32")
    assert [a.shape for a in args] == [(3, 4), (3, 2), (5, 4), (5,), (2, 5), (2,)]
    assert {(a.dtype, a.device, a.array.dtype.name) for a in args} == {("float32", "cuda", "float32")}
    (model, X, y), kwargs = cases.get("mlp", "train").build(
        np.random.default_rng(0), {"points": 10, "hidden": 4, "epochs": 1}, "cpu", "float32")
    assert model.cls == "MLP" and model.args == (2, 4, 2) and set(model.parameters) == {(4, 2), (4,), (2, 4), (2,)}
    assert X.shape == (10, 2) and y.dtype == "int64" and kwargs == {"epochs": 1, "lr": 0.05}


SETTINGS = TimingSettings()


def test_compare_accepts_rounding_and_names_real_differences():
    e = np.linspace(-1, 1, 7)
    assert compare(e + 1e-12, e, SETTINGS) == ""
    assert "index 3" in compare(np.where(np.arange(7) == 3, 5.0, e), e, SETTINGS)
    assert compare(12.5, 12.5 + 1e-9, SETTINGS) == ""
    assert "0.0" in compare(0.0, 12.5, SETTINGS)
    assert "shape (3,)" in compare(np.zeros(3), np.zeros(4), SETTINGS)
    assert "a list" in compare([1.0], 1.0, SETTINGS) or "list" in compare([1.0], 1.0, SETTINGS)
    assert compare((1.5, -0.5), (1.5, -0.5 + 1e-12), SETTINGS) == ""


def test_compare_checks_tensors_dtype_device_and_dict_keys():
    t = WireTensor(np.ones((2, 2), np.float32), "float32", "cpu")
    assert compare(WireTensor(np.ones((2, 2), np.float32) * (1 + 1e-5), "float32", "cpu"), t, SETTINGS) == ""
    assert "torch.float64" in compare(WireTensor(np.ones((2, 2)), "float64", "cpu"), t, SETTINGS)
    assert "cuda:0" in compare(WireTensor(np.ones((2, 2), np.float32), "float32", "cuda:0"), t, SETTINGS)
    assert "keys" in compare({"W1": t}, {"W1": t, "b1": t}, SETTINGS)
    assert "['b1']" in compare({"W1": t, "b1": WireTensor(np.zeros((2, 2), np.float32), "float32", "cpu")},
                               {"W1": t, "b1": t}, SETTINGS)


# ----------------------------------------------------------------------------- messages


def measured(outcome, **kw):
    base = dict(function="dot", device="cpu", limit=10.0, outcome=outcome, learner_s=0.0413,
                reference_s=0.0009, ratio=46.0, low=40.0, high=52.0, confidence=0.99, rounds=8)
    return Measured(**(base | kw))


def test_figures_are_readable():
    assert [fmt_seconds(x) for x in (0.0413, 0.0009, 2.5, 0.1234, None)] == \
        ["41.3 ms", "900 µs", "2.50 s", "123 ms", "—"]
    assert [fmt_ratio(x) for x in (46.2, 1.04, None)] == ["46×", "1.0×", "—"]


def test_a_slow_function_is_told_how_slow_and_what_to_do():
    spec = spec_of("vectors", "dot")
    result = timing_result(spec, [measured("fail")])
    assert not result.passed and result.kind == "timing" and result.max_score == 1
    assert result.message.startswith("dot on 10⁶ floats: 41.3 ms vs reference 900 µs = 46× (limit 10×) — ")
    assert spec.hint in result.message
    assert result.extra["timing"][0]["ratio"] == 46.0


def test_pass_undecided_and_censored_messages():
    spec = spec_of("vectors", "dot")
    ok = timing_result(spec, [measured("pass", learner_s=0.0009, ratio=1.0, high=1.3)])
    assert ok.passed and ok.score == 1 and "= 1.0× (limit 10×)" in ok.message and "—" not in ok.message
    und = timing_result(spec, [measured("undecided", ratio=9.8, low=8.0, high=12.0, rounds=40)])
    assert und.passed and "After 40 rounds" in und.message and "in your favour" in und.message
    assert "99% interval 8.0×–12×" in und.message
    cens = timing_result(spec, [measured("fail", learner_s=1.0, ratio=1111, censored=8)])
    assert "more than 1.00 s" in cens.message and "more than 1111×" in cens.message


def test_wrong_answers_never_pass_and_skips_are_worth_nothing():
    spec = spec_of("vectors", "dot")
    wrong = timing_result(spec, [measured("wrong", detail="the result is 0.0, where the reference's is 12.5")])
    assert not wrong.passed and "Timing only counts right answers" in wrong.message
    skipped = timing_result(spec, [measured("skipped", detail="no reference")])
    assert skipped.passed and skipped.max_score == 0 and "skipped — no reference" in skipped.message
    nope = timing_result(spec, [measured("not_started")])
    assert nope.not_started and not nope.passed


def test_cuda_rows_skip_with_a_reason_and_do_not_decide():
    spec = spec_of("backprop", "two_layer_backward")
    rows = [measured("pass", function="two_layer_backward", ratio=1.0, learner_s=0.01, reference_s=0.01),
            measured("skipped", function="two_layer_backward", device="cuda",
                     detail="no CUDA device here (torch.cuda.is_available() is False)")]
    result = timing_result(spec, rows)
    assert result.passed and result.max_score == 1
    lines = result.message.splitlines()
    assert lines[0].startswith("two_layer_backward on a batch of 4096×512 (cpu): ")
    assert re.search(r"\(cuda\): skipped — no CUDA device here", lines[1])


def test_waiting_for_correctness():
    spec = spec_of("losses", "mse")
    assert waiting_result(spec, "not_started").not_started
    failed = waiting_result(spec, "failed")
    assert not failed.passed and not failed.not_started and "waits for correctness" in failed.message
    assert waiting_result(spec, "error").error
