"""Targeted diagnoses: every mistake the grader recognises from the numbers, one planted answer each.

A diagnosis (:class:`grader.checks.base.Slip`, or an error the learner's code raised that
says by itself what happened) names the mistake in the message ("that is twice the central
difference") and brings a hint that points at the idea. Each row below plants the mistake
in the reference solution, runs the one check that should recognise it, and reads the
diagnosis the verdict carries (``extra["diagnosis"]``). Every message is also held to the
house style: plain numbers, sentence case after a full stop, a hint, no traceback.

Property checks judge their property on their own terms: the last tests here plant wrong
answers that keep the property (they must pass it) or that return something the property
cannot be weighed on (the check says it could not be judged, once, without a hint).
"""
from __future__ import annotations

import re
import textwrap

import pytest

from helpers import SOLUTIONS, check_id, find_check, grade_exercise, submission, summary


def planted_module(tmp_path, exercise: str, *sources: str):
    """The solution module with ``sources`` (redefinitions) added at its end."""
    text = (SOLUTIONS / f"{exercise}.py").read_text(encoding="utf-8")
    for source in sources:
        text += "\n\n# --- planted\n" + textwrap.dedent(source).strip("\n") + "\n"
    return submission(tmp_path, exercise, text)


def assert_house_style(message: str) -> None:
    assert "Traceback" not in message
    assert not re.search(r"np\.float\d+\(|(?<![\w.])array\(\[|dtype=float64\)", message), message
    # Sentence case after a full stop ("e.g." and "i.e." are not full stops).
    text = re.sub(r"\b(e\.g|i\.e)\.", "", message)
    assert not re.search(r"[a-z\)\]]\. [a-z]", text), f"a sentence starts in lower case: {message}"


def assert_diagnosed(check, expected) -> None:
    names = (expected,) if isinstance(expected, str) else expected
    assert not check.passed, check.message
    assert check.extra.get("diagnosis") in names, f"diagnosis {check.extra.get('diagnosis')!r}, not {names}:\n" \
                                                 f"{check.message}"
    assert "\nHint: " in check.message, check.message
    assert_house_style(check.message)


def D(exercise, function, check, diagnosis, source):
    name = diagnosis if isinstance(diagnosis, str) else diagnosis[0]
    return pytest.param(exercise, function, check, diagnosis, source, id=f"{function}-{check}-{name}")


