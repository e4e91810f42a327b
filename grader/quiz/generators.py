"""Parameterised questions: numbers drawn per learner, answers computed here.

A question names a generator (``generator: dot_product``); the generator draws its
numbers from a ``Draw`` seeded by the quiz, the draw's name and the learner's id, and
returns the values shown in the prompt (as text) and its answers. Nothing from a quiz
file is ever evaluated: the only code that computes answers is in this module.

``Draw`` is a SHA-256 counter stream, not ``random`` or NumPy, so every Python and NumPy
version draws the same numbers for the same learner: the learner's machine and the
teacher's agree.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable

NUMERIC, VECTOR, MATRIX = "numeric", "vector", "matrix"


class Draw:
    """Deterministic random numbers from a key (quiz, draw name, student)."""

    def __init__(self, *key: str):
        self._key = hashlib.sha256("\x1f".join(("dlgrade-quiz-draw", *key)).encode("utf-8")).digest()
        self._counter = 0

    def _u64(self) -> int:
        block = hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
        self._counter += 1
        return int.from_bytes(block[:8], "big")

    def integer(self, lo: int, hi: int) -> int:
        """A whole number in [lo, hi], every one equally likely."""
        n = hi - lo + 1
        if n <= 0:
            raise ValueError("empty range")
        limit = (1 << 64) - (1 << 64) % n
        while True:
            u = self._u64()
            if u < limit:
                return lo + u % n

    def nonzero(self, lo: int, hi: int) -> int:
        while True:
            x = self.integer(lo, hi)
            if x != 0:
                return x

    def choice(self, options):
        return options[self.integer(0, len(options) - 1)]

    def integers(self, n: int, lo: int, hi: int) -> list[int]:
        return [self.integer(lo, hi) for _ in range(n)]


@dataclass
class Drawn:
    params: dict[str, str]          # placeholders for the prompt: {a}, {table}, ...
    answers: dict[str, object]      # output name -> float, list[float] or list[list[float]]


@dataclass
class Generator:
    name: str
    outputs: dict[str, str]         # output name -> numeric | vector | matrix
    function: Callable[[Draw], Drawn]
    doc: str = ""

    def __call__(self, draw: Draw) -> Drawn:
        return self.function(draw)


GENERATORS: dict[str, Generator] = {}


def generator(name: str, **outputs: str):
    """Register ``fn(draw) -> Drawn`` under ``name``; ``outputs`` names each answer's kind."""
    def register(fn):
        GENERATORS[name] = Generator(name, dict(outputs), fn, (fn.__doc__ or "").strip())
        return fn
    return register


def drawn(student: str, quiz: str, draw_name: str, name: str) -> Drawn:
    return GENERATORS[name](Draw(quiz, draw_name, student))


# --- formatting ---------------------------------------------------------------------

def num(x) -> str:
    """3 for 3.0, 0.25 for 0.25: numbers as a person writes them."""
    x = float(x)
    if x == int(x):
        return str(int(x))
    return f"{x:g}"


def vec(xs) -> str:
    return "[" + ", ".join(num(x) for x in xs) + "]"


def mat(rows) -> str:
    return "[" + ", ".join(vec(r) for r in rows) + "]"


