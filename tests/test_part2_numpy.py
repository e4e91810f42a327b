"""Part 2, NumPy half: the checks of ``gradient_descent`` and ``activations``.

Each planted mistake is a copy of the reference solution with one function redefined
(appended at the end of the file, so it replaces the right one); the file is graded
in-process, and the test names the check that must catch the mistake.
"""
import dataclasses
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.course import load_course
from grader.grading import grade
from grader.runner.expressions import Function
from grader import strategies as S
from helpers import EXERCISES  # the stubs as built, never the learner's exercises/

ROOT = Path(__file__).resolve().parent.parent
COURSE = load_course()


def _grade(exercise: str, folder: Path, function: str | None = None):
    """Grade one exercise in-process (only ``function``'s checks, when given: faster)."""
    course = COURSE
    if function is not None:
        ex = COURSE.get(exercise)
        only = dataclasses.replace(ex, functions=[f for f in ex.functions if f.name == function])
        course = dataclasses.replace(COURSE, exercises=[only])
    report = grade(course, [exercise], str(folder), seed=0, jobs=1)
    (result,) = report.exercises
    return result


def _planted(tmp_path: Path, exercise: str, function: str, source: str):
    """Grade solutions/<exercise>.py with ``source`` appended (a redefinition of ``function``)."""
    shutil.copy(ROOT / "solutions" / f"{exercise}.py", tmp_path / f"{exercise}.py")
    with open(tmp_path / f"{exercise}.py", "a", encoding="utf-8") as f:
        f.write("\n\n" + textwrap.dedent(source))
    return _grade(exercise, tmp_path, function)


def _ids(exercise: str, function: str) -> dict:
    """Check title -> id for one function (results carry titles)."""
    fn = next(f for f in COURSE.get(exercise).functions if f.name == function)
    return {c.title: c.id for c in fn.checks}


def _failed(result, function: str, exercise: str) -> dict:
    """id -> message of every failing check of ``function``."""
    ids = _ids(exercise, function)
    return {ids[c.name]: c.message for c in result.checks if c.function == function and not c.passed}


def _passed_all(result, function: str) -> bool:
    mine = [c for c in result.checks if c.function == function]
    return bool(mine) and all(c.passed for c in mine)


# ----------------------------------------------------------------------------- whole files


@pytest.mark.parametrize("exercise", ["gradient_descent", "activations"])
def test_solutions_score_full(exercise):
    result = _grade(exercise, ROOT / "solutions")
    failing = [(c.function, c.name, c.message) for c in result.checks if not c.passed]
    assert failing == []
    assert result.score == result.max_score == COURSE.get(exercise).max_score > 0


@pytest.mark.parametrize("exercise", ["gradient_descent", "activations"])
def test_stubs_score_zero_as_not_started(exercise):
    result = _grade(exercise, EXERCISES)
    assert result.score == 0
    assert result.checks and all(c.not_started and not c.passed for c in result.checks)
    assert all("NotImplementedError" in c.message for c in result.checks)


# ----------------------------------------------------------------------------- planted mistakes

GD = "gradient_descent"
ACT = "activations"

