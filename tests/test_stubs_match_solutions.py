"""The stubs come from one source: the solutions' markers (grader/author/).

The committed ``exercises/`` must be exactly what ``grade author build`` writes from
``solutions/`` (the same check as ``grade author build --check``; CI runs it here, on a
clean checkout). A stub passes when the build equals it as committed (the last commit) or
as it is in the working copy: so a learner halfway through the course, whose working
``exercises/`` holds their own answers, still gets green tests, and so does an author who
rebuilt the stubs and has not committed yet; an author who changed a solution and forgot
to build fails. Every other test reads the stubs as built (``helpers.EXERCISES``), never
the working copy.

Static checks read the solutions and the built stubs with ``ast`` (nothing is imported):
the learner contract (top-level names and parameters), docstrings that say what to do,
markers that enclose whole bodies (a stub body is a single ``raise NotImplementedError``)
and solutions with every answer written. The remaining tests import the solutions and run
the worked examples from the docstrings.
"""
import ast
import importlib.util
import math
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from grader.author.build import built_stubs, differences, solution_modules
from helpers import EXERCISES  # the stubs as built from solutions/, in a folder of their own

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

NUMPY_MODULES = ["vectors", "derivatives", "losses", "gradient_descent", "activations"]
TORCH_MODULES = ["backprop", "mlp"]
MODULES = NUMPY_MODULES + TORCH_MODULES

# The learner contract (shared/curriculum.md): every top-level name and its parameters.
CONTRACT = {
    "vectors": {"dot": ["a", "b"], "cross": ["a", "b"], "matmul": ["A", "B"]},
    "derivatives": {
        "derivative": ["f", "x", "h"],
        "gradient": ["f", "x", "h"],
        "d_sin_x_squared": ["x"],
    },
    "losses": {
        "mse": ["y_true", "y_pred"],
        "rmse": ["y_true", "y_pred"],
        "mse_grad": ["y_true", "y_pred"],
    },
    "gradient_descent": {
        "gradient_descent": ["grad_fn", "x0", "lr", "steps"],
        "fit_line": ["x", "y", "lr", "epochs"],
    },
    "activations": {"relu": ["x"], "sigmoid": ["x"], "softmax": ["x"]},
    "backprop": {
        "linear_backward": ["dy", "x", "W"],
        "relu_backward": ["dy", "x"],
        "mse_backward": ["y_pred", "y"],
        "two_layer_backward": ["x", "y", "W1", "b1", "W2", "b2"],
    },
    "mlp": {
        "MLP": ["in_features", "hidden_features", "out_features"],
        "train": ["model", "X", "y", "epochs", "lr"],
    },
}


