"""Checks of ``backprop``: hand-written gradients against torch.autograd.

The oracle is torch.autograd, run here in the grader's process on the same inputs. The
learner's functions run in the child under ``torch.no_grad()`` with every way of turning
autograd back on closed (see ``Child.install_autograd_guard``). Each check runs on the CPU,
and on CUDA too when this machine has it, in float64 and float32.
"""
import numpy as np
from hypothesis import strategies as st

from .. import strategies as S
from ..format import describe_type, show
from ..runner.lint import is_autograd
from .base import LearnerRaised, NotJudged, Registry, Slip, fail
from .tensors import autograd_reference, devices, expect_tensor, expect_tensor_inputs_unchanged, tensor

checks = Registry("backprop")


def _case(**shapes):
    """Draw a dtype and arrays of the given shapes (shape entries name shared dimensions)."""
    def build(dims):
        arrays = {name: S.grid_arrays(tuple(dims[d] for d in shape)) for name, shape in shapes.items()}
        return st.tuples(S.float_dtypes(), st.fixed_dictionaries(arrays))

    return st.fixed_dictionaries({"N": S.sizes(1, 6), "I": S.sizes(1, 5), "H": S.sizes(1, 5),
                                  "O": S.sizes(1, 4)}).flatmap(build).map(lambda t: (t[0], t[1]))


LINEAR = _case(dy=("N", "O"), x=("N", "I"), W=("O", "I"))
def _aliased(first, second):
    """A case's arrays with ``second`` the very same array as ``first`` (``relu_backward(x, x)``)."""
    def alias(case):
        dtype, arrays = case
        return dtype, {**arrays, second: arrays[first]}
    return alias


# Gradients of one shape: sometimes one tensor passed as both (see strategies.sometimes_aliased).
RELU = S.sometimes_aliased(_case(dy=("N", "H"), x=("N", "H")), _aliased("dy", "x"))
MSE = S.sometimes_aliased(_case(y_pred=("N", "O"), y=("N", "O")), _aliased("y_pred", "y"))
TWO_LAYER = _case(x=("N", "I"), y=("N", "O"), W1=("H", "I"), b1=("H",), W2=("O", "H"), b2=("O",))


def _send(arrays: dict, names, dtype, device):
    """One tensor per array: an array named twice is sent as one tensor twice (aliased)."""
    made: dict = {}
    for n in names:
        if id(arrays[n]) not in made:
            made[id(arrays[n])] = tensor(arrays[n], dtype, device)
    return [made[id(arrays[n])] for n in names]


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


# ----------------------------------------------------------------------------- recognisable slips

EVERY_ELEMENT = "The loss is a mean over every element of y_pred, N·C of them: divide by y_pred.numel()."


def _relu(v):
    return np.maximum(v, 0.0)


def _linear_slips(a):
    dy, x = a["dy"], a["x"]
    n, out = dy.shape
    return {
        "x": (),
        "W": (Slip("dW_transposed", lambda: x.T @ dy, "that is dW transposed, shaped (in, out) instead of W's "
                   "(out, in)", "dW must have W's shape (out, in): which product of dy and x, transposed or not, "
                   "has it?"),
              Slip("dW_averaged", lambda: dy.T @ x / n if n > 1 else None, "that divides dW by the batch size",
                   "Each sample's contribution adds up: any averaging is already inside dy.")),
        "b": (Slip("db_averaged", lambda: dy.mean(axis=0) if n > 1 else None, "that averages dy over the batch",
                   "b is added to every row of the batch, so its gradient adds the rows of dy up (a sum over "
                   "dim 0), without dividing."),
              Slip("db_summed_over_everything", lambda: dy.sum(), "that adds every entry of dy into one number",
                   "Sum over the batch dimension only (dim=0): db has one entry per output, like b."),
              Slip("db_summed_over_outputs", lambda: dy.sum(axis=1) if out > 1 or n > 1 else None,
                   "that sums each row of dy over the outputs", "Sum over the batch (dim=0), keeping one entry "
                   "per output, like b.")),
    }


