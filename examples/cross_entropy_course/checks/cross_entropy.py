"""Checks of ``cross_entropy``: the loss and its gradient against the formulas, computed here.

A course's checks module, on the grader's public API (``grader.authoring``): the grader
imports it in its own process, never in the learner's. Every reference answer below is
computed in the grader from the generated inputs; the learner's code only ever runs in its
own locked-down process, reached through ``learner.<function>(...)``.
"""
import numpy as np
from hypothesis import strategies as st

from grader.authoring import (Registry, Slip, expect_array, expect_close, expect_float, expect_inputs_unchanged,
                              strategies as S)

checks = Registry("cross_entropy")


def batches(magnitude: float = 50.0):
    """(logits, labels): an (N, C) float array of scores, N in 1..6, C in 2..5, and the N
    right classes, each in 0..C-1 (an int64 array)."""
    def batch(shape):
        n, c = shape
        labels = st.lists(st.integers(0, c - 1), min_size=n, max_size=n).map(lambda l: np.array(l, dtype=np.int64))
        return st.tuples(S.matrices(n, c, magnitude), labels)
    return st.tuples(S.sizes(1, 6), S.sizes(2, 5)).flatmap(batch)


def huge_batches():
    """Rows of nearby scores around one huge level (±700 to ±1e4): exp() of any of them overflows."""
    return st.tuples(batches(magnitude=5.0), S.huge_reals()).map(lambda t: (t[0][0] + t[1], t[0][1]))


def losses(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's loss, log-sum-exp minus the right class's score, computed stably: the oracle."""
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return log_norm - logits[np.arange(len(labels)), labels]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def gradient(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(softmax(logits) - onehot(labels)) / N: the oracle of cross_entropy_grad."""
    grad = softmax(logits)
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad / len(labels)


def scale_of(logits: np.ndarray) -> float:
    """How large the terms of the loss are: rounding grows with them, not with the result."""
    return float(np.abs(logits).max(axis=1).mean()) + 1.0


# ----------------------------------------------------------------------------- cross_entropy

@checks.add("cross_entropy", "agrees_with_the_formula", batches())
def _(learner, tol, logits, labels):
    each = losses(logits, labels)
    expected = float(each.mean())
    slips = [
        Slip("sums_over_the_batch", lambda: each.sum() if len(labels) > 1 else None,
             "that is the sum of the rows' losses, not their mean",
             "The loss of a batch is the mean of the rows' losses: divide their sum by the number of rows."),
        Slip("drops_the_minus", lambda: -expected if abs(expected) > 1e-9 else None,
             "that is the loss with the opposite sign",
             "The loss is minus the log of a probability; a probability is at most 1, so the loss is at least 0."),
    ]
    expect_close(learner.cross_entropy(logits, labels), expected, tol, scale=scale_of(logits),
                 learner=learner, slips=slips)


@checks.add("cross_entropy", "stays_finite_for_huge_logits", huge_batches())
def _(learner, tol, logits, labels):
    expect_close(learner.cross_entropy(logits, labels), float(losses(logits, labels).mean()), tol,
                 scale=scale_of(logits), learner=learner)


@checks.add("cross_entropy", "returns_a_float", batches())
def _(learner, tol, logits, labels):
    expect_float(learner.cross_entropy(logits, labels), learner.last_call)


@checks.add("cross_entropy", "leaves_its_inputs_unchanged", batches())
def _(learner, tol, logits, labels):
    expect_inputs_unchanged(learner, "cross_entropy", (logits, labels))


# ----------------------------------------------------------------------------- cross_entropy_grad

@checks.add("cross_entropy_grad", "agrees_with_the_formula", batches())
def _(learner, tol, logits, labels):
    n = len(labels)
    expected = gradient(logits, labels)
    slips = [
        Slip("forgets_the_mean", lambda: expected * n if n > 1 else None,
             "that is the gradient of the sum of the rows' losses",
             "The loss is a mean over the rows, so each row's gradient is divided by the number of rows."),
        Slip("forgets_the_one_hot", lambda: softmax(logits) / n,
             "that is the softmax alone",
             "The right class's score enters the loss with a minus sign: subtract 1 at that class."),
    ]
    got = expect_array(learner.cross_entropy_grad(logits, labels), logits.shape, learner.last_call)
    expect_close(got, expected, tol, scale=1.0, learner=learner, slips=slips)


@checks.add("cross_entropy_grad", "stays_finite_for_huge_logits", huge_batches())
def _(learner, tol, logits, labels):
    got = expect_array(learner.cross_entropy_grad(logits, labels), logits.shape, learner.last_call)
    expect_close(got, gradient(logits, labels), tol, scale=1.0, learner=learner)


@checks.add("cross_entropy_grad", "leaves_its_inputs_unchanged", batches())
def _(learner, tol, logits, labels):
    expect_inputs_unchanged(learner, "cross_entropy_grad", (logits, labels))
