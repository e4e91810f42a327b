"""Checks of ``derivatives``: numeric derivatives against exact ones, and the chain rule.

The ``f`` given to the learner travels as an expression tree (see
:mod:`grader.runner.expressions`): the grader differentiates it exactly for the oracle.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..runner.expressions import Function
from .base import Registry, Slip, expect_array, expect_close, expect_float, expect_inputs_unchanged, probing

checks = Registry("derivatives")

# Steps the learner is given, down to a tiny 1e-6; the default 1e-5 is left out, so that
# ignoring h shows.
given_h = st.sampled_from([0.1, 0.05, 0.01, 1e-3, 1e-6])
DEFAULT_H = 1e-5


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def _difference_slips(quotient, h):
    """The recognisable finite-difference slips, for ``quotient(lower, upper, divisor)``: the
    difference quotient of f between x + lower and x + upper, divided by ``divisor``."""
    return (
        Slip("divides_by_h", lambda: quotient(-h, h, h),
             "that is (f(x + h) − f(x − h)) / h, twice the central difference",
             "The two points x − h and x + h are 2h apart, and a slope divides the change in f by the "
             "distance between the points."),
        Slip("forward_difference", lambda: quotient(0.0, h, h), "that is the one-sided (forward) difference",
             "Step to both sides of x: a one-sided step is only accurate to about h, the central difference "
             "to about h²."),
        Slip("backward_difference", lambda: quotient(-h, 0.0, h), "that is the one-sided (backward) difference",
             "Step to both sides of x: a one-sided step is only accurate to about h, the central difference "
             "to about h²."),
        Slip("half_steps", lambda: quotient(-h / 2, h / 2, h), "that steps only h/2 to each side of x",
             "Step a whole h to each side of x, then divide by the distance between the two points."),
        Slip("ignores_h", lambda: quotient(-DEFAULT_H, DEFAULT_H, 2 * DEFAULT_H) if h != DEFAULT_H else None,
             f"that is the central difference with h = {DEFAULT_H:g}, not with the h given",
             "Use the h argument, both in the steps and in the division."),
    )


def _derivative_slips(f, x, h):
    return _difference_slips(lambda lower, upper, divisor: (f(x + upper) - f(x + lower)) / divisor, h)


# ----------------------------------------------------------------------------- derivative

# The docstrings' worked examples, tried on every run as well: x² at 3, and
# x[0]² + 3·x[0]·x[1] at [1, 2].
SQUARE = Function.scalar(["pow", ["var", 0], 2])
FIELD_EXAMPLE = Function.field(["add", ["pow", ["var", 0], 2], ["mul", ["const", 3.0], ["mul", ["var", 0], ["var", 1]]]])
# Where the recognisable slips all give different numbers (see base.diagnose).
CURVE_PROBE = Function.scalar(["add", ["sin", ["mul", ["const", 0.5], ["var", 0]]], ["pow", ["var", 0], 3]])
FIELD_PROBE = Function.field(["add", ["add", ["pow", ["var", 0], 3], ["mul", ["const", 3.0], ["mul", ["var", 0], ["var", 1]]]],
                              ["sin", ["var", 2]]])


@checks.add("derivative", "matches_exact_derivative", st.tuples(S.scalar_functions(), S.point()),
            examples=((SQUARE, 3.0),))
def _(learner, tol, f, x):
    exact = float(f.derivative()(x))
    # A central difference with h = 1e-5 is accurate to ~1e-10 relative to the size of f and f'.
    scale = 1.0 + abs(float(f(x))) + abs(exact)
    expect_close(learner.derivative(f, x), exact, tol, scale=scale, learner=learner,
                 slips=_derivative_slips(f, x, DEFAULT_H),
                 probe=probing(lambda f, x, h: learner.derivative(f, x), _derivative_slips, (CURVE_PROBE, 1.3, DEFAULT_H)))


@checks.add("derivative", "central_difference_with_given_h", st.tuples(S.scalar_functions(), S.point(), given_h))
def _(learner, tol, f, x, h):
    expected = _central(f, x, h)
    scale = (abs(float(f(x + h))) + abs(float(f(x - h)))) / h
    expect_close(learner.derivative(f, x, h=h), expected, tol, scale=scale, learner=learner,
                 slips=_derivative_slips(f, x, h),
                 probe=probing(lambda f, x, h: learner.derivative(f, x, h=h), _derivative_slips, (CURVE_PROBE, 1.3, h)))


@checks.add("derivative", "returns_float", st.tuples(S.scalar_functions(), S.point()))
def _(learner, tol, f, x):
    expect_float(learner.derivative(f, x), learner.last_call)


# ----------------------------------------------------------------------------- gradient

def _field_and_point(points=S.points):
    return S.sizes(1, 4).flatmap(lambda n: st.tuples(S.field_functions(n), points(n)))


def _integer_points(n):
    """Points with whole coordinates, as an integer array (the contract allows any x)."""
    return st.lists(st.integers(-3, 3), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.int64))


def _gradient_slips(f, x, h):
    x = np.asarray(x)

    def each(lower, upper, divisor, cast=None):
        out = np.zeros(x.size)
        for i in range(x.size):
            up, down = np.array(x, dtype=float), np.array(x, dtype=float)
            up[i] += upper
            down[i] += lower
            if cast is not None:  # what an array of x's own dtype keeps of the nudge
                up, down = cast(up), cast(down)
            out[i] = (f(up) - f(down)) / divisor
        return out

    ones = np.ones(x.size)
    slips = _difference_slips(each, h) + (
        Slip("nudges_every_coordinate", lambda: np.full(x.size, (f(x + h * ones) - f(x - h * ones)) / (2 * h))
             if x.size > 1 else None,
             "that nudges every coordinate at once, so every entry comes out the same",
             "For entry i, nudge x[i] alone: e_i has a 1 in position i and 0 everywhere else."),
    )
    if x.dtype.kind in "iu":
        slips += (
            Slip("nudge_lost_in_integer_copy", lambda: each(-h, h, 2 * h, cast=np.trunc),
                 f"x holds integers here (dtype {x.dtype}), and a copy made with x.copy() keeps that dtype, "
                 f"so x[i] + h was stored as a whole number and the nudge was lost",
                 "Nudge a float copy, e.g. np.array(x, dtype=float): an integer array cannot hold x[i] + h."),
            Slip("integer_result", lambda: np.trunc(each(-h, h, 2 * h)),
                 f"those are the right slopes with the fractions dropped: x holds integers here (dtype "
                 f"{x.dtype}), and an array made with np.zeros_like(x) or np.empty_like(x) has that dtype too",
                 "Make the result a float array, e.g. np.zeros(x.shape), or np.zeros_like(x, dtype=float)."),
        )
    return slips


@checks.add("gradient", "matches_exact_gradient", _field_and_point(), examples=((FIELD_EXAMPLE, np.array([1.0, 2.0])),))
def _(learner, tol, f, x):
    exact = f.derivative()(x)
    scale = 1.0 + abs(float(f(x))) + np.abs(exact)
    expect_close(learner.gradient(f, x), exact, tol, scale=scale, learner=learner,
                 slips=_gradient_slips(f, x, DEFAULT_H),
                 probe=probing(lambda f, x, h: learner.gradient(f, x), _gradient_slips,
                               (FIELD_PROBE, np.array([1.3, -0.7, 2.1]), DEFAULT_H)))


@checks.add("gradient", "integer_x", _field_and_point(_integer_points))
def _(learner, tol, f, x):
    exact = f.derivative()(x.astype(float))
    scale = 1.0 + abs(float(f(x.astype(float)))) + np.abs(exact)
    expect_close(learner.gradient(f, x), exact, tol, scale=scale, learner=learner,
                 slips=_gradient_slips(f, x, DEFAULT_H),
                 probe=probing(lambda f, x, h: learner.gradient(f, x), _gradient_slips,
                               (FIELD_PROBE, np.array([2, -1, 3]), DEFAULT_H)))


@checks.add("gradient", "central_difference_with_given_h", st.tuples(_field_and_point(), given_h))
def _(learner, tol, fx, h):
    f, x = fx
    expected, scale = np.zeros_like(x), np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        expected[i] = (f(x + step) - f(x - step)) / (2 * h)
        scale[i] = (abs(float(f(x + step))) + abs(float(f(x - step)))) / h
    expect_close(learner.gradient(f, x, h=h), expected, tol, scale=scale, learner=learner,
                 slips=_gradient_slips(f, x, h),
                 probe=probing(lambda f, x, h: learner.gradient(f, x, h=h), _gradient_slips,
                               (FIELD_PROBE, np.array([1.3, -0.7, 2.1]), h)))


@checks.add("gradient", "returns_array", _field_and_point())
def _(learner, tol, f, x):
    expect_array(learner.gradient(f, x), x.shape, learner.last_call)


@checks.add("gradient", "leaves_x_unchanged", _field_and_point())
def _(learner, tol, f, x):
    expect_inputs_unchanged(learner, "gradient", (f, x))


# ----------------------------------------------------------------------------- chain rule

wide_x = st.one_of(st.integers(-10, 10).map(float),
                   st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False))

OUTER_AT_INNER = ("The outer function's derivative is taken at the inner value: sin is applied to x², so its "
                  "derivative is evaluated at x² too.")


def _chain_rule_slips(x):
    def difference(h, lower=-1.0):
        return (np.sin((x + h) ** 2) - np.sin((x + lower * h) ** 2)) / ((1.0 - lower) * h)

    return (
        Slip("missing_inner_derivative", lambda: np.cos(x * x),
             "that is the outer derivative alone, without the inner function's derivative",
             "The chain rule multiplies two derivatives: the outer one (of sin) and the inner one (of x²)."),
        Slip("outer_at_x", lambda: 2 * x * np.cos(x), "that takes the outer derivative at x instead of at x²",
             OUTER_AT_INNER),
        Slip("cosine_squared", lambda: 2 * x * np.cos(x) ** 2,
             "that squares the cosine of x instead of taking the cosine of x²", OUTER_AT_INNER),
        Slip("sin_for_cos", lambda: 2 * x * np.sin(x * x), "that keeps sin where its derivative belongs",
             "The derivative of sin is cos."),
        Slip("sign_flipped", lambda: -2 * x * np.cos(x * x), "the sign is flipped",
             "The derivative of sin(u) is +cos(u); only cos's own derivative brings a minus sign."),
        *(Slip("finite_difference", lambda h=h, lower=lower: difference(h, lower),
               "that is a finite difference, which only approximates the slope",
               "This function asks for the exact derivative from the chain rule: a formula with no step h in it.")
          for h in (1e-5, 1e-6, 1e-4, 1e-7, 1e-8, 1e-3) for lower in (-1.0, 0.0)),
        Slip("finite_difference", lambda: 2 * x * np.cos(x * x),
             "that is close to the exact slope but not equal to it, as a finite difference would be",
             "This function asks for the exact derivative from the chain rule: a formula with no step h in it.",
             rtol=1e-5),
    )


@checks.add("d_sin_x_squared", "matches_chain_rule", wide_x.map(lambda x: (x,)),
            examples=((0.0,), (float(np.sqrt(np.pi / 2)),), (1.0,)))
def _(learner, tol, x):
    expect_close(learner.d_sin_x_squared(x), 2 * x * np.cos(x * x), tol, scale=1.0 + abs(2 * x),
                 learner=learner, slips=_chain_rule_slips(x),
                 probe=probing(learner.d_sin_x_squared, _chain_rule_slips, (1.3,)))


@checks.add("d_sin_x_squared", "returns_float", wide_x.map(lambda x: (x,)))
def _(learner, tol, x):
    expect_float(learner.d_sin_x_squared(x), learner.last_call)
