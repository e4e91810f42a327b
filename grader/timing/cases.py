"""The inputs of every timed run: one builder per timed function of the course.

A builder takes a seeded NumPy generator, the sizes from the course file (``size:``), the
device and the dtype, and returns the call's positional and keyword arguments. Every
round calls it with a fresh generator, so every call gets new values (no cached result can
help) while the learner and the reference get the very same ones (their times pair up).

Arrays are NumPy float64 for the NumPy exercises; tensors travel as
:class:`~grader.runner.wire.WireTensor` (values, dtype, device) and become real tensors in
the child. :class:`Model` asks the child to build the module's own class (the learner's
``MLP`` in the learner's process, the solution's in the reference's) and to load the same
seeded parameters into both, so their results can be compared.

The course file may only declare timing for a function that has a builder here, and only
with the size keys the builder lists (checked when the course is loaded).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..runner.wire import WireTensor


@dataclass(frozen=True)
class Case:
    exercise: str
    function: str
    sizes: tuple[str, ...]  # the keys ``size:`` must give (positive whole numbers)
    build: Callable  # (rng, size: dict, device: str, dtype: str) -> (args tuple, kwargs dict)
    torch: bool = False
    default_dtype: str = "float64"


@dataclass
class Model:
    """A module built in the child: ``cls(*args)``, then parameters loaded by shape."""

    cls: str
    args: tuple
    parameters: dict = field(default_factory=dict)  # shape tuple -> float array
    dtype: str = "float32"


CASES: dict[tuple[str, str], Case] = {}


def case(exercise: str, function: str, sizes: tuple[str, ...], *, torch: bool = False,
         dtype: str = "float64"):
    def register(build):
        CASES[(exercise, function)] = Case(exercise, function, tuple(sizes), build, torch, dtype)
        return build
    return register


def get(exercise: str, function: str) -> Case | None:
    return CASES.get((exercise, function))


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _tensor(array, dtype, device):
    return WireTensor(np.asarray(array, dtype=dtype), dtype, device)


# ----------------------------------------------------------------------------- Part 1: NumPy

@case("vectors", "dot", ("n",))
def _(rng, size, device, dtype):
    return (_normal(rng, size["n"]), _normal(rng, size["n"])), {}


@case("vectors", "matmul", ("m", "k", "p"))
def _(rng, size, device, dtype):
    return (_normal(rng, (size["m"], size["k"])), _normal(rng, (size["k"], size["p"]))), {}


@case("losses", "mse", ("n",))
def _(rng, size, device, dtype):
    y_true = _normal(rng, size["n"])
    return (y_true, y_true + 0.5 * _normal(rng, size["n"])), {}


@case("losses", "rmse", ("n",))
def _(rng, size, device, dtype):
    y_true = _normal(rng, size["n"])
    return (y_true, y_true + 0.5 * _normal(rng, size["n"])), {}


@case("losses", "mse_grad", ("n",))
def _(rng, size, device, dtype):
    y_true = _normal(rng, size["n"])
    return (y_true, y_true + 0.5 * _normal(rng, size["n"])), {}


@case("gradient_descent", "fit_line", ("n", "epochs"))
def _(rng, size, device, dtype):
    x = rng.uniform(-2, 2, size["n"])
    y = 1.5 * x - 0.5 + 0.1 * _normal(rng, size["n"])
    return (x, y), {"lr": 0.05, "epochs": size["epochs"]}


@case("activations", "relu", ("rows", "cols"))
def _(rng, size, device, dtype):
    return (5 * _normal(rng, (size["rows"], size["cols"])),), {}


@case("activations", "sigmoid", ("rows", "cols"))
def _(rng, size, device, dtype):
    return (5 * _normal(rng, (size["rows"], size["cols"])),), {}


@case("activations", "softmax", ("rows", "cols"))
def _(rng, size, device, dtype):
    return (5 * _normal(rng, (size["rows"], size["cols"])),), {}


# ----------------------------------------------------------------------------- Part 2: PyTorch

@case("backprop", "two_layer_backward", ("batch", "features", "hidden", "outputs"), torch=True,
      dtype="float32")
def _(rng, size, device, dtype):
    n, d, h, c = size["batch"], size["features"], size["hidden"], size["outputs"]
    x = _normal(rng, (n, d))
    y = _normal(rng, (n, c))
    W1 = _normal(rng, (h, d)) / math.sqrt(d)
    b1 = 0.1 * _normal(rng, h)
    W2 = _normal(rng, (c, h)) / math.sqrt(h)
    b2 = 0.1 * _normal(rng, c)
    return tuple(_tensor(v, dtype, device) for v in (x, y, W1, b1, W2, b2)), {}


@case("backprop", "linear_backward", ("batch", "features", "outputs"), torch=True, dtype="float32")
def _(rng, size, device, dtype):
    n, d, c = size["batch"], size["features"], size["outputs"]
    return tuple(_tensor(v, dtype, device) for v in
                 (_normal(rng, (n, c)), _normal(rng, (n, d)), _normal(rng, (c, d)))), {}


@case("backprop", "relu_backward", ("rows", "cols"), torch=True, dtype="float32")
def _(rng, size, device, dtype):
    shape = (size["rows"], size["cols"])
    return (_tensor(_normal(rng, shape), dtype, device), _tensor(_normal(rng, shape), dtype, device)), {}


@case("mlp", "train", ("points", "hidden", "epochs"), torch=True, dtype="float32")
def _(rng, size, device, dtype):
    from ..checks.mlp import two_moons

    n, hidden = size["points"], size["hidden"]
    X, y = two_moons(n, int(rng.integers(2 ** 31)))
    params = {}
    for shape, fan_in in (((hidden, 2), 2), ((hidden,), 2), ((2, hidden), hidden), ((2,), hidden)):
        bound = 1 / math.sqrt(fan_in)
        params[shape] = rng.uniform(-bound, bound, shape)
    model = Model("MLP", (2, hidden, 2), params, dtype)
    return (model, _tensor(X, dtype, device), WireTensor(y.astype(np.int64), "int64", device)), \
        {"epochs": size["epochs"], "lr": 0.05}
