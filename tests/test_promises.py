"""Every promise a docstring makes is held by a check: the mapping, kept visible and tested.

``PROMISES`` lists, for every function of the course (and the module docstrings), each
promise its docstring makes, quoted, with the check(s) of ``grader/course.yaml`` that hold
it, and a planted wrong answer that breaks exactly that promise. The tests fail

- when a quoted promise disappears from its docstring (a reworded docstring must update
  this table, and so the checks),
- when a named check disappears from the course,
- when a check of the course holds no promise (a check must test something the learner
  was told),
- when a planted wrong answer is not rejected by the first check named, or is rejected by
  a check that its mistake leaves fair (``may_fail`` lists the checks the mistake may
  legitimately fail as well; every other check of the function must pass).

The docstrings are read from ``solutions/`` (``exercises/`` is built from it, and
tests/test_stubs_match_solutions.py holds the two together). The planted answers are
graded like tests/test_part1_planted.py's: the reference solution with one function
redefined at the end of the module.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

import pytest

from helpers import SOLUTIONS, check_id, course, grade_exercise, submission, summary


@dataclass(frozen=True)
class Promise:
    exercise: str
    function: str  # "" for the module docstring; "MLP" for the class and its methods
    quote: str  # the docstring's words, compared with runs of whitespace made one space
    holds: tuple  # "function.check_id" of every check that holds it; the first must reject ``wrong``
    wrong: str | None  # a planted redefinition that breaks the promise (None: see ``why_none``)
    may_fail: tuple = ()  # other "function.check_id" the planted mistake may fail as well
    why_none: str = ""
    only: tuple = ()  # run only these checks of the function (and the named ones): slow torch checks

    @property
    def planted_function(self) -> str:
        return self.holds[0].split(".")[0]

    @property
    def id(self) -> str:
        return f"{self.exercise}.{self.function or 'module'}:{self.quote[:40]}"


def P(exercise, function, quote, holds, wrong=None, may_fail=(), why_none="", only=()):
    holds = (holds,) if isinstance(holds, str) else tuple(holds)
    may_fail = (may_fail,) if isinstance(may_fail, str) else tuple(may_fail)
    return Promise(exercise, function, quote, holds, wrong, may_fail, why_none, tuple(only))


def on_example_only(function: str, params: str, condition: str, value: str) -> str:
    """A planted answer that is right everywhere except on a docstring's worked example."""
    names = ", ".join(p.split("=")[0].strip() for p in params.split(","))
    return f"""
        _right = {function}
        def {function}({params}):
            if {condition}:
                return {value}
            return _right({names})
    """


V, D, L, G, A, B, M = "vectors", "derivatives", "losses", "gradient_descent", "activations", "backprop", "mlp"

