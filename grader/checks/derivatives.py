"""Checks of ``derivatives``: numeric derivatives against exact ones, and the chain rule.

The ``f`` given to the learner travels as an expression tree (see
:mod:`grader.runner.expressions`): the grader differentiates it exactly for the oracle.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from .base import Registry, expect_array, expect_close, expect_float, expect_inputs_unchanged

checks = Registry("derivatives")

given_h = st.sampled_from([0.1, 0.05, 0.01, 1e-3])


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


# ----------------------------------------------------------------------------- derivative

@checks.add("derivative", "matches_exact_derivative", st.tuples(S.scalar_functions(), S.point()))
def _(learner, tol, f, x):
    exact = float(f.derivative()(x))
    # A central difference with h = 1e-5 is accurate to ~1e-10 relative to the size of f and f'.
    scale = 1.0 + abs(float(f(x))) + abs(exact)
    expect_close(learner.derivative(f, x), exact, tol, scale=scale, learner=learner)


@checks.add("derivative", "central_difference_with_given_h", st.tuples(S.scalar_functions(), S.point(), given_h))
def _(learner, tol, f, x, h):
    expected = _central(f, x, h)
    scale = (abs(float(f(x + h))) + abs(float(f(x - h)))) / h
    expect_close(learner.derivative(f, x, h=h), expected, tol, scale=scale, learner=learner)


@checks.add("derivative", "returns_float", st.tuples(S.scalar_functions(), S.point()))
def _(learner, tol, f, x):
    expect_float(learner.derivative(f, x), learner.last_call)


# ----------------------------------------------------------------------------- gradient

def _field_and_point():
    return S.sizes(1, 4).flatmap(lambda n: st.tuples(S.field_functions(n), S.points(n)))


@checks.add("gradient", "matches_exact_gradient", _field_and_point())
def _(learner, tol, f, x):
    exact = f.derivative()(x)
    scale = 1.0 + abs(float(f(x))) + np.abs(exact)
    expect_close(learner.gradient(f, x), exact, tol, scale=scale, learner=learner)


@checks.add("gradient", "central_difference_with_given_h", st.tuples(_field_and_point(), given_h))
def _(learner, tol, fx, h):
    f, x = fx
    expected, scale = np.zeros_like(x), np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        expected[i] = (f(x + step) - f(x - step)) / (2 * h)
        scale[i] = (abs(float(f(x + step))) + abs(float(f(x - step)))) / h
    expect_close(learner.gradient(f, x, h=h), expected, tol, scale=scale, learner=learner)


@checks.add("gradient", "returns_array", _field_and_point())
def _(learner, tol, f, x):
    expect_array(learner.gradient(f, x), x.shape, learner.last_call)


@checks.add("gradient", "leaves_x_unchanged", _field_and_point())
def _(learner, tol, f, x):
    expect_inputs_unchanged(learner, "gradient", (f, x))


# ----------------------------------------------------------------------------- chain rule

wide_x = st.one_of(st.integers(-10, 10).map(float),
                   st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False))


@checks.add("d_sin_x_squared", "matches_chain_rule", wide_x.map(lambda x: (x,)))
def _(learner, tol, x):
    expect_close(learner.d_sin_x_squared(x), 2 * x * np.cos(x * x), tol, scale=1.0 + abs(2 * x),
                 learner=learner)


@checks.add("d_sin_x_squared", "returns_float", wide_x.map(lambda x: (x,)))
def _(learner, tol, x):
    expect_float(learner.d_sin_x_squared(x), learner.last_call)
