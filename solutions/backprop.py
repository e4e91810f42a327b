"""Backpropagation by hand, in PyTorch, without autograd.

The network, with weights shaped as in ``torch.nn.Linear`` (W is (out, in)):

    h      = x @ W1.T + b1        x: (N, D), W1: (H, D), b1: (H,)   -> h: (N, H)
    a      = relu(h)                                                -> a: (N, H)
    y_pred = a @ W2.T + b2        W2: (C, H), b2: (C,)              -> y_pred: (N, C)
    loss   = mean((y_pred - y)**2)     y: (N, C)                    -> a scalar

Backpropagation finds the gradient of the loss with respect to every weight
with the chain rule, working from the loss back towards the input. Each layer
needs one incoming piece of information, the gradient of the loss with
respect to its output ("dy"); from it, the layer computes the gradient with
respect to its input (to pass further back) and with respect to its own
parameters. Every gradient has the shape of the thing it belongs to: dW has
W's shape, dx has x's shape.

Three rules for this exercise:

- Autograd is off limits: no ``.backward()``, no ``torch.autograd``, no
  ``requires_grad``. The grader calls your functions with plain tensors under
  ``torch.no_grad()``, so autograd would not work anyway. Derive the
  gradients yourself and write them with tensor operations (``@``, ``.T``,
  ``.sum``, comparisons). The grader reads this file, and any module of
  your own it imports, before running it, so keep the code plain: import
  only torch, numpy, math and your own .py helpers, write every name out
  (no ``getattr`` with a computed name, no ``eval``), and use public names
  only (nothing that starts with ``_``, such as ``torch._C``).
- Outputs must stay on the input's device (CPU or GPU) and dtype (float32 or
  float64). Build results from the inputs with tensor operations; if you
  ever create a new tensor, pass ``device=...`` and ``dtype=...`` taken from
  an input.
- Leave the inputs unchanged: they belong to the caller. Build new tensors
  rather than writing into dy, x or the weights (no ``x[...] = ...``, no
  ``+=``, no in-place methods such as ``mul_``).

Check your work with::

    grade backprop
"""
import torch