NUMPY = [
    # ------------------------------------------------------------------ vectors
    D("vectors", "dot", "agrees_with_numpy", "truncated_to_int", """
        def dot(a, b):
            return float(int(np.dot(a, b)))
    """),
    D("vectors", "dot", "agrees_with_numpy", "skips_last_entry", """
        def dot(a, b):
            total = 0.0
            for i in range(len(a) - 1):
                total += a[i] * b[i]
            return total
    """),
    D("vectors", "dot", "agrees_with_numpy", "skips_first_entry", """
        def dot(a, b):
            total = 0.0
            for i in range(1, len(a)):
                total += a[i] * b[i]
            return total
    """),
    D("vectors", "dot", "agrees_with_numpy", "product_of_sums", """
        def dot(a, b):
            return float(np.sum(a) * np.sum(b))
    """),
    D("vectors", "cross", "agrees_with_numpy", "operands_swapped", """
        def cross(a, b):
            return np.cross(b, a).astype(float)
    """),
    D("vectors", "cross", "agrees_with_numpy", "components_rotated", """
        def cross(a, b):
            return np.array([a[0] * b[1] - a[1] * b[0], a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2]])
    """),
    D("vectors", "cross", "worked_example", "middle_sign_flipped", """
        def cross(a, b):
            return np.array([a[1] * b[2] - a[2] * b[1], a[0] * b[2] - a[2] * b[0], a[0] * b[1] - a[1] * b[0]])
    """),
    D("vectors", "cross", "agrees_with_numpy", "truncated_to_int", """
        def cross(a, b):
            return np.cross(a, b).astype(int)
    """),
    D("vectors", "matmul", "agrees_with_numpy", "elementwise_product", """
        def matmul(A, B):
            return A * B
    """),
    D("vectors", "matmul", "agrees_with_numpy", "reversed_order", """
        def matmul(A, B):
            return B @ A
    """),
    D("vectors", "matmul", "agrees_with_numpy", "second_transposed", """
        def matmul(A, B):
            return A @ B.T
    """),
    D("vectors", "matmul", "agrees_with_numpy", "first_transposed", """
        def matmul(A, B):
            return A.T @ B
    """),
    D("vectors", "matmul", "agrees_with_numpy", "inner_sum_short", """
        def matmul(A, B):
            (m, k), p = A.shape, B.shape[1]
            C = np.zeros((m, p))
            for i in range(m):
                for j in range(p):
                    for t in range(k - 1):
                        C[i, j] += A[i, t] * B[t, j]
            return C
    """),
    D("vectors", "matmul", "agrees_with_numpy", "last_row_missing", """
        def matmul(A, B):
            C = np.zeros((A.shape[0], B.shape[1]))
            for i in range(A.shape[0] - 1):
                C[i, :] = A[i, :] @ B
            return C
    """),
    D("vectors", "matmul", "agrees_with_numpy", "last_column_missing", """
        def matmul(A, B):
            C = np.zeros((A.shape[0], B.shape[1]))
            for j in range(B.shape[1] - 1):
                C[:, j] = A @ B[:, j]
            return C
    """),
    D("vectors", "matmul", "agrees_with_numpy", "truncated_to_int", """
        def matmul(A, B):
            C = np.zeros((A.shape[0], B.shape[1]), dtype=int)
            C[:, :] = A @ B
            return C
    """),
    # ------------------------------------------------------------------ derivatives
    D("derivatives", "derivative", "matches_exact_derivative", "divides_by_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x - h)) / h)
    """),
    D("derivatives", "derivative", "central_difference_with_given_h", "divides_by_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x - h)) / h)
    """),
    D("derivatives", "derivative", "central_difference_with_given_h", "forward_difference", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x)) / h)
    """),
    D("derivatives", "derivative", "central_difference_with_given_h", "backward_difference", """
        def derivative(f, x, h=1e-5):
            return float((f(x) - f(x - h)) / h)
    """),
    D("derivatives", "derivative", "central_difference_with_given_h", "half_steps", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h / 2) - f(x - h / 2)) / h)
    """),
    D("derivatives", "derivative", "central_difference_with_given_h", "ignores_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + 1e-5) - f(x - 1e-5)) / (2 * 1e-5))
    """),
    D("derivatives", "gradient", "matches_exact_gradient", "divides_by_h", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            for i in range(x.size):
                up, down = np.array(x, dtype=float), np.array(x, dtype=float)
                up[i] += h
                down[i] -= h
                grad[i] = (f(up) - f(down)) / h
            return grad
    """),
    D("derivatives", "gradient", "matches_exact_gradient", "nudges_every_coordinate", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            return np.full(x.size, (f(x + h * np.ones(x.size)) - f(x - h * np.ones(x.size))) / (2 * h))
    """),
    D("derivatives", "gradient", "integer_x", "nudge_lost_in_integer_copy", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            for i in range(x.size):
                up, down = x.copy(), x.copy()
                up[i] = x[i] + h
                down[i] = x[i] - h
                grad[i] = (f(up) - f(down)) / (2 * h)
            return grad
    """),
    D("derivatives", "gradient", "integer_x", "integer_result", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros_like(x)
            for i in range(x.size):
                up, down = np.array(x, dtype=float), np.array(x, dtype=float)
                up[i] += h
                down[i] -= h
                grad[i] = (f(up) - f(down)) / (2 * h)
            return grad
    """),
    D("derivatives", "gradient", "integer_x", "integer_array_updated_in_place", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            for i in range(x.size):
                step = np.zeros(x.size)
                step[i] = h
                up, down = x.copy(), x.copy()
                up += step
                down -= step
                grad[i] = (f(up) - f(down)) / (2 * h)
            return grad
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "missing_inner_derivative", """
        def d_sin_x_squared(x):
            return float(np.cos(x ** 2))
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "outer_at_x", """
        def d_sin_x_squared(x):
            return float(2 * x * np.cos(x))
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "cosine_squared", """
        def d_sin_x_squared(x):
            return float(2 * x * np.cos(x) ** 2)
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "sin_for_cos", """
        def d_sin_x_squared(x):
            return float(2 * x * np.sin(x ** 2))
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "sign_flipped", """
        def d_sin_x_squared(x):
            return float(-2 * x * np.cos(x ** 2))
    """),
    D("derivatives", "d_sin_x_squared", "matches_chain_rule", "finite_difference", """
        def d_sin_x_squared(x):
            h = 1e-5
            return float((np.sin((x + h) ** 2) - np.sin((x - h) ** 2)) / (2 * h))
    """),
    # ------------------------------------------------------------------ losses
    D("losses", "mse", "agrees_with_numpy", "sum_not_mean", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2))
    """),
    D("losses", "mse", "worked_example", "divides_by_n_minus_1", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / (y_true.size - 1))
    """),
    D("losses", "mse", "agrees_with_numpy", "divides_by_rows", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / len(y_true))
    """),
    D("losses", "mse", "agrees_with_numpy", "floor_division", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) // y_true.size)
    """),
    D("losses", "mse", "agrees_with_numpy", "mean_absolute_error", """
        def mse(y_true, y_pred):
            return float(np.mean(np.abs(y_pred - y_true)))
    """),
    D("losses", "mse", "agrees_with_numpy", "squares_the_mean_error", """
        def mse(y_true, y_pred):
            return float(np.mean(y_pred - y_true) ** 2)
    """),
    D("losses", "mse", "agrees_with_numpy", "root_taken", """
        def mse(y_true, y_pred):
            return float(np.sqrt(np.mean((y_pred - y_true) ** 2)))
    """),
    D("losses", "mse", "agrees_with_numpy", "halved", """
        def mse(y_true, y_pred):
            return float(0.5 * np.mean((y_pred - y_true) ** 2))
    """),
    D("losses", "rmse", "agrees_with_numpy", "missing_root", """
        def rmse(y_true, y_pred):
            return float(np.mean((y_pred - y_true) ** 2))
    """),
    D("losses", "rmse", "agrees_with_numpy", "power_precedence", """
        def rmse(y_true, y_pred):
            return float(mse(y_true, y_pred) ** 1/2)
    """),
    D("losses", "rmse", "agrees_with_numpy", "mean_absolute_error", """
        def rmse(y_true, y_pred):
            return float(np.mean(np.sqrt((y_pred - y_true) ** 2)))
    """),
    D("losses", "rmse", "agrees_with_numpy", "root_of_sum", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2)))
    """),
    D("losses", "rmse", "worked_example", "divides_by_n_minus_1", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2) / (y_true.size - 1)))
    """),
    D("losses", "rmse", "agrees_with_numpy", "divides_by_rows", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2) / len(y_true)))
    """),
    D("losses", "rmse", "agrees_with_numpy", "floor_division", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2) // y_true.size))
    """),
    D("losses", "mse_grad", "agrees_with_formula", "sign_flipped", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_true - y_pred) / y_pred.size
    """),
    D("losses", "mse_grad", "agrees_with_formula", "missing_factor_2", """
        def mse_grad(y_true, y_pred):
            return (y_pred - y_true) / y_pred.size
    """),
    D("losses", "mse_grad", "agrees_with_formula", "missing_mean", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true)
    """),
    D("losses", "mse_grad", "agrees_with_formula", "missing_factor_2_and_mean", """
        def mse_grad(y_true, y_pred):
            return y_pred - y_true
    """),
    D("losses", "mse_grad", "agrees_with_formula", "divides_by_rows", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) / len(y_pred)
    """),
    D("losses", "mse_grad", "agrees_with_formula", "divides_by_n_minus_1", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) / (y_pred.size - 1)
    """),
    D("losses", "mse_grad", "agrees_with_formula", "floor_division", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) // y_pred.size
    """),
    D("losses", "mse_grad", "agrees_with_formula", "truncated_to_int", """
        def mse_grad(y_true, y_pred):
            grad = np.zeros_like(y_pred)
            grad[...] = 2 * (y_pred - y_true) / y_pred.size
            return grad
    """),
    D("losses", "mse_grad", "agrees_with_formula", "returns_the_loss", """
        def mse_grad(y_true, y_pred):
            return np.mean((y_pred - y_true) ** 2)
    """),
    # ------------------------------------------------------------------ gradient descent
    D("gradient_descent", "gradient_descent", "follows_update_rule", "climbs", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                x = x + lr * grad_fn(x)
            return x
    """),
    D("gradient_descent", "gradient_descent", "follows_update_rule", "gradient_at_x0", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            g = grad_fn(x)
            for _ in range(steps):
                x = x - lr * g
            return x
    """),
    D("gradient_descent", "gradient_descent", "takes_exactly_steps_updates", "stops_early", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                g = grad_fn(x)
                if np.linalg.norm(g) < 1e-6:
                    break
                x = x - lr * g
            return x
    """),
    D("gradient_descent", "gradient_descent", "takes_exactly_steps_updates", "too_many_updates", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps + 1):
                x = x - lr * grad_fn(x)
            return x
    """),
    D("gradient_descent", "gradient_descent", "takes_exactly_steps_updates", "too_few_updates", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(1, steps):
                x = x - lr * grad_fn(x)
            return x
    """),
    D("gradient_descent", "gradient_descent", "returns_array", "integer_copy_of_x0", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0.copy()
            for _ in range(steps):
                x = x - lr * grad_fn(x)
            return x
    """),
    D("gradient_descent", "gradient_descent", "returns_array", ("integer_array_updated_in_place",
                                                                 "integer_copy_of_x0"), """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0.copy()
            for _ in range(steps):
                x -= lr * grad_fn(x)
            return x
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "closed_form", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = np.polyfit(x, y, 1)
            return float(m), float(b)
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "missing_factor_2", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * np.mean(e * x), b - lr * np.mean(e)
            return float(m), float(b)
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "sum_not_mean", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * 2 * np.sum(e * x), b - lr * 2 * np.sum(e)
            return float(m), float(b)
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "updates_one_at_a_time", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                m = m - lr * 2 * np.mean((m * x + b - y) * x)
                b = b - lr * 2 * np.mean(m * x + b - y)
            return float(m), float(b)
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "one_epoch_too_many", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return _right(x, y, lr=lr, epochs=epochs + 1)
    """),
    D("gradient_descent", "fit_line", "descends_from_zero", "ignores_lr", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return _right(x, y, epochs=epochs)
    """),
    D("gradient_descent", "fit_line", "returns_two_floats", "list_not_tuple", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return list(_right(x, y, lr=lr, epochs=epochs))
    """),
    # ------------------------------------------------------------------ activations
    D("activations", "relu", "agrees_with_numpy", "builtin_max", """
        def relu(x):
            return max(0.0, x)
    """),
    D("activations", "relu", "agrees_with_numpy", "whole_array_question", """
        def relu(x):
            return x if x > 0 else 0.0 * x
    """),
    D("activations", "relu", "agrees_with_numpy", "absolute_value", """
        def relu(x):
            return np.abs(x)
    """),
    D("activations", "relu", "agrees_with_numpy", "minimum", """
        def relu(x):
            return np.minimum(x, 0.0)
    """),
    D("activations", "sigmoid", "agrees_with_formula", "sign_in_exponent", """
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(x))
    """),
    D("activations", "sigmoid", "agrees_with_formula", "tanh", """
        def sigmoid(x):
            return np.tanh(x)
    """),
    D("activations", "sigmoid", "huge_inputs_finite_and_right", "overflow", """
        def sigmoid(x):
            return np.exp(x) / (1.0 + np.exp(x))
    """),
    D("activations", "softmax", "huge_inputs_finite_and_right", "overflow", """
        def softmax(x):
            z = np.exp(x)
            return z / z.sum(axis=-1, keepdims=True)
    """),
    D("activations", "softmax", "huge_inputs_finite_and_right", "underflow", """
        def softmax(x):
            z = np.exp(x - x.max())
            return z / z.sum(axis=-1, keepdims=True)
    """),
    D("activations", "softmax", "acts_on_last_axis", ("axis_0", "mixes_rows"), """
        def softmax(x):
            z = np.exp(x - x.max(axis=0, keepdims=True))
            return z / z.sum(axis=0, keepdims=True)
    """),
    D("activations", "softmax", "acts_on_last_axis", ("whole_array", "mixes_rows"), """
        def softmax(x):
            z = np.exp(x - x.max())
            return z / z.sum()
    """),
    D("activations", "softmax", "agrees_with_formula", "no_keepdims", """
        def softmax(x):
            z = np.exp(x - x.max(axis=-1, keepdims=True))
            return z / z.sum(axis=-1)
    """),
    # ------------------------------------------------------------------ aliased arguments
    # Right for two separate arrays, and the inputs come back as they were; wrong only when
    # one array is passed twice (the sign flip of one argument shows in the other).
    D("vectors", "dot", "agrees_with_numpy", "aliased_arguments", """
        def dot(a, b):
            np.negative(b, out=b)
            result = -float(np.sum(a * b))
            np.negative(b, out=b)
            return result
    """),
    D("vectors", "matmul", "agrees_with_numpy", "aliased_arguments", """
        def matmul(A, B):
            np.negative(B, out=B)
            result = -(A @ B)
            np.negative(B, out=B)
            return result
    """),
    D("losses", "mse", "agrees_with_numpy", "aliased_arguments", """
        def mse(y_true, y_pred):
            np.negative(y_pred, out=y_pred)
            errors = y_true + y_pred
            np.negative(y_pred, out=y_pred)
            return float(np.mean(errors ** 2))
    """),
    D("losses", "mse_grad", "agrees_with_formula", "aliased_arguments", """
        def mse_grad(y_true, y_pred):
            np.negative(y_pred, out=y_pred)
            errors = y_true + y_pred
            np.negative(y_pred, out=y_pred)
            return -2.0 * errors / errors.size
    """),
]


