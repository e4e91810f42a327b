"""Checks of ``losses``: MSE, RMSE and the MSE's gradient against NumPy and exact maths."""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..format import show
from .base import Registry, Slip, expect_array, expect_close, expect_float, expect_inputs_unchanged, fail, probing

checks = Registry("losses")
pairs = S.same_shape_pairs()
# One array as both y_true and y_pred (a perfect prediction): tried on every run as well.
_HEIGHT = np.array([170.0, 165.0, 160.0])
ALIASED = (_HEIGHT, _HEIGHT)
HEIGHTS = (np.array([170.0, 165.0, 160.0, 155.0, 150.0]), np.array([165.0, 170.0, 162.0, 157.0, 153.0]))
# The same heights as whole numbers, as the docstring writes them (the contract allows any array).
WHOLE_HEIGHTS = tuple(h.astype(np.int64) for h in HEIGHTS)
# Where the recognisable slips all give different numbers (see base.diagnose).
PROBE = (np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]]), np.array([[2.0, 0.0, 3.5], [1.0, 5.0, 9.0]]))
WHOLE_PROBE = (np.array([[1, 2, 3], [4, 5, 7]]), np.array([[2, 0, 3], [1, 5, 9]]))  # rounding down ≠ truncating


def _mse(t, p):
    return float(np.mean((p - t) ** 2))


def _mse_scale(t, p):
    # Rounding error of a mean of squares is relative to the mean of the terms' sizes.
    return float(np.mean(t ** 2 + p ** 2)) + 1.0


# The recognisable slips, shared by the checks of each function (values on the example at hand).

MEAN_OVER_ALL = "N is the number of elements, y_pred.size: every element is one prediction, in any shape."
FLOOR = ("// is floor division, which rounds the result down to a whole number; / divides exactly.")


def _squares(t, p):
    return (p - t) ** 2


def _mse_slips(t, p):
    n = t.size
    sq = _squares(t, p)
    return (
        Slip("sum_not_mean", lambda: np.sum(sq), "that is the sum of the squared errors",
             "The MSE is a mean: divide the sum of the squared errors by how many there are."),
        Slip("divides_by_n_minus_1", lambda: np.float64(np.sum(sq)) / (n - 1),
             f"that divides by N − 1 = {n - 1}, not by N = {n}",
             "The MSE divides by N, the number of errors; N − 1 belongs to the sample variance."),
        Slip("divides_by_rows", lambda: np.sum(sq) / len(t),
             f"that divides by the {len(t)} rows, not by all {n} elements", MEAN_OVER_ALL),
        Slip("floor_division", lambda: np.floor_divide(np.sum(sq), n), "that is the mean rounded down", FLOOR),
        Slip("mean_absolute_error", lambda: np.mean(np.abs(p - t)), "that is the mean absolute error",
             "Square each error before averaging: squaring is what makes big errors count much more."),
        Slip("squares_the_mean_error", lambda: np.mean(p - t) ** 2,
             "that squares the mean error, so positive and negative errors cancel first",
             "Square each error first, then average the squares."),
        Slip("root_taken", lambda: np.sqrt(np.mean(sq)), "that is the RMSE, the square root of the MSE",
             "The MSE stays in squared units: no square root at the end."),
        Slip("halved", lambda: np.mean(sq) / 2, "that is half the MSE",
             "Some books put a ½ in front of the squared error; this course's MSE is the plain mean."),
    )


def _rmse_slips(t, p):
    n = t.size
    sq = _squares(t, p)
    mse = np.mean(sq)
    return (
        Slip("missing_root", lambda: mse, "that is the MSE itself, in squared units",
             "Take the square root of the MSE last: it brings the error back to the units of y."),
        Slip("power_precedence", lambda: mse / 2, "that is the MSE divided by 2: ** binds tighter than /, so "
             "mse ** 1/2 means (mse ** 1) / 2",
             "Write the square root as ** 0.5, as ** (1 / 2) with brackets, or with np.sqrt(...)."),
        Slip("mean_absolute_error", lambda: np.mean(np.abs(p - t)),
             "that is the mean of the square roots of the squared errors, the mean absolute error",
             "The root comes last: the square root of the mean of the squares."),
        Slip("root_of_sum", lambda: np.sqrt(np.sum(sq)),
             "that is the root of the sum of the squared errors, not of their mean",
             "Average the squared errors (divide by N) before taking the root."),
        Slip("divides_by_n_minus_1", lambda: np.sqrt(np.float64(np.sum(sq)) / (n - 1)),
             f"that divides by N − 1 = {n - 1}, not by N = {n}", "The MSE under the root divides by N."),
        Slip("divides_by_rows", lambda: np.sqrt(np.sum(sq) / len(t)),
             f"that divides by the {len(t)} rows, not by all {n} elements", MEAN_OVER_ALL),
        Slip("floor_division", lambda: np.sqrt(np.floor_divide(np.sum(sq), n)),
             "that is the root of the mean rounded down", FLOOR),
    )


def _whole(p) -> str:
    return f" (y_pred holds integers here, dtype {p.dtype})" if p.dtype.kind in "iu" else ""


