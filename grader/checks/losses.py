"""Checks of ``losses``: MSE, RMSE and the MSE's gradient against NumPy and exact maths."""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from .base import Registry, expect_array, expect_close, expect_float, expect_inputs_unchanged, fail

checks = Registry("losses")
pairs = S.same_shape_arrays(2)
HEIGHTS = (np.array([170.0, 165.0, 160.0, 155.0, 150.0]), np.array([165.0, 170.0, 162.0, 157.0, 153.0]))


def _mse(t, p):
    return float(np.mean((p - t) ** 2))


def _mse_scale(t, p):
    # Rounding error of a mean of squares is relative to the mean of the terms' sizes.
    return float(np.mean(t ** 2 + p ** 2)) + 1.0


# ----------------------------------------------------------------------------- mse

@checks.add("mse", "worked_example")
def _(learner, tol):
    expect_close(learner.mse(*HEIGHTS), 13.4, tol, learner=learner,
                 hint="the errors y_pred − y_true are −5, 5, 2, 2, 3; squared they are 25, 25, 4, 4, 9, and their mean is 67/5")


@checks.add("mse", "agrees_with_numpy", pairs)
def _(learner, tol, t, p):
    expect_close(learner.mse(t, p), _mse(t, p), tol, scale=_mse_scale(t, p), learner=learner)


@checks.add("mse", "zero_only_for_equal_inputs", st.tuples(pairs, st.sampled_from([1.0, -1.0, 0.5, 3.0, -20.0])))
def _(learner, tol, tp, delta):
    t, _ = tp
    same = learner.mse(t, t.copy())
    expect_close(same, 0.0, tol, learner=learner, hint="a perfect prediction has zero error")
    moved = t.copy()
    moved.flat[0] += delta
    value = learner.mse(t, moved)
    if not float(value) > 0:
        fail(f"{learner.last_call} returned {value!r}, but predictions that differ from the targets "
             f"must give an MSE greater than 0")


@checks.add("mse", "returns_float", pairs)
def _(learner, tol, t, p):
    expect_float(learner.mse(t, p), learner.last_call)


@checks.add("mse", "leaves_inputs_unchanged", pairs)
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "mse", (t, p))


# ----------------------------------------------------------------------------- rmse

@checks.add("rmse", "worked_example")
def _(learner, tol):
    expect_close(learner.rmse(*HEIGHTS), np.sqrt(13.4), tol, learner=learner,
                 hint="the RMSE is the square root of the MSE (13.4 cm²), in cm")


@checks.add("rmse", "agrees_with_numpy", pairs)
def _(learner, tol, t, p):
    expected = np.sqrt(_mse(t, p))
    expect_close(learner.rmse(t, p), expected, tol, scale=np.sqrt(_mse_scale(t, p)), learner=learner)


@checks.add("rmse", "returns_float", pairs)
def _(learner, tol, t, p):
    expect_float(learner.rmse(t, p), learner.last_call)


@checks.add("rmse", "leaves_inputs_unchanged", pairs)
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "rmse", (t, p))


# ----------------------------------------------------------------------------- mse_grad

@checks.add("mse_grad", "agrees_with_formula", pairs)
def _(learner, tol, t, p):
    expected = 2 * (p - t) / t.size
    expect_close(learner.mse_grad(t, p), expected, tol, scale=2 * (np.abs(p) + np.abs(t)) / t.size,
                 learner=learner)


@checks.add("mse_grad", "matches_finite_difference", S.same_shape_arrays(2, magnitude=10))
def _(learner, tol, t, p):
    # Independent of the formula: nudge each prediction and watch the loss move.
    h = 1e-6
    numeric = np.zeros_like(p)
    for i in range(p.size):
        step = np.zeros_like(p)
        step.flat[i] = h
        numeric.flat[i] = (_mse(t, p + step) - _mse(t, p - step)) / (2 * h)
    # The rounding error of the difference quotient is about eps * loss / h.
    scale = 1.0 + np.abs(numeric) + _mse(t, p)
    expect_close(learner.mse_grad(t, p), numeric, tol, scale=scale, learner=learner,
                 hint="each entry is how fast the MSE changes as that one prediction moves")


@checks.add("mse_grad", "returns_array", pairs)
def _(learner, tol, t, p):
    expect_array(learner.mse_grad(t, p), p.shape, learner.last_call)


@checks.add("mse_grad", "leaves_inputs_unchanged", pairs)
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "mse_grad", (t, p))
