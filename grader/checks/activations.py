"""Checks of ``activations``: ReLU, sigmoid and softmax against stable NumPy oracles.

Sigmoid and softmax must stay finite and right for huge inputs (±1000, up to ±1e4). What
counts is the value returned: ``1 / (1 + np.exp(-x))`` gives the right 0.0 at −1000 (NumPy
only warns about the overflow on the way), whereas ``np.exp(x) / np.exp(x).sum()`` gives
nan for ``[[1000, 1001, 999]]`` and fails.
"""
import numpy as np

from .. import strategies as S
from ..format import show
from .base import Mismatch, LearnerRaised, Registry, as_array, close_enough, expect_array, expect_close, \
    expect_inputs_unchanged, fail

checks = Registry("activations")

moderate = S.arrays(magnitude=50.0)  # e^50 is still finite: overflow is left to the huge-input checks
wide = S.arrays(magnitude=1e3)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(x, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return z / np.sum(z, axis=axis, keepdims=True)


def _overflow_note(got, x) -> str:
    """Name the first input entry whose result came back nan or inf."""
    if not isinstance(got, np.ndarray) or got.shape != x.shape or got.dtype.kind != "f":
        return ""
    bad = ~np.isfinite(got)
    if not bad.any():
        return ""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = idx[0] if len(idx) == 1 else idx
    text = f"the entry at index {where} (x = {show(x[idx].item())}) came back {show(got[idx].item())}"
    if np.abs(x).max() < 700:  # no exponential of these inputs can overflow
        return text
    return f"{text}: an exponential overflowed (np.exp(710) is already inf, and inf/inf is nan)"


# ----------------------------------------------------------------------------- relu

@checks.add("relu", "agrees_with_numpy", wide)
def _(learner, tol, x):
    expect_close(learner.relu(x), np.maximum(x, 0.0), tol, learner=learner)


@checks.add("relu", "zero_for_negatives_and_zero",
            S.arrays(elements=S.reals(1e3).map(lambda v: -abs(v)) | S.reals(1e3)))
def _(learner, tol, x):
    got = learner.relu(x)
    arr = as_array(got, learner.last_call)
    if arr.shape != x.shape:
        fail(f"{learner.last_call} returned an array of shape {arr.shape}; expected shape {x.shape}")
    wrong = ((x <= 0) & (arr != 0)) | ((x > 0) & (arr != x))
    if wrong.any():
        idx = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = idx[0] if len(idx) == 1 else idx
        want = "exactly 0" if x[idx] <= 0 else "x itself"
        fail(f"{learner.last_call} returned {show(arr)}: at index {where}, x = {show(x[idx].item())} gave "
             f"{show(arr[idx].item())}, expected {want}")


@checks.add("relu", "returns_array", wide)
def _(learner, tol, x):
    expect_array(learner.relu(x), x.shape, learner.last_call)


@checks.add("relu", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "relu", (x,))


# ----------------------------------------------------------------------------- sigmoid

def _expect_sigmoid(learner, tol, x, got):
    # Values lie in [0, 1]: compare absolutely (tanh-based and e^x/(1 + e^x) forms are as right).
    expect_close(got, _sigmoid(x), tol, scale=1.0, learner=learner, hint=_overflow_note(got, x))


@checks.add("sigmoid", "worked_example")
def _(learner, tol):
    x = np.array([-1000.0, 0.0, 2.0, 1000.0])
    _expect_sigmoid(learner, tol, x, learner.sigmoid(x))


@checks.add("sigmoid", "agrees_with_formula", moderate)
def _(learner, tol, x):
    _expect_sigmoid(learner, tol, x, learner.sigmoid(x))


@checks.add("sigmoid", "huge_inputs_finite_and_right", S.huge_arrays())
def _(learner, tol, x):
    _expect_sigmoid(learner, tol, x, learner.sigmoid(x))


@checks.add("sigmoid", "returns_array", wide)
def _(learner, tol, x):
    expect_array(learner.sigmoid(x), x.shape, learner.last_call)


@checks.add("sigmoid", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "sigmoid", (x,))


# ----------------------------------------------------------------------------- softmax

def _softmax_diagnosis(x, got) -> str:
    """What a wrong softmax did instead, when it matches a common slip."""
    note = _overflow_note(got, x)
    if note:
        return note + ("; subtract each row's maximum before exponentiating" if "overflowed" in note else "")
    if not isinstance(got, np.ndarray) or x.ndim != 2:
        return ""
    if got.shape != x.shape:
        return ("the result's shape differs from x's: a max or sum over axis=-1 drops that axis, so it no "
                "longer lines up with the rows of x; keepdims=True keeps it")
    arr = got.astype(float)
    if x.shape[-1] == 1 and x.shape[0] > 1 and np.allclose(arr, _softmax(x, axis=0), rtol=1e-9, atol=1e-12):
        # One column: normalising down the column and over the whole array are the same slip.
        return ("that normalises down the column (axis 0, or the whole array at once), which mixes the rows: "
                "each row of scores must be normalised on its own, along the last axis (axis=-1)")
    slips = [
        (lambda: _softmax(x, axis=0),
         "that is the softmax of each column (axis 0): each row of scores must be normalised on its own, "
         "along the last axis (axis=-1)"),
        (lambda: _softmax(x, axis=None) if x.size > x.shape[-1] else None,
         "that is one softmax over the whole array, which mixes the rows: take the max and the sum of each "
         "row (axis=-1, keepdims=True)"),
        (lambda: _without_keepdims(x),
         "that divides column j by the sum of row j: a sum over axis=-1 without keepdims=True broadcasts "
         "along the wrong axis"),
    ]
    for candidate, why in slips:
        target = candidate()
        if target is not None and target.shape == arr.shape and np.allclose(arr, target, rtol=1e-9, atol=1e-12):
            return why
    return ""


def _without_keepdims(x):
    if x.shape[0] != x.shape[1] or x.shape[0] < 2:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return z / np.sum(z, axis=-1)


def _expect_softmax(learner, tol, x, got, *, hint=""):
    try:
        # Probabilities: compare absolutely, to the tolerance times 1.
        return expect_close(got, _softmax(x), tol, scale=1.0, learner=learner)
    except Mismatch as wrong:
        why = _softmax_diagnosis(x, got) or hint
        raise Mismatch(f"{wrong}: {why}" if why else str(wrong)) from None


def _call_softmax(learner, x):
    try:
        return learner.softmax(x)
    except LearnerRaised as raised:
        if "broadcast" in str(raised) and x.ndim == 2:
            raise LearnerRaised(f"{raised}. A max or sum over axis=-1 drops that axis; keepdims=True keeps it "
                                f"so that it lines up with the rows of x") from None
        raise


@checks.add("softmax", "worked_example")
def _(learner, tol):
    x = np.array([[1000.0, 1001.0, 999.0]])
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "agrees_with_formula", moderate)
def _(learner, tol, x):
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "huge_inputs_finite_and_right", S.huge_logits())
def _(learner, tol, x):
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "acts_on_last_axis", S.matrices_of_rows())
def _(learner, tol, x):
    _expect_softmax(learner, tol, x, _call_softmax(learner, x),
                    hint="for a 2-D input each row is one example's scores and is normalised on its own")