MISTAKES = [
    # gradient_descent
    ("gd_one_extra_step", GD, "gradient_descent", "takes_exactly_steps_updates", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps + 1):
                x = x - lr * grad_fn(x)
            return x
    """, "steps=0) returned [0.5], which is where 1 update leads; steps=0 asks for x0's values"),
    ("gd_one_step_short", GD, "gradient_descent", "takes_exactly_steps_updates", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps - 1):
                x = x - lr * grad_fn(x)
            return x
    """, "asks for"),
    ("gd_climbs", GD, "gradient_descent", "follows_update_rule", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                x = x + lr * grad_fn(x)
            return x
    """, "adding the gradient"),
    ("gd_gradient_at_x0", GD, "gradient_descent", "follows_update_rule", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            g = grad_fn(x0)
            for _ in range(steps):
                x = x - lr * g
            return x
    """, "expected"),
    ("gd_in_place", GD, "gradient_descent", "leaves_x0_unchanged", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0
            for _ in range(steps):
                x -= lr * grad_fn(x)
            return x
    """, "changed its input x0"),
    ("gd_returns_list", GD, "gradient_descent", "returns_array", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                x = x - lr * grad_fn(x)
            return x.tolist()
    """, "expected a NumPy array"),
    # fit_line
    ("fit_swapped", GD, "fit_line", "returns_m_then_b", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = _right(x, y, lr=lr, epochs=epochs)
            return b, m
    """, "(b, m)"),
    ("fit_polyfit", GD, "fit_line", "descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = np.polyfit(x, y, 1)
            return float(m), float(b)
    """, "np.polyfit"),
    ("fit_no_factor_2", GD, "fit_line", "descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * np.mean(e * x), b - lr * np.mean(e)
            return float(m), float(b)
    """, "factor 2"),
    ("fit_sum", GD, "fit_line", "descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * 2 * np.sum(e * x), b - lr * 2 * np.sum(e)
            return float(m), float(b)
    """, "sum over"),
    ("fit_random_start", GD, "fit_line", "descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            rng = np.random.default_rng(1)
            m, b = rng.standard_normal(2)
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * 2 * np.mean(e * x), b - lr * 2 * np.mean(e)
            return float(m), float(b)
    """, "from m = b = 0"),
    ("fit_ignores_lr", GD, "fit_line", "descends_from_zero", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return _right(x, y, epochs=epochs)
    """, "lr=0.05"),
    ("fit_sequential", GD, "fit_line", "descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                m = m - lr * 2 * np.mean((m * x + b - y) * x)
                b = b - lr * 2 * np.mean(m * x + b - y)
            return float(m), float(b)
    """, "same old m and b"),
    ("fit_returns_array", GD, "fit_line", "returns_two_floats", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return np.array(_right(x, y, lr=lr, epochs=epochs))
    """, "tuple (m, b)"),
    ("fit_too_few_default_epochs", GD, "fit_line", "recovers_least_squares_line", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=50):
            return _right(x, y, lr=lr, epochs=epochs)
    """, "least-squares line"),
    # relu
    ("relu_in_place", ACT, "relu", "leaves_input_unchanged", """
        def relu(x):
            return np.maximum(x, 0, out=x)
    """, "changed its input x"),
    ("relu_list", ACT, "relu", "returns_array", """
        def relu(x):
            return np.maximum(x, 0.0).tolist()
    """, "expected a NumPy array"),
    ("relu_abs", ACT, "relu", "zero_for_negatives_and_zero", """
        def relu(x):
            return np.abs(x)
    """, "expected exactly 0"),
    ("relu_builtin_max", ACT, "relu", "agrees_with_numpy", """
        def relu(x):
            return max(0.0, x)
    """, "built-in max"),
    ("relu_leaky", ACT, "relu", "zero_for_negatives_and_zero", """
        def relu(x):
            return np.where(x > 0, x, 0.01 * x)
    """, "expected exactly 0"),
    # sigmoid
    ("sigmoid_sign", ACT, "sigmoid", "agrees_with_formula", """
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(x))
    """, "expected"),
    ("sigmoid_tanh", ACT, "sigmoid", "agrees_with_formula", """
        def sigmoid(x):
            return np.tanh(x)
    """, "expected"),
    ("sigmoid_exp_over_one_plus_exp", ACT, "sigmoid", "huge_inputs_finite_and_right", """
        def sigmoid(x):
            return np.exp(x) / (1.0 + np.exp(x))
    """, "overflowed"),
    ("sigmoid_clip_too_early", ACT, "sigmoid", "agrees_with_formula", """
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(-np.clip(x, -10, 10)))
    """, "expected"),
    ("sigmoid_in_place", ACT, "sigmoid", "leaves_input_unchanged", """
        def sigmoid(x):
            np.negative(x, out=x)
            np.exp(x, out=x)
            x += 1.0
            return 1.0 / x
    """, "changed its input x"),
    # softmax
    ("softmax_no_shift", ACT, "softmax", "huge_inputs_finite_and_right", """
        def softmax(x):
            z = np.exp(x)
            return z / z.sum(axis=-1, keepdims=True)
    """, "overflowed"),
    ("softmax_axis0", ACT, "softmax", "acts_on_last_axis", """
        def softmax(x):
            z = np.exp(x - x.max(axis=0, keepdims=True))
            return z / z.sum(axis=0, keepdims=True)
    """, "axis 0"),
    ("softmax_whole_array", ACT, "softmax", "acts_on_last_axis", """
        def softmax(x):
            z = np.exp(x - x.max())
            return z / z.sum()
    """, "whole array"),
    ("softmax_no_keepdims", ACT, "softmax", "agrees_with_formula", """
        def softmax(x):
            z = np.exp(x - x.max(axis=-1, keepdims=True))
            return z / z.sum(axis=-1)
    """, "keepdims"),
    ("softmax_in_place", ACT, "softmax", "leaves_input_unchanged", """
        def softmax(x):
            x -= x.max(axis=-1, keepdims=True)
            np.exp(x, out=x)
            x /= x.sum(axis=-1, keepdims=True)
            return x
    """, "changed its input x"),
]


@pytest.mark.parametrize("label, exercise, function, check, source, words", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_planted_mistake_is_caught_by_named_check(tmp_path, label, exercise, function, check, source, words):
    result = _planted(tmp_path, exercise, function, source)
    failed = _failed(result, function, exercise)
    assert check in failed, f"{label}: expected {check} to fail; failing: {sorted(failed)}"
    assert words in failed[check], failed[check]
    assert "Traceback" not in failed[check]


def test_every_function_has_three_mistakes_and_two_other_right_answers():
    functions = {"gradient_descent", "fit_line", "relu", "sigmoid", "softmax"}
    mistakes = {f: sum(1 for m in MISTAKES if m[2] == f) for f in functions}
    right = {f: sum(1 for r in RIGHT if r[2] == f) for f in functions}
    assert all(n >= 3 for n in mistakes.values()), mistakes
    assert all(n >= 2 for n in right.values()), right


# ----------------------------------------------------------------------------- right answers written differently

RIGHT = [
    ("gd_loops", GD, "gradient_descent", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = [float(v) for v in x0]
            step = 0
            while step < steps:
                g = grad_fn(np.array(x))
                x = [x[i] - lr * g[i] for i in range(len(x))]
                step += 1
            return np.array(x)
    """),
    ("gd_in_place_on_copy", GD, "gradient_descent", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0.astype(np.float64)
            for _ in range(steps):
                x -= lr * grad_fn(x)
            return x
    """),
    ("fit_loops", GD, "fit_line", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b, n = 0.0, 0.0, len(x)
            for _ in range(epochs):
                dm = db = 0.0
                for xi, yi in zip(x, y):
                    e = m * xi + b - yi
                    dm += 2 * e * xi / n
                    db += 2 * e / n
                m, b = m - lr * dm, b - lr * db
            return float(m), float(b)
    """),
    ("fit_matrix_form", GD, "fit_line", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            X = np.stack([x, np.ones_like(x)], axis=1)
            w = np.zeros(2)
            for _ in range(epochs):
                w = w - lr * (2 / len(y)) * X.T @ (X @ w - y)
            return float(w[0]), float(w[1])
    """),
    ("relu_where", ACT, "relu", """
        def relu(x):
            return np.where(x > 0, x, 0.0)
    """),
    ("relu_mask", ACT, "relu", """
        def relu(x):
            return x * (x > 0)
    """),
    ("relu_loops", ACT, "relu", """
        def relu(x):
            out = np.array(x, dtype=float)
            flat = out.reshape(-1)
            for i in range(flat.size):
                if flat[i] < 0:
                    flat[i] = 0.0
            return out
    """),
    ("sigmoid_naive_with_warning", ACT, "sigmoid", """
        def sigmoid(x):
            # Overflows (with a RuntimeWarning) at -1000, but the value 1/(1+inf) = 0.0 is right.
            return 1.0 / (1.0 + np.exp(-x))
    """),
    ("sigmoid_tanh_identity", ACT, "sigmoid", """
        def sigmoid(x):
            return 0.5 * (1.0 + np.tanh(x / 2.0))
    """),
    ("sigmoid_masks", ACT, "sigmoid", """
        def sigmoid(x):
            out = np.empty_like(x, dtype=float)
            pos = x >= 0
            out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
            ex = np.exp(x[~pos])
            out[~pos] = ex / (1.0 + ex)
            return out
    """),
    ("softmax_logsumexp", ACT, "softmax", """
        def softmax(x):
            m = np.max(x, axis=-1, keepdims=True)
            lse = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
            return np.exp(x - lse)
    """),
    ("softmax_rows_loop", ACT, "softmax", """
        def softmax(x):
            x = np.asarray(x, dtype=float)
            if x.ndim == 1:
                e = np.exp(x - max(x))
                return e / e.sum()
            return np.array([softmax(row) for row in x])
    """),
]


@pytest.mark.parametrize("label, exercise, function, source", RIGHT, ids=[r[0] for r in RIGHT])
def test_right_answers_written_differently_pass(tmp_path, label, exercise, function, source):
    result = _planted(tmp_path, exercise, function, source)
    assert _passed_all(result, function), _failed(result, function, exercise)


# ----------------------------------------------------------------------------- messages and strategies


def test_message_names_the_smallest_failing_input_and_the_check_hint(tmp_path):
    result = _planted(tmp_path, ACT, "softmax", """
        def softmax(x):
            z = np.exp(x)
            return z / z.sum(axis=-1, keepdims=True)
    """)
    message = _failed(result, "softmax", ACT)["worked_example"]
    assert message.startswith("softmax(x=[[1000.0, 1001.0, 999.0]]) returned [[nan, nan, nan]]")
    assert "an exponential overflowed" in message and "\nHint: Shift each row by its own maximum" in message
    assert "Traceback" not in message


def _descend(g, x0, lr, steps):
    x = np.array(x0, dtype=float)
    for _ in range(steps):
        x = x - lr * g(x)
    return x


def test_generated_gradient_fields_make_every_step_a_contraction():
    # The update-rule check compares two ways of writing the same loop to 1e-9; that is
    # fair only if rounding differences shrink from step to step, i.e. x -> x - lr*g(x)
    # is a contraction for every generated field and learning rate.
    from hypothesis import given, settings

    @settings(max_examples=40, database=None, deadline=None, derandomize=True)
    @given(S.descent_problems())
    def run(problem):
        g, x0, lr, _ = problem
        assert g.kind == "vector" and len(g.trees) == x0.size
        x = _descend(g, x0, lr, 30)
        assert np.all(np.isfinite(x)) and np.abs(x).max() < 50
        first = np.linalg.norm(_descend(g, x0, lr, 1) - x0)
        last = np.linalg.norm(x - _descend(g, x0, lr, 29))
        assert last <= first + 1e-12

    run()


def test_generated_lines_are_fitted_by_the_default_descent():
    from hypothesis import given, settings

    @settings(max_examples=20, database=None, deadline=None, derandomize=True)
    @given(S.noisy_lines())
    def run(xy):
        x, y = xy
        m = b = 0.0
        for _ in range(2000):
            e = m * x + b - y
            m, b = m - 0.05 * 2 * np.mean(e * x), b - 0.05 * 2 * np.mean(e)
        assert np.allclose((m, b), np.polyfit(x, y, 1), rtol=1e-9, atol=1e-9)

    run()


def test_huge_inputs_mostly_overflow_a_naive_exponential():
    from hypothesis import given, settings

    outcomes = []

    @settings(max_examples=40, database=None, deadline=None, derandomize=True)
    @given(S.huge_logits(), S.huge_arrays())
    def run(logits, entries):
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.exp(logits[0])
            naive_softmax = z / z.sum(axis=-1, keepdims=True)
            naive_sigmoid = np.exp(entries[0]) / (1 + np.exp(entries[0]))
        outcomes.append((not np.all(np.isfinite(naive_softmax)), not np.all(np.isfinite(naive_sigmoid))))

    run()
    softmax_broken, sigmoid_broken = np.mean(outcomes, axis=0)
    assert softmax_broken > 0.8 and sigmoid_broken > 0.5, (softmax_broken, sigmoid_broken)


def test_grad_fn_is_shown_as_python():
    g = Function.vector([["mul", ["const", 2.0], ["sub", ["var", 0], ["const", 3.0]]]])
    assert g.text() == "lambda x: np.array([2*(x[0] - 3)])"
