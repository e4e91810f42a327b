"""The autograd ban of ``backprop`` as an allow-list (grader/runner/lint.py), rule by rule.

The policy reads the exercise and every module of the submission it imports, in the
grader's process, and never runs them. Each rule is tried on a minimal module: the finding
must name the file, the line, the code and the rule. The reference solution, the stub and
ordinary tensor code written in many ways must pass with no finding at all. Hostile
submissions that use these routes for real are graded in tests/test_hostile.py
(``autograd_*``).
"""
from __future__ import annotations

import os
import py_compile
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import gate
from grader.runner import lint
from grader.runner.lint import autograd_uses
from helpers import EXERCISES, SOLUTIONS  # EXERCISES: the stubs as built, not the learner's
from test_part2_torch import BACKPROP_RIGHT


def policy(folder: Path, source: str, **helpers: str):
    """Write ``backprop.py`` (and ``<name>.py`` for each helper) into ``folder``; check them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "backprop.py").write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    for name, text in helpers.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return autograd_uses(str(folder / "backprop.py"), str(folder))


def everything(findings) -> list[str]:
    return findings.for_function(None)


# ----------------------------------------------------------------------------- what must pass


@pytest.mark.parametrize("folder", [SOLUTIONS, EXERCISES], ids=["solution", "stub"])
def test_the_reference_solution_and_the_stub_pass_with_no_finding(folder):
    findings = autograd_uses(str(folder / "backprop.py"), str(folder))
    assert not findings, everything(findings)


@pytest.mark.parametrize("group", BACKPROP_RIGHT, ids=str)
def test_right_answers_written_differently_pass(group, tmp_path):
    source = (SOLUTIONS / "backprop.py").read_text(encoding="utf-8")
    for code in BACKPROP_RIGHT[group].values():
        source += "\n\n" + textwrap.dedent(code).strip("\n") + "\n"
    findings = policy(tmp_path, source)
    assert not findings, everything(findings)


ORDINARY = '''
    """Ordinary tensor code, written every which way."""
    from __future__ import annotations

    import math

    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
    from numpy.linalg import norm

    import helper
    from helper import scale

    EPS = 1e-12
    F_RELU = F.relu


    class Layer:
        """A layer of my own."""

        def __init__(self, W: torch.Tensor):
            self.W = W
            self.cache = None

        def __call__(self, x):
            self.cache = x
            return x @ self.W.T

        def __repr__(self):
            return f"Layer({tuple(self.W.shape)})"

        def grads(self, dy):
            return dy @ self.W, dy.T @ self.cache


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)


    def _helper(a, b):
        return a * b


    def linear_backward(dy: torch.Tensor, x: torch.Tensor, W: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layer = Layer(W)
        layer(x)
        dx, dW = layer.grads(dy)
        db = dy.sum(dim=0)
        assert dx.shape == x.shape, f"{dx.shape} != {x.shape}"
        return dx, dW, db.clamp(min=-math.inf)


    def relu_backward(dy, x):
        mask = torch.where(x > 0, torch.ones_like(x), torch.zeros_like(x))
        out = _helper(dy, mask).to(dy.dtype)
        if isinstance(out, torch.Tensor) and type(out) is torch.Tensor:
            return out
        return torch.as_tensor(np.asarray(out), dtype=dy.dtype, device=dy.device)


    def mse_backward(y_pred, y):
        n = 1
        for size in y_pred.shape:
            n *= size
        with torch.no_grad():
            diff = y_pred - y
        return scale(2.0 * diff / n, 1.0)


    def two_layer_backward(x, y, W1, b1, W2, b2):
        h = x @ W1.T + b1
        a = F.relu(h)
        y_pred = a @ W2.T + b2
        dy = 2 * (y_pred - y) / y.numel()
        dh = (dy @ W2) * (h > 0)
        grads = {name: g for name, g in zip(("W1", "b1", "W2", "b2"),
                                            (dh.T @ x, dh.sum(0), dy.T @ a, dy.sum(0)))}
        input = [g.norm().item() for g in grads.values()]  # a variable named like a built-in
        _ = sum(input) + float(norm(np.zeros(2))) + helper.EPSILON
        shape = getattr(x, "shape")  # a written-out name is fine
        match shape:
            case (n, d):
                pass
            case _:
                pass
        return grads


    if __name__ == "__main__":
        print(linear_backward(torch.ones(1, 1), torch.ones(1, 2), torch.ones(1, 2)))
'''

HELPER = '''
    import torch

    EPSILON = 0.0


    def scale(t, k):
        return t * k
'''


def test_ordinary_tensor_code_written_every_which_way_passes(tmp_path):
    findings = policy(tmp_path, ORDINARY, helper=HELPER)
    assert not findings, everything(findings)


# ----------------------------------------------------------------------------- each rule

# (id, module source, the line, the code shown, words of the rule)
RULES = [
    ("import_os", "import os\n", 1, "import os", "imports a module this exercise does not allow"),
    ("import_importlib", "x = 1\nimport importlib\n", 2, "import importlib", "does not allow"),
    ("from_builtins", "from builtins import getattr\n", 1, "from builtins import getattr", "does not allow"),
    ("private_import", "from torch import _C\n", 1, "from torch import _C", "private part of a library"),
    ("private_module", "import torch._C as C\n", 1, "import torch._C as C", "private part of a library"),
    ("relative_import", "from . import helper\n", 1, "from . import helper", "without dots"),
    ("star_import", "from torch import *\n", 1, "from torch import *", "names the grader cannot see"),
    ("unknown_import", "import ag_helper\n", 1, "import ag_helper", "no ag_helper.py there"),
    ("getattr_computed", "import torch\nname = 'relu'\ngetattr(torch, name)\n", 3, "getattr(torch, name)",
     "looks up an attribute by a name computed at run time"),
    ("getattr_fragments", "import torch\nC = getattr(torch, '_' + 'C')\n", 2, "getattr(torch, '_' + 'C')",
     "computed at run time"),
    ("setattr_computed", "def f(x, n):\n    setattr(x, n, 1)\n", 2, "setattr(x, n, 1)", "computed at run time"),
    ("hasattr_computed", "def f(x):\n    return hasattr(x, 'a' + 'b')\n", 2, "hasattr(x, 'a' + 'b')",
     "computed at run time"),
    ("getattr_starred", "def f(x, a):\n    return getattr(x, *a)\n", 2, "getattr(x, *a)", "computed at run time"),
    ("getattr_alias", "g = getattr\n", 1, "getattr", "other than by calling it"),
    ("getattr_mapped", "def f(xs, ns):\n    return list(map(getattr, xs, ns))\n", 2, "getattr",
     "other than by calling it"),
    ("getattr_literal_private", "import torch\ngetattr(torch, '_C')\n", 2, "getattr(torch, '_C')", "private name"),
    ("vars", "import torch\nd = vars(torch)\n", 2, "vars(torch)", "reads a namespace as a dictionary"),
    ("globals", "def f():\n    return globals()\n", 2, "globals()", "namespace as a dictionary"),
    ("locals", "def f():\n    return locals()\n", 2, "locals()", "namespace as a dictionary"),
    ("dict", "def f(x):\n    return x.__dict__\n", 2, "x.__dict__", "hidden __names__"),
    ("getattribute", "def f(x):\n    return x.__getattribute__('grad')\n", 2, "x.__getattribute__",
     "private name"),
    ("torch_C", "import torch\ntorch._C._set_grad_enabled(True)\n", 2, "torch._C", "private name"),
    ("dunder_class", "def f(x):\n    return x.__class__\n", 2, "x.__class__", "private name"),
    ("base", "def f(t):\n    return t._base\n", 2, "t._base", "private name"),
    ("engine", "import torch\nv = torch.nn.Module\ne = v._execution_engine\n", 3, "v._execution_engine",
     "uses autograd"),
    ("exec", "exec('x = 1')\n", 1, "exec('x = 1')", "runs code the grader cannot read"),
    ("eval", "def f():\n    return eval('1')\n", 2, "eval('1')", "runs code the grader cannot read"),
    ("compile", "c = compile('1', 'f', 'eval')\n", 1, "compile('1', 'f', 'eval')", "runs code"),
    ("dunder_import", "m = __import__('os')\n", 1, "__import__('os')", "runs code the grader cannot read"),
    ("open", "def f():\n    return open('x').read()\n", 2, "open('x')", "opens files"),
    ("breakpoint", "breakpoint()\n", 1, "breakpoint()", "debugger"),
    ("input", "x = input()\n", 1, "input()", "keyboard"),
    ("builtins_name", "b = __builtins__\n", 1, "__builtins__", "hidden __names__"),
    ("match_args", "class A:\n    __match_args__ = ('x',)\n", 2, "__match_args__", "hidden __names__"),
    ("torch_function", "class T:\n    def __torch_function__(self, *a):\n        pass\n", 2,
     "def __torch_function__", "special method"),
    ("array_interface", "class A:\n    @property\n    def __array_interface__(self):\n        return {}\n", 3,
     "def __array_interface__", "special method"),
    ("type3", "T = type('T', (), {})\n", 1, "type('T', (), {})", "builds a class from a dictionary"),
    ("type_value", "def f(x):\n    return isinstance(x, type)\n", 2, "type", "other than as `type(x)`"),
    ("frame", "def g():\n    yield 1\nf = g().gi_frame\n", 3, "g().gi_frame", "running frames"),
    ("f_back", "def f(fr):\n    return fr.f_back\n", 2, "fr.f_back", "running frames"),
    ("match_private", "import torch\nmatch torch:\n    case object(_C=c):\n        pass\n", 3, "_C=",
     "private name"),
    ("torch_sys", "import torch\nm = torch.sys.modules\n", 2, "torch.sys", "Python's own sys module"),
    ("torch_builtins", "import torch\ng = torch.builtins.getattr\n", 2, "torch.builtins",
     "Python's own builtins module"),
    ("functional_importlib", "import torch.nn.functional as F\nF.importlib.import_module('os')\n", 2,
     "F.importlib", "Python's own importlib module"),
    ("alias_chain", "import torch\nF = torch.nn.functional\nF.importlib\n", 3, "F.importlib",
     "importlib module"),
    ("getattr_literal_foreign", "import torch\ngetattr(torch, 'threading')\n", 2, "getattr(torch, 'threading')",
     "threading module"),
    ("module_value", "import torch\ndef f(m):\n    return m\nf(torch)\n", 4, "torch",
     "passes the module torch around as a value"),
    ("module_alias", "import numpy as np\nN = np\n", 2, "np", "passes the module np around"),
    ("submodule_value", "import torch\nsub = [torch.nn.functional]\n", 2, "torch.nn.functional",
     "passes the module torch.nn.functional around"),
    ("patch", "import torch\ntorch.no_grad = None\n", 2, "torch.no_grad", "changes torch itself"),
    ("setattr_patch", "import torch\nsetattr(torch, 'no_grad', None)\n", 2, "setattr(torch, 'no_grad', None)",
     "changes torch itself"),
    ("jit", "import torch\ns = torch.jit.CompilationUnit('')\n", 2, "torch.jit", "compiles code"),
    ("torch_load", "import torch\nt = torch.load('w.pt', weights_only=False)\n", 2, "torch.load",
     "works with files, which can load code"),
    ("numpy_load", "import numpy as np\na = np.load('a.npy', allow_pickle=True)\n", 2, "np.load", "can load code"),
    ("cpp_extension", "from torch.utils.cpp_extension import load_inline\n", 1,
     "from torch.utils.cpp_extension import load_inline", "native code"),
    ("overrides", "import torch\nfs = torch.overrides.get_ignored_functions()\n", 2, "torch.overrides",
     "hands out PyTorch's functions"),
    ("ctypeslib", "import numpy\nnumpy.ctypeslib\n", 2, "numpy.ctypeslib", "native code"),
    ("as_strided", "from numpy.lib.stride_tricks import as_strided\n", 1,
     "from numpy.lib.stride_tricks import as_strided", "raw memory"),
    ("reexported_function", "import torch\nclass F(torch.distributions.dirichlet.Function):\n    pass\n", 2,
     "torch.distributions.dirichlet.Function", "uses autograd (it is torch.autograd.function.Function)"),
    ("module_by_text", "import torch\nm = torch.get_device_module('cpu')\n", 2, "torch.get_device_module",
     "looks modules up by a name given as text"),
    ("unfollowed_foreign", "def f(g):\n    return g().os\n", 2, "g().os", "has the name of Python's own os module"),
    ("unfollowed_denied", "def f(t):\n    return t.hub\n", 2, "t.hub", "can load code"),
    ("shadow_torch", "import torch\n", 1, "import torch", "your own file torch.py"),
    # the autograd API itself
    ("backward", "def f(loss):\n    loss.backward()\n", 2, "loss.backward", "uses autograd (if it is a method"),
    ("autograd_grad", "import torch\ndef f(y, x):\n    return torch.autograd.grad(y, x)\n", 3, "torch.autograd",
     "uses autograd"),
    ("requires_grad_kw", "import torch\nt = torch.zeros(2, requires_grad=True)\n", 2, "requires_grad=True",
     "uses autograd"),
    ("requires_grad_set", "def f(t):\n    t.requires_grad = True\n", 2, "t.requires_grad = True", "uses autograd"),
    ("func_grad", "import torch\ng = torch.func.grad\n", 2, "torch.func.grad", "uses autograd"),
    ("func_vmap", "import torch\ng = torch.func.vmap\n", 2, "torch.func", "uses autograd"),
    ("from_func", "from torch.func import grad\n", 1, "from torch.func import grad", "uses autograd"),
    ("enable_grad", "import torch\nwith torch.enable_grad():\n    pass\n", 2, "torch.enable_grad", "uses autograd"),
    ("autograd_string", "def f(t):\n    return 'requires_grad_'\n", 2, "'requires_grad_'", "uses autograd"),
    ("torch_backward_kernel", "import torch\nk = torch.mkldnn_linear_backward_weights\n", 2,
     "torch.mkldnn_linear_backward_weights", "PyTorch's own gradient routines"),
]


@pytest.mark.parametrize("case", RULES, ids=[r[0] for r in RULES])
def test_each_rule_names_the_file_the_line_the_code_and_the_rule(case, tmp_path):
    rule_id, source, line, code, words = case
    helpers = {"torch": "x = 1\n"} if rule_id == "shadow_torch" else {}
    found = everything(policy(tmp_path, source, **helpers))
    prefix = f"backprop.py, line {line}: `{code}` "
    assert any(f.startswith(prefix) and words in f for f in found), (prefix, words, found)
    match = next(f for f in found if f.startswith(prefix) and words in f)
    assert lint.is_autograd(match) == (lint.AUTOGRAD_MARK in match)


def test_a_computed_getattr_reads_as_the_issue_asks(tmp_path):
    found = everything(policy(tmp_path, """
        import torch


        def linear_backward(dy, x, W):
            name = "relu"
            return getattr(torch, name)(dy), x, W
    """))
    assert found == ["backprop.py, line 6: `getattr(torch, name)` looks up an attribute by a name computed at run "
                     "time; write the attribute out (`torch.relu`) so the grader can read your code"]
    assert not lint.is_autograd(found[0])
    assert lint.is_autograd("backprop.py, line 3: `x.backward` uses autograd")
    assert lint.is_autograd("Tensor.backward()")  # the child's runtime guard: no file, no line


def test_own_names_that_shadow_built_ins_are_the_learners_own(tmp_path):
    findings = policy(tmp_path, """
        def f(getattr, input, type):
            return getattr(input, type)


        def g(x):
            vars = [x]
            return vars
    """)
    assert not findings, everything(findings)
    # ...but a binding in another function does not make the module's `eval` anyone's own
    found = everything(policy(tmp_path, """
        def f(eval):
            return eval


        x = eval("1")
    """))
    assert any("line 5: `eval(\"1\")` runs code" in f for f in found), found


# ----------------------------------------------------------------------------- where findings count


def test_a_finding_counts_for_the_functions_that_reach_it_and_import_time_code_for_all(tmp_path):
    findings = policy(tmp_path, """
        import torch


        def _inner(t):
            return t._base


        def linear_backward(dy, x, W):
            return _inner(dy), x, W


        def relu_backward(dy, x):
            return dy * (x > 0)


        class Hooked:
            def run(self, t):
                return t.grad


        def mse_backward(y_pred, y):
            return Hooked().run(y_pred)
    """)
    assert any("line 5: `t._base`" in f for f in findings.for_function("linear_backward"))
    assert findings.for_function("relu_backward") == []
    assert any("line 18: `t.grad`" in f for f in findings.for_function("mse_backward"))
    assert not any("t.grad" in f for f in findings.for_function("linear_backward"))


def test_definitions_reached_from_import_time_code_count_for_every_function(tmp_path):
    findings = policy(tmp_path, """
        import torch


        def hidden(t):
            return t._base


        TABLE = [hidden]  # reached through a table, not by name


        def relu_backward(dy, x):
            return TABLE[0](dy)


        class Plain:
            weight = torch._C  # a class body runs at import


        def mse_backward(y_pred, y):
            return y_pred


        @torch.enable_grad()  # a decorator runs at import
        def unused():
            return 1
    """)
    relu, mse = findings.for_function("relu_backward"), findings.for_function("mse_backward")
    for found in (relu, mse):
        assert any("line 5: `t._base`" in f for f in found), found
        assert any("line 16: `torch._C`" in f for f in found), found
        assert any("line 23: `torch.enable_grad`" in f for f in found), found


def test_a_later_definition_does_not_hide_an_earlier_one(tmp_path):
    findings = policy(tmp_path, """
        import torch


        def linear_backward(dy, x, W):
            return torch._C


        keep = linear_backward


        def linear_backward(dy, x, W):
            return dy @ W, dy.T @ x, dy.sum(0)
    """)
    assert any("line 5: `torch._C`" in f for f in findings.for_function("relu_backward")), findings.module


# ----------------------------------------------------------------------------- the submission's own modules


def test_helper_modules_are_read_transitively_and_count_for_every_function(tmp_path):
    findings = policy(tmp_path, """
        import torch
        import first


        def relu_backward(dy, x):
            return dy * (x > 0)


        def linear_backward(dy, x, W):
            from lazy import nothing  # imported inside a function: read all the same
            return first.f(dy), x, W
    """, first="import second\n\ndef f(t):\n    return second.g(t)\n",
        second="import torch\n\n\ndef g(t):\n    return torch._C\n",
        lazy="def nothing():\n    return getattr(nothing, 'x' + 'y')\n",
        unrelated="import os\n")
    relu = findings.for_function("relu_backward")
    assert any(f.startswith("second.py, line 5: `torch._C` reads a private name") for f in relu), relu
    assert any(f.startswith("lazy.py, line 2: `getattr(nothing, 'x' + 'y')`") for f in relu), relu
    assert not any("unrelated.py" in f for f in relu)  # not imported: not read, and not staged
    read = {os.path.basename(p) for p in findings.files}
    assert read == {"backprop.py", "first.py", "second.py", "lazy.py"}


def test_a_chain_through_a_helpers_imports_is_followed(tmp_path):
    found = everything(policy(tmp_path, """
        import helper
        from helper import torch as T


        def f():
            return helper.torch.sys, T.importlib
    """, helper="import torch\n"))
    assert any("line 6: `helper.torch.sys` is Python's own sys module" in f for f in found), found
    assert any("line 6: `T.importlib` is Python's own importlib module" in f for f in found), found


def test_a_helper_named_like_a_python_module_is_refused(tmp_path):
    found = everything(policy(tmp_path, "import inspect\n", inspect="x = 1\n"))
    assert any("`import inspect` imports inspect, and your own file inspect.py" in f for f in found), found


def test_a_helper_shipped_only_as_pyc_never_reaches_the_grader(tmp_path):
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "backprop.py").write_text("from ag_helper import linear_backward\n", encoding="utf-8")
    source = tmp_path / "ag_helper.py"
    source.write_text("import torch\n\ndef linear_backward(dy, x, W):\n    torch._C._set_grad_enabled(True)\n")
    py_compile.compile(str(source), cfile=str(learner / "ag_helper.pyc"), doraise=True)
    # On the learner's own machine Python imports it, with no source for anyone to read...
    found = subprocess.run([sys.executable, "-I", "-c", "import sys, importlib.util; sys.path.insert(0, '.'); "
                            "print(type(importlib.util.find_spec('ag_helper').loader).__name__)"],
                           cwd=learner, capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == "SourcelessFileLoader", found
    # ...but the gate copies only .py files: the grader never has it.
    with gate.snapshot(str(learner)) as snap:
        assert sorted(os.listdir(snap.root)) == ["backprop.py"]
        assert snap.refusal_of("ag_helper.pyc") is not None
        assert "compiled code" in snap.refusal_of("ag_helper.pyc").reason
        found = everything(autograd_uses(os.path.join(snap.root, "backprop.py"), snap.root))
    assert found == ["backprop.py, line 1: `from ag_helper import linear_backward` imports ag_helper, but only "
                     "torch, numpy, math and your own .py files beside backprop.py can be imported in this "
                     "exercise, and there is no ag_helper.py there (only .py files reach the grader: a .pyc or "
                     "any other file is left out)"]


def test_the_child_sees_only_the_modules_the_policy_read(tmp_path):
    """Torch imports optional modules lazily: a learner's unread ``sympy.py`` must not be there."""
    pytest.importorskip("torch")
    from grader.runner.sandbox import LearnerProcess

    (tmp_path / "helper.py").write_text("def f(t):\n    return t\n")
    (tmp_path / "sympy.py").write_text("import os\nos._exit(3)\n")
    (tmp_path / "backprop.py").write_text("import helper\n")
    with LearnerProcess("backprop", str(tmp_path / "backprop.py"), torch=True, forbid_autograd=True) as process:
        assert process.start() is None
        staged = sorted(os.listdir(os.path.join(process.workdir, "src")))
        assert staged == ["backprop.py", "helper.py"], staged