@pytest.mark.parametrize("exercise, function, check, diagnosis, source", NUMPY)
def test_a_numpy_mistake_is_named(exercise, function, check, diagnosis, source, tmp_path):
    folder = planted_module(tmp_path, exercise, source)
    result = grade_exercise(folder, exercise, functions={exercise: [function]},
                            checks={(exercise, function): [check]})
    assert_diagnosed(find_check(result, function, check), diagnosis)


def test_an_aliased_call_is_shown_as_the_learner_would_write_it(tmp_path):
    folder = planted_module(tmp_path, "vectors", NUMPY[-4].values[-1])
    result = grade_exercise(folder, "vectors", functions={"vectors": ["dot"]},
                            checks={("vectors", "dot"): ["agrees_with_numpy", "leaves_inputs_unchanged"]})
    value = find_check(result, "dot", "agrees_with_numpy")
    assert re.match(r"dot\(a=\[[^\]]*\], b=a\) returned ", value.message), value.message
    assert "two separate arrays" in value.message
    # The inputs are restored, aliased or not: that check passes.
    assert find_check(result, "dot", "leaves_inputs_unchanged").passed


def test_softmax_underflow_is_shown_on_a_minimal_example(tmp_path):
    folder = planted_module(tmp_path, "activations", """
        def softmax(x):
            z = np.exp(x - x.max())
            return z / z.sum(axis=-1, keepdims=True)
    """)
    result = grade_exercise(folder, "activations", functions={"activations": ["softmax"]},
                            checks={("activations", "softmax"): ["huge_inputs_finite_and_right"]})
    message = find_check(result, "softmax", "huge_inputs_finite_and_right").message
    # Two rows of one score each: the fewest that show one row underflowing after a shift by the whole max.
    assert re.match(r"softmax\(x=\[\[-?\d+\.\d+\], \[-?\d+\.\d+\]\]\) returned", message), message
    assert "underflowed to 0, and 0/0 is nan" in message and "overflow" not in message.split("Hint")[0]


