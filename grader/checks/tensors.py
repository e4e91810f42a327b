"""Helpers shared by the PyTorch exercises' checks (backprop, mlp).

Inputs are built as NumPy arrays and sent as :class:`~grader.runner.wire.WireTensor`
(values, dtype, device): the child turns them into real tensors on that device. Results
come back as WireTensors, so values are compared with NumPy while dtype and device are
checked by name. torch is imported only where a check needs a torch value of its own (the
autograd oracle, whether CUDA is there), and only after the learner's first answer: grading the
NumPy exercises, or a torch function that is still a stub, never imports it in the grader.
"""
from __future__ import annotations

import functools

import numpy as np

from ..format import describe_type, show
from ..runner.wire import WireTensor
from .base import Tolerance, aliasing_slip, close_enough, diagnose, fail, fail_with


def devices():
    """Every check runs on the CPU, and on CUDA as well when this machine has it: "cpu",
    then "cuda". Asked for CUDA only once the CPU's calls are done, so a check that stops on
    its first call (a function still a stub) never imports torch in the grader's process."""
    yield "cpu"
    if _cuda_available():
        yield "cuda"


@functools.lru_cache(maxsize=1)
def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def tensor(array, dtype: str, device: str) -> WireTensor:
    return WireTensor(np.asarray(array, dtype=dtype), dtype, device)


def dtype_tolerance(tol: Tolerance, dtype: str) -> Tolerance:
    """float64 uses the check's rtol/atol; float32 its ``float32_rtol``/``float32_atol`` options."""
    if dtype == "float32":
        return Tolerance(tol.option("float32_rtol", 1e-4), tol.option("float32_atol", 1e-5), tol.options)
    return tol


def expect_tensor(got, expected: np.ndarray, *, dtype: str, device: str, tol: Tolerance, what: str,
                  name: str = "the result", values: bool = True, slips=(), probe=None, learner=None) -> np.ndarray:
    """Fail unless ``got`` is a tensor of ``expected``'s shape, the dtype and device, and values
    (``values=False`` checks only that it is a tensor, of the dtype, on the device).

    Values are compared relative to the largest entry of ``expected`` (gradients are sums of
    products, whose rounding error scales with the biggest terms, not with each entry).
    ``slips``: the recognisable mistakes (:class:`~grader.checks.base.Slip`) for this tensor,
    named when a wrong shape or wrong values match one (``probe``: see ``base.diagnose``).
    ``learner``, when the result is the whole of what the learner's last call returned: a
    call that passed one tensor twice is tried once more on copies (``base.aliasing_slip``).
    """
    if not isinstance(got, WireTensor):
        fail(f"{what}: {name} is {show(got)}, which is {describe_type(got)}; expected a torch tensor")
    loose = dtype_tolerance(tol, dtype)
    size = float(np.abs(expected).max(initial=0.0)) + 1.0

    def recognised():
        return diagnose(got.array, slips if values else (), rtol=max(loose.rtol, 1e-9) * 10,
                        atol=max(loose.atol, 1e-12) * 10 * size, probe=probe)

    if values and tuple(got.shape) != tuple(expected.shape):  # values=False: dtype and device only
        fail_with(f"{what}: {name} has shape {tuple(got.shape)}; expected shape {tuple(expected.shape)}", recognised())
    if got.dtype != dtype:
        fail(f"{what}: {name} has dtype torch.{got.dtype}; expected torch.{dtype}, the dtype of the inputs "
             f"(avoid creating new tensors with a fixed dtype; torch.zeros_like and friends keep it)")
    if got.device.split(":")[0] != device:
        fail(f"{what}: {name} is on {got.device}; expected it on {device}, where the inputs are "
             f"(create new tensors with device=x.device, or derive them from the inputs)")
    if not values:
        return got.array
    tol = dtype_tolerance(tol, dtype)
    scale = np.full(expected.shape, float(np.abs(expected).max(initial=0.0)) + 1.0)
    ok = close_enough(got.array.astype(float), expected.astype(float), tol, scale)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        fail_with(f"{what}: {name} is {show(got.array)}, expected {show(expected)} (first difference at index "
                  f"{idx}: {show(got.array[idx].item())} vs {show(expected[idx].item())})",
                  aliasing_slip(learner, expected, tol, scale) or recognised())
    return got.array


def autograd_reference(fn, inputs: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Gradients of ``fn(**tensors)`` (a scalar) with respect to every input, by torch.autograd.

    This is the trusted oracle, run in the grader's process on the CPU.
    """
    import torch

    tensors = {k: torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for k, v in inputs.items()}
    with torch.enable_grad():
        out = fn(**tensors)
        grads = torch.autograd.grad(out, list(tensors.values()), allow_unused=True)
    return {k: (np.zeros_like(v) if g is None else g.detach().numpy()) for (k, v), g in zip(inputs.items(), grads)}


def expect_tensor_inputs_unchanged(learner, name, args, **kwargs):
    """Call ``name`` and fail if it wrote into any tensor it was given (the caller's data)."""
    learner.call(name, *args, _return_args=True, **kwargs)
    params = learner._signatures.get(name, [])
    for i, (before, after) in enumerate(zip(args, learner.last_args or [])):
        if not isinstance(before, WireTensor):
            continue
        if not isinstance(after, WireTensor) or not np.array_equal(before.array, after.array, equal_nan=True):
            pname = params[i] if i < len(params) else f"argument {i + 1}"
            fail(f"{learner.last_call} changed its input {pname}: it was {show(before.array)} before the call "
                 f"and {show(after.array if isinstance(after, WireTensor) else after)} after",
                 hint="Build new tensors from the inputs instead of writing into them: in-place operations "
                      "such as x[...] = ..., x += ... or x.mul_(...) change the caller's data.",
                 diagnosis="changed_input")
