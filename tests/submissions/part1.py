"""Planted answers for Part 1 (vectors, derivatives, losses): the data of tests/test_part1_*.py.

``WRONG``: mistakes learners really make. Each replaces one function of the reference
solution and names the check that must catch it (``catches``); ``only=True`` says that
check must be the *only* failing one (e.g. a list instead of an array is right in value
and must lose only the type check).

``RIGHT``: correct answers written differently from the reference (loops, other NumPy
calls, the standard library). Each must score full marks.

To plant a new mistake, add a ``Planted(...)`` line below; nothing else is needed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planted:
    exercise: str
    function: str
    name: str  # the test id: what the learner did
    source: str  # the function's definition (indented freely; it is dedented)
    catches: str = ""  # the check id that must fail (WRONG only)
    only: bool = False  # ... and every other check must pass

    @property
    def id(self) -> str:
        return f"{self.function}-{self.name}"


def wrong(exercise, function, name, catches, source, only=False):
    return Planted(exercise, function, name, source, catches, only)


def right(exercise, function, name, source):
    return Planted(exercise, function, name, source)


WRONG = [
    # ------------------------------------------------------------------ vectors.dot
    wrong("vectors", "dot", "elementwise_product", "returns_float", """
        def dot(a, b):
            return a * b
    """),
    wrong("vectors", "dot", "truncated_with_int", "agrees_with_numpy", """
        def dot(a, b):
            return float(int(np.dot(a, b)))
    """),
    wrong("vectors", "dot", "returns_int", "returns_float", """
        def dot(a, b):
            return int(round(float(np.dot(a, b))))
    """),
    wrong("vectors", "dot", "skips_last_entry", "agrees_with_numpy", """
        def dot(a, b):
            total = 0.0
            for i in range(len(a) - 1):
                total += a[i] * b[i]
            return total
    """),
    wrong("vectors", "dot", "multiplies_in_place", "leaves_inputs_unchanged", """
        def dot(a, b):
            a *= b
            return float(a.sum())
    """),
    # ------------------------------------------------------------------ vectors.cross
    wrong("vectors", "cross", "middle_sign_flipped", "worked_example", """
        def cross(a, b):
            return np.array([a[1] * b[2] - a[2] * b[1],
                             a[0] * b[2] - a[2] * b[0],
                             a[0] * b[1] - a[1] * b[0]], dtype=float)
    """),
    wrong("vectors", "cross", "components_rotated", "agrees_with_numpy", """
        def cross(a, b):
            return np.array([a[0] * b[1] - a[1] * b[0],
                             a[1] * b[2] - a[2] * b[1],
                             a[2] * b[0] - a[0] * b[2]], dtype=float)
    """),
    wrong("vectors", "cross", "arguments_swapped", "agrees_with_numpy", """
        def cross(a, b):
            return np.cross(b, a).astype(float)
    """),
    wrong("vectors", "cross", "returns_list", "returns_array", """
        def cross(a, b):
            return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    """, only=True),
    wrong("vectors", "cross", "integer_array", "agrees_with_numpy", """
        def cross(a, b):
            return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                             a[0] * b[1] - a[1] * b[0]], dtype=int)
    """),
    # ------------------------------------------------------------------ vectors.matmul
    wrong("vectors", "matmul", "elementwise_product", "agrees_with_numpy", """
        def matmul(A, B):
            return A * B
    """),
    wrong("vectors", "matmul", "second_transposed", "agrees_with_numpy", """
        def matmul(A, B):
            return A @ B.T
    """),
    wrong("vectors", "matmul", "integer_accumulator", "agrees_with_numpy", """
        def matmul(A, B):
            m, k = A.shape
            p = B.shape[1]
            C = np.zeros((m, p), dtype=int)
            for i in range(m):
                for j in range(p):
                    C[i, j] = sum(A[i, t] * B[t, j] for t in range(k))
            return C
    """),
    wrong("vectors", "matmul", "returns_nested_list", "returns_array", """
        def matmul(A, B):
            return (A @ B).tolist()
    """, only=True),
    wrong("vectors", "matmul", "result_shaped_like_A", "agrees_with_numpy", """
        def matmul(A, B):
            C = np.zeros_like(A)
            for i in range(A.shape[0]):
                for j in range(A.shape[1]):
                    C[i, j] = np.dot(A[i, :], B[:, j])
            return C
    """),
    wrong("vectors", "matmul", "reversed_order", "agrees_with_numpy", """
        def matmul(A, B):
            return np.dot(B, A)
    """),
    # ------------------------------------------------------------------ derivatives.derivative
    wrong("derivatives", "derivative", "forward_difference_h_0_1", "matches_exact_derivative", """
        def derivative(f, x, h=1e-5):
            return float((f(x + 0.1) - f(x)) / 0.1)
    """),
    wrong("derivatives", "derivative", "forward_difference_given_h", "central_difference_with_given_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x)) / h)
    """),
    wrong("derivatives", "derivative", "ignores_h", "central_difference_with_given_h", """
        def derivative(f, x, h=1e-5):
            step = 1e-5
            return float((f(x + step) - f(x - step)) / (2 * step))
    """, only=True),
    wrong("derivatives", "derivative", "steps_half_h_each_side", "central_difference_with_given_h", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h / 2) - f(x - h / 2)) / h)
    """, only=True),
    wrong("derivatives", "derivative", "missing_half", "matches_exact_derivative", """
        def derivative(f, x, h=1e-5):
            return float((f(x + h) - f(x - h)) / h)
    """),
    wrong("derivatives", "derivative", "returns_array", "returns_float", """
        def derivative(f, x, h=1e-5):
            return np.array([(f(x + h) - f(x - h)) / (2 * h)])
    """),
    # ------------------------------------------------------------------ derivatives.gradient
    wrong("derivatives", "gradient", "nudges_x_in_place", "leaves_x_unchanged", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros_like(x, dtype=float)
            for i in range(x.size):
                x[i] += h
                up = f(x)
                x[i] -= 2 * h
                down = f(x)
                grad[i] = (up - down) / (2 * h)
            return grad
    """),
    wrong("derivatives", "gradient", "alias_not_copy", "leaves_x_unchanged", """
        def gradient(f, x, h=1e-5):
            grad = np.zeros_like(x, dtype=float)
            for i in range(x.size):
                x_plus = x
                x_plus[i] = x[i] + h
                up = f(x_plus)
                x_plus[i] = x[i] - 2 * h
                down = f(x_plus)
                x_plus[i] = x[i] + h
                grad[i] = (up - down) / (2 * h)
            return grad
    """),
    wrong("derivatives", "gradient", "forward_differences", "central_difference_with_given_h", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            grad = np.zeros_like(x)
            for i in range(x.size):
                step = np.zeros_like(x)
                step[i] = h
                grad[i] = (f(x + step) - f(x)) / h
            return grad
    """),
    wrong("derivatives", "gradient", "ignores_h", "central_difference_with_given_h", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            grad = np.zeros_like(x)
            for i in range(x.size):
                step = np.zeros_like(x)
                step[i] = 1e-5
                grad[i] = (f(x + step) - f(x - step)) / 2e-5
            return grad
    """, only=True),
    wrong("derivatives", "gradient", "column_shape", "returns_array", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            grad = np.zeros((x.size, 1))
            for i in range(x.size):
                step = np.zeros_like(x)
                step[i] = h
                grad[i, 0] = (f(x + step) - f(x - step)) / (2 * h)
            return grad
    """),
    wrong("derivatives", "gradient", "returns_list", "returns_array", """
        def gradient(f, x, h=1e-5):
            x = np.array(x, dtype=float)
            grad = []
            for i in range(x.size):
                step = np.zeros_like(x)
                step[i] = h
                grad.append((f(x + step) - f(x - step)) / (2 * h))
            return grad
    """, only=True),
    # ------------------------------------------------------------------ derivatives.d_sin_x_squared
    wrong("derivatives", "d_sin_x_squared", "missing_inner_derivative", "matches_chain_rule", """
        def d_sin_x_squared(x):
            return float(np.cos(x ** 2))
    """),
    wrong("derivatives", "d_sin_x_squared", "sin_for_cos", "matches_chain_rule", """
        def d_sin_x_squared(x):
            return float(2 * x * np.sin(x ** 2))
    """),
    wrong("derivatives", "d_sin_x_squared", "cos_of_x_squared_wrongly", "matches_chain_rule", """
        def d_sin_x_squared(x):
            return float(2 * x * np.cos(x) ** 2)
    """),
    wrong("derivatives", "d_sin_x_squared", "finite_difference", "matches_chain_rule", """
        def d_sin_x_squared(x):
            h = 1e-5
            return float((np.sin((x + h) ** 2) - np.sin((x - h) ** 2)) / (2 * h))
    """),
    wrong("derivatives", "d_sin_x_squared", "returns_array", "returns_float", """
        def d_sin_x_squared(x):
            return np.array([2 * x * np.cos(x ** 2)])
    """),
    # ------------------------------------------------------------------ losses.mse
    wrong("losses", "mse", "sum_not_mean", "agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2))
    """),
    wrong("losses", "mse", "absolute_not_square", "agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.mean(np.abs(y_pred - y_true)))
    """),
    wrong("losses", "mse", "divides_by_n_minus_1", "worked_example", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / (y_true.size - 1))
    """),
    wrong("losses", "mse", "divides_by_rows", "agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.sum((y_pred - y_true) ** 2) / len(y_true))
    """),
    wrong("losses", "mse", "squares_the_mean_error", "agrees_with_numpy", """
        def mse(y_true, y_pred):
            return float(np.mean(y_pred - y_true) ** 2)
    """),
    # ------------------------------------------------------------------ losses.rmse
    wrong("losses", "rmse", "missing_sqrt", "agrees_with_numpy", """
        def rmse(y_true, y_pred):
            return float(np.mean((y_pred - y_true) ** 2))
    """),
    wrong("losses", "rmse", "mean_absolute_error", "agrees_with_numpy", """
        def rmse(y_true, y_pred):
            return float(np.mean(np.sqrt((y_pred - y_true) ** 2)))
    """),
    wrong("losses", "rmse", "sqrt_of_sum", "worked_example", """
        def rmse(y_true, y_pred):
            return float(np.sqrt(np.sum((y_pred - y_true) ** 2)))
    """),
    wrong("losses", "rmse", "returns_array", "returns_float", """
        def rmse(y_true, y_pred):
            return np.sqrt(np.mean((y_pred - y_true) ** 2, keepdims=True))
    """),
    # ------------------------------------------------------------------ losses.mse_grad
    wrong("losses", "mse_grad", "missing_factor_2", "agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return (y_pred - y_true) / y_pred.size
    """),
    wrong("losses", "mse_grad", "sign_flipped", "agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_true - y_pred) / y_pred.size
    """),
    wrong("losses", "mse_grad", "divides_by_n_minus_1", "agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) / (y_pred.size - 1)
    """),
    wrong("losses", "mse_grad", "divides_by_rows", "agrees_with_formula", """
        def mse_grad(y_true, y_pred):
            return 2 * (y_pred - y_true) / len(y_pred)
    """),
    wrong("losses", "mse_grad", "subtracts_in_place", "leaves_inputs_unchanged", """
        def mse_grad(y_true, y_pred):
            y_pred -= y_true
            return 2 * y_pred / y_pred.size
    """),
]


