"""Vectors and matrices: the dot product, the cross product and matrix multiplication.

Almost everything a neural network computes is built from these three
operations. A single neuron takes the dot product of its weights with its
inputs; a whole layer of neurons applied to a whole batch of inputs is one
matrix multiplication.

Inputs are NumPy arrays of float64; each function returns a new result and
leaves its input arrays unchanged. Fill in the three functions below,
replacing each ``raise NotImplementedError(...)`` line with your code. A
version written with plain Python loops is a correct answer (speed is measured
separately); once it passes, try the vectorised NumPy version too.

Check your work with::

    grade vectors
"""
import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Return the dot product of two vectors, as a float.

    The dot product multiplies two vectors entry by entry and adds up the
    products:

        a · b = a[0]*b[0] + a[1]*b[1] + ... + a[n-1]*b[n-1]

    It measures how far two vectors point the same way: positive when they
    broadly agree, zero when they are perpendicular, negative when they point
    apart. A neuron's weighted input, w · x, is exactly this sum. It is
    symmetric, a · b = b · a, and linear in each vector:
    (k·a + b) · c = k (a · c) + b · c.

    Args:
        a: shape (n,), n >= 1.
        b: shape (n,), the same length as a.

    Returns:
        A single number (a Python float), not an array.

    Example:
        a = [1, -3, 5], b = [4, -2, -1]
        a · b = 1*4 + (-3)*(-2) + 5*(-1) = 4 + 6 - 5 = 5

    Pitfalls:
        - ``a * b`` is the elementwise product, an array of shape (n,); the
          dot product is the sum of that array.
        - Watch the signs: (-3)*(-2) is +6 and 5*(-1) is -5. One flipped sign
          changes everything: [1, 3, -5] · [4, -2, -1] = 4 - 6 + 5 = 3.
        - Return one float, e.g. with ``float(...)``, not a 1-element array.

    Your task: return the sum of a[i] * b[i] over all i, as a float.
    """
    raise NotImplementedError("dot is not written yet: add up a[i] * b[i]")


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the cross product a × b of two 3-D vectors.

    The cross product of two vectors in 3-D space is a third vector that is
    perpendicular to both. Its length, |a| |b| sin(angle), is the area of the
    parallelogram the two vectors span; its direction follows the right-hand
    rule. With 0-based indices:

        a × b = [a[1]*b[2] - a[2]*b[1],
                 a[2]*b[0] - a[0]*b[2],
                 a[0]*b[1] - a[1]*b[0]]

    Args:
        a: shape (3,).
        b: shape (3,).

    Returns:
        np.ndarray of shape (3,).

    Example:
        a = [1, -3, 5], b = [4, -2, -1]
        a × b = [(-3)*(-1) - 5*(-2),  5*4 - 1*(-1),  1*(-2) - (-3)*4]
              = [3 + 10, 20 + 1, -2 + 12]
              = [13, 21, 10]
        Check: (a × b) · a = 13 - 63 + 50 = 0 and (a × b) · b = 52 - 42 - 10 = 0,
        so the result is indeed perpendicular to both.

    Pitfalls:
        - Order matters: b × a = -(a × b).
        - Component i is built from the two *other* indices (component 0 from
          entries 1 and 2, and so on); mixing up the index pairs is the most
          common slip. The dot-product check above catches it.
        - The result is a vector, not a number; a × a is the zero vector.

    Your task: return the three components above as an np.ndarray of shape (3,).
    """
    raise NotImplementedError("cross is not written yet: see the formula above")


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Return the matrix product A B.

    Entry (i, j) of the product is the dot product of row i of A with
    column j of B:

        C[i, j] = sum over t of A[i, t] * B[t, j]

    so the inner sizes must agree: A has k columns and B has k rows. A dense
    layer applied to a batch of inputs is a single matrix product. The
    product is associative, (AB)C = A(BC), and transposing it reverses the
    order: (AB)ᵀ = BᵀAᵀ.

    Args:
        A: shape (m, k).
        B: shape (k, p).

    Returns:
        np.ndarray of shape (m, p).

    Example:
        A = [[1, 2],      B = [[5, 6],
             [3, 4]]           [7, 8]]
        C[0, 0] = 1*5 + 2*7 = 19      C[0, 1] = 1*6 + 2*8 = 22
        C[1, 0] = 3*5 + 4*7 = 43      C[1, 1] = 3*6 + 4*8 = 50
        A B = [[19, 22],
               [43, 50]]

    Pitfalls:
        - ``A * B`` multiplies entry by entry; it is not the matrix product.
        - Order matters: A B and B A are usually different (and often only
          one of them is defined).
        - The result has A's number of rows and B's number of columns. Any of
          m, k, p may be 1; make sure a (1, k) by (k, 1) product still
          returns shape (1, 1).

    Your task: return the (m, p) array whose entry (i, j) is row i of A
    dotted with column j of B.
    """
    raise NotImplementedError("matmul is not written yet: row i of A dot column j of B")
