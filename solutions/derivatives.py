"""Derivatives: measuring how fast a function changes.

The derivative f'(x) is the slope of the tangent line to f at x: how much f(x)
changes per unit change of x, for a very small change. Derivatives drive the
training of every neural network: they tell each weight which way to move to
make the loss smaller.

Here you estimate derivatives numerically, by evaluating the function at
nearby points (finite differences), and compute one exactly with the chain
rule. Numerical derivatives are slow but simple, which makes them the standard
way to check gradients worked out by hand ("gradient checking").

Check your work with::

    grade derivatives
"""
from collections.abc import Callable

import numpy as np


def derivative(f: Callable[[float], float], x: float, h: float = 1e-5) -> float:
    """Estimate f'(x) with the central difference.

    The derivative is the limit of (f(x + h) - f(x)) / h as h shrinks to 0.
    A computer cannot take the limit, so we pick a small h. The *central*
    difference looks the same distance to each side of x:

        f'(x) ≈ (f(x + h) - f(x - h)) / (2h)

    Its error shrinks like h², much faster than the error of the one-sided
    version, which shrinks like h.

    Args:
        f: a function taking a float and returning a float.
        x: float, the point at which to differentiate.
        h: float, the step size (default 1e-5).

    Returns:
        float, the estimate of f'(x).

    Example:
        f(x) = x**2 at x = 3 with h = 1e-5:
        (9.0000600001 - 8.9999400001) / 0.00002 = 6.0 (up to rounding),
        matching the exact f'(x) = 2x = 6.

    Pitfalls:
        - Divide by 2h, not h: the two points are 2h apart.
        - Use the h you are given; the grader compares with this formula.
        - Smaller is not always better: below about h = 1e-8 the subtraction
          f(x + h) - f(x - h) loses most of its digits to rounding error.

    Your task: return (f(x + h) - f(x - h)) / (2 * h) as a float.
    """
    ### BEGIN SOLUTION: derivative is not written yet: use the central difference
    return float((f(x + h) - f(x - h)) / (2 * h))
    ### END SOLUTION


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Estimate the gradient of f: R^n -> R at x, one coordinate at a time.

    For a function of several variables, the partial derivative df/dx_i is the
    ordinary derivative along coordinate i with all the other coordinates held
    fixed. The gradient collects all of them in one vector:

        grad f(x) = [df/dx_0, df/dx_1, ..., df/dx_(n-1)]

    Estimate each one with a central difference that nudges only coordinate i:

        df/dx_i ≈ (f(x + h*e_i) - f(x - h*e_i)) / (2h)

    where e_i is the vector with a 1 in position i and 0 everywhere else.
    That makes 2n calls of f.

    Args:
        f: a function taking an np.ndarray shaped like x and returning a float.
        x: shape (n,), the point at which to differentiate.
        h: float, the step size (default 1e-5).

    Returns:
        np.ndarray of the same shape as x; entry i is the estimate of df/dx_i.

    Example:
        f(x) = x[0]**2 + 3*x[0]*x[1] at x = [1, 2]:
        df/dx_0 = 2*x[0] + 3*x[1] = 8 and df/dx_1 = 3*x[0] = 3, so
        gradient(f, np.array([1.0, 2.0])) ≈ [8.0, 3.0]

    Pitfalls:
        - Never modify the caller's x. ``y = x`` is not a copy, only a second
          name for the same array; work on a real copy such as
          ``np.array(x, dtype=float)``.
        - Copy as float: if x holds integers, adding 1e-5 and storing the
          result back into an integer array silently gives x again.
        - Nudge one coordinate at a time, and undo the nudge (or start from a
          fresh copy) before moving on to the next coordinate.

    Your task: return an array, shaped like x, of the central-difference
    estimates of every partial derivative of f at x.
    """
    ### BEGIN SOLUTION: gradient is not written yet: nudge one coordinate at a time
    x = np.array(x, dtype=float)  # our own float copy; the caller's x is never touched
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[i] += h
        x_minus[i] -= h
        grad[i] = (f(x_plus) - f(x_minus)) / (2 * h)
    return grad
    ### END SOLUTION


def d_sin_x_squared(x: float) -> float:
    """Return the exact derivative of sin(x²) at x, using the chain rule.

    The chain rule differentiates a function of a function. If y = f(g(x)), then

        dy/dx = f'(g(x)) · g'(x)        (often written df/dg · dg/dx)

    The outer derivative f' is evaluated at the inner value g(x), not at x.
    Here the outer function is f(u) = sin(u), with f'(u) = cos(u), and the
    inner function is g(x) = x², with g'(x) = 2x, so

        d/dx sin(x²) = cos(x²) · 2x

    Backpropagation is this same rule, applied layer after layer.

    Args:
        x: float.

    Returns:
        float, 2x·cos(x²).

    Example:
        x = 0:             2*0*cos(0) = 0
        x = sqrt(pi/2):    x² = pi/2 and cos(pi/2) = 0, so the slope is 0
                           (sin(x²) has a peak there)
        x = 1:             2*cos(1) ≈ 1.0806

    Pitfalls:
        - cos(x²) is not cos(x)², and not cos(x): the outer derivative is
          evaluated at the inner value x².
        - Forgetting the factor 2x from the inner function is the classic
          slip; so is the mis-stated rule "dy/dx = df/dx · dg/dx": the first
          factor is df/dg, evaluated at g(x).
        - NumPy's trigonometric functions work in radians.

    Your task: return 2 * x * cos(x**2) as a float. (You can compare it with
    derivative(lambda t: np.sin(t**2), x).)
    """
    ### BEGIN SOLUTION: d_sin_x_squared is not written yet: use the chain rule
    return float(2 * x * np.cos(x**2))
    ### END SOLUTION