# ----------------------------------------------------------------------------- backprop: four at a time

# Each group plants one mistake in each of several functions (two_layer_backward is always
# written out in full, so it never calls the wrong functions beside it).
TWO_LAYER = """
    def two_layer_backward(x, y, W1, b1, W2, b2):
        h = x @ W1.T + b1
        a = h.clamp(min=0)
        dy = {sign}2 * (a @ W2.T + b2 - y) / {divisor}
        dh = (dy @ W2){mask}
        {extra}
        return {{"W1": dh.T @ x, "b1": dh.sum(0), "W2": dy.T @ {second}, "b2": dy.sum(0)}}
"""


def two_layer(sign="", divisor="y.numel()", mask=" * (h > 0)", second="a", extra="pass"):
    return TWO_LAYER.format(sign=sign, divisor=divisor, mask=mask, second=second, extra=extra)


BACKPROP = {
    # Right on two separate tensors, inputs restored: wrong only when one tensor is passed twice.
    "aliased_arguments": {
        "relu_backward": ("def relu_backward(dy, x):\n    dy.neg_()\n    dx = -(dy * (x > 0))\n    dy.neg_()\n"
                          "    return dx", "matches_autograd", "aliased_arguments"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    y.neg_()\n    errors = y_pred + y\n    y.neg_()\n"
                         "    return 2 * errors / errors.numel()", "matches_autograd", "aliased_arguments"),
    },
    "dW_transposed-mask_from_dy-sign_flipped-no_relu_mask": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W, x.T @ dy, dy.sum(0)",
                            "matches_autograd", "dW_transposed"),
        "relu_backward": ("def relu_backward(dy, x):\n    return dy * (dy > 0)", "matches_autograd", "mask_from_dy"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return 2 * (y - y_pred) / y_pred.numel()",
                         "matches_autograd", "sign_flipped"),
        "two_layer_backward": (two_layer(mask=""), "matches_autograd", "no_relu_mask"),
    },
    "db_averaged-mask_includes_zero-divides_by_rows-second_layer_input_h": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W, dy.T @ x, dy.mean(0)",
                            "matches_autograd", "db_averaged"),
        "relu_backward": ("def relu_backward(dy, x):\n    return dy * (x >= 0)", "matches_autograd",
                          "mask_includes_zero"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return 2 * (y_pred - y) / y_pred.shape[0]",
                         "matches_autograd", "divides_by_rows"),
        "two_layer_backward": (two_layer(second="h"), "matches_autograd", "second_layer_input_h"),
    },
    "db_summed_over_everything-mask_alone-missing_factor_2-loss_divides_by_rows": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W, dy.T @ x, dy.sum()",
                            "matches_autograd", "db_summed_over_everything"),
        "relu_backward": ("def relu_backward(dy, x):\n    return (x > 0).to(dy.dtype)", "matches_autograd",
                          "mask_alone"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return (y_pred - y) / y_pred.numel()",
                         "matches_autograd", "missing_factor_2"),
        "two_layer_backward": (two_layer(divisor="len(y)"), "matches_autograd", "loss_divides_by_rows"),
    },
    "db_summed_over_outputs-forward_pass-missing_mean-sign_flipped": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W, dy.T @ x, dy.sum(1)",
                            "matches_autograd", "db_summed_over_outputs"),
        "relu_backward": ("def relu_backward(dy, x):\n    return x.clamp(min=0)", "matches_autograd", "forward_pass"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return 2 * (y_pred - y)", "matches_autograd",
                         "missing_mean"),
        "two_layer_backward": (two_layer(sign="-"), "matches_autograd", "sign_flipped"),
    },
    "dW_averaged-mask_inverted-returns_the_loss-changed_input": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W, dy.T @ x / dy.shape[0], dy.sum(0)",
                            "matches_autograd", "dW_averaged"),
        "relu_backward": ("def relu_backward(dy, x):\n    return dy * (x <= 0)", "matches_autograd", "mask_inverted"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return ((y_pred - y) ** 2).mean()", "matches_autograd",
                         "returns_the_loss"),
        "two_layer_backward": (two_layer(extra="x.mul_(2)"), "leaves_inputs_unchanged", "changed_input"),
    },
    "shapes_do_not_fit-whole_tensor_question-divides_by_columns": {
        "linear_backward": ("def linear_backward(dy, x, W):\n    return dy @ W.T, dy.T @ x, dy.sum(0)",
                            "matches_autograd", "shapes_do_not_fit"),
        "relu_backward": ("def relu_backward(dy, x):\n    return dy if x > 0 else dy * 0", "matches_autograd",
                          "whole_tensor_question"),
        "mse_backward": ("def mse_backward(y_pred, y):\n    return 2 * (y_pred - y) / y_pred.shape[1]",
                         "matches_autograd", "divides_by_columns"),
    },
}


