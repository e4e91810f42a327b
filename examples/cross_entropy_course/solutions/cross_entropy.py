"""Cross-entropy: the loss of a classifier that outputs scores (logits).

A classifier gives each example one score per class. Softmax turns a row of scores into
probabilities; the cross-entropy loss of that row is -log of the probability it gave the
right class, so a confident right answer costs almost nothing and a confident wrong one
costs a lot. Training pushes this loss down.

Write the functions below, then run ``grade cross_entropy`` (with ``--course DIR`` for
this course folder) after every change.
"""
import numpy as np


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """The mean cross-entropy loss of a batch of logits against the right classes.

    Args:
        logits: float array of shape (N, C): row i holds the C class scores of example i.
        labels: int array of shape (N,): labels[i] in 0..C-1 is the right class of example i.

    Returns:
        A float: the mean over the N rows of

            loss_i = -log softmax(logits[i])[labels[i]]
                   = log(sum_j exp(logits[i, j])) - logits[i, labels[i]]

    Worked example: logits = [[2.0, 0.0]], labels = [0]. Then
    log(e² + e⁰) - 2 = log(7.389 + 1) - 2 ≈ 0.1269.

    Large scores must not overflow: exp(1000) is inf in float64. Subtracting the row's
    largest score m from every score changes nothing in the loss (the m cancels), and
    keeps every exponent at most 0: log(sum_j exp(z_j)) = m + log(sum_j exp(z_j - m)).

    Your task: return the mean of log-sum-exp of each row minus the right class's score,
    as a float, stable for huge logits.
    """
    ### BEGIN SOLUTION: cross_entropy is not written yet: log-sum-exp of each row minus the right class's score
    logits = np.asarray(logits, dtype=float)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    picked = shifted[np.arange(len(labels)), labels]
    return float(np.mean(log_norm - picked))
    ### END SOLUTION


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The gradient of cross_entropy(logits, labels) with respect to the logits.

    Args:
        logits: float array of shape (N, C).
        labels: int array of shape (N,), each in 0..C-1.

    Returns:
        A float array of shape (N, C):

            (softmax(logits) - onehot(labels)) / N

        where softmax is taken over each row and onehot(labels)[i, j] is 1 where
        j == labels[i] and 0 elsewhere. The 1/N comes from the mean over the batch.

    Worked example: logits = [[0.0, 0.0]], labels = [1] gives [[0.5, -0.5]].
    Each row of the gradient sums to 0 (the probabilities sum to 1, the one-hot too).

    Your task: return (softmax(logits) - onehot(labels)) / N, with a softmax that is
    stable for huge logits.
    """
    ### BEGIN SOLUTION: cross_entropy_grad is not written yet: softmax of each row, minus one at the right class, over N
    logits = np.asarray(logits, dtype=float)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad = z / z.sum(axis=1, keepdims=True)
    grad[np.arange(len(labels)), labels] -= 1.0
    return grad / len(labels)
    ### END SOLUTION
