"""Gradient descent: minimising a function by walking downhill.

The gradient of a function points in the direction in which the function
increases fastest. Gradient descent repeatedly takes a small step the other
way:

    x <- x - lr · grad f(x)

The learning rate lr sets the size of the steps. Too small, and progress is
slow; too large, and the steps overshoot the minimum, bounce from side to side
and can even diverge to infinity. This loop, with the gradient computed by
backpropagation, is how neural networks are trained.

Check your work with::

    grade gradient_descent
"""
from collections.abc import Callable

import numpy as np


def gradient_descent(
    grad_fn: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, lr: float, steps: int
) -> np.ndarray:
    """Run `steps` steps of gradient descent from x0 and return the final point.

    Each step moves x a little against the gradient:

        x <- x - lr · grad_fn(x)

    Args:
        grad_fn: a function taking x (shape (n,)) and returning the gradient
            of the function being minimised at x (shape (n,)).
        x0: shape (n,), the starting point.
        lr: float, the learning rate (step size).
        steps: int >= 0, the number of updates.

    Returns:
        np.ndarray of shape (n,): x after exactly `steps` updates (a float
        copy of x0 itself when steps == 0).

    Example:
        f(x) = x[0]² has the gradient 2*x[0]. From x0 = [10.0] with lr = 0.1,
        every step multiplies x by (1 - 0.1*2) = 0.8:
        steps = 1 -> [8.0], steps = 2 -> [6.4], steps = 3 -> [5.12], ...
        heading for the minimum at 0.

    Pitfalls:
        - Don't modify x0. ``x -= ...`` applied to x0 (or to ``x = x0``, which
          is the same array under a second name) changes the caller's array.
          Start from a float copy, e.g. ``np.array(x0, dtype=float)``.
        - Exactly `steps` updates: not steps + 1, and no stopping early.
        - Subtract the gradient to go downhill; adding it climbs.

    Your task: starting from a float copy of x0, repeat
    x = x - lr * grad_fn(x) `steps` times and return x.
    """
    raise NotImplementedError("gradient_descent is not written yet: step against grad_fn")


def fit_line(
    x: np.ndarray, y: np.ndarray, lr: float = 0.05, epochs: int = 2000
) -> tuple[float, float]:
    """Fit a straight line y ≈ m·x + b by gradient descent on the MSE.

    This is linear regression: a single neuron y = m·x + b, trained the way a
    network is trained. The loss is

        L(m, b) = (1/N) · sum over i of (m·x[i] + b - y[i])²

    and with the errors e[i] = m·x[i] + b - y[i] its partial derivatives are

        dL/dm = (2/N) · sum over i of e[i]·x[i]
        dL/db = (2/N) · sum over i of e[i]

    Start from m = b = 0. In each epoch, compute both derivatives on the whole
    data set (full batch), then update m and b together:

        m <- m - lr · dL/dm
        b <- b - lr · dL/db

    Args:
        x: shape (N,), the inputs.
        y: shape (N,), the targets.
        lr: float, the learning rate (default 0.05).
        epochs: int, the number of full-batch updates (default 2000).

    Returns:
        (m, b), a tuple of two Python floats.

    Example:
        x = [0, 1, 2, 3] and y = [1, 3, 5, 7] lie exactly on y = 2x + 1, so
        fit_line(x, y) returns approximately (2.0, 1.0).
        The first epoch: e = [-1, -3, -5, -7],
        dL/dm = (2/4) * (0 - 3 - 10 - 21) = -17 and dL/db = (2/4) * (-16) = -8,
        so after one step m = 0.85 and b = 0.4.

    Pitfalls:
        - Compute both derivatives from the same (old) m and b before
          updating either of them.
        - Use the mean over the data (divide by N); with a plain sum the step
          size would grow with the amount of data.
        - A learning rate too large for the scale of x makes m and b blow up
          to inf or nan; the defaults suit x of size around 1.
        - Leave x and y unchanged: they belong to the caller.

    Your task: return (m, b) after `epochs` full-batch gradient-descent
    updates starting from m = b = 0.
    """
    raise NotImplementedError("fit_line is not written yet: update m and b each epoch")