def _relu_slips(a):
    dy, x = a["dy"], a["x"]
    return {"x": (
        Slip("mask_from_dy", lambda: dy * (dy > 0), "that keeps dy where dy > 0: the mask came from dy, not from x",
             "The mask comes from the forward input x: the gradient passes where x > 0, whatever the sign of dy."),
        Slip("mask_includes_zero", lambda: dy * (x >= 0), "that lets the gradient through at x = 0 too (x >= 0)",
             "At exactly x = 0 the gradient is 0, as in PyTorch: use the strict x > 0."),
        Slip("mask_alone", lambda: (x > 0).astype(float), "that is the mask alone, without dy",
             "Multiply dy by the mask: the chain rule multiplies the incoming gradient by ReLU's slope."),
        Slip("forward_pass", lambda: _relu(x), "that is relu(x), the forward pass",
             "The backward pass returns the gradient: dy where x > 0, 0 elsewhere."),
        Slip("mask_inverted", lambda: dy * (x <= 0), "that keeps dy where x ≤ 0 and blocks it where x > 0",
             "ReLU's slope is 1 where x > 0: that is where the gradient passes."),
    )}


def _mse_slips(a):
    y_pred, y = a["y_pred"], a["y"]
    n, c = y_pred.shape
    e = y_pred - y
    return {"y_pred": (
        Slip("sign_flipped", lambda: -2 * e / e.size, "every sign is flipped: that is 2(y − y_pred)/numel",
             "Differentiate with respect to y_pred: the error is y_pred − y, and a prediction that is too high "
             "must get a positive gradient."),
        Slip("missing_mean", lambda: 2 * e,
             "that is the gradient of the sum of squares: the division by the number of elements is missing",
             EVERY_ELEMENT),
        # With one row (or one column) these agree with another slip: the probe tells them apart.
        Slip("divides_by_rows", lambda: 2 * e / n, f"that divides by the {n} rows, not by all {e.size} elements",
             EVERY_ELEMENT),
        Slip("divides_by_columns", lambda: 2 * e / c, f"that divides by the {c} columns, not by all {e.size} "
             f"elements", EVERY_ELEMENT),
        Slip("missing_factor_2", lambda: e / e.size, "that is half the gradient: the factor 2 is missing",
             "The derivative of a square u² is 2u: it brings down a factor 2."),
        Slip("returns_the_loss", lambda: np.mean(e ** 2), "that is the loss itself, not its gradient",
             "The gradient has one entry per prediction, shaped like y_pred."),
    )}


def _two_layer_slips(a):
    x, y, W1, b1, W2, b2 = (a[k] for k in ("x", "y", "W1", "b1", "W2", "b2"))

    def grads(*, mask=True, second_input="a", divisor=None, sign=1.0):
        h = x @ W1.T + b1
        act = _relu(h)
        y_pred = act @ W2.T + b2
        dy = sign * 2 * (y_pred - y) / (divisor or y.size)
        dh = dy @ W2 * ((h > 0) if mask else 1.0)
        return {"W1": dh.T @ x, "b1": dh.sum(axis=0), "W2": dy.T @ (act if second_input == "a" else h),
                "b2": dy.sum(axis=0)}

    def slip(name, key, variant, why, hint):
        return Slip(name, lambda: grads(**variant)[key], why, hint)

    no_mask = ("no_relu_mask", {"mask": False}, "the gradient reached the first layer without ReLU's mask",
               "On the way back through the ReLU, keep the gradient only where h > 0 (relu_backward with h).")
    input_h = ("second_layer_input_h", {"second_input": "h"}, "that uses h, the ReLU's input, as the second "
               "layer's input", "The second layer's input is a = relu(h): dW2 comes from dy and a.")
    rows = ("loss_divides_by_rows", {"divisor": len(y)}, f"the loss's gradient divides by the {len(y)} rows, "
            f"not by all {y.size} elements", EVERY_ELEMENT)
    flipped = ("sign_flipped", {"sign": -1.0}, "every sign is flipped", "The loss's gradient is "
               "2(y_pred − y)/numel: the error is y_pred − y.")
    per_key = {"W1": (no_mask, rows, flipped), "b1": (no_mask, rows, flipped), "W2": (input_h, rows, flipped),
               "b2": (rows, flipped)}
    return {key: tuple(slip(name, key, variant, why, hint) for name, variant, why, hint in found)
            for key, found in per_key.items()}