def table(header: list[str], rows: list[list]) -> str:
    """A small right-aligned table, each line indented so the quiz shows it as is."""
    cells = [header] + [[num(c) if not isinstance(c, str) else c for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join("    " + line for line in lines)


# --- linear algebra -----------------------------------------------------------------

@generator("dot_product", answer=NUMERIC)
def dot_product(d: Draw) -> Drawn:
    """Two integer vectors of length 3 or 4; the answer is their dot product."""
    n = d.choice([3, 4])
    a, b = d.integers(n, -6, 6), d.integers(n, -6, 6)
    return Drawn({"a": vec(a), "b": vec(b), "n": str(n)},
                 {"answer": float(sum(x * y for x, y in zip(a, b)))})


@generator("cross_product", answer=VECTOR)
def cross_product(d: Draw) -> Drawn:
    """Two integer 3-vectors; the answer is a × b."""
    a, b = d.integers(3, -5, 5), d.integers(3, -5, 5)
    c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    return Drawn({"a": vec(a), "b": vec(b)}, {"answer": [float(x) for x in c]})


@generator("matrix_product", answer=MATRIX)
def matrix_product(d: Draw) -> Drawn:
    """A (2×3) and B (3×2) with small integers; the answer is AB (2×2)."""
    A = [d.integers(3, -3, 4) for _ in range(2)]
    B = [d.integers(2, -3, 4) for _ in range(3)]
    C = [[float(sum(A[i][k] * B[k][j] for k in range(3))) for j in range(2)] for i in range(2)]
    return Drawn({"A": mat(A), "B": mat(B)}, {"answer": C})


# --- calculus -----------------------------------------------------------------------

@generator("sin_x_squared_slope", answer=NUMERIC)
def sin_x_squared_slope(d: Draw) -> Drawn:
    """A point x0 in [0.3, 1.7]; the answer is the derivative of sin(x²) there."""
    x0 = d.integer(3, 17) / 10
    return Drawn({"x0": num(x0)}, {"answer": 2 * x0 * math.cos(x0 * x0)})


@generator("partial_derivatives", answer=VECTOR)
def partial_derivatives(d: Draw) -> Drawn:
    """f(x, y) = a·x²·y + b·y² at (x0, y0); the answer is [∂f/∂x, ∂f/∂y]."""
    a, b = d.nonzero(-4, 5), d.nonzero(-3, 4)
    x0, y0 = d.nonzero(-3, 3), d.nonzero(-3, 3)
    grad = [2.0 * a * x0 * y0, float(a * x0 * x0 + 2 * b * y0)]
    first = {1: "", -1: "−"}.get(a, f"{num(a)}·".replace("-", "−"))
    second = "" if abs(b) == 1 else f"{num(abs(b))}·"
    return Drawn({"a": num(a), "b": num(b), "x0": num(x0), "y0": num(y0),
                  "f": f"{first}x²·y {'+' if b > 0 else '−'} {second}y²"},
                 {"answer": grad})


# --- statistics and probability -----------------------------------------------------

@generator("small_sample", mean=NUMERIC, variance=NUMERIC, std=NUMERIC)
def small_sample(d: Draw) -> Drawn:
    """Six whole-number measurements; population mean, variance and standard deviation."""
    xs = d.integers(6, 2, 20)
    m = sum(xs) / len(xs)
    var = sum((x - m) ** 2 for x in xs) / len(xs)
    return Drawn({"data": ", ".join(num(x) for x in xs), "n": str(len(xs))},
                 {"mean": m, "variance": var, "std": math.sqrt(var)})


@generator("exam_bands", answer=NUMERIC)
def exam_bands(d: Draw) -> Drawn:
    """Counts of 1000 students per score band; the answer is P(score ≥ 40)."""
    counts = [d.integer(20, 100), d.integer(100, 220), d.integer(220, 340), d.integer(150, 260)]
    counts.append(1000 - sum(counts))
    bands = ["0–19", "20–39", "40–59", "60–79", "80–100"]
    rows = [[band, c] for band, c in zip(bands, counts)]
    return Drawn({"table": table(["score", "students"], rows), "total": "1000"},
                 {"answer": sum(counts[2:]) / 1000})


# --- machine learning ---------------------------------------------------------------

@generator("regression_table", mse=NUMERIC, rmse=NUMERIC)
def regression_table(d: Draw) -> Drawn:
    """Five true values and predictions (whole numbers); their MSE and RMSE."""
    y = [d.integer(150, 190) for _ in range(5)]
    p = [t + d.integer(-6, 6) for t in y]
    mse = sum((a - b) ** 2 for a, b in zip(y, p)) / 5
    rows = [[i + 1, a, b] for i, (a, b) in enumerate(zip(y, p))]
    return Drawn({"table": table(["#", "true (cm)", "predicted (cm)"], rows)},
                 {"mse": mse, "rmse": math.sqrt(mse)})


@generator("confusion_counts", precision=NUMERIC, recall=NUMERIC, f1=NUMERIC, accuracy=NUMERIC)
def confusion_counts(d: Draw) -> Drawn:
    """A 2×2 confusion matrix of a spam filter; precision, recall, F1 and accuracy."""
    tp, fp, fn, tn = d.integer(20, 90), d.integer(3, 30), d.integer(3, 30), d.integer(60, 200)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    rows = [["actual spam", tp, fn], ["actual not spam", fp, tn]]
    return Drawn({"table": table(["", "predicted spam", "predicted not spam"], rows),
                  "tp": str(tp), "fp": str(fp), "fn": str(fn), "tn": str(tn)},
                 {"precision": precision, "recall": recall,
                  "f1": 2 * precision * recall / (precision + recall),
                  "accuracy": (tp + tn) / (tp + fp + fn + tn)})


@generator("descent_step", answer=NUMERIC)
def descent_step(d: Draw) -> Drawn:
    """One gradient-descent step on L(w) = (w − c)²; the answer is the new w."""
    c = d.integer(-5, 5)
    w0 = c + d.nonzero(-6, 6)
    lr = d.choice([0.05, 0.1, 0.2, 0.25])
    return Drawn({"c": num(c), "w0": num(w0), "lr": num(lr),
                  "loss": f"(w − {num(c)})²" if c >= 0 else f"(w + {num(-c)})²"},
                 {"answer": w0 - lr * 2 * (w0 - c)})


@generator("batches_per_epoch", answer=NUMERIC)
def batches_per_epoch(d: Draw) -> Drawn:
    """N examples in mini-batches of B (the last one may be smaller); steps per epoch."""
    n = d.choice([1000, 1200, 1500, 2000, 2500, 3000, 5000, 6000])
    b = d.choice([32, 50, 64, 100, 128])
    return Drawn({"n": f"{n:,}", "b": str(b)}, {"answer": float(math.ceil(n / b))})


# --- neural networks ----------------------------------------------------------------

@generator("relu_neuron", answer=NUMERIC)
def relu_neuron(d: Draw) -> Drawn:
    """One neuron with three inputs and ReLU; the answer is its output.

    Mostly the weighted sum is positive; about one draw in five it is negative, so
    that ReLU's cut-off matters without making "0" a good guess.
    """
    while True:
        w = [d.integer(-6, 6) / 2 for _ in range(3)]
        x = d.integers(3, -3, 4)
        b = d.integer(-4, 4)
        z = sum(wi * xi for wi, xi in zip(w, x)) + b
        if z > 0 or (z < 0 and d.integer(0, 3) == 0):
            break
    return Drawn({"w": vec(w), "x": vec(x), "b": num(b)}, {"answer": max(0.0, z)})


@generator("softmax_logits", answer=VECTOR)
def softmax_logits(d: Draw) -> Drawn:
    """Three small whole-number logits; the answer is their softmax."""
    z = d.integers(3, -2, 3)
    while len(set(z)) == 1:
        z = d.integers(3, -2, 3)
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return Drawn({"z": vec(z)}, {"answer": [v / s for v in e]})


@generator("dense_parameters", answer=NUMERIC)
def dense_parameters(d: Draw) -> Drawn:
    """A dense network's layer sizes; the answer is its number of weights and biases."""
    inputs = d.choice([16, 20, 32, 64, 100, 784])
    hidden = [d.choice([8, 10, 16, 32, 64, 128]) for _ in range(d.choice([1, 2]))]
    out = d.choice([2, 3, 5, 10])
    sizes = [inputs] + hidden + [out]
    count = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    return Drawn({"sizes": " → ".join(str(s) for s in sizes)}, {"answer": float(count)})


# --- practice -----------------------------------------------------------------------

@generator("pixel_scale", answer=NUMERIC)
def pixel_scale(d: Draw) -> Drawn:
    """A grey level 1..254; the answer is the level scaled to [0, 1] (divided by 255)."""
    p = d.integer(1, 254)
    return Drawn({"p": str(p)}, {"answer": p / 255})


@generator("flattened_image", answer=NUMERIC)
def flattened_image(d: Draw) -> Drawn:
    """An image's height, width and channels; the answer is the length once flattened."""
    h = d.choice([24, 28, 32, 48, 64])
    w = d.choice([24, 28, 32, 48, 64])
    c = d.choice([1, 3])
    kind = "greyscale" if c == 1 else "colour (RGB)"
    return Drawn({"h": str(h), "w": str(w), "c": str(c), "kind": kind}, {"answer": float(h * w * c)})