def _tree(folder: Path, name: str) -> ast.Module:
    path = folder / f"{name}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _defs(body):
    return [node for node in body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _functions(tree: ast.Module):
    """(qualified name, node) for top-level functions and methods of top-level classes."""
    for node in _defs(tree.body):
        if isinstance(node, ast.ClassDef):
            for sub in _defs(node.body):
                yield f"{node.name}.{sub.name}", sub
        else:
            yield node.name, node


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def _committed_stubs() -> dict[str, str] | None:
    """``exercises/*.py`` as the last commit has them; None outside a git checkout."""
    if shutil.which("git") is None or _git("rev-parse", "--verify", "HEAD").returncode != 0:
        return None
    listed = _git("ls-tree", "--name-only", "HEAD", "exercises/").stdout.decode().split()
    names = [Path(p).name for p in listed if p.endswith(".py")]
    return {n: _git("show", f"HEAD:exercises/{n}").stdout.decode("utf-8") for n in names}


def _working_stubs() -> dict[str, str]:
    folder = ROOT / "exercises"
    return {n: (folder / n).read_bytes().decode("utf-8") for n in solution_modules(str(folder))}


def test_the_committed_stubs_are_what_the_build_writes():
    built = built_stubs(str(SOLUTIONS))
    assert sorted(built) == sorted(f"{m}.py" for m in MODULES)
    committed, working = _committed_stubs(), _working_stubs()
    versions = [v for v in (committed, working) if v is not None]
    stale = [n for n in built if all(v.get(n) != built[n] for v in versions)]
    orphans = sorted(n for n in (committed if committed is not None else working) if n not in built)
    assert not stale and not orphans, (
        f"exercises/ is not what grade author build writes from solutions/ (stale: {stale}, with no "
        f"solution: {orphans}): run grade author build and commit exercises/ with solutions/")


def test_the_built_stubs_are_the_helpers_stubs():
    """helpers.EXERCISES, which every test grades, is exactly this build."""
    assert differences(str(SOLUTIONS), str(EXERCISES)) == []
    assert solution_modules(str(EXERCISES)) == solution_modules(str(SOLUTIONS))


def test_no_package_markers():
    assert not (ROOT / "exercises" / "__init__.py").exists()
    assert not (SOLUTIONS / "__init__.py").exists()


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_says_how_to_grade(name):
    sol = _tree(SOLUTIONS, name)
    assert ast.get_docstring(sol, clean=False), "module docstring missing"
    assert f"grade {name}" in ast.get_docstring(sol)


@pytest.mark.parametrize("name", MODULES)
def test_top_level_names_follow_the_contract(name):
    stub, sol = _tree(EXERCISES, name), _tree(SOLUTIONS, name)
    stub_names = [n.name for n in _defs(stub.body)]
    assert stub_names == [n.name for n in _defs(sol.body)]
    assert stub_names == list(CONTRACT[name])
    # Only imports, definitions and the docstring at top level: nothing else to drift apart.
    for tree in (stub, sol):
        for node in tree.body[1:]:
            assert isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)), (
                f"unexpected top-level statement at line {node.lineno}"
            )


@pytest.mark.parametrize("name", MODULES)
def test_every_function_and_class_says_what_to_write(name):
    sol = _tree(SOLUTIONS, name)
    for cls in [n for n in _defs(sol.body) if isinstance(n, ast.ClassDef)]:
        assert ast.get_docstring(cls), f"class {cls.name} has no docstring"
    for qual, fn in _functions(sol):
        doc = ast.get_docstring(fn)
        assert doc, f"{qual} has no docstring"
        assert "Your task" in doc, f"{qual}: docstring lacks 'Your task'"

    # Parameter names and order are the learner contract.
    for top in _defs(sol.body):
        fn = top
        if isinstance(top, ast.ClassDef):
            fn = next(n for n in top.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        if isinstance(top, ast.ClassDef):
            params = params[1:]  # self
        assert params == CONTRACT[name][top.name], f"{top.name}: parameters {params}"


def _is_raise_not_implemented(stmt) -> bool:
    if not isinstance(stmt, ast.Raise) or stmt.exc is None:
        return False
    exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _is_super_init(stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Attribute)
        and stmt.value.func.attr == "__init__"
        and isinstance(stmt.value.func.value, ast.Call)
        and isinstance(stmt.value.func.value.func, ast.Name)
        and stmt.value.func.value.func.id == "super"
    )


@pytest.mark.parametrize("name", MODULES)
def test_stub_bodies_only_raise_not_implemented(name):
    for qual, fn in _functions(_tree(EXERCISES, name)):
        body = fn.body[1:]  # after the docstring
        if qual.endswith(".__init__"):
            assert body and _is_super_init(body[0]), f"{qual} must call super().__init__() first"
            body = body[1:]
        assert len(body) == 1 and _is_raise_not_implemented(body[0]), (
            f"{qual}: the stub body must be a single `raise NotImplementedError(...)`"
        )


@pytest.mark.parametrize("name", MODULES)
def test_solution_bodies_are_written(name):
    for qual, fn in _functions(_tree(SOLUTIONS, name)):
        assert not any(_is_raise_not_implemented(s) for s in ast.walk(fn)), f"{qual} is still a stub"