RIGHT = [
    # ------------------------------------------------------------------ vectors.dot
    right("vectors", "dot", "python_loop", """
        def dot(a, b):
            total = 0.0
            for i in range(len(a)):
                total += a[i] * b[i]
            return total
    """),
    right("vectors", "dot", "einsum", """
        def dot(a, b):
            return float(np.einsum("i,i->", a, b))
    """),
    right("vectors", "dot", "sum_of_products", """
        def dot(a, b):
            return np.sum(a * b)
    """),
    right("vectors", "dot", "math_fsum_zip", """
        import math

        def dot(a, b):
            return math.fsum(x * y for x, y in zip(a, b))
    """),
    right("vectors", "dot", "matmul_operator", """
        def dot(a, b):
            return float(a @ b)
    """),
    # ------------------------------------------------------------------ vectors.cross
    right("vectors", "cross", "np_cross", """
        def cross(a, b):
            return np.cross(a, b)
    """),
    right("vectors", "cross", "cyclic_indices", """
        def cross(a, b):
            return np.array([a[(i + 1) % 3] * b[(i + 2) % 3] - a[(i + 2) % 3] * b[(i + 1) % 3]
                             for i in range(3)])
    """),
    right("vectors", "cross", "skew_matrix", """
        def cross(a, b):
            skew = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
            return skew @ b
    """),
    # ------------------------------------------------------------------ vectors.matmul
    right("vectors", "matmul", "triple_loop", """
        def matmul(A, B):
            m, k = A.shape
            p = B.shape[1]
            C = np.zeros((m, p))
            for i in range(m):
                for j in range(p):
                    for t in range(k):
                        C[i, j] += A[i, t] * B[t, j]
            return C
    """),
    right("vectors", "matmul", "einsum", """
        def matmul(A, B):
            return np.einsum("ik,kj->ij", A, B)
    """),
    right("vectors", "matmul", "rows_dot_columns", """
        def matmul(A, B):
            return np.array([[np.dot(row, col) for col in B.T] for row in A], dtype=float)
    """),
    right("vectors", "matmul", "sum_of_outer_products", """
        def matmul(A, B):
            C = np.zeros((A.shape[0], B.shape[1]))
            for t in range(A.shape[1]):
                C += np.outer(A[:, t], B[t, :])
            return C
    """),
    right("vectors", "matmul", "broadcast_and_sum", """
        def matmul(A, B):
            return (A[:, :, None] * B[None, :, :]).sum(axis=1)
    """),
    # ------------------------------------------------------------------ derivatives.derivative
    right("derivatives", "derivative", "halved_after", """
        def derivative(f, x, h=1e-5):
            return 0.5 * (f(x + h) - f(x - h)) / h
    """),
    right("derivatives", "derivative", "named_steps", """
        def derivative(f, x, h=1e-5):
            right_value = f(x + h)
            left_value = f(x - h)
            rise = right_value - left_value
            run = 2 * h
            return float(rise / run)
    """),
    # ------------------------------------------------------------------ derivatives.gradient
    right("derivatives", "gradient", "identity_rows", """
        def gradient(f, x, h=1e-5):
            steps = np.eye(x.size) * h
            return np.array([(f(x + s) - f(x - s)) / (2 * h) for s in steps])
    """),
    right("derivatives", "gradient", "copy_and_restore", """
        def gradient(f, x, h=1e-5):
            point = x.astype(float)  # astype makes a copy
            grad = np.empty(point.shape)
            for i in range(point.size):
                old = point[i]
                point[i] = old + h
                up = f(point)
                point[i] = old - h
                down = f(point)
                point[i] = old
                grad[i] = (up - down) / (2 * h)
            return grad
    """),
    right("derivatives", "gradient", "python_lists", """
        def gradient(f, x, h=1e-5):
            values = [float(v) for v in x]
            grad = []
            for i in range(len(values)):
                up = values.copy()
                down = values.copy()
                up[i] += h
                down[i] -= h
                grad.append((f(np.array(up)) - f(np.array(down))) / (2 * h))
            return np.array(grad, dtype=float)
    """),
    # ------------------------------------------------------------------ derivatives.d_sin_x_squared
    right("derivatives", "d_sin_x_squared", "math_module", """
        import math

        def d_sin_x_squared(x):
            return 2 * x * math.cos(x * x)
    """),
    right("derivatives", "d_sin_x_squared", "outer_times_inner", """
        def d_sin_x_squared(x):
            inner = x ** 2
            outer_slope = np.cos(inner)
            inner_slope = 2 * x
            return float(outer_slope * inner_slope)
    """),
    # ------------------------------------------------------------------ losses.mse
    right("losses", "mse", "python_loop", """
        def mse(y_true, y_pred):
            total = 0.0
            for t, p in zip(y_true.ravel(), y_pred.ravel()):
                total += (p - t) ** 2
            return total / y_true.size
    """),
    right("losses", "mse", "np_square_mean", """
        def mse(y_true, y_pred):
            return float(np.mean(np.square(y_true - y_pred)))
    """),
    right("losses", "mse", "expanded_square", """
        def mse(y_true, y_pred):
            # mean(p² − 2pt + t²): cancels badly when p ≈ t, but within the course's tolerance
            return float(np.mean(y_pred ** 2) - 2 * np.mean(y_pred * y_true) + np.mean(y_true ** 2))
    """),
    right("losses", "mse", "norm_squared", """
        def mse(y_true, y_pred):
            return float(np.linalg.norm((y_pred - y_true).ravel()) ** 2 / y_pred.size)
    """),
    # ------------------------------------------------------------------ losses.rmse
    right("losses", "rmse", "math_sqrt_of_own_mse", """
        import math

        def rmse(y_true, y_pred):
            return math.sqrt(mse(y_true, y_pred))
    """),
    right("losses", "rmse", "norm_over_sqrt_n", """
        def rmse(y_true, y_pred):
            return float(np.linalg.norm((y_pred - y_true).ravel()) / np.sqrt(y_pred.size))
    """),
    right("losses", "rmse", "power_half", """
        def rmse(y_true, y_pred):
            return float(((y_pred - y_true) ** 2).mean() ** 0.5)
    """),
    # ------------------------------------------------------------------ losses.mse_grad
    right("losses", "mse_grad", "factor_first", """
        def mse_grad(y_true, y_pred):
            return (2.0 / y_pred.size) * (y_pred - y_true)
    """),
    right("losses", "mse_grad", "elementwise_loop", """
        def mse_grad(y_true, y_pred):
            grad = np.zeros(y_pred.shape)
            n = y_pred.size
            for index in np.ndindex(y_pred.shape):
                grad[index] = 2 * (y_pred[index] - y_true[index]) / n
            return grad
    """),
    right("losses", "mse_grad", "np_subtract", """
        def mse_grad(y_true, y_pred):
            return np.subtract(y_pred, y_true) * 2 / np.prod(y_pred.shape)
    """),
]
