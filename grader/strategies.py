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