# ----------------------------------------------------------------- running the solutions
def _load(name: str):
    """Import solutions/<name>.py by path, under a private name (no package needed)."""
    if name in TORCH_MODULES:
        pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(f"_dlgrade_solution_{name}", SOLUTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_stub(name: str):
    """Import the stub as built (never the learner's working copy)."""
    if name in TORCH_MODULES:
        pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(f"_dlgrade_exercise_{name}", EXERCISES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", MODULES)
def test_modules_import(name):
    sol = _load(name)
    stub = _load_stub(name)
    for top in CONTRACT[name]:
        assert callable(getattr(sol, top))
        assert callable(getattr(stub, top))


def test_stubs_raise_not_implemented():
    vectors = _load_stub("vectors")
    with pytest.raises(NotImplementedError):
        vectors.dot(np.ones(3), np.ones(3))


A = np.array([1.0, -3.0, 5.0])
B = np.array([4.0, -2.0, -1.0])
HEIGHTS = np.array([170.0, 165.0, 160.0, 155.0, 150.0])
PREDICTED = np.array([165.0, 170.0, 162.0, 157.0, 153.0])


def test_vectors_worked_example():
    v = _load("vectors")
    d = v.dot(A, B)
    assert type(d) is float and d == 5.0  # 1*4 + (-3)*(-2) + 5*(-1)
    c = v.cross(A, B)
    assert isinstance(c, np.ndarray) and c.shape == (3,)
    np.testing.assert_allclose(c, [13.0, 21.0, 10.0])
    np.testing.assert_allclose(v.cross(B, A), -c)
    M = np.array([[1.0, 2.0], [3.0, 4.0]])
    N = np.array([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_allclose(v.matmul(M, N), [[19.0, 22.0], [43.0, 50.0]])
    rng = np.random.default_rng(0)
    P, Q = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    out = v.matmul(P, Q)
    assert isinstance(out, np.ndarray) and out.shape == (3, 2)
    np.testing.assert_allclose(out, P @ Q)
    assert v.matmul(np.ones((1, 3)), np.ones((3, 1))).shape == (1, 1)


def test_derivatives_examples():
    d = _load("derivatives")
    assert d.derivative(lambda t: t**2, 3.0) == pytest.approx(6.0, abs=1e-6)
    x = np.array([1.0, 2.0])
    g = d.gradient(lambda v: v[0] ** 2 + 3 * v[0] * v[1], x)
    assert g.shape == (2,)
    np.testing.assert_allclose(g, [8.0, 3.0], atol=1e-6)
    np.testing.assert_array_equal(x, [1.0, 2.0])  # caller's x untouched
    xi = np.array([1, 2])  # integers must not swallow the nudge
    np.testing.assert_allclose(d.gradient(lambda v: v[0] ** 2 + 3 * v[0] * v[1], xi), [8.0, 3.0], atol=1e-5)
    assert d.d_sin_x_squared(1.0) == pytest.approx(2 * math.cos(1.0))
    assert type(d.d_sin_x_squared(1.0)) is float
    x0 = 0.7
    assert d.derivative(lambda t: np.sin(t**2), x0) == pytest.approx(d.d_sin_x_squared(x0), abs=1e-8)


def test_losses_heights_example():
    losses = _load("losses")
    m = losses.mse(HEIGHTS, PREDICTED)
    assert type(m) is float and m == pytest.approx(13.4)
    r = losses.rmse(HEIGHTS, PREDICTED)
    assert type(r) is float and r == pytest.approx(3.6606, abs=1e-4)
    g = losses.mse_grad(HEIGHTS, PREDICTED)
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(g, [-2.0, 2.0, 0.8, 0.8, 1.2])
    assert losses.mse_grad(np.zeros((2, 2)), np.ones((2, 2))).tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_gradient_descent_examples():
    gd = _load("gradient_descent")
    x0 = np.array([10.0])
    out = gd.gradient_descent(lambda x: 2 * x, x0, 0.1, 3)
    np.testing.assert_allclose(out, [5.12])
    np.testing.assert_array_equal(x0, [10.0])
    np.testing.assert_allclose(gd.gradient_descent(lambda x: 2 * x, x0, 0.1, 0), [10.0])
    m, b = gd.fit_line(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0]))
    assert type(m) is float and type(b) is float
    assert m == pytest.approx(2.0, abs=1e-3) and b == pytest.approx(1.0, abs=1e-3)
    m1, b1 = gd.fit_line(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0, 7.0]), epochs=1)
    assert (m1, b1) == pytest.approx((0.85, 0.4))


