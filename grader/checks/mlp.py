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

from .base import Abort, LearnerRaised, Mismatch, NotJudged, Registry, Slip, diagnose, fail, fail_with
from .tensors import devices, expect_tensor_inputs_unchanged, tensor
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
PUBLIC_DATA_SEEDS = {"train": 11, "held_out": 12345, "output_shape": 1, "linear_relu_linear": 2, "contract": 3}


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
        fail(f"MLP({IN}, {HIDDEN}, {OUT}) built {show(model)}, which is not a torch.nn.Module: "
             f"the class must subclass torch.nn.Module and call super().__init__()")
    return info.get("parameters", {})


def _by_shape(params: dict, sizes: tuple = (IN, HIDDEN, OUT)) -> dict:
    """Find W1, b1, W2, b2 among the parameters by their shapes (sizes chosen distinct)."""
    n_in, hidden, n_out = sizes
    wanted = {"W1": (hidden, n_in), "b1": (hidden,), "W2": (n_out, hidden), "b2": (n_out,)}
    found = {}
    for role, shape in wanted.items():
        matches = [v for v in params.values() if isinstance(v, WireTensor) and tuple(v.shape) == shape]
        if len(matches) != 1:
            shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in params.items() if isinstance(v, WireTensor))
            fail(f"MLP({n_in}, {hidden}, {n_out}) has the parameters {shapes or 'none'}; expected exactly one "
                 f"{role} of shape {shape} (a Linear({n_in}, {hidden}) then a Linear({hidden}, {n_out}))")
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
    expected = _forward(p, X)
    err = np.abs(out.array.astype(float) - expected).max()
    if not err <= 1e-4 * (1 + np.abs(expected).max()):
        hidden = X @ p["W1"].T + p["b1"]
        logits_after = "The last layer's output is the logits: nothing comes after it."
        slip = diagnose(out.array, (
            Slip("softmax_after_last_layer", lambda: _softmax_rows(expected), "that is the softmax of the logits",
                 "Return the raw logits: F.cross_entropy applies the softmax itself, and a second one trains badly."),
            Slip("relu_after_last_layer", lambda: np.maximum(expected, 0), "that puts a ReLU after the last layer",
                 logits_after),
            Slip("sigmoid_after_last_layer", lambda: 1 / (1 + np.exp(-expected)), "that puts a sigmoid after the "
                 "last layer", logits_after),
            Slip("no_relu", lambda: hidden @ p["W2"].T + p["b2"], "that leaves out the ReLU between the layers",
                 "Without a nonlinearity in between, two linear layers collapse into one: apply the ReLU to the "
                 "first layer's output."),
        ), rtol=1e-4, atol=1e-4)
        fail_with(f"model(x) differs from Linear → ReLU → Linear computed with the model's own weights "
                  f"(largest difference {err:.3g})", slip)


def _forward(p: dict, X: np.ndarray) -> np.ndarray:
    """Linear → ReLU → Linear with the parameters ``p`` (by role), in float64."""
    return np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


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
    if not isinstance(losses, list):
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


# ----------------------------------------------------------------------------- the training loop's contract

# A small problem of its own, trained for a few epochs from a fresh model: what one epoch
# records and what it changes can be compared with the contract exactly. The learning rate
# is not the default, so that a train that ignores its lr shows.
CONTRACT = {"points": 64, "hidden": 32, "epochs": 3, "lr": 0.02}
STEP_TOLERANCE = 0.1  # of one Adam step (lr): AdamW's weight decay moves a parameter ~0.02 of a step
STRAYS_ALLOWED = 0.05  # entries with a near-zero gradient, whose normalised Adam step rounding can flip


def _contract_data(learner):
    return two_moons(CONTRACT["points"], seed=data_seed(_seed_of(learner), "contract", "two_moons"))


def _fresh_model(learner):
    """A fresh MLP(2, hidden, 2) of the learner's, kept in the child, or NotJudged if there is none."""
    try:
        return learner.keep("MLP", 2, CONTRACT["hidden"], 2)
    except (Mismatch, LearnerRaised) as broken:
        raise NotJudged(f"Could not be judged: {broken}. This check trains a fresh MLP with train, so it waits "
                        f"until the MLP checks pass.") from None


