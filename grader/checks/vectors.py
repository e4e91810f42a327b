"""Checks of ``vectors``: dot, cross and matmul against NumPy and their algebraic laws.

The value checks compare with NumPy and name the recognisable slips (:class:`Slip`). The
law checks (symmetric, linear, anti-commutative, perpendicular, associative, transpose
rule) judge the learner's function against itself, never against NumPy: a wrong ``dot``
that is symmetric passes "is symmetric", and the value check alone says the values are
wrong.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..format import show
from .base import (LearnerRaised, Registry, Slip, close_enough, diagnose, expect_array, expect_close, expect_float,
                   expect_inputs_unchanged, fail, judged_array, judged_number, probing)

checks = Registry("vectors")
three = st.tuples(S.vectors(3), S.vectors(3))
three_maybe_aliased = S.vector_pairs(3, 3)


# ----------------------------------------------------------------------------- dot

def _dot_slips(a, b):
    return (
        Slip("truncated_to_int", lambda: np.trunc(np.dot(a, b)),
             "that is the right sum with its fractional part dropped",
             "An int(...) or an integer running total drops everything after the decimal point; keep the "
             "total a float."),
        Slip("skips_last_entry", lambda: np.dot(a[:-1], b[:-1]),
             "that leaves out the last pair of entries",
             "A loop over range(len(a) - 1) stops one entry short; every index from 0 to n − 1 takes part."),
        Slip("skips_first_entry", lambda: np.dot(a[1:], b[1:]),
             "that leaves out the first pair of entries",
             "Python counts from 0: the first entries are a[0] and b[0]."),
        Slip("product_of_sums", lambda: a.sum() * b.sum(),
             "that is sum(a) · sum(b), which also multiplies entries that do not match",
             "Multiply each entry of a only by the entry of b at the same index, then add those products."),
    )


# The docstrings' worked examples, tried on every run as well.
DOT_EXAMPLE = (np.array([1.0, -3.0, 5.0]), np.array([4.0, -2.0, -1.0]))
MATMUL_EXAMPLE = (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]]))
# One array passed as both arguments (dot(a, a) is |a|²): tried on every run as well, since
# a function that writes into one argument while reading the other passes every other example.
_SQUARE = np.array([[1.5, -2.0, 0.5], [3.0, 1.0, -1.0], [0.25, 2.0, 4.0]])
_VECTOR = np.array([1.5, -2.0, 3.0])
ALIASED_VECTOR = (_VECTOR, _VECTOR)
ALIASED_SQUARE = (_SQUARE, _SQUARE)
# Inputs on which the recognisable slips all give different numbers (a shrunk example is
# often too small to tell them apart): see base.diagnose.
DOT_PROBE = (np.array([1.5, -2.0, 3.0, 0.5]), np.array([2.0, 1.0, -1.25, 4.0]))
CROSS_PROBE = (np.array([1.5, -2.0, 3.0]), np.array([2.0, 1.0, -1.25]))
MATMUL_PROBES = ((np.arange(1.0, 7.0).reshape(2, 3), np.arange(-5.0, 7.0).reshape(3, 4) / 2),
                 (np.array([[1.0, 2.0, -1.0], [0.5, 3.0, 2.0], [-2.0, 1.0, 4.0]]),
                  np.array([[2.0, -1.0, 0.5], [1.0, 1.5, -3.0], [0.0, 2.0, 1.0]])))


@checks.add("dot", "agrees_with_numpy", S.vector_pairs(), examples=(DOT_EXAMPLE, ALIASED_VECTOR))
def _(learner, tol, a, b):
    # Rounding in a sum grows with the size of its terms, not of the result.
    expect_close(learner.dot(a, b), np.dot(a, b), tol, scale=np.abs(a * b).sum(), learner=learner,
                 slips=_dot_slips(a, b), probe=probing(learner.dot, _dot_slips, DOT_PROBE))


@checks.add("dot", "symmetric", S.vector_tuples(2))
def _(learner, tol, a, b):
    ab = judged_number(learner.dot(a, b), learner.last_call, "dot")
    first = learner.last_call
    ba = judged_number(learner.dot(b, a), learner.last_call, "dot")
    if not close_enough(ba, ab, tol, scale=np.abs(a * b).sum()).all():
        fail(f"{first} returned {show(ab)}, but with the vectors swapped, {learner.last_call} returned {show(ba)}. "
             f"a·b and b·a must agree")


@checks.add("dot", "linear", st.tuples(S.vector_tuples(3, magnitude=100), S.reals(10)))
def _(learner, tol, abc, k):
    a, b, c = abc
    combined = judged_number(learner.dot(k * a + b, c), learner.last_call, "dot")
    ac = judged_number(learner.dot(a, c), learner.last_call, "dot")
    bc = judged_number(learner.dot(b, c), learner.last_call, "dot")
    parts = k * ac + bc
    scale = np.abs(k * a * c).sum() + np.abs(b * c).sum()
    if not close_enough(combined, parts, tol, scale=scale).all():
        fail(f"With k={show(k)}, a={show(a)}, b={show(b)} and c={show(c)}, dot(k*a + b, c) returned "
             f"{show(combined)}, but k*dot(a, c) + dot(b, c) is {show(parts)}. A dot product is linear in "
             f"each vector, so the two must agree")


@checks.add("dot", "returns_float", S.vector_pairs())
def _(learner, tol, a, b):
    expect_float(learner.dot(a, b), learner.last_call)


@checks.add("dot", "leaves_inputs_unchanged", S.vector_pairs(), examples=(ALIASED_VECTOR,))
def _(learner, tol, a, b):
    expect_inputs_unchanged(learner, "dot", (a, b))


# ----------------------------------------------------------------------------- cross

def _cross_scale(a, b):
    return np.abs(a)[[1, 2, 0]] * np.abs(b)[[2, 0, 1]] + np.abs(a)[[2, 0, 1]] * np.abs(b)[[1, 2, 0]]


@checks.add("cross", "worked_example")
def _(learner, tol):
    a, b = np.array([1.0, -3.0, 5.0]), np.array([4.0, -2.0, -1.0])
    expect_close(learner.cross(a, b), [13.0, 21.0, 10.0], tol, learner=learner, slips=_cross_slips(a, b),
                 probe=probing(learner.cross, _cross_slips, CROSS_PROBE))


def _cross_slips(a, b):
    right = np.cross(a, b)
    return (
        Slip("operands_swapped", lambda: np.cross(b, a), "that is b × a, which points the opposite way",
             "Order matters: each component is (an entry of a times an entry of b) minus (the same two "
             "positions the other way round), and swapping the roles of a and b flips every sign."),
        Slip("components_rotated", lambda: np.roll(right, 1),
             "those are the right components in the wrong places",
             "Component i is built from the two other positions: component 0 from positions 1 and 2, "
             "component 1 from positions 2 and 0, component 2 from positions 0 and 1."),
        Slip("components_rotated", lambda: np.roll(right, -1),
             "those are the right components in the wrong places",
             "Component i is built from the two other positions: component 0 from positions 1 and 2, "
             "component 1 from positions 2 and 0, component 2 from positions 0 and 1."),
        Slip("middle_sign_flipped", lambda: right * np.array([1.0, -1.0, 1.0]),
             "only the middle component has the wrong sign",
             "Follow the cycle 0 → 1 → 2 → 0: component 1 starts with a[2]·b[0], not a[0]·b[2]."),
        Slip("truncated_to_int", lambda: np.trunc(right), "those are the right values with the fractions dropped",
             "An integer array (dtype=int) cannot hold fractions; build the result from the float inputs."),
    )


@checks.add("cross", "agrees_with_numpy", three_maybe_aliased, examples=(ALIASED_VECTOR,))
def _(learner, tol, a, b):
    expect_close(learner.cross(a, b), np.cross(a, b), tol, scale=_cross_scale(a, b), learner=learner,
                 slips=_cross_slips(a, b), probe=probing(learner.cross, _cross_slips, CROSS_PROBE))


@checks.add("cross", "anti_commutative", three)
def _(learner, tol, a, b):
    ab = judged_array(learner.cross(a, b), (3,), learner.last_call, "cross")
    first = learner.last_call
    ba = judged_array(learner.cross(b, a), (3,), learner.last_call, "cross")
    if not close_enough(ba, -ab, tol, scale=_cross_scale(a, b)).all():
        fail(f"{first} returned {show(ab)}, but with the vectors swapped, {learner.last_call} returned {show(ba)}, "
             f"not {show(-ab + 0.0)}. Swapping the vectors must flip the sign: b×a = −(a×b)")


@checks.add("cross", "orthogonal_to_inputs", three)
def _(learner, tol, a, b):
    c = judged_array(learner.cross(a, b), (3,), learner.last_call, "cross")
    for name, v in (("a", a), ("b", b)):
        # The rounding of c·v grows with the sizes of the products that make it up.
        scale = ((_cross_scale(a, b) + np.abs(c)) * np.abs(v)).sum()
        if not close_enough(np.dot(c, v), 0.0, tol, scale=scale).all():
            fail(f"{learner.last_call} returned c = {show(c)}, and c·{name} = {show(float(np.dot(c, v)))}, "
                 f"not 0. A vector perpendicular to {name} has a dot product of 0 with it")


@checks.add("cross", "self_is_zero", S.vectors(3).map(lambda a: (a,)))
def _(learner, tol, a):
    c = judged_array(learner.cross(a, a), (3,), learner.last_call, "cross")
    if not close_enough(c, np.zeros(3), tol, scale=_cross_scale(a, a)).all():
        fail(f"{learner.last_call} returned {show(c)}. A vector crossed with itself is the zero vector: "
             f"each component subtracts two equal products")


@checks.add("cross", "returns_array", three_maybe_aliased)
def _(learner, tol, a, b):
    expect_array(learner.cross(a, b), (3,), learner.last_call)


@checks.add("cross", "leaves_inputs_unchanged", three_maybe_aliased, examples=(ALIASED_VECTOR,))
def _(learner, tol, a, b):
    expect_inputs_unchanged(learner, "cross", (a, b))


# ----------------------------------------------------------------------------- matmul

def _matmul_slips(A, B):
    right = A @ B

    def zeroed(index):
        out = right.copy()
        out[index] = 0.0
        return out

    # Where a slip's shapes do not fit, NumPy raises ValueError and diagnose skips it; where two
    # slips agree on a small example, diagnose's probe tells them apart.
    return (
        Slip("elementwise_product", lambda: A * B,
             "that is the entrywise product A * B",
             "Entry (i, j) of the matrix product adds up a whole row of A times a whole column of B; * only "
             "multiplies entries at the same position."),
        Slip("reversed_order", lambda: B @ A,
             "that is B A, the product in the other order", "Order matters: row i of the first matrix meets "
             "column j of the second."),
        Slip("second_transposed", lambda: A @ B.T, "that multiplies A by B transposed",
             "Use column j of B, B[:, j], not row j."),
        Slip("first_transposed", lambda: A.T @ B, "that multiplies A transposed by B",
             "Use row i of A, A[i, :], not column i."),
        Slip("inner_sum_short", lambda: A[:, :-1] @ B[:-1, :],
             "that leaves the last term out of every sum",
             "The sum for entry (i, j) runs over every t from 0 to k − 1; range(k - 1) stops one short."),
        Slip("last_row_missing", lambda: zeroed(np.s_[-1, :]), "the last row is left at 0",
             "The rows of the result run from 0 to m − 1; range(m - 1) stops one short."),
        Slip("last_column_missing", lambda: zeroed(np.s_[:, -1]),
             "the last column is left at 0",
             "The columns of the result run from 0 to p − 1; range(p - 1) stops one short."),
        Slip("truncated_to_int", lambda: np.trunc(right), "those are the right values with the fractions dropped",
             "An integer array (np.zeros(..., dtype=int), or zeros_like of an integer array) cannot hold "
             "fractions; make the result a float array."),
    )


@checks.add("matmul", "agrees_with_numpy", S.matmul_pairs(), examples=(MATMUL_EXAMPLE, ALIASED_SQUARE))
def _(learner, tol, A, B):
    expect_close(_matmul_or_why_not(learner, A, B), A @ B, tol, scale=np.abs(A) @ np.abs(B), learner=learner,
                 slips=_matmul_slips(A, B), probe=probing(learner.matmul, _matmul_slips, *MATMUL_PROBES))


def _matmul_or_why_not(learner, A, B):
    """The learner's matmul(A, B); when its shapes do not fit, what it does where they do.

    A reversed or transposed product raises on most shapes, so the smallest failing example
    is an error; on square matrices, where every shape fits, its numbers say which it is.
    """
    try:
        return learner.matmul(A, B)
    except LearnerRaised as raised:
        if raised.diagnosis != "shapes_do_not_fit":
            raise
        square = MATMUL_PROBES[1]
        try:
            got = learner.matmul(*square)
        except LearnerRaised:
            raise raised from None
        slip = diagnose(got, _matmul_slips(*square))
        if slip is None:
            raise
        raise LearnerRaised(f"{raised}. On square matrices, where every shape fits, {learner.last_call} returned "
                            f"{show(got)}: {slip.why}", hint=slip.hint, diagnosis=slip.name) from None


def _product(learner, A, B) -> np.ndarray:
    """The learner's A B as an (m, p) array, or NotJudged: the laws are about that product."""
    return judged_array(learner.matmul(A, B), (A.shape[0], B.shape[1]), learner.last_call, "matmul")


