"""Checks of ``activations``: ReLU, sigmoid and softmax against stable NumPy oracles.

Sigmoid and softmax must stay finite and right for huge inputs (±1000, up to ±1e4). What
counts is the value returned: ``1 / (1 + np.exp(-x))`` gives the right 0.0 at −1000 (NumPy
only warns about the overflow on the way), whereas ``np.exp(x) / np.exp(x).sum()`` gives
nan for ``[[1000, 1001, 999]]`` and fails.
"""
import numpy as np

from .. import strategies as S
from ..format import show
from .base import Mismatch, LearnerRaised, Registry, Slip, as_array, close_enough, diagnose, expect_array, \
    expect_close, expect_inputs_unchanged, fail, fail_with, judged_array, probing

checks = Registry("activations")

# Where the recognisable slips all give different numbers (see base.diagnose).
PROBE = (np.array([[-1.5, 0.5, 2.0], [3.0, -0.25, 1.0]]),)
SQUARE_PROBE = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [2.0, 2.5, 1.0]])

moderate = S.arrays(magnitude=50.0)  # e^50 is still finite: overflow is left to the huge-input checks
wide = S.arrays(magnitude=1e3)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(x, axis=-1):
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return z / np.sum(z, axis=axis, keepdims=True)


LARGEST_EXP = 709.78  # e^709.78 is the largest float64; e^710 is inf
SMALLEST_EXP = -745.13  # e^−745.14 rounds to 0


def _first_nonfinite(got, x):
    """The index of the first entry of ``got`` that is nan or inf (None if none, or not comparable)."""
    if not isinstance(got, np.ndarray) or got.shape != x.shape or got.dtype.kind != "f":
        return None
    bad = ~np.isfinite(got)
    return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else None


def _entry_text(got, x, idx) -> str:
    where = idx[0] if len(idx) == 1 else idx
    return f"the entry at index {where} (x = {show(x[idx].item())}) came back {show(got[idx].item())}"


def _nonfinite_note(got, x) -> tuple[str, str]:
    """(diagnosis, text) naming the first entry of an elementwise result that came back nan or inf."""
    idx = _first_nonfinite(got, x)
    if idx is None:
        return "", ""
    text = _entry_text(got, x, idx)
    if abs(x[idx]) > LARGEST_EXP:
        return "overflow", f"{text}: an exponential overflowed (np.exp(710) is already inf, and inf/inf is nan)"
    return "", text


def _softmax_nonfinite_note(got, x) -> tuple[str, str]:
    """(diagnosis, text) for a softmax whose row came back nan: an exponential overflowed (e^1000 =
    inf, and inf/inf = nan) or every e^x of the row underflowed to 0 (and 0/0 = nan)."""
    idx = _first_nonfinite(got, x)
    if idx is None:
        return "", ""
    text = _entry_text(got, x, idx)
    row = x[idx[:-1]]
    with np.errstate(all="ignore"):
        z = np.exp(x - np.max(x))  # shifted by the largest score of the whole array, not of each row
        shifted_globally = z / np.sum(z, axis=-1, keepdims=True)
    if np.max(x) - np.max(row) > -SMALLEST_EXP and np.allclose(got, shifted_globally, equal_nan=True):
        return "underflow", (f"{text}: after subtracting the largest score of the whole array "
                             f"({show(float(np.max(x)))}), every e^x of that row underflowed to 0, and 0/0 is nan")
    if np.max(row) > LARGEST_EXP:
        return "overflow", f"{text}: an exponential overflowed (np.exp(710) is already inf, and inf/inf is nan)"
    if np.max(row) < SMALLEST_EXP:
        return "underflow", (f"{text}: every e^x of that row underflowed to 0 (np.exp(-746) is already 0), "
                             f"and 0/0 is nan")
    return "", text


# ----------------------------------------------------------------------------- relu

def _relu_result(learner, x):
    """The learner's relu(x), after naming Python's built-in max, whose one-entry result gives it away."""
    got = learner.relu(x)
    if x.size == 1 and not isinstance(got, np.ndarray) and isinstance(got, (int, float)) \
            and float(got) == max(0.0, float(x.item())):
        fail(f"{learner.last_call} returned {show(got)}, a single number, not an array: Python's built-in max "
             f"compares the whole array with 0 and returns one of the two (with more than one entry it raises "
             f"an error instead)",
             hint="NumPy has an elementwise maximum that compares every entry with 0 on its own and returns an "
                  "array shaped like x.",
             diagnosis="builtin_max")
    return got


@checks.add("relu", "agrees_with_numpy", wide, examples=((np.array([-2.0, 0.0, 3.0]),),))
def _(learner, tol, x):
    expect_close(_relu_result(learner, x), np.maximum(x, 0.0), tol, learner=learner, slips=(
        Slip("absolute_value", lambda: np.abs(x), "that is the absolute value |x|",
             "ReLU turns negative entries into 0; it does not flip their sign."),
        Slip("minimum", lambda: np.minimum(x, 0.0), "that keeps the negative entries and zeroes the positive ones",
             "ReLU keeps what is above 0: the larger of x and 0."),
    ))


@checks.add("relu", "zero_for_negatives_and_zero",
            S.arrays(elements=S.reals(1e3).map(lambda v: -abs(v)) | S.reals(1e3)))
def _(learner, tol, x):
    got = _relu_result(learner, x)
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
    expect_array(_relu_result(learner, x), x.shape, learner.last_call)


@checks.add("relu", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "relu", (x,))


# ----------------------------------------------------------------------------- sigmoid

def _expect_sigmoid(learner, tol, x, got):
    try:
        # Values lie in [0, 1]: compare absolutely (tanh-based and e^x/(1 + e^x) forms are as right).
        expect_close(got, _sigmoid(x), tol, scale=1.0, learner=learner, slips=_sigmoid_slips(x),
                     probe=probing(learner.sigmoid, _sigmoid_slips, PROBE))
    except Mismatch as wrong:
        kind, note = _nonfinite_note(got, x)
        if not note or wrong.diagnosis:
            raise
        raise Mismatch(f"{wrong}: {note}", diagnosis=kind, hint=(
            "Only ever exponentiate −|x|, which lies in (0, 1] and cannot overflow: pick the form of the "
            "sigmoid by the sign of x." if kind else None)) from None


def _sigmoid_slips(x):
    return (
        Slip("sign_in_exponent", lambda: _sigmoid(-x), "that is sigmoid(−x): the sign in the exponent is flipped",
             "sigmoid(2) ≈ 0.88 lies above 0.5 and sigmoid(−2) ≈ 0.12 below it: the exponent is −x."),
        Slip("tanh", lambda: np.tanh(x), "that is tanh(x), which runs from −1 to 1",
             "The sigmoid runs from 0 to 1; it equals (1 + tanh(x/2)) / 2, not tanh(x)."),
        Slip("missing_one", lambda: np.exp(x), "that is e^x alone", "The sigmoid divides 1 by (1 + e^(−x))."),
    )


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


@checks.add("sigmoid", "symmetric", moderate)
def _(learner, tol, x):
    s = judged_array(learner.sigmoid(x), x.shape, learner.last_call, "sigmoid")
    first = learner.last_call
    s_neg = judged_array(learner.sigmoid(-x), x.shape, learner.last_call, "sigmoid")
    ok = close_enough(s_neg, 1.0 - s, tol, scale=1.0)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        where = idx[0] if len(idx) == 1 else idx
        fail(f"{first} returned {show(s)} and {learner.last_call} returned {show(s_neg)}: at index {where}, "
             f"sigmoid({show(x[idx].item())}) = {show(s[idx].item())} but sigmoid({show(-x[idx].item())}) = "
             f"{show(s_neg[idx].item())}, whereas σ(−x) = 1 − σ(x) makes the two add up to 1")


@checks.add("sigmoid", "returns_array", wide)
def _(learner, tol, x):
    expect_array(learner.sigmoid(x), x.shape, learner.last_call)


@checks.add("sigmoid", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "sigmoid", (x,))


# ----------------------------------------------------------------------------- softmax

MIXES_ROWS = "Each row of scores is normalised on its own: take the max and the sum along the last axis " \
             "(axis=-1, keepdims=True)."


def _softmax_slips(x):
    """The recognisable axis slips of a softmax of a 2-D x (1-D inputs have only one axis to get right)."""
    if x.ndim != 2 or x.shape[0] < 2:
        return ()
    one_column = x.shape[1] == 1  # then a softmax down the column and over the whole array agree
    return (
        Slip("mixes_rows", lambda: _softmax(x, axis=0) if one_column else None,
             "that normalises down the column (axis 0, or the whole array at once), which mixes the rows",
             MIXES_ROWS),
        Slip("axis_0", lambda: _softmax(x, axis=0), "that is the softmax of each column (axis 0), which mixes the rows",
             MIXES_ROWS),
        Slip("whole_array", lambda: _softmax(x, axis=None), "that is one softmax over the whole array, which mixes "
             "the rows", MIXES_ROWS),
        Slip("no_keepdims", lambda: _without_keepdims(x), "that divides column j by the sum of row j: a sum over "
             "axis=-1 without keepdims=True lines up with the columns",
             "keepdims=True keeps the summed axis, so that each row's sum lines up with its own row."),
    )


