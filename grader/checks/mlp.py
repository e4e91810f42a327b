"""Checks of ``mlp``: the learner's MLP class and training loop, judged on held-out data.

The grader makes seeded data that no straight line separates (two interleaved half-moons,
XOR clusters), asks the child to build the learner's ``MLP`` and run the learner's
``train`` on it, and only *then* generates held-out points and sends them for prediction:
their inputs only (``X``), never their labels. Accuracy is computed here, in the grader's
process, from the logits that come back. The model itself never leaves the child: the
grader holds a handle to it.

Every piece of data derives from the run's seed (:func:`data_seed`): with the course's
public seed, the fixed seeds the grader has always used (the data ``grade plot`` shows);
with a teacher's secret seed (official grades), data no one can regenerate without the
secret, so a submission that rebuilds the held-out set from the grader's own data
functions and answers from it gains nothing.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Abort, Registry, fail
from .tensors import devices, tensor
from ..format import describe_type, show
from ..runner.wire import WireTensor
from ..seeds import Seed

checks = Registry("mlp")

IN, HIDDEN, OUT = 3, 7, 2  # distinct sizes, so every parameter's role shows in its shape


# ----------------------------------------------------------------------------- data

def two_moons(n: int, seed: int, noise: float = 0.1):
    """Two interleaving half circles: class 0 above, class 1 below and shifted right."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t0, t1 = rng.uniform(0, math.pi, half), rng.uniform(0, math.pi, n - half)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.zeros(half), np.ones(n - half)]).astype(np.int64)
    order = rng.permutation(n)
    return X[order], y[order]


def xor_clusters(n: int, seed: int, spread: float = 0.25):
    """Four clusters at the corners of a square; opposite corners share a class."""
    rng = np.random.default_rng(seed)
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
    labels = np.array([0, 0, 1, 1])
    which = rng.integers(0, 4, n)
    X = corners[which] + rng.normal(0, spread, (n, 2))
    return X, labels[which].astype(np.int64)


DATASETS = {"two_moons": two_moons, "xor": xor_clusters}

# The data seeds of a public run: the values the grader has always used.
PUBLIC_DATA_SEEDS = {"train": 11, "held_out": 12345, "output_shape": 1, "linear_relu_linear": 2}


def data_seed(seed, part: str, dataset: str = "") -> int:
    """The NumPy seed of one piece of data: ``part`` is ``train``, ``held_out`` (of
    ``dataset``) or the name of a structure check. ``seed`` is the run's
    :class:`~grader.seeds.Seed` (None or an int: public)."""
    seed = Seed.of(seed)
    if not seed.is_secret:
        return PUBLIC_DATA_SEEDS[part]
    return seed.derive(f"mlp/{part}/{dataset}")


def _seed_of(learner):
    """The run's seed, as grading gave it to the learner proxy (None: public)."""
    return learner.__dict__.get("grading_seed")


# ----------------------------------------------------------------------------- MLP structure

def _build(learner, device="cpu"):
    model = learner.keep("MLP", IN, HIDDEN, OUT)
    if device != "cpu":
        model = learner.method(model, "to", device, keep=True)
    return model


def _parameters(learner, model) -> dict:
    info = learner.describe(model)
    if not info.get("is_module"):
        fail(f"MLP({IN}, {HIDDEN}, {OUT}) built {model!r}, which is not a torch.nn.Module: "
             f"the class must subclass torch.nn.Module and call super().__init__()")
    return info.get("parameters", {})


def _by_shape(params: dict) -> dict:
    """Find W1, b1, W2, b2 among the parameters by their shapes (sizes chosen distinct)."""
    wanted = {"W1": (HIDDEN, IN), "b1": (HIDDEN,), "W2": (OUT, HIDDEN), "b2": (OUT,)}
    found = {}
    for role, shape in wanted.items():
        matches = [v for v in params.values() if isinstance(v, WireTensor) and tuple(v.shape) == shape]
        if len(matches) != 1:
            shapes = {k: tuple(v.shape) for k, v in params.items() if isinstance(v, WireTensor)}
            fail(f"MLP({IN}, {HIDDEN}, {OUT}) has parameters {shapes}; expected exactly one {role} of shape "
                 f"{shape} (a Linear({IN}, {HIDDEN}) then a Linear({HIDDEN}, {OUT}))")
        found[role] = matches[0].array.astype(float)
    return found