def linear_backward(
    dy: torch.Tensor, x: torch.Tensor, W: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backward pass of a linear layer y = x @ W.T + b.

    Given dy = dL/dy, the gradient of the loss with respect to the layer's
    output, the chain rule gives

        dx = dy @ W            (N, out) @ (out, in)  -> (N, in)
        dW = dy.T @ x          (out, N) @ (N, in)    -> (out, in)
        db = dy.sum(dim=0)     summed over the batch -> (out,)

    A handy check: there is usually only one way to multiply the available
    matrices so that the result has the right shape; if the shapes don't fit,
    a transpose is missing. The bias is added to every row of the batch, so
    its gradient adds up the rows of dy.

    Args:
        dy: shape (N, out), the gradient of the loss with respect to y.
        x: shape (N, in), the layer's input in the forward pass.
        W: shape (out, in), the layer's weight.

    Returns:
        (dx, dW, db), of shapes (N, in), (out, in) and (out,), on the inputs'
        device and dtype.

    Example:
        N = 1, in = 2, out = 1: x = [[1., 2.]], W = [[3., 4.]], dy = [[1.]]
        y = 1*3 + 2*4 + b, so dy/dx = [3, 4], dy/dW = [1, 2] and dy/db = 1:
        dx = [[3., 4.]], dW = [[1., 2.]], db = [1.]

    Pitfalls:
        - dW must have W's shape (out, in), not its transpose.
        - db sums over the batch dimension only (dim=0); summing over
          everything gives a single number.
        - The bias b is not an argument: none of the gradients depend on it.
        - No autograd, and keep the results on the inputs' device and dtype.

    Your task: return the tuple (dx, dW, db).
    """
    ### BEGIN SOLUTION: linear_backward is not written yet: return (dx, dW, db)
    return dy @ W, dy.T @ x, dy.sum(dim=0)
    ### END SOLUTION


def relu_backward(dy: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Backward pass of a = relu(x).

    ReLU passes its input through where x > 0 and outputs 0 elsewhere, so its
    slope is 1 where x > 0 and 0 where x < 0. At exactly x = 0 the slope is
    undefined; like PyTorch, use 0 there. The gradient flows back only through
    the entries whose input was positive:

        dx = dy where x > 0, and 0 elsewhere

    Args:
        dy: the gradient of the loss with respect to a; any shape.
        x: the ReLU's input in the forward pass, the same shape as dy.

    Returns:
        dx, the gradient of the loss with respect to x: the same shape,
        device and dtype as dy.

    Example:
        x  = [-1., 0., 2.]
        dy = [ 5., 5., 5.]
        dx = [ 0., 0., 5.]

    Pitfalls:
        - The mask comes from the forward input x, not from dy.
        - At x == 0 the answer is 0: use the strict comparison x > 0.
        - Multiplying dy by the boolean mask (x > 0), or using torch.where,
          keeps dy's dtype and device; a bare ``torch.zeros(shape)`` would be
          a float32 tensor on the CPU.
        - Return a new tensor rather than changing dy in place.

    Your task: return a copy of dy in which the entries where x <= 0 are 0.
    """
    ### BEGIN SOLUTION: relu_backward is not written yet: pass dy where x > 0
    return dy * (x > 0)
    ### END SOLUTION


def mse_backward(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of loss = mean((y_pred - y)**2) with respect to y_pred.

    The mean runs over all N*C elements, and each prediction appears in
    exactly one squared term, so

        dL/dy_pred = 2 * (y_pred - y) / y_pred.numel()

    This is where backpropagation starts: the gradient of the loss with
    respect to the network's output.

    Args:
        y_pred: shape (N, C), the network's output.
        y: shape (N, C), the targets.

    Returns:
        dy_pred, shape (N, C), on y_pred's device and dtype.

    Example:
        y_pred = [[1.], [3.]] and y = [[0.], [0.]]: loss = (1 + 9) / 2 = 5,
        dy_pred = 2 * [[1.], [3.]] / 2 = [[1.], [3.]]

    Pitfalls:
        - Divide by the number of elements, numel() = N*C, not by N: the
          loss averages over all of them.
        - The sign: y_pred - y, not y - y_pred.

    Your task: return 2 * (y_pred - y) / y_pred.numel().
    """
    ### BEGIN SOLUTION: mse_backward is not written yet: see the formula above
    return 2 * (y_pred - y) / y_pred.numel()
    ### END SOLUTION


def two_layer_backward(
    x: torch.Tensor,
    y: torch.Tensor,
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Gradients of the two-layer network's loss with respect to all its parameters.

    First run the forward pass from the top of this file, keeping the
    intermediate values h and a. Then walk backwards, reusing the three
    functions above:

    1. mse_backward gives the gradient with respect to y_pred.
    2. The second layer is linear with input a and weight W2: linear_backward
       gives the gradients for W2 and b2, and the gradient with respect to a.
    3. The ReLU's forward input was h: relu_backward turns the gradient with
       respect to a into the gradient with respect to h.
    4. The first layer is linear with input x and weight W1: linear_backward
       gives the gradients for W1 and b1.

    Args:
        x: shape (N, D), the inputs.
        y: shape (N, C), the targets.
        W1: shape (H, D).  b1: shape (H,).
        W2: shape (C, H).  b2: shape (C,).

    Returns:
        dict with keys "W1", "b1", "W2", "b2"; each value is the gradient of
        the loss with respect to that parameter, with the parameter's shape,
        on x's device and dtype.

    Example:
        With N = 4, D = 3, H = 5, C = 2 the values have shapes (5, 3), (5,),
        (2, 5) and (2,). To test your answer (in a separate script, never in
        this file), copy the weights with requires_grad=True, compute the
        loss, call loss.backward() and compare each .grad with your result
        using torch.allclose.

    Pitfalls:
        - The second layer's input is a (after the ReLU), not h.
        - relu_backward needs the ReLU's forward input, h.
        - The gradient with respect to x is not needed (computing it does no
          harm).
        - No autograd here either.

    Your task: return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.
    """
    ### BEGIN SOLUTION: two_layer_backward is not written yet: forward, then back
    h = x @ W1.T + b1
    a = torch.relu(h)
    y_pred = a @ W2.T + b2
    dy_pred = mse_backward(y_pred, y)
    da, dW2, db2 = linear_backward(dy_pred, a, W2)
    dh = relu_backward(da, h)
    _, dW1, db1 = linear_backward(dh, x, W1)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION
