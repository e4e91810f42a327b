"""Checks of ``vectors``: dot, cross and matmul against NumPy and their algebraic laws."""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from .base import Registry, as_number, expect_array, expect_close, expect_float, expect_inputs_unchanged

checks = Registry("vectors")
three = st.tuples(S.vectors(3), S.vectors(3))


# ----------------------------------------------------------------------------- dot

@checks.add("dot", "agrees_with_numpy", S.vector_tuples(2))
def _(learner, tol, a, b):
    # Rounding in a sum grows with the size of its terms, not of the result.
    expect_close(learner.dot(a, b), np.dot(a, b), tol, scale=np.abs(a * b).sum(), learner=learner)


@checks.add("dot", "symmetric", S.vector_tuples(2))
def _(learner, tol, a, b):
    ab = expect_close(learner.dot(a, b), np.dot(a, b), tol, scale=np.abs(a * b).sum(), learner=learner)
    ba = learner.dot(b, a)
    expect_close(ba, ab, tol, scale=np.abs(a * b).sum(), learner=learner,
                 hint=f"dot(a, b) gave {ab!r} for the same vectors: a·b and b·a must agree")


@checks.add("dot", "linear", st.tuples(S.vector_tuples(3, magnitude=100), S.reals(10)))
def _(learner, tol, abc, k):
    a, b, c = abc
    combined = learner.dot(k * a + b, c)
    ac = as_number(learner.dot(a, c), learner.last_call)
    bc = as_number(learner.dot(b, c), learner.last_call)
    parts = k * ac + bc
    scale = np.abs(k * a * c).sum() + np.abs(b * c).sum()
    expect_close(combined, parts, tol, scale=scale, what=f"dot(k*a + b, c) with k={k!r}, a={list(a)}, "
                 f"b={list(b)}, c={list(c)}", hint="it should equal k*dot(a, c) + dot(b, c)")


@checks.add("dot", "returns_float", S.vector_tuples(2))
def _(learner, tol, a, b):
    expect_float(learner.dot(a, b), learner.last_call)


@checks.add("dot", "leaves_inputs_unchanged", S.vector_tuples(2))
def _(learner, tol, a, b):
    expect_inputs_unchanged(learner, "dot", (a, b))


# ----------------------------------------------------------------------------- cross

def _cross_scale(a, b):
    return np.abs(a)[[1, 2, 0]] * np.abs(b)[[2, 0, 1]] + np.abs(a)[[2, 0, 1]] * np.abs(b)[[1, 2, 0]]


@checks.add("cross", "worked_example")
def _(learner, tol):
    a, b = np.array([1.0, -3.0, 5.0]), np.array([4.0, -2.0, -1.0])
    expect_close(learner.cross(a, b), [13.0, 21.0, 10.0], tol, learner=learner)


@checks.add("cross", "agrees_with_numpy", three)
def _(learner, tol, a, b):
    expect_close(learner.cross(a, b), np.cross(a, b), tol, scale=_cross_scale(a, b), learner=learner)


@checks.add("cross", "anti_commutative", three)
def _(learner, tol, a, b):
    ab = expect_close(learner.cross(a, b), np.cross(a, b), tol, scale=_cross_scale(a, b), learner=learner)
    expect_close(learner.cross(b, a), -ab, tol, scale=_cross_scale(a, b), learner=learner,
                 hint="swapping the inputs must flip the sign: b×a = −(a×b)")


@checks.add("cross", "orthogonal_to_inputs", three)
def _(learner, tol, a, b):
    c = expect_close(learner.cross(a, b), np.cross(a, b), tol, scale=_cross_scale(a, b), learner=learner)
    for name, v in (("a", a), ("b", b)):
        scale = np.abs(_cross_scale(a, b) * np.abs(v)).sum()
        expect_close(np.dot(c, v), 0.0, tol, scale=scale, what=f"dot(cross(a, b), {name}) for a={list(a)}, b={list(b)}",
                     hint=f"a×b must be perpendicular to {name}")


@checks.add("cross", "self_is_zero", S.vectors(3).map(lambda a: (a,)))
def _(learner, tol, a):
    expect_close(learner.cross(a, a), np.zeros(3), tol, scale=_cross_scale(a, a), learner=learner,
                 hint="a vector crossed with itself is the zero vector")


@checks.add("cross", "returns_array", three)
def _(learner, tol, a, b):
    expect_array(learner.cross(a, b), (3,), learner.last_call)


@checks.add("cross", "leaves_inputs_unchanged", three)
def _(learner, tol, a, b):
    expect_inputs_unchanged(learner, "cross", (a, b))


# ----------------------------------------------------------------------------- matmul

@checks.add("matmul", "agrees_with_numpy", S.matmul_operands(2))
def _(learner, tol, A, B):
    expect_close(learner.matmul(A, B), A @ B, tol, scale=np.abs(A) @ np.abs(B), learner=learner)


@checks.add("matmul", "associative", S.matmul_operands(3, high=4, magnitude=10))
def _(learner, tol, A, B, C):
    AB = expect_close(learner.matmul(A, B), A @ B, tol, scale=np.abs(A) @ np.abs(B), learner=learner)
    BC = expect_close(learner.matmul(B, C), B @ C, tol, scale=np.abs(B) @ np.abs(C), learner=learner)
    left, right = learner.matmul(AB, C), learner.matmul(A, BC)
    scale = np.abs(A) @ np.abs(B) @ np.abs(C)
    expect_close(left, right, tol, scale=scale, what=f"matmul(matmul(A, B), C) for A={A.tolist()}, "
                 f"B={B.tolist()}, C={C.tolist()}", hint="it should equal matmul(A, matmul(B, C))")


@checks.add("matmul", "transpose_rule", S.matmul_operands(2))
def _(learner, tol, A, B):
    AB = expect_close(learner.matmul(A, B), A @ B, tol, scale=np.abs(A) @ np.abs(B), learner=learner)
    BtAt = learner.matmul(B.T.copy(), A.T.copy())
    expect_close(BtAt, AB.T, tol, scale=(np.abs(A) @ np.abs(B)).T, learner=learner,
                 hint="(AB)ᵀ = BᵀAᵀ")


@checks.add("matmul", "returns_array", S.matmul_operands(2))
def _(learner, tol, A, B):
    expect_array(learner.matmul(A, B), (A.shape[0], B.shape[1]), learner.last_call)


@checks.add("matmul", "leaves_inputs_unchanged", S.matmul_operands(2))
def _(learner, tol, A, B):
    expect_inputs_unchanged(learner, "matmul", (A, B))