@checks.add("MLP", "parameter_count")
def _(learner, tol):
    params = _parameters(learner, _build(learner))
    count = sum(int(np.prod(v.shape)) for v in params.values() if isinstance(v, WireTensor))
    expected = IN * HIDDEN + HIDDEN + HIDDEN * OUT + OUT
    if count != expected:
        fail(f"MLP({IN}, {HIDDEN}, {OUT}) has {count} parameters; expected {expected}: "
             f"{IN}×{HIDDEN} weights + {HIDDEN} biases in the first layer, {HIDDEN}×{OUT} + {OUT} in the second")


@checks.add("MLP", "output_shape")
def _(learner, tol):
    X = np.random.default_rng(data_seed(_seed_of(learner), "output_shape")).normal(size=(5, IN))
    for device in devices():
        model = _build(learner, device)
        out = learner.method(model, "__call__", tensor(X, "float32", device))
        what = f"model(x) with x of shape (5, {IN}) on {device}"
        if not isinstance(out, WireTensor):
            fail(f"{what} returned {describe_type(out)}; expected a tensor of logits")
        if tuple(out.shape) != (5, OUT):
            fail(f"{what} returned shape {tuple(out.shape)}; expected (5, {OUT}): one row of {OUT} logits per input")
        if out.device.split(":")[0] != device:
            fail(f"{what} returned a tensor on {out.device}; expected {device}")


@checks.add("MLP", "linear_relu_linear")
def _(learner, tol):
    model = _build(learner)
    p = _by_shape(_parameters(learner, model))
    X = np.random.default_rng(data_seed(_seed_of(learner), "linear_relu_linear")).normal(size=(16, IN)) * 2
    out = learner.method(model, "__call__", tensor(X, "float32", "cpu"))
    if not isinstance(out, WireTensor) or tuple(out.shape) != (16, OUT):
        fail(f"model(x) with x of shape (16, {IN}) returned {show(out)}; expected logits of shape (16, {OUT})")
    expected = np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]
    err = np.abs(out.array.astype(float) - expected).max()
    if not err <= 1e-4 * (1 + np.abs(expected).max()):
        fail(f"model(x) differs from Linear → ReLU → Linear computed with the model's own weights "
             f"(largest difference {err:.3g}). forward should return fc2(relu(fc1(x))): no activation after "
             f"the last layer (those are logits), and a ReLU between the two layers")


# ----------------------------------------------------------------------------- training

def _training_run(learner, tol, device: str, dataset: str = "two_moons"):
    """Build, train and evaluate once per (device, dataset); every train check reads the result."""
    cache = learner.__dict__.setdefault("_mlp_runs", {})
    key = (device, dataset)
    if key not in cache:
        try:
            cache[key] = _train_and_evaluate(learner, tol, device, dataset)
        except (Abort, AssertionError, Exception) as exc:  # replayed to every check that needs it
            cache[key] = exc
    result = cache[key]
    if isinstance(result, BaseException):
        raise result
    return result


def _train_and_evaluate(learner, tol, device, dataset):
    epochs = int(tol.option("epochs", 200))
    lr = float(tol.option("lr", 0.05))
    hidden = int(tol.option("hidden", 32))
    make = DATASETS[dataset]
    seed = _seed_of(learner)
    X, y = make(int(tol.option("train_points", 400)), seed=data_seed(seed, "train", dataset))
    model = learner.keep("MLP", 2, hidden, 2)
    timeout = float(tol.option("train_seconds", 60))
    losses = learner.call("train", model, tensor(X, "float32", device), tensor(y, "int64", device),
                          epochs=epochs, lr=lr, _timeout=timeout)
    train_call = learner.last_call
    seconds = learner.last_seconds
    # Held-out points are generated only now, after training, from a seed the child never saw
    # (secret in official runs); only their inputs are sent, the labels stay here.
    X_test, y_test = make(int(tol.option("test_points", 1000)), seed=data_seed(seed, "held_out", dataset))
    logits = learner.method(model, "__call__", tensor(X_test, "float32", device))
    params = learner.describe(model).get("parameters", {})
    return {"losses": losses, "logits": logits, "y_test": y_test, "epochs": epochs, "call": train_call,
            "params": params, "seconds": seconds, "device": device, "dataset": dataset}


