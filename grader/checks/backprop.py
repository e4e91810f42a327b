"""Checks of ``backprop``: hand-written gradients against torch.autograd.

The oracle is torch.autograd, run here in the grader's process on the same inputs. The
learner's functions run in the child under ``torch.no_grad()`` with every way of turning
autograd back on closed (see ``Child.install_autograd_guard``). Each check runs on the CPU,
and on CUDA too when this machine has it, in float64 and float32.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..runner.lint import is_autograd
from .base import LearnerRaised, Registry, fail
from .tensors import autograd_reference, devices, expect_tensor, tensor

checks = Registry("backprop")


def _case(**shapes):
    """Draw a dtype and arrays of the given shapes (shape entries name shared dimensions)."""
    def build(dims):
        arrays = {name: S.grid_arrays(tuple(dims[d] for d in shape)) for name, shape in shapes.items()}
        return st.tuples(S.float_dtypes(), st.fixed_dictionaries(arrays))

    return st.fixed_dictionaries({"N": S.sizes(1, 6), "I": S.sizes(1, 5), "H": S.sizes(1, 5),
                                  "O": S.sizes(1, 4)}).flatmap(build).map(lambda t: (t[0], t[1]))


LINEAR = _case(dy=("N", "O"), x=("N", "I"), W=("O", "I"))
RELU = _case(dy=("N", "H"), x=("N", "H"))
MSE = _case(y_pred=("N", "O"), y=("N", "O"))
TWO_LAYER = _case(x=("N", "I"), y=("N", "O"), W1=("H", "I"), b1=("H",), W2=("O", "H"), b2=("O",))


def _send(arrays: dict, names, dtype, device):
    return [tensor(arrays[n], dtype, device) for n in names]


# ----------------------------------------------------------------------------- oracles

def _linear_grads(dtype, a):
    dy = a["dy"]
    b = np.zeros(a["W"].shape[0])

    def loss(x, W, b):
        return ((x @ W.T + b) * _t(dy, x)).sum()

    return autograd_reference(loss, {"x": a["x"], "W": a["W"], "b": b}, dtype)


def _relu_grads(dtype, a):
    dy = a["dy"]
    return autograd_reference(lambda x: (x.relu() * _t(dy, x)).sum(), {"x": a["x"]}, dtype)


def _mse_grads(dtype, a):
    y = a["y"]
    return autograd_reference(lambda y_pred: ((y_pred - _t(y, y_pred)) ** 2).mean(), {"y_pred": a["y_pred"]}, dtype)


def _two_layer_grads(dtype, a):
    x, y = a["x"], a["y"]

    def loss(W1, b1, W2, b2):
        h = _t(x, W1) @ W1.T + b1
        return (((h.relu() @ W2.T + b2) - _t(y, W1)) ** 2).mean()

    return autograd_reference(loss, {k: a[k] for k in ("W1", "b1", "W2", "b2")}, dtype)


def _t(array, like):
    import torch

    return torch.tensor(array, dtype=like.dtype)


PARAMS = ("W1", "b1", "W2", "b2")


# ----------------------------------------------------------------------------- every function

class Backward:
    """What the checks need to know of one contract function."""

    def __init__(self, inputs, case, oracle, outputs, returns):
        self.inputs = inputs  # the arrays sent, in the contract's order
        self.case = case  # hypothesis strategy of (dtype, arrays)
        self.oracle = oracle  # (dtype, arrays) -> {key: expected gradient}
        self.outputs = outputs  # (name in messages, oracle key), in the order returned
        self.returns = returns  # "tensor", "tuple" or "dict"

    def returned(self, learner, got) -> list:
        """The returned gradients in ``outputs`` order, or a failure saying what came back."""
        if self.returns == "tensor":
            return [got]
        if self.returns == "tuple":
            if not isinstance(got, (tuple, list)) or len(got) != len(self.outputs):
                names = ", ".join(name for name, _ in self.outputs)
                fail(f"{learner.last_call} returned {got!r}; expected a tuple of three tensors ({names})")
            return list(got)
        keys = [key for _, key in self.outputs]
        if not isinstance(got, dict) or sorted(got) != sorted(keys):
            found = sorted(got) if isinstance(got, dict) else None
            fail(f"{learner.last_call} returned "
                 f"{'a dict with keys ' + str(found) if found is not None else repr(got)}; "
                 f"expected a dict with exactly the keys {', '.join(repr(k) for k in keys)}")
        return [got[key] for key in keys]


BACKWARD = {
    "linear_backward": Backward(("dy", "x", "W"), LINEAR, _linear_grads,
                                (("dx", "x"), ("dW", "W"), ("db", "b")), "tuple"),
    "relu_backward": Backward(("dy", "x"), RELU, _relu_grads, (("dx", "x"),), "tensor"),
    "mse_backward": Backward(("y_pred", "y"), MSE, _mse_grads, (("dy_pred", "y_pred"),), "tensor"),
    "two_layer_backward": Backward(("x", "y") + PARAMS, TWO_LAYER, _two_layer_grads,
                                   tuple((f"the gradient '{k}'", k) for k in PARAMS), "dict"),
}


def _expect_gradients(learner, tol, function, a, dtypes, values):
    """Call ``function`` on every device and dtype; compare each gradient with the oracle's."""
    spec = BACKWARD[function]
    expected = {dtype: spec.oracle(dtype, a) for dtype in dtypes}
    for device in devices():
        for dtype in dtypes:
            got = spec.returned(learner, learner.call(function, *_send(a, spec.inputs, dtype, device)))
            for (name, key), value in zip(spec.outputs, got):
                expect_tensor(value, expected[dtype][key], dtype=dtype, device=device, tol=tol,
                              values=values, what=learner.last_call, name=name)