PROMISES = [
    # ------------------------------------------------------------------ vectors
    P(V, "", "each function returns a new result and leaves its input arrays unchanged",
      ("dot.leaves_inputs_unchanged", "cross.leaves_inputs_unchanged", "matmul.leaves_inputs_unchanged"), """
        def dot(a, b):
            a *= b
            return float(a.sum())
      """),
    P(V, "dot", "Return the dot product of two vectors, as a float.", "dot.agrees_with_numpy", """
        def dot(a, b):
            return float(sum(a[i] * b[i] for i in range(len(a) - 1)))
      """),
    P(V, "dot", "a · b = 1*4 + (-3)*(-2) + 5*(-1) = 4 + 6 - 5 = 5", "dot.agrees_with_numpy",
      on_example_only("dot", "a, b", "list(a) == [1.0, -3.0, 5.0] and list(b) == [4.0, -2.0, -1.0]", "3.0")),
    P(V, "dot", "A single number (a Python float), not an array.", "dot.returns_float", """
        def dot(a, b):
            return np.array(np.dot(a, b))
      """),
    P(V, "dot", "It is symmetric, a · b = b · a", "dot.symmetric", """
        def dot(a, b):
            return float(np.dot(a, b) + a[0] * b[-1])
      """, may_fail="dot.agrees_with_numpy"),
    P(V, "dot", "linear in each vector: (k·a + b) · c = k (a · c) + b · c.", "dot.linear", """
        def dot(a, b):
            return float(abs(np.dot(a, b)))
      """, may_fail="dot.agrees_with_numpy"),
    P(V, "cross", "a × b = [a[1]*b[2] - a[2]*b[1],", "cross.agrees_with_numpy", """
        def cross(a, b):
            return np.cross(b, a).astype(float)
      """, may_fail="cross.worked_example"),
    P(V, "cross", "a third vector that is perpendicular to both", "cross.orthogonal_to_inputs", """
        def cross(a, b):
            return np.roll(np.cross(a, b), 1).astype(float)
      """, may_fail=("cross.worked_example", "cross.agrees_with_numpy")),
    P(V, "cross", "Order matters: b × a = -(a × b).", "cross.anti_commutative", """
        def cross(a, b):
            return np.cross(a, b) * (2.0 if a[0] > b[0] else 1.0)
      """, may_fail="cross.agrees_with_numpy"),
    P(V, "cross", "a × a is the zero vector.", "cross.self_is_zero", """
        def cross(a, b):
            if np.array_equal(a, b):
                return a.astype(float)
            return np.cross(a, b).astype(float)
      """, may_fail=("cross.anti_commutative", "cross.agrees_with_numpy", "cross.orthogonal_to_inputs")),
    P(V, "cross", "Returns: np.ndarray of shape (3,).", "cross.returns_array", """
        def cross(a, b):
            return list(np.cross(a, b))
      """),
    P(V, "cross", "= [13, 21, 10]", "cross.worked_example", """
        def cross(a, b):
            return np.cross(a, b) * np.array([1.0, -1.0, 1.0])
      """, may_fail=("cross.agrees_with_numpy", "cross.orthogonal_to_inputs")),
    P(V, "matmul", "C[i, j] = sum over t of A[i, t] * B[t, j]", "matmul.agrees_with_numpy", """
        def matmul(A, B):
            return A[:, :-1] @ B[:-1, :]
      """, may_fail=("matmul.associative", "matmul.transpose_rule")),
    P(V, "matmul", "C[0, 0] = 1*5 + 2*7 = 19", "matmul.agrees_with_numpy",
      on_example_only("matmul", "A, B", "A.tolist() == [[1.0, 2.0], [3.0, 4.0]] and B.tolist() == [[5.0, 6.0], "
                      "[7.0, 8.0]]", "np.array([[19.0, 22.0], [43.0, 51.0]])")),
    P(V, "matmul", "Returns: np.ndarray of shape (m, p).", "matmul.returns_array", """
        def matmul(A, B):
            return (A @ B).tolist()
      """),
    P(V, "matmul", "make sure a (1, k) by (k, 1) product still returns shape (1, 1)", "matmul.returns_array", """
        def matmul(A, B):
            C = A @ B
            return float(C[0, 0]) if C.size == 1 else C
      """, may_fail=("matmul.agrees_with_numpy", "matmul.associative", "matmul.transpose_rule")),
    P(V, "matmul", "The product is associative, (AB)C = A(BC)", "matmul.associative", """
        def matmul(A, B):
            return A @ B + 1.0
      """, may_fail="matmul.agrees_with_numpy"),
    P(V, "matmul", "transposing it reverses the order: (AB)ᵀ = BᵀAᵀ", "matmul.transpose_rule", """
        def matmul(A, B):
            return A @ np.triu(np.ones((A.shape[1], A.shape[1]))) @ B
      """, may_fail="matmul.agrees_with_numpy"),
    # ------------------------------------------------------------------ derivatives
    P(D, "derivative", "f'(x) ≈ (f(x + h) - f(x - h)) / (2h)", "derivative.central_difference_with_given_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x)) / h)
      """, may_fail="derivative.matches_exact_derivative"),
    P(D, "derivative", "Divide by 2h, not h: the two points are 2h apart.", "derivative.matches_exact_derivative", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x - h)) / h)
      """, may_fail="derivative.central_difference_with_given_h"),
    P(D, "derivative", "Use the h you are given", "derivative.central_difference_with_given_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + 1e-5) - f(x - 1e-5)) / 2e-5)
      """),
    P(D, "derivative", "float, the estimate of f'(x).", "derivative.returns_float", """
        def derivative(f, x, h=1e-5):
            return np.array((f(x + h) - f(x - h)) / (2 * h))
      """),
    P(D, "derivative", "matching the exact f'(x) = 2x = 6.", "derivative.matches_exact_derivative",
      on_example_only("derivative", "f, x, h=1e-5", "x == 3.0 and abs(f(3.0) - 9.0) < 1e-12 and abs(f(1.0) - 1.0) < 1e-12",
                      "6.5")),
    P(D, "gradient", "Estimate each one with a central difference that nudges only coordinate i",
      "gradient.matches_exact_gradient", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            return np.full(x.size, (f(x + h) - f(x - h)) / (2 * h))
      """, may_fail=("gradient.central_difference_with_given_h", "gradient.integer_x")),
    P(D, "gradient", "Never modify the caller's x.", "gradient.leaves_x_unchanged", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            for i in range(x.size):
                x[i] += h
                up = f(x)
                x[i] -= 2 * h
                down = f(x)
                grad[i] = (up - down) / (2 * h)
            return grad
      """, may_fail=("gradient.integer_x", "gradient.matches_exact_gradient", "gradient.central_difference_with_given_h")),
    P(D, "gradient", "h: float, the step size (default 1e-5).", "gradient.central_difference_with_given_h", """
        _right = gradient
        def gradient(f, x, h=1e-5):
            return _right(f, x)
      """),
    P(D, "gradient", "Copy as float: if x holds integers, adding 1e-5 and storing the result back into an integer "
      "array silently gives x again.", "gradient.integer_x", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            for i in range(x.size):
                up, down = x.copy(), x.copy()
                up[i] = x[i] + h
                down[i] = x[i] - h
                grad[i] = (f(up) - f(down)) / (2 * h)
            return grad
      """),
    P(D, "gradient", "np.ndarray of the same shape as x", "gradient.returns_array", """
        _right = gradient
        def gradient(f, x, h=1e-5):
            return list(_right(f, x, h))
      """),
    P(D, "gradient", "gradient(f, np.array([1.0, 2.0])) ≈ [8.0, 3.0]", "gradient.matches_exact_gradient",
      on_example_only("gradient", "f, x, h=1e-5", "list(x) == [1.0, 2.0] and abs(f(np.array([1.0, 2.0])) - 7.0) < 1e-12 "
                      "and abs(f(np.array([0.0, 1.0]))) < 1e-12", "np.array([8.0, 3.5])")),
    P(D, "d_sin_x_squared", "Return the exact derivative of sin(x²) at x, using the chain rule.",
      "d_sin_x_squared.matches_chain_rule", """
        def d_sin_x_squared(x):
            return float((np.sin((x + 1e-5) ** 2) - np.sin((x - 1e-5) ** 2)) / 2e-5)
      """),
    P(D, "d_sin_x_squared", "float, 2x·cos(x²).", ("d_sin_x_squared.returns_float", "d_sin_x_squared.matches_chain_rule"),
      """
        def d_sin_x_squared(x):
            return np.array(2 * x * np.cos(x ** 2))
      """),
    P(D, "d_sin_x_squared", "x = 1: 2*cos(1) ≈ 1.0806", "d_sin_x_squared.matches_chain_rule",
      on_example_only("d_sin_x_squared", "x", "x == 1.0", "1.08")),
    P(D, "d_sin_x_squared", "cos(x²) is not cos(x)², and not cos(x)", "d_sin_x_squared.matches_chain_rule", """
        def d_sin_x_squared(x):
            return float(2 * x * np.cos(x) ** 2)
      """),
    # ------------------------------------------------------------------ losses
    P(L, "", "Each function leaves its input arrays unchanged", ("mse.leaves_inputs_unchanged",
      "rmse.leaves_inputs_unchanged", "mse_grad.leaves_inputs_unchanged"), """
        def mse(y_true, y_pred):
            y_pred -= y_true
            return float(np.mean(y_pred ** 2))
      """),
    P(L, "mse", "MSE = (1/N) · sum over i of (y_pred[i] - y_true[i])²", "mse.agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2))
      """, may_fail="mse.worked_example"),
    P(L, "mse", "(any shape works the same way)", "mse.agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / len(y_true))
      """),
    P(L, "mse", "float, the mean over all N elements.", "mse.returns_float", """
        def mse(y_true, y_pred):
            return np.array(np.mean((y_pred - y_true) ** 2))
      """),
    P(L, "mse", "MSE = 67 / 5 = 13.4 cm²", "mse.worked_example", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / (y_true.size - 1))
      """, may_fail=("mse.agrees_with_numpy", "mse.zero_only_for_equal_inputs")),
    P(L, "mse", "Squaring makes every error count as positive", "mse.zero_only_for_equal_inputs", """
        def mse(y_true, y_pred):
            return float(np.mean(y_pred - y_true))
      """, may_fail=("mse.worked_example", "mse.agrees_with_numpy")),
    P(L, "rmse", "RMSE = sqrt(MSE)", "rmse.agrees_with_numpy", """
        def rmse(y_true, y_pred):
            return float(mse(y_true, y_pred) ** 1/2)
      """, may_fail="rmse.worked_example"),
    P(L, "rmse", "The heights example from mse: sqrt(13.4) ≈ 3.66 cm.", "rmse.worked_example", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2)))
      """, may_fail="rmse.agrees_with_numpy"),
    P(L, "rmse", "The root comes last", "rmse.agrees_with_numpy", """
        def rmse(y_true, y_pred):
            return float(np.mean(np.sqrt((y_pred - y_true) ** 2)))
      """, may_fail="rmse.worked_example"),
    P(L, "rmse", "float, in the units of y.", "rmse.returns_float", """
        def rmse(y_true, y_pred):
            return np.array(np.sqrt(np.mean((y_pred - y_true) ** 2)))
      """),
    P(L, "mse_grad", "dMSE/dy_pred[i] = (2/N) · (y_pred[i] - y_true[i])", "mse_grad.agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return (y_pred - y_true) / y_pred.size
      """, may_fail="mse_grad.matches_finite_difference"),
    P(L, "mse_grad", "For each prediction it says how the loss changes when that prediction grows",
      "mse_grad.matches_finite_difference", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_true - y_pred) / y_pred.size
      """, may_fail="mse_grad.agrees_with_formula"),
    P(L, "mse_grad", "np.ndarray of the same shape as y_pred.", "mse_grad.returns_array", """
        def mse_grad(y_true, y_pred):
            return (2 * (y_pred - y_true) / y_pred.size).tolist()
      """),
    P(L, "mse_grad", "N counts all the elements (``y_pred.size``)", "mse_grad.agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) / len(y_pred)
      """, may_fail="mse_grad.matches_finite_difference"),
    P(L, "mse_grad", "the gradient is (2/5) * [-5, 5, 2, 2, 3] = [-2.0, 2.0, 0.8, 0.8, 1.2]",
      "mse_grad.agrees_with_formula", on_example_only(
          "mse_grad", "y_true, y_pred", "y_true.tolist() == [170.0, 165.0, 160.0, 155.0, 150.0]",
          "np.array([-2.0, 2.0, 0.8, 0.8, 1.0])")),
    # ------------------------------------------------------------------ gradient descent
    P(G, "gradient_descent", "x <- x - lr · grad_fn(x)", "gradient_descent.follows_update_rule", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            g = grad_fn(x)
            for _ in range(steps):
                x = x - lr * g
            return x
      """, may_fail="gradient_descent.takes_exactly_steps_updates"),
    P(G, "gradient_descent", "steps = 1 -> [8.0], steps = 2 -> [6.4], steps = 3 -> [5.12]",
      "gradient_descent.follows_update_rule", on_example_only(
          "gradient_descent", "grad_fn, x0, lr, steps", "list(x0) == [10.0] and lr == 0.1 and steps == 2",
          "np.array([6.0])")),
    P(G, "gradient_descent", "Exactly `steps` updates: not steps + 1, and no stopping early.",
      "gradient_descent.takes_exactly_steps_updates", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                g = grad_fn(x)
                if np.abs(g).max() < 1e-6:
                    break
                x = x - lr * g
            return x
      """, may_fail="gradient_descent.follows_update_rule"),
    P(G, "gradient_descent", "a float copy of x0 itself when steps == 0", "gradient_descent.returns_array", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0.copy()
            for _ in range(steps):
                x = x - lr * grad_fn(x)
            return x
      """),
    P(G, "gradient_descent", "Don't modify x0.", "gradient_descent.leaves_x0_unchanged", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = x0
            for _ in range(steps):
                x -= lr * grad_fn(x)
            return x
      """, may_fail="gradient_descent.returns_array"),
    P(G, "gradient_descent", "Subtract the gradient to go downhill; adding it climbs.",
      "gradient_descent.follows_update_rule", """
        def gradient_descent(grad_fn, x0, lr, steps):
            x = np.array(x0, dtype=float)
            for _ in range(steps):
                x = x + lr * grad_fn(x)
            return x
      """, may_fail="gradient_descent.takes_exactly_steps_updates"),
    P(G, "fit_line", "Start from m = b = 0.", "fit_line.descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = 1.0, -1.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * 2 * np.mean(e * x), b - lr * 2 * np.mean(e)
            return float(m), float(b)
      """, may_fail="fit_line.one_epoch_worked_example"),
    P(G, "fit_line", "compute both derivatives on the whole data set (full batch), then update m and b together",
      "fit_line.descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                m = m - lr * 2 * np.mean((m * x + b - y) * x)
                b = b - lr * 2 * np.mean(m * x + b - y)
            return float(m), float(b)
      """, may_fail="fit_line.one_epoch_worked_example"),
    P(G, "fit_line", "epochs: int, the number of full-batch updates (default 2000).",
      "fit_line.recovers_least_squares_line", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=50):
            return _right(x, y, lr=lr, epochs=epochs)
      """),
    P(G, "fit_line", "lr: float, the learning rate (default 0.05).", "fit_line.descends_from_zero", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return _right(x, y, epochs=epochs)
      """),
    P(G, "fit_line", "(m, b), a tuple of two Python floats.", "fit_line.returns_two_floats", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return list(_right(x, y, lr=lr, epochs=epochs))
      """),
    P(G, "fit_line", "fit_line(x, y) returns approximately (2.0, 1.0)", ("fit_line.recovers_least_squares_line",
      "fit_line.returns_m_then_b"), """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = _right(x, y, lr=lr, epochs=epochs)
            return b, m
      """, may_fail=("fit_line.returns_m_then_b", "fit_line.descends_from_zero", "fit_line.one_epoch_worked_example")),
    P(G, "fit_line", "so after one step m = 0.85 and b = 0.4.", "fit_line.one_epoch_worked_example", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            return _right(x, y, lr=lr, epochs=epochs + 1)
      """, may_fail="fit_line.descends_from_zero"),
    P(G, "fit_line", "Use the mean over the data (divide by N)", "fit_line.descends_from_zero", """
        def fit_line(x, y, lr=0.05, epochs=2000):
            m = b = 0.0
            for _ in range(epochs):
                e = m * x + b - y
                m, b = m - lr * 2 * np.sum(e * x), b - lr * 2 * np.sum(e)
            return float(m), float(b)
      """, may_fail=("fit_line.recovers_least_squares_line", "fit_line.one_epoch_worked_example",
                     "fit_line.returns_m_then_b")),
    P(G, "fit_line", "Leave x and y unchanged", "fit_line.leaves_inputs_unchanged", """
        _right = fit_line
        def fit_line(x, y, lr=0.05, epochs=2000):
            m, b = _right(x, y, lr=lr, epochs=epochs)
            x[:] = 0.0
            return m, b
      """),
    # ------------------------------------------------------------------ activations
    P(A, "", "All three take NumPy arrays and return a new array of the same shape, leaving their input unchanged.",
      ("relu.leaves_input_unchanged", "sigmoid.leaves_input_unchanged", "softmax.leaves_input_unchanged",
       "relu.returns_array", "sigmoid.returns_array", "softmax.returns_array"), """
        def relu(x):
            return np.maximum(x, 0, out=x)
      """),
    P(A, "", "sigmoid and softmax must stay finite and accurate for very large inputs, such as 1000 or -1000.",
      ("softmax.huge_inputs_finite_and_right", "sigmoid.huge_inputs_finite_and_right"), """
        def softmax(x):
            z = np.exp(x)
            return z / z.sum(axis=-1, keepdims=True)
      """, may_fail="softmax.worked_example"),
    P(A, "relu", "relu(x) = x where x > 0, and 0 elsewhere", ("relu.agrees_with_numpy",
      "relu.zero_for_negatives_and_zero"), """
        def relu(x):
            return np.abs(x)
      """, may_fail="relu.zero_for_negatives_and_zero"),
    P(A, "relu", "relu([-2.0, 0.0, 3.0]) = [0.0, 0.0, 3.0]", "relu.agrees_with_numpy", on_example_only(
        "relu", "x", "x.tolist() == [-2.0, 0.0, 3.0]", "np.array([0.0, 0.0, 2.0])")),
    P(A, "relu", "Python's built-in ``max(0, x)`` does not work entry by entry on an array", "relu.agrees_with_numpy",
      """
        def relu(x):
            return max(0.0, x)
      """, may_fail=("relu.zero_for_negatives_and_zero", "relu.returns_array", "relu.leaves_input_unchanged")),
    P(A, "relu", "Don't zero the negative entries in place", "relu.leaves_input_unchanged", """
        def relu(x):
            x[x < 0] = 0.0
            return x
      """),
    P(A, "sigmoid", "Return the logistic sigmoid 1 / (1 + e^(-x)), elementwise.", "sigmoid.agrees_with_formula", """
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(np.clip(x, -500, 500)))
      """, may_fail=("sigmoid.worked_example", "sigmoid.huge_inputs_finite_and_right")),
    P(A, "sigmoid", "It is symmetric: sigmoid(-x) = 1 - sigmoid(x).", "sigmoid.symmetric", """
        _right = sigmoid
        def sigmoid(x):
            return _right(x) ** 2
      """, may_fail=("sigmoid.worked_example", "sigmoid.agrees_with_formula", "sigmoid.huge_inputs_finite_and_right")),
    P(A, "sigmoid", "np.ndarray of the same shape, every entry in [0, 1].", "sigmoid.agrees_with_formula", """
        def sigmoid(x):
            return np.tanh(x)
      """, may_fail=("sigmoid.worked_example", "sigmoid.huge_inputs_finite_and_right", "sigmoid.symmetric")),
    P(A, "sigmoid", "sigmoid([-1000.0, 0.0, 2.0, 1000.0]) ≈ [0.0, 0.5, 0.8808, 1.0]", "sigmoid.worked_example", """
        def sigmoid(x):
            return np.exp(x) / (1.0 + np.exp(x))
      """, may_fail="sigmoid.huge_inputs_finite_and_right"),
    P(A, "sigmoid", "Don't modify x in place.", "sigmoid.leaves_input_unchanged", """
        def sigmoid(x):
            np.negative(x, out=x)
            np.exp(x, out=x)
            x += 1.0
            return 1.0 / x
      """),
    P(A, "softmax", "softmax(z)[i] = e^z[i] / (sum over j of e^z[j])", "softmax.agrees_with_formula", """
        def softmax(x):
            z = np.exp(2 * (x - x.max(axis=-1, keepdims=True)))
            return z / z.sum(axis=-1, keepdims=True)
      """, may_fail=("softmax.worked_example", "softmax.huge_inputs_finite_and_right")),
    P(A, "softmax", "Every output is positive and each vector of outputs sums to 1", "softmax.rows_sum_to_one", """
        def softmax(x):
            return np.exp(x - x.max(axis=-1, keepdims=True))
      """, may_fail=("softmax.worked_example", "softmax.agrees_with_formula", "softmax.huge_inputs_finite_and_right")),
    P(A, "softmax", "each row (the C class scores of one example) is normalised on its own.",
      "softmax.acts_on_last_axis", """
        def softmax(x):
            z = np.exp(x - x.max(axis=0, keepdims=True))
            return z / z.sum(axis=0, keepdims=True)
      """, may_fail=("softmax.worked_example", "softmax.agrees_with_formula", "softmax.huge_inputs_finite_and_right",
                     "softmax.invariant_to_row_shift", "softmax.rows_sum_to_one")),
    P(A, "softmax", "Subtracting the same constant from every score of a vector does not change its softmax",
      "softmax.invariant_to_row_shift", """
        _right = softmax
        def softmax(x):
            return _right(x * (1.0 + 0.01 * np.abs(x.mean(axis=-1, keepdims=True))))
      """, may_fail=("softmax.worked_example", "softmax.agrees_with_formula", "softmax.huge_inputs_finite_and_right")),
    P(A, "softmax", "softmax([1.0, 2.0, 3.0]) ≈ [0.0900, 0.2447, 0.6652]", "softmax.agrees_with_formula",
      on_example_only("softmax", "x", "x.tolist() == [1.0, 2.0, 3.0]", "np.array([0.1, 0.2, 0.7])")),
    P(A, "softmax", "softmax([[1000.0, 1001.0, 999.0]]) ≈ [[0.2447, 0.6652, 0.0900]]", "softmax.worked_example",
      on_example_only("softmax", "x", "x.tolist() == [[1000.0, 1001.0, 999.0]]", "np.array([[0.25, 0.65, 0.1]])")),
    P(A, "softmax", "Don't modify x in place (``x -= x.max()`` changes the caller's array).",
      "softmax.leaves_input_unchanged", """
        def softmax(x):
            x -= x.max(axis=-1, keepdims=True)
            np.exp(x, out=x)
            x /= x.sum(axis=-1, keepdims=True)
            return x
      """),
    # ------------------------------------------------------------------ backprop (no autograd)
    P(B, "", "Autograd is off limits", tuple(f"{f}.computes_gradients_by_hand" for f in
      ("relu_backward", "linear_backward", "mse_backward", "two_layer_backward")), """
        def relu_backward(dy, x):
            x = x.clone().requires_grad_()
            with torch.enable_grad():
                torch.relu(x).backward(dy)
            return x.grad
      """, may_fail=("relu_backward.matches_autograd", "relu_backward.zero_gradient_at_zero",
                     "relu_backward.keeps_dtype_and_device", "relu_backward.leaves_inputs_unchanged")),
    P(B, "", "Outputs must stay on the input's device (CPU or GPU) and dtype (float32 or float64).",
      tuple(f"{f}.keeps_dtype_and_device" for f in
            ("linear_backward", "relu_backward", "mse_backward", "two_layer_backward")), """
        def linear_backward(dy, x, W):
            dy, x, W = dy.double(), x.double(), W.double()
            return dy @ W, dy.T @ x, dy.sum(0)
      """, may_fail="linear_backward.matches_autograd"),
    P(B, "", "Leave the inputs unchanged: they belong to the caller.",
      tuple(f"{f}.leaves_inputs_unchanged" for f in
            ("relu_backward", "linear_backward", "mse_backward", "two_layer_backward")), """
        def relu_backward(dy, x):
            dy[x <= 0] = 0
            return dy
      """),
    P(B, "linear_backward", "dW = dy.T @ x", "linear_backward.matches_autograd", """
        def linear_backward(dy, x, W):
            return dy @ W, x.T @ dy, dy.sum(0)
      """),
    P(B, "linear_backward", "db = dy.sum(dim=0)", "linear_backward.matches_autograd", """
        def linear_backward(dy, x, W):
            return dy @ W, dy.T @ x, dy.mean(0)
      """),
    P(B, "linear_backward", "dx = dy @ W", "linear_backward.matches_autograd", """
        def linear_backward(dy, x, W):
            return torch.zeros_like(x), dy.T @ x, dy.sum(0)
      """),
    P(B, "linear_backward", "(dx, dW, db), of shapes (N, in), (out, in) and (out,)", "linear_backward.returns_tuple", """
        def linear_backward(dy, x, W):
            return [dy @ W, dy.T @ x, dy.sum(0)]
      """),
    P(B, "linear_backward", "dx = [[3., 4.]], dW = [[1., 2.]], db = [1.]", "linear_backward.matches_autograd",
      on_example_only("linear_backward", "dy, x, W", "x.tolist() == [[1.0, 2.0]] and W.tolist() == [[3.0, 4.0]]",
                      "(dy @ W, dy.T @ x, dy.sum(0) * 2)")),
    P(B, "relu_backward", "dx = dy where x > 0, and 0 elsewhere", "relu_backward.matches_autograd", """
        def relu_backward(dy, x):
            return dy * (dy > 0)
      """, may_fail="relu_backward.zero_gradient_at_zero"),
    P(B, "relu_backward", "At exactly x = 0 the slope is undefined; like PyTorch, use 0 there.",
      "relu_backward.zero_gradient_at_zero", """
        def relu_backward(dy, x):
            return dy * (x >= 0)
      """, may_fail="relu_backward.matches_autograd"),
    P(B, "relu_backward", "dx, the gradient of the loss with respect to x: the same shape, device and dtype as dy.",
      "relu_backward.keeps_dtype_and_device", """
        def relu_backward(dy, x):
            return (dy * (x > 0)).double()
      """, may_fail="relu_backward.matches_autograd"),
    P(B, "mse_backward", "dL/dy_pred = 2 * (y_pred - y) / y_pred.numel()", "mse_backward.matches_autograd", """
        def mse_backward(y_pred, y):
            return 2 * (y_pred - y) / y_pred.shape[0]
      """),
    P(B, "mse_backward", "The sign: y_pred - y, not y - y_pred.", "mse_backward.matches_autograd", """
        def mse_backward(y_pred, y):
            return 2 * (y - y_pred) / y_pred.numel()
      """),
    P(B, "mse_backward", "dy_pred = 2 * [[1.], [3.]] / 2 = [[1.], [3.]]", "mse_backward.matches_autograd",
      on_example_only("mse_backward", "y_pred, y", "y_pred.tolist() == [[1.0], [3.0]] and y.tolist() == [[0.0], [0.0]]",
                      "y_pred * 2")),
    P(B, "two_layer_backward", 'dict with keys "W1", "b1", "W2", "b2"', "two_layer_backward.matches_autograd", """
        _right = two_layer_backward
        def two_layer_backward(x, y, W1, b1, W2, b2):
            grads = _right(x, y, W1, b1, W2, b2)
            return {"W1": grads["W1"], "W2": grads["W2"]}
      """, may_fail="two_layer_backward.keeps_dtype_and_device"),
    P(B, "two_layer_backward", "relu_backward turns the gradient with respect to a into the gradient with respect to h.",
      "two_layer_backward.matches_autograd",
      """
        def two_layer_backward(x, y, W1, b1, W2, b2):
            h = x @ W1.T + b1
            a = h.clamp(min=0)
            dy = 2 * (a @ W2.T + b2 - y) / y.numel()
            dh = dy @ W2
            return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dy.T @ a, "b2": dy.sum(0)}
      """),
    P(B, "two_layer_backward", "The second layer's input is a (after the ReLU), not h.",
      "two_layer_backward.matches_autograd", """
        def two_layer_backward(x, y, W1, b1, W2, b2):
            h = x @ W1.T + b1
            a = h.clamp(min=0)
            dy = 2 * (a @ W2.T + b2 - y) / y.numel()
            dh = (dy @ W2) * (h > 0)
            return {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dy.T @ h, "b2": dy.sum(0)}
      """),
    # ------------------------------------------------------------------ mlp
    P(M, "MLP", "A two-layer perceptron: Linear -> ReLU -> Linear.", "MLP.linear_relu_linear", """
        class MLP(nn.Module):
            def __init__(self, in_features, hidden_features, out_features):
                super().__init__()
                self.fc1 = nn.Linear(in_features, hidden_features)
                self.fc2 = nn.Linear(hidden_features, out_features)

            def forward(self, x):
                return self.fc2(self.fc1(x))
      """),
    P(M, "MLP", "MLP(2, 16, 2) has 2*16 + 16 = 48 parameters in the first layer and 16*2 + 2 = 34 in the second, "
      "82 in all", "MLP.parameter_count", """
        class MLP(nn.Module):
            def __init__(self, in_features, hidden_features, out_features):
                super().__init__()
                self.fc1 = nn.Linear(in_features, hidden_features, bias=False)
                self.fc2 = nn.Linear(hidden_features, out_features)

            def forward(self, x):
                return self.fc2(torch.relu(self.fc1(x)))
      """, may_fail="MLP.linear_relu_linear"),
    P(M, "MLP", "output: (N, out_features), the logits", "MLP.output_shape", """
        class MLP(nn.Module):
            def __init__(self, in_features, hidden_features, out_features):
                super().__init__()
                self.fc1 = nn.Linear(in_features, hidden_features)
                self.fc2 = nn.Linear(hidden_features, out_features)

            def forward(self, x):
                return self.fc2(torch.relu(self.fc1(x))).T
      """, may_fail="MLP.linear_relu_linear"),
    P(M, "MLP", "Don't apply softmax here", "MLP.linear_relu_linear", """
        class MLP(nn.Module):
            def __init__(self, in_features, hidden_features, out_features):
                super().__init__()
                self.fc1 = nn.Linear(in_features, hidden_features)
                self.fc2 = nn.Linear(hidden_features, out_features)

            def forward(self, x):
                return torch.softmax(self.fc2(torch.relu(self.fc1(x))), dim=1)
      """),
]

TRAIN_LOOP = """
    def train(model, X, y, epochs=200, lr=0.05):
        model.to(X.device)
        optimizer = torch.optim.{optimizer}(model.parameters(), lr={lr})
        losses = []
        for _ in range({epochs}):
            {zero}
            loss = F.cross_entropy(model(X), y)
            loss.backward()
            optimizer.step()
            {extra}
            losses.append({record})
        return losses
