"""Read a learner's source (never run it) for autograd in an exercise that forbids it.

The child's runtime guard (``Child.install_autograd_guard``) closes every public way of
switching autograd back on, but it lives in the learner's own process, where determined
code can reach and undo anything. This second layer runs in the *grader's* process on
the module's text, so nothing the learner's code does at run time can change it. It
reports, per top-level function (with the helpers it calls), what it found::

    findings = autograd_uses("exercises/backprop.py", "exercises")
    findings.for_function("linear_backward")  # ['torch.autograd.grad (backprop.py, line 12)']

It looks for the autograd API by name (``.backward``, ``.grad``, ``torch.autograd``,
``torch.func``, ``requires_grad=True``, ...), in attribute names, imports and identifier-
like strings, and for the dynamic features that would hide a name from it (``getattr``
with a computed name, ``eval``/``exec``/``__import__``, ``importlib``, ``gc``, ``ctypes``,
frame and ``__dict__`` access). Docstrings and comments are ignored. Helper modules that
sit beside the exercise and are imported by it are read too.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field

# Attribute names that only mean autograd (x.backward(), x.grad, torch.autograd, ...).
AUTOGRAD_ATTRIBUTES = {
    "backward", "grad", "grad_fn", "requires_grad_", "autograd", "enable_grad", "set_grad_enabled",
    "_set_grad_enabled", "forward_ad", "make_dual", "unpack_dual", "_execution_engine", "run_backward",
    "_ImperativeEngine", "functorch", "_functorch", "vjp", "jvp", "jacrev", "jacfwd", "jacobian",
    "hessian", "grad_and_value", "vhp", "hvp", "linearize", "retain_grad", "register_hook",
}
# Attributes of ``torch`` itself that lead to autograd.
TORCH_ATTRIBUTES = {"func", "_C", "_functorch", "autograd", "enable_grad", "set_grad_enabled"}
AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "torch._C", "torch._functorch", "functorch",
                    "torch._dynamo", "torch.nn.functional._")
# Modules whose purpose is to reach what the source does not name.
HIDING_MODULES = {"importlib", "gc", "ctypes", "inspect", "builtins", "__builtin__", "types", "code",
                  "codeop", "runpy", "pickle", "marshal", "threading", "_thread", "multiprocessing",
                  "concurrent", "subprocess"}
HIDING_CALLS = {"eval", "exec", "compile", "__import__", "vars", "globals", "breakpoint"}
NAME_ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr", "hasattr"}
DUNDERS = {"__dict__", "__getattribute__", "__builtins__", "__globals__", "__code__", "__closure__",
           "__subclasses__", "__import__", "__loader__", "__spec__", "f_back", "f_globals", "f_locals",
           "f_builtins", "tb_frame", "gi_frame", "cr_frame", "_getframe"}
# Identifier-like strings naming the autograd API ("grad" alone is too common a word).
_STRING_WORDS = AUTOGRAD_ATTRIBUTES - {"grad"} | {"torch.func", "torch._C"}
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*")
_MAX_FILES = 20


@dataclass
class Findings:
    """What the source uses, by top-level function; ``module`` applies to every call."""

    module: list[str] = field(default_factory=list)
    functions: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)

    def for_function(self, name: str | None) -> list[str]:
        """Findings that count for a call of ``name`` (None: a method of a kept object)."""
        if name is None:
            found = list(self.module)
            for items in self.functions.values():
                found.extend(items)
            return list(dict.fromkeys(found))
        seen, todo, found = set(), [name], list(self.module)
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            found.extend(self.functions.get(fn, []))
            todo.extend(self.calls.get(fn, ()))
        return list(dict.fromkeys(found))

    def __bool__(self) -> bool:
        return bool(self.module or any(self.functions.values()))


def autograd_uses(module_path: str, source_dir: str) -> Findings:
    """Read ``module_path`` (and local modules it imports) for autograd and hiding tricks."""
    findings = Findings()
    try:
        tree, text_name = _parse(module_path)
    except _Unreadable as exc:
        findings.module.append(str(exc))
        return findings
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    visited = {os.path.realpath(module_path)}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            items = _scan(node, text_name)
            findings.functions[node.name] = items
            findings.calls[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in top}
        else:
            findings.module.extend(_scan(node, text_name))
    # Helper modules beside the exercise: whatever they use counts for every function.
    queue = _local_imports(tree, source_dir)
    while queue and len(visited) < _MAX_FILES:
        path = queue.pop(0)
        real = os.path.realpath(path)
        if real in visited:
            continue
        visited.add(real)
        try:
            sub, sub_name = _parse(path)
        except _Unreadable as exc:
            findings.module.append(str(exc))
            continue
        findings.module.extend(_scan(sub, sub_name))
        queue.extend(_local_imports(sub, source_dir))
    return findings


class _Unreadable(Exception):
    pass


def _parse(path: str):
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            return ast.parse(f.read(), filename=name), name
    except SyntaxError:
        # The child reports syntax errors with their line; nothing to read here.
        return ast.Module(body=[], type_ignores=[]), name
    except (OSError, ValueError) as exc:
        raise _Unreadable(f"{name} could not be read ({type(exc).__name__})") from None


def _local_imports(tree, source_dir: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            for candidate in (os.path.join(source_dir, *parts) + ".py",
                              os.path.join(source_dir, *parts, "__init__.py")):
                if os.path.isfile(candidate):
                    found.append(candidate)
    return found


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None, 0)


def _scan(tree, file_name: str) -> list[str]:
    docstrings = _docstrings(tree)
    found = []

    def note(what, node):
        found.append(f"{what} ({file_name}, line {getattr(node, 'lineno', '?')})")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if node.attr in AUTOGRAD_ATTRIBUTES:
                note(dotted or f".{node.attr}", node)
            elif isinstance(node.value, ast.Name) and node.value.id == "torch" and node.attr in TORCH_ATTRIBUTES:
                note(dotted, node)
            elif node.attr in DUNDERS or dotted == "sys.modules":
                note(f"{dotted or node.attr} (reaches what the code does not name)", node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "requires_grad" and \
                        not _is_false(node.value):
                    note(f"{_dotted(target)} = ...", target)
        elif isinstance(node, ast.keyword) and node.arg == "requires_grad" and not _is_false(node.value):
            note("requires_grad=True", node.value)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                base = node.module or ""
                modules = [base] + [f"{base}.{a.name}" for a in node.names]
            for module in modules:
                root = module.split(".")[0]
                if module.startswith(AUTOGRAD_MODULES) or module in ("torch.func", "torch.autograd"):
                    note(f"import {module}", node)
                elif root in HIDING_MODULES:
                    note(f"import {module} (reaches what the code does not name)", node)
                elif isinstance(node, ast.ImportFrom) and base == "torch" and \
                        module.split(".")[-1] in (TORCH_ATTRIBUTES | AUTOGRAD_ATTRIBUTES):
                    note(f"from torch import {module.split('.')[-1]}", node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in HIDING_CALLS:
                note(f"{node.func.id}() (runs code the grader cannot read)", node)
            elif node.func.id in NAME_ATTRIBUTE_CALLS and len(node.args) >= 2 and \
                    not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                note(f"{node.func.id}() with a computed name", node)
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__", "__loader__", "__spec__"):
            note(node.id, node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value.strip()
            if len(text) < 80 and _IDENTIFIER.fullmatch(text):
                if any(part in _STRING_WORDS for part in text.split(".")) or text in _STRING_WORDS:
                    note(f"the name {text!r} in a string", node)
    return list(dict.fromkeys(found))
