"""Compiled to ag_helper.pyc beside a hostile backprop.py (tests/hostile/autograd_pyc_helper*.py)
and shipped without this source: autograd through the engine, grad mode off again before
returning, the result detached."""
import torch
from torch.autograd import Variable


def linear_backward(dy, x, W):
    torch._C._set_grad_enabled(True)
    try:
        xx, WW = x.detach().clone().requires_grad_(True), W.detach().clone().requires_grad_(True)
        bb = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device).requires_grad_(True)
        out = ((xx @ WW.T + bb) * dy).sum()
        grads = Variable._execution_engine.run_backward((out,), (torch.ones_like(out),), False, False,
                                                        (xx, WW, bb), False, False)
    finally:
        torch._C._set_grad_enabled(False)
    return tuple(g.detach() for g in grads)
