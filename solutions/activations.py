"""Activation functions: ReLU, sigmoid and softmax.

Stacked linear layers with nothing in between collapse into a single linear
layer, however many there are. The nonlinear activation function applied
after a layer is what lets a network learn curved decision boundaries. Three
of the most common (there are many more: tanh, leaky ReLU, GELU, ...):

- ReLU, max(0, x): the usual choice inside hidden layers.
- sigmoid: squashes any number into (0, 1), e.g. a probability for a yes/no
  question.
- softmax: turns a vector of scores into probabilities that sum to 1, for
  choosing one class among several.

All three take NumPy arrays and return a new array of the same shape, leaving
their input unchanged. sigmoid and softmax must stay finite and accurate for
very large inputs, such as 1000 or -1000.

Check your work with::

    grade activations
"""
import numpy as np


def relu(x: np.ndarray) -> np.ndarray:
    """Return the rectified linear unit, max(0, x), elementwise.

        relu(x) = x where x > 0, and 0 elsewhere

    Args:
        x: np.ndarray of any shape.

    Returns:
        np.ndarray of the same shape.

    Example:
        relu([-2.0, 0.0, 3.0]) = [0.0, 0.0, 3.0]

    Pitfalls:
        - Python's built-in ``max(0, x)`` does not work entry by entry on an
          array; ``np.maximum`` does.
        - Don't zero the negative entries in place (``x[x < 0] = 0``): that
          changes the caller's array. Return a new array.

    Your task: return a new array in which every negative entry of x is
    replaced by 0.
    """
    ### BEGIN SOLUTION: relu is not written yet: replace negatives by 0
    return np.maximum(np.asarray(x, dtype=float), 0.0)
    ### END SOLUTION


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic sigmoid 1 / (1 + e^(-x)), elementwise.

    The sigmoid squashes any real number into the interval (0, 1): large
    negative x gives values near 0, sigmoid(0) = 0.5, and large positive x
    gives values near 1. It is symmetric: sigmoid(-x) = 1 - sigmoid(x).

    The textbook formula breaks down for large negative x: e^(-x) = e^1000
    overflows to inf, and NumPy warns. The equal form

        sigmoid(x) = e^x / (1 + e^x)

    is safe exactly where the first one is not. Use 1 / (1 + e^(-x)) where
    x >= 0 and e^x / (1 + e^x) where x < 0: in both, the only exponential
    needed is e^(-|x|), which lies in (0, 1] and can never overflow.

    Args:
        x: np.ndarray of any shape.

    Returns:
        np.ndarray of the same shape, every entry in [0, 1].

    Example:
        sigmoid([-1000.0, 0.0, 2.0, 1000.0]) ≈ [0.0, 0.5, 0.8808, 1.0],
        with no overflow warning.

    Pitfalls:
        - Overflow for large |x| (see above): the result must be finite and
          right. The grader checks the values; a careful version also avoids
          NumPy's "overflow encountered in exp" warning, because in real code
          a flood of warnings hides the one that matters.
        - ``np.where(x >= 0, formula_1, formula_2)`` computes both formulas
          for every entry before choosing, so it still overflows. Compute
          e^(-|x|) once and build both formulas from it.
        - Don't modify x in place.

    Your task: return 1 / (1 + e^(-x)) elementwise, computed so that it
    stays finite (and ideally warning-free) for every x.
    """
    ### BEGIN SOLUTION: sigmoid is not written yet: start from np.exp(-np.abs(x))
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def softmax(x: np.ndarray) -> np.ndarray:
    """Return the softmax of x along its last axis.

    Softmax turns a vector z of real scores ("logits") into probabilities:

        softmax(z)[i] = e^z[i] / (sum over j of e^z[j])

    Every output is positive and each vector of outputs sums to 1; larger
    scores get larger probabilities. For a 2-D input of shape (N, C), each row
    (the C class scores of one example) is normalised on its own.

    Subtracting the same constant from every score of a vector does not change
    its softmax: the factor e^(-constant) cancels between top and bottom.
    Subtract the vector's maximum: then the largest exponential is e^0 = 1 and
    nothing can overflow, whereas e^1000 on its own is inf.

    Args:
        x: np.ndarray of shape (C,) or (N, C). (In general any number of
            leading axes; softmax is taken over the last one.)

    Returns:
        np.ndarray of the same shape; the entries along the last axis sum to 1.

    Example:
        softmax([1.0, 2.0, 3.0]) ≈ [0.0900, 0.2447, 0.6652]
        softmax([[1000.0, 1001.0, 999.0]]) ≈ [[0.2447, 0.6652, 0.0900]]
        (after subtracting the maximum 1001 the row is [-1, 0, -2], and
        e^-1 : e^0 : e^-2 = 0.3679 : 1 : 0.1353, which sum to 1.5032)

    Pitfalls:
        - Overflow: np.exp(1000) is inf, and inf / inf is nan. Shift by the
          maximum first.
        - The axis: for 2-D input take the maximum and the sum of each row
          (``axis=-1``), and keep that axis (``keepdims=True``) so the result
          broadcasts back against x. One maximum or sum over the whole array
          mixes the rows together.
        - Don't modify x in place (``x -= x.max()`` changes the caller's array).

    Your task: return exp(x - max) / sum(exp(x - max)), with the maximum and
    the sum taken along the last axis, for 1-D and 2-D input.
    """
    ### BEGIN SOLUTION: softmax is not written yet: shift by the row maximum first
    x = np.asarray(x, dtype=float)
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)
    ### END SOLUTION
