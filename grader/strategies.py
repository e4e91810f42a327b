"""Hypothesis strategies shared by every exercise's checks.

Inputs are what learners will meet: small and large magnitudes, exact zeros, whole
numbers, negative values. Strategies shrink towards small whole numbers, so a failure is
reported on the simplest input that still shows it (``dot(a=[1.0], b=[2.0])``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .runner.expressions import Function


def reals(magnitude: float = 1e3) -> st.SearchStrategy[float]:
    """Finite floats up to ``magnitude``.

    Hypothesis already mixes in the awkward values (0.0, whole numbers, the bounds, tiny
    and huge exponents) and shrinks towards small whole numbers; a plain ``floats`` is
    also several times cheaper to draw than a ``one_of`` of ranges.
    """
    return st.floats(-magnitude, magnitude, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def vectors(n: int, magnitude: float = 1e3) -> st.SearchStrategy[np.ndarray]:
    return st.lists(reals(magnitude), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=float))


def sizes(low: int = 1, high: int = 8) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def vector_tuples(count: int, low: int = 1, high: int = 8, magnitude: float = 1e3):
    """``count`` vectors of one shared random length n in [low, high]."""
    return sizes(low, high).flatmap(lambda n: st.tuples(*[vectors(n, magnitude)] * count))


def matrices(m: int, n: int, magnitude: float = 1e3) -> st.SearchStrategy[np.ndarray]:
    return st.lists(reals(magnitude), min_size=m * n, max_size=m * n).map(
        lambda v: np.array(v, dtype=float).reshape(m, n))


def matmul_operands(count: int = 2, high: int = 6, magnitude: float = 100.0):
    """``count`` chainable matrices: (d0,d1), (d1,d2), ... with every dimension in [1, high]."""
    return st.lists(sizes(1, high), min_size=count + 1, max_size=count + 1).flatmap(
        lambda d: st.tuples(*[matrices(d[i], d[i + 1], magnitude) for i in range(count)]))


def same_shape_arrays(count: int = 2, magnitude: float = 1e3, max_dims: int = 2, high: int = 6):
    """``count`` arrays of one shared shape, 1-D or 2-D (e.g. y_true and y_pred)."""
    shape = st.lists(sizes(1, high), min_size=1, max_size=max_dims).map(tuple)

    def arrays_of(shape):
        size = int(np.prod(shape))
        one = st.lists(reals(magnitude), min_size=size, max_size=size).map(
            lambda v: np.array(v, dtype=float).reshape(shape))
        return st.tuples(*[one] * count)

    return shape.flatmap(arrays_of)


# ----------------------------------------------------------------------------- aliased arguments


def sometimes_aliased(plain, alias):
    """Argument tuples from ``plain``; one in four turned by ``alias`` into a tuple that passes
    one array twice (``dot(a, a)``, ``matmul(A, A)``).

    Callers may do that, and a function that writes into one argument while still reading
    the other then goes wrong though every separate-array example passes. The choice is drawn
    after the plain tuple and changes no other draw, so hypothesis's shrinker can always
    turn it off: a mistake that shows with separate arrays is reported on them.
    """
    return st.tuples(plain, st.sampled_from((False, False, False, True))).map(
        lambda drawn: alias(drawn[0]) if drawn[1] else drawn[0])


def first_twice(arrays: tuple) -> tuple:
    """``(a, b, ...)`` → ``(a, a)``: the first array as both arguments."""
    return (arrays[0], arrays[0])


def _square_twice(arrays: tuple) -> tuple:
    A = arrays[0]
    k = min(A.shape)
    square = np.ascontiguousarray(A[:k, :k])
    return (square, square)


def vector_pairs(low: int = 1, high: int = 8, magnitude: float = 1e3):
    """Two vectors of one length in [low, high], sometimes one vector twice."""
    return sometimes_aliased(vector_tuples(2, low, high, magnitude), first_twice)


def matmul_pairs(high: int = 6, magnitude: float = 100.0):
    """Chainable (A, B), sometimes one square matrix twice (``matmul(A, A)``)."""
    return sometimes_aliased(matmul_operands(2, high, magnitude), _square_twice)


def same_shape_pairs(magnitude: float = 1e3):
    """Two arrays of one shape (y_true and y_pred), sometimes one array twice."""
    return sometimes_aliased(same_shape_arrays(2, magnitude), first_twice)


# ----------------------------------------------------------------------------- functions as data


def _scalar_atoms(var):
    """Building blocks of smooth one-variable functions, kept in a bounded range on [-3, 3]."""
    coef = st.integers(-3, 3).map(float)
    small = st.sampled_from([0.5, 1.0, 1.5, 2.0, -0.5, -1.0])
    return st.one_of(
        st.tuples(coef, st.integers(1, 4)).map(lambda t: ["mul", ["const", t[0]], ["pow", var, t[1]]]),
        small.map(lambda a: ["sin", ["mul", ["const", a], var]]),
        small.map(lambda a: ["cos", ["mul", ["const", a], var]]),
        small.map(lambda a: ["exp", ["mul", ["const", a], var]]),
        st.just(["sin", ["pow", var, 2]]),
        st.tuples(small, st.integers(1, 2)).map(lambda t: ["mul", ["sin", ["mul", ["const", t[0]], var]], ["pow", var, t[1]]]),
    )


def scalar_functions() -> st.SearchStrategy[Function]:
    """Smooth f: R -> R: sums of polynomial terms and sin/cos/exp compositions."""
    x = ["var", 0]
    terms = st.lists(_scalar_atoms(x), min_size=1, max_size=3)

    def build(ts):
        tree = ts[0]
        for t in ts[1:]:
            tree = ["add", tree, t]
        return Function.scalar(tree)

    return terms.map(build)


def field_functions(n: int) -> st.SearchStrategy[Function]:
    """Smooth f: R^n -> R that mixes coordinates: sums of per-coordinate atoms and products."""
    per_coord = [_scalar_atoms(["var", i]) for i in range(n)]
    cross_terms = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(-2, 2)).map(
        lambda t: ["mul", ["const", float(t[2])], ["mul", ["var", t[0]], ["var", t[1]]]])

    def build(parts):
        tree = parts[0]
        for p in parts[1:]:
            tree = ["add", tree, p]
        return Function.field(tree)

    return st.tuples(*per_coord, st.lists(cross_terms, max_size=2)).map(lambda t: build(list(t[:n]) + t[n]))


def points(n: int, low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Evaluation points where the generated functions stay of moderate size."""
    coord = st.one_of(st.integers(int(low), int(high)).map(float),
                      st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False))
    return st.lists(coord, min_size=n, max_size=n).map(lambda v: np.array(v, dtype=float))