def _loss_values(run) -> list[float]:
    losses, call = run["losses"], run["call"]
    if not isinstance(losses, (list, tuple)):
        fail(f"{call} returned {show(losses)}, which is {describe_type(losses)}; expected a list with the "
             f"loss of every epoch")
    values = []
    for i, v in enumerate(losses):
        if isinstance(v, WireTensor):
            fail(f"{call} returned a list holding tensors (entry {i} is {describe_type(v)}); store plain "
                 f"numbers with loss.item()")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            fail(f"{call} returned a list whose entry {i} is {show(v)} ({describe_type(v)}); expected numbers")
        values.append(float(v))
    return values


@checks.add("train", "one_loss_per_epoch")
def _(learner, tol):
    for device in devices():
        run = _training_run(learner, tol, device)
        values = _loss_values(run)
        if len(values) != run["epochs"]:
            fail(f"{run['call']} returned {len(values)} losses; expected {run['epochs']}, one per epoch")
        if not all(math.isfinite(v) for v in values):
            fail(f"{run['call']} returned losses that are not finite (e.g. {next(v for v in values if not math.isfinite(v))})")


@checks.add("train", "loss_falls")
def _(learner, tol):
    factor = float(tol.option("fall_factor", 0.5))
    for device in devices():
        run = _training_run(learner, tol, device)
        values = _loss_values(run)
        if len(values) < 2:
            fail(f"{run['call']} returned {len(values)} losses; expected one per epoch")
        if not values[-1] <= factor * values[0]:
            fail(f"{run['call']}: the loss went from {values[0]:.4g} to {values[-1]:.4g}; training should at "
                 f"least halve it. Each epoch needs all four steps: zero the gradients, compute the loss, "
                 f"loss.backward(), optimizer.step()")


def _accuracy_check(dataset):
    def body(learner, tol):
        threshold = float(tol.option("accuracy", 0.95))
        for device in devices():
            run = _training_run(learner, tol, device, dataset)
            logits = run["logits"]
            if not isinstance(logits, WireTensor) or logits.array.ndim != 2 or logits.array.shape[1] != 2:
                fail(f"after training, model(x) on {len(run['y_test'])} held-out points returned {show(logits)}; "
                     f"expected logits of shape ({len(run['y_test'])}, 2)")
            predictions = logits.array.argmax(axis=1)
            accuracy = float((predictions == run["y_test"]).mean())
            if accuracy < threshold:
                fail(f"after {run['call']}, the model classified {accuracy:.1%} of {len(run['y_test'])} held-out "
                     f"{dataset.replace('_', ' ')} points correctly on {device}; at least {threshold:.0%} is needed. "
                     f"Check that train updates the model it was given, for every epoch")
    return body


checks.add("train", "held_out_accuracy")(_accuracy_check("two_moons"))
checks.add("train", "separates_xor")(_accuracy_check("xor"))


@checks.add("train", "trains_in_time")
def _(learner, tol):
    limit = float(tol.option("train_seconds", 60))
    run = _training_run(learner, tol, "cpu")
    if run["seconds"] > limit:  # the call is also stopped at the limit; this reports the time taken
        fail(f"{run['call']} took {run['seconds']:.1f} s on the CPU; the limit is {limit:g} s")


@checks.add("train", "trains_on_device_of_X")
def _(learner, tol):
    for device in devices():
        run = _training_run(learner, tol, device)
        for name, p in run["params"].items():
            if isinstance(p, WireTensor) and p.device.split(":")[0] != device:
                fail(f"after {run['call']} with X on {device}, the parameter {name} is on {p.device}: train "
                     f"should move the model to X.device")
        logits = run["logits"]
        if isinstance(logits, WireTensor) and logits.device.split(":")[0] != device:
            fail(f"after training on {device}, the model's outputs are on {logits.device}")