# ----------------------------------------------------------------------------- every function

class Backward:
    """What the checks need to know of one contract function."""

    def __init__(self, inputs, case, oracle, outputs, returns, slips):
        self.inputs = inputs  # the arrays sent, in the contract's order
        self.case = case  # hypothesis strategy of (dtype, arrays)
        self.oracle = oracle  # (dtype, arrays) -> {key: expected gradient}
        self.outputs = outputs  # (name in messages, oracle key), in the order returned
        self.returns = returns  # "tensor", "tuple" or "dict"
        self.slips = slips  # arrays -> {oracle key: the recognisable mistakes of that gradient}

    def returned(self, learner, got, *, judging: str = "") -> list:
        """The returned gradients in ``outputs`` order, or a failure saying what came back.

        ``judging``: the check is about something of those tensors other than the structure
        they come in (their dtype and device), so a wrong structure leaves it not judged.
        """
        problem = ""
        if self.returns == "tensor":
            return [got]
        if self.returns == "tuple":
            if not isinstance(got, (tuple, list)) or len(got) != len(self.outputs):
                names = ", ".join(name for name, _ in self.outputs)
                problem = (f"{learner.last_call} returned {show(got)}, which is {describe_type(got)}; expected a "
                           f"tuple of three tensors ({names})")
        else:
            keys = [key for _, key in self.outputs]
            if not isinstance(got, dict) or sorted(got) != sorted(keys):
                found = sorted(got) if isinstance(got, dict) else None
                problem = (f"{learner.last_call} returned "
                           f"{'a dict with the keys ' + ', '.join(map(repr, found)) if found is not None else show(got)}"
                           f"; expected a dict with exactly the keys {', '.join(repr(k) for k in keys)}")
        if problem and judging:
            raise NotJudged(f"Could not be judged: {problem}. This check is about {judging} of the tensors "
                            f"returned, so it waits until they come back as the contract says.")
        if problem:
            fail(problem)
        return list(got) if self.returns == "tuple" else [got[key] for _, key in self.outputs]


BACKWARD = {
    "linear_backward": Backward(("dy", "x", "W"), LINEAR, _linear_grads,
                                (("dx", "x"), ("dW", "W"), ("db", "b")), "tuple", _linear_slips),
    "relu_backward": Backward(("dy", "x"), RELU, _relu_grads, (("dx", "x"),), "tensor", _relu_slips),
    "mse_backward": Backward(("y_pred", "y"), MSE, _mse_grads, (("dy_pred", "y_pred"),), "tensor", _mse_slips),
    "two_layer_backward": Backward(("x", "y") + PARAMS, TWO_LAYER, _two_layer_grads,
                                   tuple((f"the gradient '{k}'", k) for k in PARAMS), "dict", _two_layer_slips),
}


# Inputs on which the recognisable slips all give different numbers (a shrunk example, one
# row or one column, is often too small to tell them apart): see base.diagnose.
PROBES = {
    "linear_backward": {"dy": np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]]),
                        "x": np.array([[1.0, 2.0, -1.0, 0.5], [0.0, 1.5, 2.0, -3.0], [2.0, -1.0, 1.0, 1.0]]),
                        "W": np.array([[0.5, -1.0, 2.0, 1.0], [1.5, 0.0, -0.5, 2.0]])},
    "relu_backward": {"dy": np.array([[1.5, -2.0, 3.0], [-0.5, 2.5, 1.0]]),
                      "x": np.array([[1.0, 0.0, -2.0], [3.0, -1.0, 0.5]])},
    "mse_backward": {"y_pred": np.array([[1.0, 2.0, -1.0], [0.5, 3.0, 2.0]]),
                     "y": np.array([[0.0, 2.5, 1.0], [2.0, -1.0, 0.0]])},
    "two_layer_backward": {"x": np.array([[1.0, -2.0], [0.5, 1.0], [2.0, 0.0]]),
                           "y": np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, 0.5]]),
                           "W1": np.array([[1.0, 0.5], [-1.0, 2.0], [0.5, -0.5], [2.0, 1.0]]),
                           "b1": np.array([0.5, -1.0, 0.0, 0.25]),
                           "W2": np.array([[1.0, -1.0, 0.5, 2.0], [0.5, 1.0, -2.0, 1.0]]),
                           "b2": np.array([0.5, -0.5])},
}