@pytest.mark.parametrize("group", BACKPROP, ids=str)
def test_backprop_mistakes_are_named(group, tmp_path):
    pytest.importorskip("torch")
    planted = BACKPROP[group]
    folder = planted_module(tmp_path, "backprop", *(source for source, _, _ in planted.values()))
    result = grade_exercise(folder, "backprop", functions={"backprop": list(planted)},
                            checks={("backprop", fn): [check] for fn, (_, check, _) in planted.items()})
    for function, (_, check, diagnosis) in planted.items():
        assert_diagnosed(find_check(result, function, check), diagnosis)


# ----------------------------------------------------------------------------- mlp

MLP_FORWARD = {
    "softmax_after_last_layer": "torch.softmax(self.fc2(torch.relu(self.fc1(x))), dim=1)",
    "relu_after_last_layer": "torch.relu(self.fc2(torch.relu(self.fc1(x))))",
    "sigmoid_after_last_layer": "torch.sigmoid(self.fc2(torch.relu(self.fc1(x))))",
    "no_relu": "self.fc2(self.fc1(x))",
}
MLP_CLASS = """
    class MLP(nn.Module):
        def __init__(self, in_features, hidden_features, out_features):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden_features)
            self.fc2 = nn.Linear(hidden_features, out_features)

        def forward(self, x):
            return {forward}
"""