def _logits(learner, model, X) -> np.ndarray:
    out = learner.method(model, "__call__", tensor(X, "float32", "cpu"))
    if not isinstance(out, WireTensor) or out.array.shape != (len(X), 2):
        raise NotJudged(f"Could not be judged: model(x) with x of shape ({len(X)}, 2) returned {show(out)}; this "
                        f"check needs logits of shape ({len(X)}, 2), so it waits until the MLP checks pass.")
    return out.array.astype(float)


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """The mean cross-entropy of ``logits`` (N, C) for the classes ``y``: F.cross_entropy's value."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_softmax[np.arange(len(y)), y].mean())


def _train_once(learner, model, X, y, epochs):
    losses = learner.call("train", model, tensor(X, "float32", "cpu"), tensor(y, "int64", "cpu"),
                          epochs=epochs, lr=CONTRACT["lr"])
    values = _loss_values({"losses": losses, "call": learner.last_call})
    if len(values) != epochs:
        raise NotJudged(f"Could not be judged: {learner.last_call} returned {len(values)} losses for {epochs} "
                        f"epoch{'s' if epochs != 1 else ''}; the check of one loss per epoch says more.")
    return values


@checks.add("train", "records_loss_before_update")
def _(learner, tol):
    X, y = _contract_data(learner)
    model = _fresh_model(learner)
    logits_before = _logits(learner, model, X)
    before = _cross_entropy(logits_before, y)
    (recorded,) = _train_once(learner, model, X, y, 1)
    call = learner.last_call
    if abs(recorded - before) <= 1e-4 * (1.0 + before):
        return
    logits_after = _logits(learner, model, X)
    slip = diagnose(recorded, (
        Slip("loss_after_update", lambda: _cross_entropy(logits_after, y), "that is the cross-entropy after the update",
             "Record the loss computed at the start of the epoch, before optimizer.step() changes the model."),
        Slip("summed_loss", lambda: before * len(y), f"that is the sum over the {len(y)} points, not the mean",
             "F.cross_entropy(logits, y) averages over the batch by itself: record that value."),
        Slip("softmax_before_loss", lambda: _cross_entropy(_softmax_rows(logits_before), y),
             "that is the cross-entropy of softmax(logits): a softmax applied twice",
             "F.cross_entropy takes the raw logits and applies the softmax itself."),
    ), rtol=1e-4, atol=1e-6)
    fail_with(f"{call} recorded the loss {recorded:.6g} for its one epoch, but the model's mean cross-entropy on X "
              f"before that epoch's update was {before:.6g} (a fresh model's is close to log 2, about 0.69)", slip,
              hint="Each epoch records the cross-entropy of model(X) as a float, the loss that this epoch's "
                   "backward() and step() start from.")


def _reference_steps(P0: dict, X, y, epochs: int, lr: float, *, zero_grad=True, steps=1, optimizer="Adam"):
    """Full-batch training of Linear → ReLU → Linear from the parameters ``P0`` (by role), in
    float32 on the CPU, as the docstring's loop does it; and some ways to get it wrong."""
    import torch
    import torch.nn.functional as F

    params = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True) for k, v in P0.items()}
    opt = getattr(torch.optim, optimizer)(list(params.values()), lr=lr)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    with torch.enable_grad():
        for _ in range(epochs):
            if zero_grad:
                opt.zero_grad()
            hidden = F.relu(F.linear(Xt, params["W1"], params["b1"]))
            F.cross_entropy(F.linear(hidden, params["W2"], params["b2"]), yt).backward()
            for _ in range(steps):  # more than one: the same gradient stepped on again
                opt.step()
    return {k: v.detach().double().numpy() for k, v in params.items()}


def _strays(P: dict, R: dict, lr: float) -> tuple[float, tuple | None]:
    """The share of parameter entries farther than a tenth of a step from ``R``, and the first of them."""
    far = {k: np.abs(P[k] - R[k]) > STEP_TOLERANCE * lr for k in R}
    count = sum(int(v.sum()) for v in far.values())
    total = sum(v.size for v in far.values())
    first = next(((k, tuple(int(i) for i in np.argwhere(v)[0])) for k, v in far.items() if v.any()), None)
    return count / total, first


