"""Loss functions for regression: MSE, RMSE and the gradient of the MSE.

A loss function turns "how wrong are the predictions?" into one number that
training can push down. For predicting numbers (regression) the usual choice
is the mean squared error, and its square root is the easiest to read. The
gradient of the loss is where every backward pass starts.

The running example is five heights in cm, and what a model predicted:

    true:       170, 165, 160, 155, 150
    predicted:  165, 170, 162, 157, 153

Each function leaves its input arrays unchanged: they belong to the caller.

Check your work with::

    grade losses
"""
import numpy as np


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Return the mean squared error between targets and predictions.

        MSE = (1/N) · sum over i of (y_pred[i] - y_true[i])²

    Squaring makes every error count as positive and punishes large errors
    much more than small ones. The unit is the square of y's unit (cm² for
    heights in cm).

    Args:
        y_true: the targets, shape (N,) (any shape works the same way).
        y_pred: the predictions, the same shape as y_true.

    Returns:
        float, the mean over all N elements.

    Example (heights in cm):
        y_true  = [170, 165, 160, 155, 150]
        y_pred  = [165, 170, 162, 157, 153]
        errors  = y_pred - y_true = [-5, 5, 2, 2, 3]
        squares = [25, 25, 4, 4, 9], which sum to 67
        MSE = 67 / 5 = 13.4 cm²

    Pitfalls:
        - Average, don't just sum: divide by the number of elements.
        - Square before averaging. The plain mean error lets positive and
          negative errors cancel (it is only 1.4 cm here).
        - Keep the units in mind: the MSE is in cm², so it is not directly
          comparable with the errors themselves (use the RMSE for that).

    Your task: return the mean of (y_pred - y_true)**2 over all elements,
    as a float.
    """
    ### BEGIN SOLUTION: mse is not written yet: average the squared errors
    diff = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return float(np.mean(diff**2))
    ### END SOLUTION


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Return the root mean squared error: the square root of the MSE.

        RMSE = sqrt(MSE)

    Taking the root brings the loss back to the units of y, so it reads as the
    typical size of an error: "the predictions are off by about 3.7 cm".

    Args:
        y_true: the targets, shape (N,).
        y_pred: the predictions, the same shape as y_true.

    Returns:
        float, in the units of y.

    Example:
        The heights example from mse: sqrt(13.4) ≈ 3.66 cm.

    Pitfalls:
        - The root comes last: the square root of the mean of the squares,
          not the mean of the square roots of the squares (that would be the
          mean absolute error, 3.4 cm here).
        - You may call your own mse function.

    Your task: return sqrt(mse(y_true, y_pred)) as a float.
    """
    ### BEGIN SOLUTION: rmse is not written yet: take the root of the MSE
    return float(np.sqrt(mse(y_true, y_pred)))
    ### END SOLUTION


def mse_grad(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Return the gradient of the MSE with respect to the predictions.

    Each prediction appears in exactly one term of the mean, so

        dMSE/dy_pred[i] = (2/N) · (y_pred[i] - y_true[i])

    where N is the total number of elements. The gradient has the shape of
    y_pred. For each prediction it says how the loss changes when that
    prediction grows, so moving against its sign lowers the loss.

    Args:
        y_true: the targets, shape (N,).
        y_pred: the predictions, the same shape as y_true.

    Returns:
        np.ndarray of the same shape as y_pred.

    Example:
        The heights example: y_pred - y_true = [-5, 5, 2, 2, 3] and N = 5, so
        the gradient is (2/5) * [-5, 5, 2, 2, 3] = [-2.0, 2.0, 0.8, 0.8, 1.2].
        The first prediction is too low and its gradient is negative: raising
        it lowers the loss.

    Pitfalls:
        - The sign: it is (y_pred - y_true), because we differentiate with
          respect to y_pred.
        - Keep both constants: the 2 comes from the square, the 1/N from the
          mean.
        - N counts all the elements (``y_pred.size``), which matters if y has
          more than one dimension.

    Your task: return 2 * (y_pred - y_true) / N as an np.ndarray shaped like
    y_pred.
    """
    ### BEGIN SOLUTION: mse_grad is not written yet: 2 * (y_pred - y_true) / N
    y_pred = np.asarray(y_pred, dtype=float)
    return 2 * (y_pred - np.asarray(y_true, dtype=float)) / y_pred.size
    ### END SOLUTION