@pytest.mark.parametrize("diagnosis", MLP_FORWARD)
def test_mlp_forward_mistakes_are_named(diagnosis, tmp_path):
    pytest.importorskip("torch")
    folder = planted_module(tmp_path, "mlp", MLP_CLASS.format(forward=MLP_FORWARD[diagnosis]))
    result = grade_exercise(folder, "mlp", functions={"mlp": ["MLP"]}, checks={("mlp", "MLP"): ["linear_relu_linear"]})
    assert_diagnosed(find_check(result, "MLP", "linear_relu_linear"), diagnosis)


TRAIN = """
    def train(model, X, y, epochs=200, lr=0.05):
        model.to(X.device)
        optimizer = torch.optim.{optimizer}(model.parameters(), lr={lr})
        losses = []
        for _ in range(epochs):
            {zero}
            loss = F.cross_entropy({logits}, y)
            loss.backward()
            optimizer.step()
            {extra}
            losses.append({record})
        return losses
"""


def train(optimizer="Adam", lr="lr", zero="optimizer.zero_grad()", logits="model(X)", extra="pass",
          record="loss.item()"):
    return TRAIN.format(optimizer=optimizer, lr=lr, zero=zero, logits=logits, extra=extra, record=record)


TRAIN_MISTAKES = {
    "loss_after_update": ("records_loss_before_update", train(record="F.cross_entropy(model(X), y).item()")),
    "summed_loss": ("records_loss_before_update", train(record="loss.item() * len(y)")),
    "softmax_before_loss": ("records_loss_before_update", train(logits="torch.softmax(model(X), dim=1)")),
    "never_steps": ("one_full_batch_step_per_epoch", train().replace("optimizer.step()", "pass")),
    "gradients_accumulate": ("one_full_batch_step_per_epoch", train(zero="pass")),
    "ignores_lr": ("one_full_batch_step_per_epoch", train(lr="0.05")),
    "two_steps_per_epoch": ("one_full_batch_step_per_epoch", train(extra="optimizer.step()")),
    "sgd": ("one_full_batch_step_per_epoch", train(optimizer="SGD")),
    "changed_input": ("leaves_inputs_unchanged", train(extra="X.mul_(1.5)")),
}