@checks.add("train", "one_full_batch_step_per_epoch")
def _(learner, tol):
    X, y = _contract_data(learner)
    model = _fresh_model(learner)
    sizes = (2, CONTRACT["hidden"], 2)
    try:
        P0 = _by_shape(_parameters(learner, model), sizes)
    except Mismatch as wrong:
        raise NotJudged(f"Could not be judged: {wrong}. This check follows the parameters of Linear → ReLU → "
                        f"Linear, so it waits until the MLP checks pass.") from None
    if not np.allclose(_logits(learner, model, X), _forward(P0, X), rtol=1e-4, atol=1e-4):
        raise NotJudged("Could not be judged: the model does not compute Linear → ReLU → Linear with its own "
                        "parameters, which this check follows; it waits until the MLP checks pass.")
    epochs, lr = CONTRACT["epochs"], CONTRACT["lr"]
    _train_once(learner, model, X, y, epochs)
    call = learner.last_call
    P = _by_shape(_parameters(learner, model), sizes)
    expected = _reference_steps(P0, X, y, epochs, lr)
    share, first = _strays(P, expected, lr)
    if share <= STRAYS_ALLOWED:
        return
    role, idx = first
    where = f"{role}[{', '.join(map(str, idx))}]"
    message = (f"After {call}, the parameters are not where {epochs} full-batch Adam steps from the same start "
               f"lead: {where} is {P[role][idx]:.6g}, expected {expected[role][idx]:.6g} ({share:.0%} of the "
               f"entries are off by more than a tenth of a step)")
    variants = (
        ("never_steps", lambda: P0, "the parameters did not change at all",
         "Call optimizer.step() after loss.backward() in every epoch, with an optimizer built from "
         "model.parameters()."),
        ("gradients_accumulate", lambda: _reference_steps(P0, X, y, epochs, lr, zero_grad=False),
         "that is where the steps lead when the gradients are never cleared: they pile up from epoch to epoch",
         "backward() adds to what is already in each p.grad: call optimizer.zero_grad() at the start of every "
         "epoch."),
        ("ignores_lr", lambda: _reference_steps(P0, X, y, epochs, 0.05),
         f"that is where lr=0.05 leads, but this call gave lr={lr}",
         "Build the optimizer with the lr argument you are given."),
        ("two_steps_per_epoch", lambda: _reference_steps(P0, X, y, epochs, lr, steps=2),
         "that is where two steps per epoch lead", "One epoch is one forward pass, one backward() and one step(): "
         "call optimizer.step() once."),
        ("sgd", lambda: _reference_steps(P0, X, y, epochs, lr, optimizer="SGD"),
         "that is where plain SGD leads", "Use torch.optim.Adam on model.parameters(), as the docstring says."),
    )
    for name, reached, why, hint in variants:
        if _strays(P, reached(), lr)[0] <= STRAYS_ALLOWED:
            fail(f"{message}: {why}", hint=hint, diagnosis=name)
    fail(message, hint="Each epoch: zero the gradients, compute the loss of the whole X, call backward() once and "
                       "step() once, with torch.optim.Adam on model.parameters() and the lr you are given.")


@checks.add("train", "leaves_inputs_unchanged")
def _(learner, tol):
    X, y = _contract_data(learner)
    model = _fresh_model(learner)
    expect_tensor_inputs_unchanged(learner, "train", (model, tensor(X, "float32", "cpu"),
                                                      tensor(y, "int64", "cpu")), epochs=1, lr=CONTRACT["lr"])


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
                fail(f"After training, model(x) on {len(run['y_test'])} held-out points returned {show(logits)}; "
                     f"expected logits of shape ({len(run['y_test'])}, 2)")
            predictions = logits.array.argmax(axis=1)
            accuracy = float((predictions == run["y_test"]).mean())
            if accuracy < threshold:
                fail(f"After {run['call']}, the model classified {accuracy:.1%} of {len(run['y_test'])} held-out "
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
                fail(f"After {run['call']} with X on {device}, the parameter {name} is on {p.device}: train "
                     f"should move the model to X.device")
        logits = run["logits"]
        if isinstance(logits, WireTensor) and logits.device.split(":")[0] != device:
            fail(f"After training on {device}, the model's outputs are on {logits.device}")
