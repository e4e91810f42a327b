"""Functions that travel as data.

Some contract functions take a function as an argument (``derivative(f, x)``,
``gradient_descent(grad_fn, ...)``). A Python function cannot cross into the child
without pickling, so the grader sends a small expression tree instead, and the child
rebuilds a plain Python function from it. The grader keeps the tree, so it can also
differentiate it exactly (the oracle) and print it in the learner's terms.

A tree is nested JSON lists::

    ["const", 2.5]   ["var", i]   ["add", a, b]   ["sub", a, b]   ["mul", a, b]
    ["pow", a, n] (whole n >= 0)  ["sin", a]   ["cos", a]   ["exp", a]   ["neg", a]

A :class:`Function` bundles trees with a *kind*:

- ``scalar``:  R -> R, ``f(x)`` with x a float (var 0 is x).
- ``field``:   R^n -> R, ``f(x)`` with x of shape (n,) (var i is x[i]).
- ``vector``:  R^n -> R^n, ``g(x)`` returns shape (n,), one tree per component.

Loaded by file path in the child: standard library and NumPy only.
"""
from __future__ import annotations

import numpy as np

UNARY = ("sin", "cos", "exp", "neg")
BINARY = ("add", "sub", "mul")
KINDS = ("scalar", "field", "vector")
MAX_NODES = 400


def const(c):
    return ["const", float(c)]


def var(i=0):
    return ["var", int(i)]


def evaluate(tree, env):
    """Value of ``tree`` where ``env[i]`` is variable i (floats or NumPy arrays)."""
    op = tree[0]
    if op == "const":
        return tree[1]
    if op == "var":
        return env[tree[1]]
    if op == "add":
        return evaluate(tree[1], env) + evaluate(tree[2], env)
    if op == "sub":
        return evaluate(tree[1], env) - evaluate(tree[2], env)
    if op == "mul":
        return evaluate(tree[1], env) * evaluate(tree[2], env)
    if op == "pow":
        return evaluate(tree[1], env) ** tree[2]
    if op == "neg":
        return -evaluate(tree[1], env)
    if op in ("sin", "cos", "exp"):
        return getattr(np, op)(evaluate(tree[1], env))
    raise ValueError(f"unknown operation {op!r}")


def diff(tree, i):
    """The exact partial derivative of ``tree`` with respect to variable ``i``."""
    op = tree[0]
    if op == "const":
        return const(0)
    if op == "var":
        return const(1 if tree[1] == i else 0)
    if op in ("add", "sub"):
        return _simplify([op, diff(tree[1], i), diff(tree[2], i)])
    if op == "mul":
        a, b = tree[1], tree[2]
        return _simplify(["add", _simplify(["mul", diff(a, i), b]), _simplify(["mul", a, diff(b, i)])])
    if op == "pow":
        a, n = tree[1], tree[2]
        if n == 0:
            return const(0)
        inner = const(n) if n == 1 else _simplify(["mul", const(n), ["pow", a, n - 1]])
        return _simplify(["mul", inner, diff(a, i)])
    if op == "neg":
        return _simplify(["neg", diff(tree[1], i)])
    if op == "sin":
        return _simplify(["mul", ["cos", tree[1]], diff(tree[1], i)])
    if op == "cos":
        return _simplify(["mul", ["neg", ["sin", tree[1]]], diff(tree[1], i)])
    if op == "exp":
        return _simplify(["mul", tree, diff(tree[1], i)])
    raise ValueError(f"unknown operation {op!r}")


def _is_const(t, value=None):
    return t[0] == "const" and (value is None or t[1] == value)


def _simplify(t):
    op = t[0]
    if op == "mul":
        a, b = t[1], t[2]
        if _is_const(a, 0) or _is_const(b, 0):
            return const(0)
        if _is_const(a, 1):
            return b
        if _is_const(b, 1):
            return a
        if _is_const(a) and _is_const(b):
            return const(a[1] * b[1])
    if op in ("add", "sub"):
        a, b = t[1], t[2]
        if _is_const(b, 0):
            return a
        if _is_const(a, 0):
            return b if op == "add" else _simplify(["neg", b])
    if op == "neg" and _is_const(t[1]):
        return const(-t[1][1])
    return t