@checks.add("softmax", "rows_sum_to_one", S.arrays(magnitude=50.0))
def _(learner, tol, x):
    got = _call_softmax(learner, x)
    arr = as_array(got, learner.last_call)
    if arr.shape != x.shape:
        fail(f"{learner.last_call} returned an array of shape {arr.shape}; expected shape {x.shape}")
    sums = arr.sum(axis=-1)
    ok = close_enough(sums, np.ones_like(sums), tol, scale=float(x.shape[-1]))
    if not ok.all():
        shown = show(sums.item()) if sums.ndim == 0 else show(sums)
        fail(f"{learner.last_call} returned {show(arr)}, whose {'entries sum' if x.ndim == 1 else 'rows sum'} "
             f"to {shown}; {'they' if x.ndim == 1 else 'each row'} must sum to 1")


@checks.add("softmax", "invariant_to_row_shift",
            S.matrices_of_rows(min_rows=1).flatmap(lambda t: S.vectors(t[0].shape[0], 30.0).map(
                lambda c: (t[0], np.round(c)))))
def _(learner, tol, x, c):
    plain = _expect_softmax(learner, tol, x, _call_softmax(learner, x))
    shifted_x = x + c[:, None]
    shifted = _call_softmax(learner, shifted_x)
    expect_close(shifted, plain, tol, scale=1.0, learner=learner,
                 hint=f"that is x with {show(c)} added to its rows (one constant per row), and adding a constant "
                      f"to a row must not change that row's softmax: e^(z+c) / Σ e^(z+c) = e^z / Σ e^z. "
                      f"softmax(x) gave {show(plain)}")


@checks.add("softmax", "returns_array", wide)
def _(learner, tol, x):
    expect_array(_call_softmax(learner, x), x.shape, learner.last_call)


@checks.add("softmax", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "softmax", (x,))