def point(low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(int(low), int(high)).map(float),
                     st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False))


# ----------------------------------------------------------------------------- tensors (Part 2)


def grid_floats(bound: float = 3.0) -> st.SearchStrategy[float]:
    """Floats where small whole numbers, and so exact zeros after sums, are common."""
    return st.one_of(st.integers(-2, 2).map(float),
                     st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False))


def float_dtypes() -> st.SearchStrategy[str]:
    return st.sampled_from(["float64", "float32"])


def grid_arrays(shape: tuple, bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    size = int(np.prod(shape))
    return st.lists(grid_floats(bound), min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=float).reshape(shape))


# ----------------------------------------------------------------------------- gradient descent


def _coordinate_offset(i: int, c: float):
    """The tree of x[i] − c, written as x[i] + |c| when c is negative (reads better)."""
    if c == 0:
        return ["var", i]
    return ["sub", ["var", i], ["const", c]] if c > 0 else ["add", ["var", i], ["const", -c]]


def _sum_of(parts: list):
    tree = parts[0]
    for p in parts[1:]:
        tree = ["add", tree, p]
    return tree


def centres(low: float = -5.0, high: float = 5.0) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(int(low), int(high)).map(float),
                     st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False))


BOWL_CURVATURES = (1.0, 0.5, 2.0, 3.0, 4.0)


def quadratic_bowls(n: int) -> st.SearchStrategy[Function]:
    """Gradients of the bowl 0.5·(x − c)ᵀA(x − c), A diagonal positive: component i is a_i·(x[i] − c_i).

    A vector Function (R^n -> R^n), the ``grad_fn`` of ``gradient_descent``; the curvatures
    a_i are at most 4, so a learning rate up to 0.25 heads steadily for the centre c.
    """
    def component(i, a, c):
        offset = _coordinate_offset(i, c)
        return offset if a == 1.0 else ["mul", ["const", a], offset]

    return st.lists(st.tuples(st.sampled_from(BOWL_CURVATURES), centres()), min_size=n, max_size=n).map(
        lambda ac: Function.vector([component(i, a, c) for i, (a, c) in enumerate(ac)]))