def test_activations_are_stable():
    act = _load("activations")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow / invalid-value warning fails the test
        x = np.array([-1000.0, 0.0, 2.0, 1000.0])
        s = act.sigmoid(x)
        assert np.all(np.isfinite(s))
        np.testing.assert_allclose(s, [0.0, 0.5, 1 / (1 + math.exp(-2)), 1.0])
        np.testing.assert_array_equal(x, [-1000.0, 0.0, 2.0, 1000.0])
        big = np.array([[1000.0, 1001.0, 999.0]])
        p = act.softmax(big)
        assert p.shape == (1, 3) and np.all(np.isfinite(p))
        assert p.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(p, [[0.2447, 0.6652, 0.0900]], atol=1e-4)
        np.testing.assert_allclose(act.softmax(np.array([1.0, 2.0, 3.0])), [0.0900, 0.2447, 0.6652], atol=1e-4)
        rows = np.array([[1.0, 2.0, 3.0], [-5.0, 0.0, 5.0]])
        np.testing.assert_allclose(act.softmax(rows).sum(axis=-1), [1.0, 1.0])
        np.testing.assert_allclose(act.softmax(rows)[0], act.softmax(rows[0]))
        r = np.array([-2.0, 0.0, 3.0])
        np.testing.assert_array_equal(act.relu(r), [0.0, 0.0, 3.0])
        np.testing.assert_array_equal(r, [-2.0, 0.0, 3.0])


def test_backprop_matches_autograd():
    torch = pytest.importorskip("torch")
    bp = _load("backprop")
    gen = torch.Generator().manual_seed(0)
    N, D, H, C = 6, 4, 5, 3
    x = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.randn(N, C, generator=gen, dtype=torch.float64)
    params = {
        "W1": torch.randn(H, D, generator=gen, dtype=torch.float64),
        "b1": torch.randn(H, generator=gen, dtype=torch.float64),
        "W2": torch.randn(C, H, generator=gen, dtype=torch.float64),
        "b2": torch.randn(C, generator=gen, dtype=torch.float64),
    }
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    h = x @ leaves["W1"].T + leaves["b1"]
    y_pred = torch.relu(h) @ leaves["W2"].T + leaves["b2"]
    ((y_pred - y) ** 2).mean().backward()

    with torch.no_grad():
        grads = bp.two_layer_backward(x, y, **params)
    assert set(grads) == {"W1", "b1", "W2", "b2"}
    for k, leaf in leaves.items():
        assert grads[k].dtype == torch.float64 and grads[k].shape == leaf.shape
        torch.testing.assert_close(grads[k], leaf.grad)

    with torch.no_grad():
        dx = bp.relu_backward(torch.full((3,), 5.0), torch.tensor([-1.0, 0.0, 2.0]))
        assert dx.tolist() == [0.0, 0.0, 5.0] and dx.dtype == torch.float32
        dxl, dW, db = bp.linear_backward(torch.tensor([[1.0]]), torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]))
        assert dxl.tolist() == [[3.0, 4.0]] and dW.tolist() == [[1.0, 2.0]] and db.tolist() == [1.0]
        dy = bp.mse_backward(torch.tensor([[1.0], [3.0]]), torch.zeros(2, 1))
        assert dy.tolist() == [[1.0], [3.0]]


def _two_moons(n: int, noise: float, rng: np.random.Generator):
    t = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label == 0, np.cos(t), 1.0 - np.cos(t))
    y = np.where(label == 0, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + rng.normal(0.0, noise, (n, 2))
    return points, label


def test_mlp_learns_two_moons():
    torch = pytest.importorskip("torch")
    mlp = _load("mlp")
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    X, y = _two_moons(400, 0.1, rng)
    X_test, y_test = _two_moons(400, 0.1, rng)
    model = mlp.MLP(2, 32, 2)
    assert model(torch.randn(5, 2)).shape == (5, 2)
    losses = mlp.train(model, torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
    assert len(losses) == 200 and all(type(v) is float for v in losses)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        pred = model(torch.tensor(X_test, dtype=torch.float32)).argmax(dim=1).numpy()
    assert (pred == y_test).mean() > 0.95