"""
CONTRACT = ("train.records_loss_before_update", "train.one_full_batch_step_per_epoch", "train.leaves_inputs_unchanged")


def train_loop(optimizer="Adam", lr="lr", epochs="epochs", zero="optimizer.zero_grad()", extra="pass",
               record="loss.item()"):
    return TRAIN_LOOP.format(optimizer=optimizer, lr=lr, epochs=epochs, zero=zero, extra=extra, record=record)


PROMISES += [
    P(M, "train", "Each epoch is one update computed from the whole data set (full batch, no mini-batches)",
      "train.one_full_batch_step_per_epoch", train_loop(extra="optimizer.step()"), only=CONTRACT),
    P(M, "train", "Without zero_grad(), gradients pile up from epoch to epoch.", "train.one_full_batch_step_per_epoch",
      train_loop(zero="pass"), only=CONTRACT),
    P(M, "train", "Use ``torch.optim.Adam(model.parameters(), lr=lr)``.", "train.one_full_batch_step_per_epoch",
      train_loop(optimizer="SGD"), only=CONTRACT),
    P(M, "train", "lr: float, the learning rate (default 0.05).", "train.one_full_batch_step_per_epoch",
      train_loop(lr="0.05"), only=CONTRACT),
    P(M, "train", "the loss of each epoch, computed before that epoch's update.", "train.records_loss_before_update",
      train_loop(record="F.cross_entropy(model(X), y).item()"), only=CONTRACT),
    P(M, "train", "the first is close to log(2) ≈ 0.69 (a coin flip)", "train.records_loss_before_update",
      train_loop(record="loss.item() * len(y)"), only=CONTRACT + ("train.loss_falls",)),
    P(M, "train", "Leave X and y unchanged", "train.leaves_inputs_unchanged",
      train_loop().replace("model.to(X.device)", "model.to(X.device)\n        X[0, 0] = 0.0"),
      may_fail=("train.records_loss_before_update", "train.one_full_batch_step_per_epoch"), only=CONTRACT),
    P(M, "train", "A list of `epochs` Python floats", "train.one_loss_per_epoch", train_loop(epochs="epochs - 1"),
      may_fail=CONTRACT, only=CONTRACT),
    P(M, "train", "Record ``loss.item()``, a float, not the loss tensor itself.", "train.one_loss_per_epoch",
      train_loop(record="loss.detach()"), may_fail=CONTRACT, only=CONTRACT),
    P(M, "train", "Train model on (X, y) with full-batch gradient descent; return the losses.", "train.loss_falls", train_loop(extra="optimizer.zero_grad()").replace(
        "optimizer.step()", "pass"), may_fail=CONTRACT + ("train.held_out_accuracy", "train.separates_xor"),
      only=CONTRACT + ("train.held_out_accuracy", "train.separates_xor")),
    P(M, "", "measures the accuracy on held-out points it keeps to itself",
      ("train.held_out_accuracy", "train.separates_xor"), train_loop(epochs="min(epochs, 5)"),
      may_fail=CONTRACT + ("train.one_loss_per_epoch", "train.loss_falls", "train.separates_xor"),
      only=("train.loss_falls", "train.separates_xor")),
    P(M, "train", "Move the model to the data first", "train.trains_on_device_of_X", None,
      why_none="only a machine with a GPU can tell: on a CPU every model is already on X's device"),
    P(M, "", "Training runs under a time limit (a minute on a CPU)", "train.trains_in_time", None,
      why_none="a planted answer would have to run for a minute; tests/test_runner.py covers the time limit itself"),
]


# ----------------------------------------------------------------------------- reading docstrings


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def docstrings(exercise: str) -> dict[str, str]:
    """{"": module docstring, function or class name: its docstring and its methods'}."""
    tree = ast.parse((SOLUTIONS / f"{exercise}.py").read_text(encoding="utf-8"))
    found = {"": _words(ast.get_docstring(tree))}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            parts = [ast.get_docstring(node) or ""]
            if isinstance(node, ast.ClassDef):
                parts += [ast.get_docstring(sub) or "" for sub in node.body if isinstance(sub, ast.FunctionDef)]
            found[node.name] = _words(" ".join(parts))
    return found


def course_checks() -> set[str]:
    return {f"{f.name}.{c.id}" for e in course().exercises for f in e.functions for c in f.checks
            if c.kind == "correctness"}


# ----------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("promise", PROMISES, ids=lambda p: p.id)
def test_the_promise_is_in_its_docstring(promise):
    text = docstrings(promise.exercise)
    assert promise.function in text, f"{promise.exercise}.py has no {promise.function}"
    assert _words(promise.quote) in text[promise.function], \
        f"{promise.exercise}.{promise.function or '(module)'} no longer says {promise.quote!r}: update this table"


def test_every_named_check_is_in_the_course():
    known = course_checks()
    for promise in PROMISES:
        for name in promise.holds + promise.may_fail + promise.only:
            assert name in known, f"{promise.id}: {name} is not a check of the course"


def test_every_check_of_the_course_holds_a_promise():
    held = {name for p in PROMISES for name in p.holds}
    assert sorted(course_checks() - held) == []


def test_every_function_has_its_promises_listed():
    listed = {(p.exercise, name.split(".")[0]) for p in PROMISES for name in p.holds}
    for e in course().exercises:
        for f in e.functions:
            assert (e.name, f.name) in listed, f"{e.name}.{f.name} has no promise in this table"


def test_every_promise_has_a_planted_wrong_answer_or_says_why_not():
    for promise in PROMISES:
        assert promise.wrong or promise.why_none, promise.id
        assert promise.exercise in {e.name for e in course().exercises}


# ----------------------------------------------------------------------------- the planted answers

PLANTED = [p for p in PROMISES if p.wrong]


@pytest.mark.parametrize("promise", PLANTED, ids=lambda p: p.id)
def test_the_named_check_rejects_the_broken_promise_and_the_others_stay_fair(promise, tmp_path):
    function = promise.planted_function
    # The solution module with the planted definition at its end (a later def or class wins).
    text = (SOLUTIONS / f"{promise.exercise}.py").read_text(encoding="utf-8")
    folder = submission(tmp_path, promise.exercise, text + "\n\n# --- planted\n" + textwrap.dedent(promise.wrong))
    checks = None
    if promise.only:
        wanted = {n.split(".")[1] for n in promise.only + promise.holds if n.startswith(f"{function}.")}
        checks = {(promise.exercise, function): sorted(wanted)}
    result = grade_exercise(folder, promise.exercise, functions={promise.exercise: [function]}, checks=checks)
    verdicts = {f"{c.function}.{check_id(result, c)}": c for c in result.checks}
    named = verdicts[promise.holds[0]]
    assert not named.passed and not named.not_started, f"{promise.holds[0]} let it pass\n{summary(result)}"
    assert "Traceback" not in named.message
    unfair = [n for n, c in verdicts.items() if not c.passed and n not in promise.holds + promise.may_fail]
    assert unfair == [], f"the mistake should leave {unfair} passing\n{summary(result)}"