# (b, w) of a ripple b·sin(w·x[i]): its curvature |b·w²| is at most 0.5.
_RIPPLES = ((0.5, 1.0), (-0.5, 1.0), (0.25, 1.0), (2.0, 0.5), (-2.0, 0.5), (0.125, 2.0), (-0.125, 2.0))


def smooth_bowls(n: int) -> st.SearchStrategy[Function]:
    """Gradients (exact, via ``Function.derivative``) of smooth, strongly convex f: R^n -> R.

    f(x) = Σ 0.5·a_i·(x[i] − c_i)² + Σ b_i·sin(w_i·x[i]) + k·x[i]·x[j] with a_i in [1, 4],
    ripples of curvature ≤ 0.5 and one coupling |k| ≤ 0.25: the Hessian's eigenvalues lie
    in [0.25, 4.75], so with lr ≤ 0.25 every step is a contraction and two ways of writing
    the same update cannot drift apart.
    """
    def term(i, a, c, ripple):
        parts = [["mul", ["const", 0.5 * a], ["pow", _coordinate_offset(i, c), 2]]]
        if ripple is not None:
            b, w = ripple
            parts.append(["mul", ["const", b], ["sin", ["mul", ["const", w], ["var", i]]]])
        return _sum_of(parts)

    per_coord = st.tuples(st.sampled_from((1.0, 2.0, 3.0, 4.0)), centres(), st.none() | st.sampled_from(_RIPPLES))
    coupling = st.none() if n < 2 else st.none() | st.tuples(
        st.integers(0, n - 1), st.integers(1, n - 1), st.sampled_from((0.25, -0.25, 0.125)))

    def build(parts, k):
        terms = [term(i, *p) for i, p in enumerate(parts)]
        if k is not None:
            i, shift, value = k
            terms.append(["mul", ["const", value], ["mul", ["var", i], ["var", (i + shift) % n]]])
        return Function.field(_sum_of(terms)).derivative()

    return st.tuples(st.lists(per_coord, min_size=n, max_size=n), coupling).map(lambda t: build(*t))


def gradient_fields(n: int) -> st.SearchStrategy[Function]:
    """A ``grad_fn`` for R^n: a quadratic bowl or the gradient of a smooth rippled bowl."""
    return st.one_of(quadratic_bowls(n), smooth_bowls(n))


LEARNING_RATES = (0.1, 0.05, 0.25, 0.2, 0.01)


def descent_problems(max_steps: int = 30):
    """(grad_fn, x0, lr, steps) for ``gradient_descent``: n in 1..4, x0 in [-5, 5]^n."""
    return sizes(1, 4).flatmap(lambda n: st.tuples(
        gradient_fields(n), points(n, -5.0, 5.0), st.sampled_from(LEARNING_RATES), st.integers(0, max_steps)))


def halving_problems():
    """(grad_fn, x0, lr, steps) where each step halves the distance to the centre exactly.

    grad_fn(x) = x − c and lr = 0.5 take x0 to c + (x0 − c)/2^k after k steps, with whole
    numbers for x0 and c, so one update too many or too few is plain to see
    (8 -> 4 -> 2 -> 1 when c = 0).
    """
    def build(n):
        offsets = st.lists(st.integers(1, 16).map(float) | st.integers(-16, -1).map(float), min_size=n, max_size=n)
        cs = st.lists(st.integers(-5, 5).map(float), min_size=n, max_size=n)
        return st.tuples(offsets, cs, st.sampled_from((0, 1, 2, 3, 5, 10))).map(
            lambda t: (Function.vector([_coordinate_offset(i, c) for i, c in enumerate(t[1])]),
                       np.array(t[1], dtype=float) + np.array(t[0], dtype=float), 0.5, t[2]))

    return sizes(1, 3).flatmap(build)