@pytest.mark.parametrize("diagnosis", TRAIN_MISTAKES)
def test_training_loop_mistakes_are_named(diagnosis, tmp_path):
    pytest.importorskip("torch")
    check, source = TRAIN_MISTAKES[diagnosis]
    folder = planted_module(tmp_path, "mlp", source)
    result = grade_exercise(folder, "mlp", functions={"mlp": ["train"]}, checks={("mlp", "train"): [check]})
    assert_diagnosed(find_check(result, "train", check), diagnosis)


# ----------------------------------------------------------------------------- properties on their own terms


def _grade_function(tmp_path, exercise, function, source):
    folder = planted_module(tmp_path, exercise, source)
    return grade_exercise(folder, exercise, functions={exercise: [function]})


def test_a_wrong_dot_that_is_symmetric_passes_is_symmetric(tmp_path):
    result = _grade_function(tmp_path, "vectors", "dot", """
        def dot(a, b):
            return float(np.sum(a) * np.sum(b))
    """)
    assert not find_check(result, "dot", "agrees_with_numpy").passed
    assert find_check(result, "dot", "symmetric").passed, summary(result)
    assert find_check(result, "dot", "linear").passed, summary(result)


def test_a_wrong_cross_that_is_perpendicular_passes_is_perpendicular(tmp_path):
    result = _grade_function(tmp_path, "vectors", "cross", """
        def cross(a, b):
            return 2.0 * np.cross(a, b)
    """)
    failing = {check_id(result, c) for c in result.checks if not c.passed}
    assert failing == {"worked_example", "agrees_with_numpy"}, summary(result)


def test_a_property_of_a_value_of_the_wrong_kind_is_not_judged_and_says_so_once(tmp_path):
    result = _grade_function(tmp_path, "vectors", "dot", """
        def dot(a, b):
            return a * b
    """)
    symmetric = find_check(result, "dot", "symmetric")
    assert not symmetric.passed and symmetric.extra.get("diagnosis") == "not_judged"
    assert symmetric.message.startswith("Could not be judged: dot(a=") and "Hint:" not in symmetric.message
    assert "returns_float" in {check_id(result, c) for c in result.checks if not c.passed}


def test_a_matmul_of_the_wrong_shape_leaves_its_laws_not_judged(tmp_path):
    result = _grade_function(tmp_path, "vectors", "matmul", """
        def matmul(A, B):
            return (A @ B)[:, :1] if B.shape[1] > 1 else A @ B
    """)
    for law in ("associative", "transpose_rule"):
        check = find_check(result, "matmul", law)
        assert check.extra.get("diagnosis") == "not_judged", check.message
    assert not find_check(result, "matmul", "returns_array").passed
