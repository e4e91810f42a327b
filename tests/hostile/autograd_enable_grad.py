"""linear_backward uses torch.autograd.grad_mode.enable_grad() and torch.autograd.grad."""
import torch
from torch.autograd import grad_mode


def linear_backward(dy, x, W):
    with grad_mode.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        W = W.detach().clone().requires_grad_(True)
        b = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device, requires_grad=True)
        dx, dW, db = torch.autograd.grad(((x @ W.T + b) * dy).sum(), (x, W, b))
    return dx, dW, db
