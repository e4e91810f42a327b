"""linear_backward differentiates with torch.func.grad, which works even under no_grad()."""
import torch


def linear_backward(dy, x, W):
    b = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)

    def loss(x, W, b):
        return ((x @ W.T + b) * dy).sum()

    return torch.func.grad(loss, argnums=(0, 1, 2))(x, W, b)