def _without_keepdims(x):
    """Dividing by a sum over axis=-1 without keepdims: lines up with the columns, where it broadcasts."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(x - np.max(x, axis=-1, keepdims=True))
        try:
            return z / np.sum(z, axis=-1)
        except ValueError:  # shapes that do not broadcast: the learner's code raised instead
            return None


SHIFT_HINT = "Shift each row by its own maximum before exponentiating: then the largest exponential of every row " \
             "is e^0 = 1, so none can overflow and no row can sum to 0."


def _expect_softmax(learner, tol, x, got):
    try:
        # Probabilities: compare absolutely, to the tolerance times 1.
        return expect_close(got, _softmax(x), tol, scale=1.0, learner=learner, slips=_softmax_slips(x),
                            probe=probing(lambda x: _call_softmax(learner, x), _softmax_slips, (SQUARE_PROBE,)))
    except Mismatch as wrong:
        kind, note = _softmax_nonfinite_note(got, x)
        if not note or wrong.diagnosis:
            raise
        raise Mismatch(f"{wrong}: {note}", hint=SHIFT_HINT if kind else None, diagnosis=kind) from None


def _call_softmax(learner, x):
    try:
        return learner.softmax(x)
    except LearnerRaised as raised:
        if "broadcast" in str(raised) and x.ndim == 2:
            raise LearnerRaised(f"{raised}. A max or sum over axis=-1 drops that axis; keepdims=True keeps it "
                                f"so that it lines up with the rows of x", diagnosis="no_keepdims") from None
        raise


@checks.add("softmax", "worked_example")
def _(learner, tol):
    x = np.array([[1000.0, 1001.0, 999.0]])
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "agrees_with_formula", moderate, examples=((np.array([1.0, 2.0, 3.0]),),))
def _(learner, tol, x):
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "huge_inputs_finite_and_right", S.huge_logits())
def _(learner, tol, x):
    _expect_softmax(learner, tol, x, _call_softmax(learner, x))


@checks.add("softmax", "acts_on_last_axis", S.matrices_of_rows())
def _(learner, tol, x):
    whole = judged_array(_call_softmax(learner, x), x.shape, learner.last_call, "softmax")
    first = learner.last_call
    for i in range(x.shape[0]):
        alone = judged_array(_call_softmax(learner, x[i:i + 1]), (1,) + x.shape[1:], learner.last_call, "softmax")
        if not close_enough(whole[i], alone[0], tol, scale=1.0).all():
            fail_with(f"{first} returned {show(whole)}; its row {i} is {show(whole[i])}, but that row on its own, "
                      f"{learner.last_call}, gives {show(alone[0])}. Each row must be treated on its own",
                      diagnose(whole, _softmax_slips(x)))


@checks.add("softmax", "rows_sum_to_one", S.arrays(magnitude=50.0))
def _(learner, tol, x):
    arr = judged_array(_call_softmax(learner, x), x.shape, learner.last_call, "softmax")
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
    plain = judged_array(_call_softmax(learner, x), x.shape, learner.last_call, "softmax")
    first = learner.last_call
    shifted = judged_array(_call_softmax(learner, x + c[:, None]), x.shape, learner.last_call, "softmax")
    ok = close_enough(shifted, plain, tol, scale=1.0)
    if not ok.all():
        row = int(np.argwhere(~ok)[0][0])
        fail(f"{first} returned {show(plain)}, but {learner.last_call}, the same scores with {show(c)} added to "
             f"the rows (one constant per row), returned {show(shifted)}; row {row} changed. Adding a constant "
             f"to a row must not change that row's softmax: e^(z+c) / Σ e^(z+c) = e^z / Σ e^z")


@checks.add("softmax", "returns_array", wide)
def _(learner, tol, x):
    expect_array(_call_softmax(learner, x), x.shape, learner.last_call)


@checks.add("softmax", "leaves_input_unchanged", wide)
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "softmax", (x,))