def _grad_slips(t, p):
    n = t.size
    return (
        Slip("sign_flipped", lambda: 2 * (t - p) / n, "every sign is flipped: that is 2(y_true − y_pred)/N",
             "Differentiate with respect to y_pred: the error is y_pred − y_true, and a prediction that is too "
             "high must get a positive gradient."),
        Slip("missing_factor_2", lambda: (p - t) / n, "that is half the gradient: the factor 2 is missing",
             "The derivative of a square u² is 2u: it brings down a factor 2."),
        Slip("missing_mean", lambda: 2 * (p - t),
             "that is the gradient of the sum of squares: the 1/N of the mean is missing",
             "The MSE divides by N, so its gradient does too."),
        Slip("missing_factor_2_and_mean", lambda: p - t, "that is the error itself: the factor 2/N is missing",
             "The derivative of mean(u²) with respect to one u is 2u/N."),
        Slip("divides_by_rows", lambda: 2 * (p - t) / len(t),
             f"that divides by the {len(t)} rows, not by all {n} elements", MEAN_OVER_ALL),
        Slip("divides_by_n_minus_1", lambda: 2 * (p - t) / np.float64(n - 1),
             f"that divides by N − 1 = {n - 1}, not by N = {n}", "The MSE divides by N, so its gradient does too."),
        Slip("floor_division", lambda: np.floor_divide(2 * (p - t), n), "every entry is rounded down", FLOOR),
        Slip("truncated_to_int", lambda: np.trunc(2 * (p - t) / n),
             f"those are the right values with the fractions dropped{_whole(p)}",
             "Make the result a float array: an array made with np.zeros_like or np.empty_like has the dtype "
             "of the array it copies."),
        Slip("returns_the_loss", lambda: np.mean((p - t) ** 2), "that is the MSE itself, not its gradient",
             "The gradient has one entry per prediction: how the loss changes as that one prediction moves."),
    )


# ----------------------------------------------------------------------------- mse

@checks.add("mse", "worked_example")
def _(learner, tol):
    expect_close(learner.mse(*HEIGHTS), 13.4, tol, learner=learner, slips=_mse_slips(*HEIGHTS),
                 probe=probing(learner.mse, _mse_slips, PROBE),
                 hint="The errors y_pred − y_true are −5, 5, 2, 2, 3; squared they are 25, 25, 4, 4, 9, and "
                      "their mean is 67/5")


@checks.add("mse", "agrees_with_numpy", pairs, examples=(ALIASED,))
def _(learner, tol, t, p):
    expect_close(learner.mse(t, p), _mse(t, p), tol, scale=_mse_scale(t, p), learner=learner,
                 slips=_mse_slips(t, p), probe=probing(learner.mse, _mse_slips, PROBE))


@checks.add("mse", "zero_only_for_equal_inputs",
            st.tuples(S.same_shape_arrays(2), st.sampled_from([1.0, -1.0, 0.5, 3.0, -20.0])))
def _(learner, tol, tp, delta):
    t, _ = tp
    same = learner.mse(t, t.copy())
    expect_close(same, 0.0, tol, learner=learner, hint="A perfect prediction has zero error")
    moved = t.copy()
    moved.flat[0] += delta
    value = learner.mse(t, moved)
    if not float(value) > 0:
        fail(f"{learner.last_call} returned {show(value)}, but predictions that differ from the targets "
             f"must give an MSE greater than 0")


@checks.add("mse", "returns_float", pairs)
def _(learner, tol, t, p):
    expect_float(learner.mse(t, p), learner.last_call)


@checks.add("mse", "leaves_inputs_unchanged", pairs, examples=(ALIASED,))
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "mse", (t, p))


# ----------------------------------------------------------------------------- rmse

@checks.add("rmse", "worked_example")
def _(learner, tol):
    expect_close(learner.rmse(*HEIGHTS), np.sqrt(13.4), tol, learner=learner, slips=_rmse_slips(*HEIGHTS),
                 probe=probing(learner.rmse, _rmse_slips, PROBE),
                 hint="The RMSE is the square root of the MSE (13.4 cm²), in cm")


@checks.add("rmse", "agrees_with_numpy", pairs, examples=(ALIASED,))
def _(learner, tol, t, p):
    expected = np.sqrt(_mse(t, p))
    expect_close(learner.rmse(t, p), expected, tol, scale=np.sqrt(_mse_scale(t, p)), learner=learner,
                 slips=_rmse_slips(t, p), probe=probing(learner.rmse, _rmse_slips, PROBE))


@checks.add("rmse", "returns_float", pairs)
def _(learner, tol, t, p):
    expect_float(learner.rmse(t, p), learner.last_call)


@checks.add("rmse", "leaves_inputs_unchanged", pairs, examples=(ALIASED,))
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "rmse", (t, p))


# ----------------------------------------------------------------------------- mse_grad

@checks.add("mse_grad", "agrees_with_formula", pairs, examples=(HEIGHTS, WHOLE_HEIGHTS, ALIASED))
def _(learner, tol, t, p):
    expected = 2 * (p - t) / t.size
    expect_close(learner.mse_grad(t, p), expected, tol, scale=2 * (np.abs(p) + np.abs(t)) / t.size,
                 learner=learner, slips=_grad_slips(t, p),
                 probe=probing(learner.mse_grad, _grad_slips, PROBE, WHOLE_PROBE))


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
    expect_close(learner.mse_grad(t, p), numeric, tol, scale=scale, learner=learner, slips=_grad_slips(t, p),
                 probe=probing(learner.mse_grad, _grad_slips, PROBE),
                 hint="Each entry is how fast the MSE changes as that one prediction moves")


@checks.add("mse_grad", "returns_array", pairs)
def _(learner, tol, t, p):
    expect_array(learner.mse_grad(t, p), p.shape, learner.last_call)


@checks.add("mse_grad", "leaves_inputs_unchanged", pairs, examples=(ALIASED,))
def _(learner, tol, t, p):
    expect_inputs_unchanged(learner, "mse_grad", (t, p))