def _matches_autograd(function):
    def body(learner, tol, dtype, a):
        _expect_gradients(learner, tol, function, a, (dtype,), values=True)
    return body


def _keeps_dtype_and_device(function):
    def body(learner, tol, _dtype, a):  # both dtypes, whichever was drawn; values are another check's
        _expect_gradients(learner, tol, function, a, ("float32", "float64"), values=False)
    return body


for _function, _spec in BACKWARD.items():
    checks.add(_function, "matches_autograd", _spec.case)(_matches_autograd(_function))
    checks.add(_function, "keeps_dtype_and_device", _spec.case)(_keeps_dtype_and_device(_function))


# ----------------------------------------------------------------------------- relu_backward: its own cases

@checks.add("relu_backward", "zero_gradient_at_zero", S.sizes(1, 6).map(lambda n: (n,)))
def _(learner, tol, n):
    x = np.zeros((1, n))
    x[0, ::2] = 1.0  # some exact zeros, some positive entries
    dy = np.ones((1, n))
    expected = (x > 0).astype(float)
    for device in devices():
        got = learner.relu_backward(tensor(dy, "float64", device), tensor(x, "float64", device))
        expect_tensor(got, expected, dtype="float64", device=device, tol=tol, what=learner.last_call, name="dx")


@checks.add("relu_backward", "leaves_inputs_unchanged", RELU)
def _(learner, tol, dtype, a):
    _expect_tensor_inputs_unchanged(learner, "relu_backward", _send(a, ("dy", "x"), dtype, "cpu"))


def _expect_tensor_inputs_unchanged(learner, name, args):
    learner.call(name, *args, _return_args=True)
    params = learner._signatures.get(name, [])
    for i, (before, after) in enumerate(zip(args, learner.last_args or [])):
        if not hasattr(after, "array") or not np.array_equal(before.array, after.array, equal_nan=True):
            fail(f"{learner.last_call} changed its input {params[i]}: it was {before.array.tolist()} before "
                 f"the call and {getattr(after, 'array', after)!r} after. Build a new tensor (e.g. "
                 f"dy * (x > 0)) instead of writing into the inputs")


# ----------------------------------------------------------------------------- no autograd

_FIXED = {"dy": np.ones((2, 2)), "x": np.array([[1.0, -2.0], [0.5, 3.0]]), "W": np.eye(2),
          "y_pred": np.array([[1.0, 2.0], [3.0, 4.0]]), "y": np.zeros((2, 2)),
          "W1": np.array([[1.0, 0.5], [-1.0, 2.0]]), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}


def _by_hand(function):
    def body(learner, tol):
        learner.autograd_used.clear()
        args = [tensor(_FIXED[n], "float64", "cpu") for n in BACKWARD[function].inputs]
        try:
            learner.call(function, *args)
        except LearnerRaised:
            if not learner.autograd_used:
                raise
        used = list(dict.fromkeys(learner.autograd_used))
        if used:
            fail(by_hand_message(learner.last_call, used))
    return body


def by_hand_message(call: str, used: list[str]) -> str:
    """What autograd the call used, and what the grader could not check for it (the policy
    of grader/runner/lint.py, whose findings name file, line, code and rule)."""
    autograd = [u for u in used if is_autograd(u)]
    unreadable = [u for u in used if not is_autograd(u)]
    parts = []
    if autograd:
        parts.append(f"used autograd: {_listed(autograd)}")
    if unreadable:
        parts.append(f"{'and ' if autograd else ''}could not be checked for autograd: {_listed(unreadable)}")
    advice = ("This exercise is about working the gradients out yourself with the chain rule: write each "
              "gradient as tensor operations (matrix products, sums, masks) on the values you are given")
    if unreadable:
        advice += (", in plain code the grader can read before it runs it (torch, numpy and math through their "
                   "public names, every name written out)")
    return f"{call} {'; '.join(parts)}. {advice}"


_SHOWN = 4


def _listed(items: list[str]) -> str:
    shown = items[:_SHOWN]
    text = shown[0] if len(shown) == 1 else " ".join(f"({i}) {item}" for i, item in enumerate(shown, 1))
    more = len(items) - len(shown)
    return text + (f" (and {more} more)" if more else "")


for _function in BACKWARD:
    checks.add(_function, "computes_gradients_by_hand")(_by_hand(_function))