def _probe(learner, function, key):
    """The learner's gradient ``key`` on the function's probe, with its slips (float64, CPU)."""
    spec = BACKWARD[function]

    def run():
        got = spec.returned(learner, learner.call(function, *_send(PROBES[function], spec.inputs, "float64", "cpu")))
        yield dict(zip([k for _, k in spec.outputs], got))[key], spec.slips(PROBES[function]).get(key, ())
    return run


def _expect_gradients(learner, tol, function, a, dtypes, values):
    """Call ``function`` on every device and dtype; compare each gradient with the oracle's."""
    spec = BACKWARD[function]
    expected = {}  # the oracle's, per dtype, once the learner has answered (a stub's first call needs no torch)
    slips = spec.slips(a) if values else {}
    for device in devices():
        for dtype in dtypes:
            got = spec.returned(learner, learner.call(function, *_send(a, spec.inputs, dtype, device)),
                                judging="" if values else "the dtype and device")
            if dtype not in expected:
                expected[dtype] = spec.oracle(dtype, a)
            for (name, key), value in zip(spec.outputs, got):
                expect_tensor(value, expected[dtype][key], dtype=dtype, device=device, tol=tol,
                              values=values, what=learner.last_call, name=name, slips=slips.get(key, ()),
                              probe=_probe(learner, function, key),
                              learner=learner if spec.returns == "tensor" else None)


def _matches_autograd(function):
    def body(learner, tol, dtype, a):
        _expect_gradients(learner, tol, function, a, (dtype,), values=True)
    return body


def _keeps_dtype_and_device(function):
    def body(learner, tol, _dtype, a):  # both dtypes, whichever was drawn; values are another check's
        _expect_gradients(learner, tol, function, a, ("float32", "float64"), values=False)
    return body


# The docstrings' worked examples, tried on every run as well (in float64).
EXAMPLES = {
    "linear_backward": {"dy": np.array([[1.0]]), "x": np.array([[1.0, 2.0]]), "W": np.array([[3.0, 4.0]])},
    "relu_backward": {"dy": np.array([[5.0, 5.0, 5.0]]), "x": np.array([[-1.0, 0.0, 2.0]])},
    "mse_backward": {"y_pred": np.array([[1.0], [3.0]]), "y": np.array([[0.0], [0.0]])},
}
# One tensor passed as both arguments, tried on every run as well.
_BOTH = np.array([[1.5, -2.0, 0.0], [-0.5, 3.0, 1.0]])
ALIASED = {"relu_backward": {"dy": _BOTH, "x": _BOTH}, "mse_backward": {"y_pred": _BOTH, "y": _BOTH}}

for _function, _spec in BACKWARD.items():
    _examples = tuple(("float64", example[_function]) for example in (EXAMPLES, ALIASED) if _function in example)
    checks.add(_function, "matches_autograd", _spec.case, examples=_examples)(_matches_autograd(_function))
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


def _leaves_inputs_unchanged(function):
    def body(learner, tol, dtype, a):
        expect_tensor_inputs_unchanged(learner, function, _send(a, BACKWARD[function].inputs, dtype, "cpu"))
    return body


for _function in BACKWARD:
    checks.add(_function, "leaves_inputs_unchanged", BACKWARD[_function].case)(_leaves_inputs_unchanged(_function))


@checks.add("linear_backward", "returns_tuple", LINEAR)
def _(learner, tol, dtype, a):
    got = learner.call("linear_backward", *_send(a, BACKWARD["linear_backward"].inputs, dtype, "cpu"))
    if not isinstance(got, tuple):
        fail(f"{learner.last_call} returned {show(got)}, which is {describe_type(got)}; expected the tuple "
             f"(dx, dW, db)", hint="Writing return dx, dW, db makes that tuple by itself.")
    if len(got) != 3:
        fail(f"{learner.last_call} returned a tuple of {len(got)} items; expected three, (dx, dW, db)")


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