@checks.add("matmul", "associative", S.matmul_operands(3, high=4, magnitude=10))
def _(learner, tol, A, B, C):
    AB, BC = _product(learner, A, B), _product(learner, B, C)
    left = _product(learner, AB, C)
    left_call = learner.last_call
    right = _product(learner, A, BC)
    scale = np.abs(A) @ np.abs(B) @ np.abs(C)
    ok = close_enough(left, right, tol, scale=scale)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        fail(f"With A={show(A)}, B={show(B)} and C={show(C)}, matmul(matmul(A, B), C) gave {show(left)} "
             f"({left_call}), but matmul(A, matmul(B, C)) gave {show(right)}; they differ at index {idx}. "
             f"(AB)C and A(BC) must agree")


@checks.add("matmul", "transpose_rule", S.matmul_operands(2))
def _(learner, tol, A, B):
    AB = _product(learner, A, B)
    first = learner.last_call
    BtAt = _product(learner, B.T.copy(), A.T.copy())
    if not close_enough(BtAt, AB.T, tol, scale=(np.abs(A) @ np.abs(B)).T).all():
        fail(f"{first} returned {show(AB)}, whose transpose is {show(AB.T)}, but {learner.last_call} returned "
             f"{show(BtAt)}. (AB)ᵀ must equal BᵀAᵀ")


@checks.add("matmul", "returns_array", S.matmul_pairs())
def _(learner, tol, A, B):
    expect_array(learner.matmul(A, B), (A.shape[0], B.shape[1]), learner.last_call)


@checks.add("matmul", "leaves_inputs_unchanged", S.matmul_pairs(), examples=(ALIASED_SQUARE,))
def _(learner, tol, A, B):
    expect_inputs_unchanged(learner, "matmul", (A, B))