def to_text(tree, kind="scalar"):
    """Python-like source of ``tree``, e.g. ``sin(x**2) + 3*x`` or ``x[0]*x[1]``."""

    def name(i):
        return "x" if kind == "scalar" else f"x[{i}]"

    def go(t, parent_prec=0):
        op = t[0]
        if op == "const":
            c = t[1]
            s = repr(int(c)) if c == int(c) and abs(c) < 1e15 else repr(c)
            return f"({s})" if c < 0 and parent_prec > 0 else s
        if op == "var":
            return name(t[1])
        if op in UNARY and op != "neg":
            return f"{op}({go(t[1])})"
        if op == "neg":
            s = "-" + go(t[1], 3)
            return f"({s})" if parent_prec > 1 else s
        if op == "pow":  # ** is right-associative: a power as the base needs parentheses
            s = f"{go(t[1], 5)}**{t[2]}"
            return f"({s})" if parent_prec >= 5 else s
        prec = {"add": 1, "sub": 1, "mul": 2}[op]
        sym = {"add": " + ", "sub": " - ", "mul": "*"}[op]
        s = go(t[1], prec) + sym + go(t[2], prec + (op == "sub"))
        return f"({s})" if prec < parent_prec else s

    return go(tree)


def validate(payload) -> "Function":
    """Rebuild a :class:`Function` from wire data, refusing anything malformed."""
    if not isinstance(payload, dict) or payload.get("kind") not in KINDS:
        raise ValueError("malformed function")
    trees = payload.get("trees")
    if not isinstance(trees, list) or not trees:
        raise ValueError("malformed function")
    count = [0]

    def check(t):
        count[0] += 1
        if count[0] > MAX_NODES or not isinstance(t, list) or not t:
            raise ValueError("malformed expression")
        op = t[0]
        if op == "const":
            if len(t) != 2 or type(t[1]) not in (int, float):
                raise ValueError("malformed constant")
        elif op == "var":
            if len(t) != 2 or type(t[1]) is not int or not 0 <= t[1] < 64:
                raise ValueError("malformed variable")
        elif op == "pow":
            if len(t) != 3 or type(t[2]) is not int or not 0 <= t[2] <= 16:
                raise ValueError("malformed power")
            check(t[1])
        elif op in UNARY:
            if len(t) != 2:
                raise ValueError("malformed expression")
            check(t[1])
        elif op in BINARY:
            if len(t) != 3:
                raise ValueError("malformed expression")
            check(t[1])
            check(t[2])
        else:
            raise ValueError(f"unknown operation {op!r}")

    for t in trees:
        check(t)
    return Function(payload["kind"], trees)


class Function:
    """A function given as expression trees; callable like the Python function it stands for."""

    def __init__(self, kind: str, trees: list):
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind = kind
        self.trees = trees

    @classmethod
    def scalar(cls, tree):
        return cls("scalar", [tree])

    @classmethod
    def field(cls, tree):
        return cls("field", [tree])

    @classmethod
    def vector(cls, trees):
        return cls("vector", list(trees))

    def __call__(self, x):
        if self.kind == "scalar":
            return evaluate(self.trees[0], [x])
        if self.kind == "field":
            return evaluate(self.trees[0], x)
        return np.array([evaluate(t, x) for t in self.trees], dtype=float)

    def derivative(self):
        """Exact derivative: f' for scalar, the gradient (a vector Function) for field."""
        if self.kind == "scalar":
            return Function("scalar", [diff(self.trees[0], 0)])
        if self.kind == "field":
            n = self.arity()
            return Function("vector", [diff(self.trees[0], i) for i in range(n)])
        raise ValueError("no derivative for vector functions")

    def arity(self) -> int:
        found = []

        def walk(t):
            if t[0] == "var":
                found.append(t[1])
            elif t[0] != "const":
                for c in t[1:]:
                    if isinstance(c, list):
                        walk(c)

        for t in self.trees:
            walk(t)
        return max(found, default=-1) + 1

    def to_wire(self) -> dict:
        return {"kind": self.kind, "trees": self.trees}

    def text(self) -> str:
        if self.kind == "vector":
            return "lambda x: np.array([" + ", ".join(to_text(t, "vector") for t in self.trees) + "])"
        return "lambda x: " + to_text(self.trees[0], self.kind)

    def __repr__(self) -> str:
        return self.text()


def as_plain_function(fn: Function):
    """The function the child hands to learner code: a plain closure, not the tree object."""

    if fn.kind == "scalar":
        tree = fn.trees[0]

        def f(x):
            return evaluate(tree, [x])
    elif fn.kind == "field":
        tree = fn.trees[0]

        def f(x):
            return evaluate(tree, x)
    else:
        trees = fn.trees

        def f(x):
            return np.array([evaluate(t, x) for t in trees], dtype=float)

    f.__qualname__ = f.__name__ = "f"
    return f