def tiny_halving_problems():
    """(grad_fn, x0, lr, steps) near the minimum: grad_fn(x) = x, lr = 0.5, x0 of size 1e-9 or less.

    Every step still halves x exactly, but the gradient is tiny from the start, so a loop
    that stops early once the gradient (or the step) looks small returns a different point.
    """
    offsets = st.lists(st.sampled_from((1.0, -1.0, 3.0, -5.0)), min_size=1, max_size=3)
    return st.tuples(offsets, st.sampled_from((1e-9, 1e-12, 2.0 ** -40)), st.sampled_from((3, 5, 10))).map(
        lambda t: (Function.vector([["var", i] for i in range(len(t[0]))]),
                   np.array(t[0], dtype=float) * t[1], 0.5, t[2]))


def noisy_lines(sizes_: tuple = (6, 8, 20, 50)):
    """Seeded noisy data (x, y) near a line y = m·x + b, with x spread over a width of 4.

    x is evenly spread over [centre − 2, centre + 2] with a little jitter (centre −1, 0 or
    1), so full-batch gradient descent with lr = 0.05 converges well within 2000 epochs;
    values are rounded to 3 decimals so that failing examples can be copied.
    """
    def build(t):
        seed, m, b, n, noise, centre = t
        rng = np.random.default_rng(seed)
        x = np.linspace(centre - 2.0, centre + 2.0, n) + rng.uniform(-0.2, 0.2, n)
        y = m * x + b + noise * rng.standard_normal(n)
        return np.round(x, 3), np.round(y, 3)

    return st.tuples(st.integers(0, 2 ** 16), st.sampled_from((2.0, -3.0, 0.5, 4.0, -1.5)),
                     st.sampled_from((1.0, -2.0, 3.0, 0.5, -4.0)), st.sampled_from(sizes_),
                     st.sampled_from((0.5, 0.1, 1.0)), st.sampled_from((0.0, 1.0, -1.0))).map(build)


# ----------------------------------------------------------------------------- activations


def arrays(magnitude: float = 1e3, max_dims: int = 2, high: int = 6, elements=None):
    """One float array, 1-D or 2-D (shape up to high × high), as a 1-tuple of arguments."""
    elements = elements if elements is not None else reals(magnitude)
    shape = st.lists(sizes(1, high), min_size=1, max_size=max_dims).map(tuple)
    return shape.flatmap(lambda s: st.lists(elements, min_size=int(np.prod(s)), max_size=int(np.prod(s))).map(
        lambda v: (np.array(v, dtype=float).reshape(s),)))


def matrices_of_rows(magnitude: float = 50.0, min_rows: int = 2, high: int = 5):
    """One 2-D float array with at least ``min_rows`` rows (rows that differ), as a 1-tuple."""
    return st.tuples(sizes(min_rows, high), sizes(1, high)).flatmap(
        lambda s: matrices(s[0], s[1], magnitude).map(lambda a: (a,)))


def huge_reals() -> st.SearchStrategy[float]:
    """Entries far beyond where e^x overflows (e^709.8 is the largest float64): ±700 .. ±1e4."""
    return st.one_of(st.sampled_from((1000.0, -1000.0)),
                     st.floats(700.0, 1e4, allow_nan=False, allow_infinity=False),
                     st.floats(-1e4, -700.0, allow_nan=False, allow_infinity=False))


def huge_arrays():
    """1-D or 2-D arrays of huge positive and negative entries, as a 1-tuple."""
    return arrays(elements=huge_reals(), high=4)


def huge_logits():
    """Softmax inputs whose exponentials overflow or underflow, as a 1-tuple.

    Rows of nearby scores around a huge level (1000 + [1, 0, −2]: the scores of a confident
    network; −1000 + ...: every e^x underflows to 0), or rows of independent huge entries of
    either sign. The rows are a list, so a failure shrinks to as few rows as show it, and to
    one 1-D row where one row is enough.
    """
    offsets = st.lists(st.integers(-5, 5).map(float) | reals(5.0), min_size=1, max_size=5)
    near_level = st.tuples(huge_reals(), offsets).map(lambda t: t[0] + np.array(t[1], dtype=float))
    spread = st.lists(huge_reals(), min_size=1, max_size=5).map(lambda v: np.array(v, dtype=float))
    # Every row is cut to the shortest one: deleting one entry anywhere narrows the whole
    # array, so hypothesis shrinks columns as easily as rows.
    two_d = st.lists(st.one_of(near_level, spread), min_size=1, max_size=4).map(
        lambda rows: np.stack([r[:min(len(r) for r in rows)] for r in rows]))
    return st.tuples(two_d, st.booleans()).map(lambda t: (t[0] if t[1] else t[0][0],))
