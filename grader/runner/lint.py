"""The autograd ban of ``backprop``, as an allow-list the grader checks by reading the code.

The child's runtime guard (``Child.install_autograd_guard``) closes every public way of
switching autograd back on, but it lives in the learner's own process, where determined
code can reach and undo anything: private switches (``torch._C._set_grad_enabled``), the
engine itself (``Variable._execution_engine.run_backward``), names built from fragments
(``getattr(torch, "auto" + "grad")``). No list of forbidden names can keep up with that,
so this reader, run in the *grader's* process on the gated snapshot before the learner's
code runs (nothing the learner's code does at run time can change it), allows only code
whose every name it can read:

- imports of ``torch``, ``numpy``, ``math`` and their public submodules (no ``_`` in any
  part), ``from __future__``, and the submission's own ``.py`` modules beside the exercise,
  which are read under the same policy (a helper shipped as ``.pyc`` never passes the gate,
  so it is simply not there, and importing it is an unknown import);
- no dynamic attribute access: ``getattr``/``setattr``/``delattr``/``hasattr`` only called
  directly with the name written out, no ``vars``, ``globals``, ``locals``, ``__dict__``;
- no attribute whose name starts with ``_`` on anything (``torch._C``, ``x.__class__``),
  except ``super().__init__`` and friends; Python's hidden ``__x__`` names only where
  harmless (``__name__``); special methods defined in the learner's own classes only from a
  list of ordinary protocol methods (``__init__``, ``__add__``, ...);
- no ``exec``, ``eval``, ``compile``, ``__import__``, ``open``, ``breakpoint``, ``input``,
  ``help``, three-argument ``type``; no frames (``gi_frame``, ``f_back``, ...);
- the modules torch and numpy import for their own use (``torch.sys``, ``torch.builtins``,
  ``torch.nn.functional.importlib``) are not torch or numpy: reaching one fails, as does
  passing a module around as a value (so every use of a module stays a readable chain);
  the parts of torch and numpy that load, compile or hand out code (``torch.jit``,
  ``torch.load``, ``torch.hub``, ``torch.utils.cpp_extension``, ``torch.overrides``,
  ``numpy.ctypeslib``, ...) are refused by name;
- and, as before, the autograd API itself (``.backward``, ``.grad``, ``torch.autograd``,
  ``torch.func``, ``requires_grad=True``, torch's own ``*_backward`` routines, the API's
  names in strings).

Each finding names the file, the line, the code and the rule in a learner's words::

    findings = autograd_uses("src/backprop.py", "src")
    findings.for_function("linear_backward")
    # ['backprop.py, line 12: `getattr(torch, name)` looks up an attribute by a name
    #   computed at run time; write the attribute out (`torch.relu`) so the grader can read
    #   your code']

Findings count per top-level function (with the functions and classes it refers to);
code that runs at import (module level, class bodies, decorators, default values) and
the definitions it refers to count for every function, as does anything in a helper
module. ``Findings.files`` lists every module read: the sandbox leaves the learner's process
those and no others. :func:`is_autograd` tells a finding of autograd from one of code the
grader could not check. What the policy cannot see is in docs/security.md ("The autograd ban in
``backprop``").
"""
from __future__ import annotations

import ast
import builtins
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import sysconfig
import types
from dataclasses import dataclass, field

ALLOWED_ROOTS = ("torch", "numpy", "math")
AUTOGRAD_MARK = "uses autograd"  # in every autograd finding, and in no other
_MAX_FILES = 50
_SNIPPET = 70
_MAX_FINDINGS = 40  # per module and top-level function

# Attribute names that only mean autograd (x.backward(), x.grad, torch.autograd, ...).
AUTOGRAD_ATTRIBUTES = {
    "backward", "grad", "grad_fn", "requires_grad_", "autograd", "enable_grad", "set_grad_enabled",
    "_set_grad_enabled", "forward_ad", "make_dual", "unpack_dual", "_execution_engine", "run_backward",
    "_ImperativeEngine", "functorch", "_functorch", "vjp", "jvp", "jacrev", "jacfwd", "jacobian",
    "hessian", "grad_and_value", "vhp", "hvp", "linearize", "retain_grad", "register_hook",
    "register_post_accumulate_grad_hook", "register_full_backward_hook", "register_backward_hook",
}
# Paths under torch that are autograd whatever they are called.
AUTOGRAD_PATHS = ("torch.autograd", "torch.func", "torch.enable_grad", "torch.set_grad_enabled",
                  "torch.utils.checkpoint", "torch.nn.grad")
# Parts of torch and numpy that load, compile, or hand out code or objects the reader cannot
# see, or run code elsewhere; with what they do, for the message.
_LOADS = "works with files, which can load code or objects the grader cannot see"
_COMPILES = "compiles code the grader cannot read"
_NATIVE = "builds or loads native code"
_HANDS_OUT = "hands out PyTorch's functions without naming them"
_ELSEWHERE = "runs code in other processes"
_BY_TEXT = "looks modules up by a name given as text"
DENIED_PATHS = {
    "torch.load": _LOADS, "torch.serialization": _LOADS, "torch.hub": _LOADS, "torch.package": _LOADS,
    "torch.utils.model_zoo": _LOADS, "torch.utils.show_pickle": _LOADS,
    "torch.utils.bundled_inputs": _COMPILES,
    "torch.jit": _COMPILES, "torch.compile": _COMPILES, "torch.compiler": _COMPILES, "torch.fx": _COMPILES,
    "torch.export": _COMPILES, "torch.onnx": _COMPILES, "torch.utils.benchmark": _COMPILES,
    "torch.library": _NATIVE, "torch.ops": _NATIVE, "torch.classes": _NATIVE,
    "torch.utils.cpp_extension": _NATIVE, "torch.cpp": _NATIVE,
    "torch.overrides": _HANDS_OUT, "torch.get_device_module": _BY_TEXT,
    "torch.utils.rename_privateuse1_backend": _BY_TEXT, "torch.utils.backend_registration": _BY_TEXT,
    "torch.utils.generate_methods_for_privateuse1_backend": _BY_TEXT,
    "torch.multiprocessing": _ELSEWHERE, "torch.distributed": _ELSEWHERE, "torch.utils.collect_env": _ELSEWHERE,
    "numpy.load": _LOADS, "numpy.lib.format": _LOADS, "numpy.lib.npyio": _LOADS, "numpy.lib.utils": _COMPILES,
    "numpy.ctypeslib": _NATIVE, "numpy.f2py": _NATIVE, "numpy.distutils": _NATIVE,
    "numpy.testing.extbuild": _NATIVE, "numpy.lib.stride_tricks": "reads and writes raw memory",
}
# Where autograd lives, for objects reached under another name (a class re-exported by
# torch.distributions is still torch.autograd.Function), and what there is harmless.
AUTOGRAD_ORIGINS = ("torch.autograd", "torch.func", "torch._functorch", "torch._C._functorch", "functorch")
AUTOGRAD_HARMLESS = {"no_grad", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "vmap",
                     "record_function", "profile"}
# Names that mean one of those whatever object they are read from (an alias the reader
# could not follow, an object handed back by a function).
DENIED_NAMES = {
    "cpp_extension": _NATIVE, "load_inline": _NATIVE, "ctypeslib": _NATIVE, "ctypes": _NATIVE, "f2py": _NATIVE,
    "distutils": _NATIVE, "extbuild": _NATIVE, "hub": _LOADS, "model_zoo": _LOADS, "serialization": _LOADS,
    "jit": _COMPILES, "overrides": _HANDS_OUT, "multiprocessing": _ELSEWHERE,
    "stride_tricks": "reads and writes raw memory",
}
# Python modules that torch and numpy hold for their own use, by name: reached from an
# object the reader cannot follow (what a function returned), they are refused all the same.
FOREIGN_NAMES = {"sys", "os", "builtins", "importlib", "inspect", "operator", "ctypes", "threading", "gc",
                 "subprocess", "pickle", "marshal", "codeop", "runpy", "pydoc", "multiprocessing", "concurrent",
                 "weakref", "copyreg", "pdb", "bdb", "traceback", "linecache", "dis", "platform", "glob", "shutil",
                 "tempfile", "pathlib", "site", "sysconfig", "socket", "asyncio", "tokenize", "zipimport",
                 "pkgutil", "functools", "contextvars", "posix", "nt", "io"}
# Attributes of frames, tracebacks, generators and code: Python's own running machinery.
FRAME_ATTRIBUTES = {"f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "tb_next",
                    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code", "co_consts",
                    "co_names"}
# Built-ins that run code from text, reach namespaces as dictionaries, or wait for a person.
_RUNS_TEXT = "runs code the grader cannot read; write the code out"
_NAMESPACE = "reads a namespace as a dictionary, which reaches names the code does not write out; write the names out"
FORBIDDEN_BUILTINS = {
    "exec": _RUNS_TEXT, "eval": _RUNS_TEXT, "compile": _RUNS_TEXT, "__import__": _RUNS_TEXT,
    "vars": _NAMESPACE, "globals": _NAMESPACE, "locals": _NAMESPACE,
    "open": "opens files; your functions need only the values they are given",
    "breakpoint": "stops for a debugger; leave it out of the file you hand in",
    "input": "waits for someone at a keyboard; leave it out of the file you hand in",
    "help": "starts Python's help system; leave it out of the file you hand in",
}
NAME_ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr", "hasattr"}
_BUILTIN_RULED = set(FORBIDDEN_BUILTINS) | NAME_ATTRIBUTE_CALLS | {"type", "super"}
# Python's hidden names a module may use.
SAFE_DUNDER_NAMES = {"__name__", "__file__", "__doc__", "__all__", "__slots__", "__version__", "__author__"}
# Special methods a learner's own class may define: ordinary protocols, none of them a hook
# into how Python or PyTorch look things up.
SAFE_DUNDER_METHODS = {
    "__init__", "__repr__", "__str__", "__format__", "__call__", "__len__", "__iter__", "__next__",
    "__getitem__", "__setitem__", "__delitem__", "__contains__", "__eq__", "__ne__", "__lt__", "__le__",
    "__gt__", "__ge__", "__hash__", "__bool__", "__float__", "__int__", "__index__", "__round__",
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__", "__imul__",
    "__matmul__", "__rmatmul__", "__imatmul__", "__truediv__", "__rtruediv__", "__itruediv__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__neg__", "__pos__",
    "__abs__", "__enter__", "__exit__", "__post_init__",
}
SAFE_SUPER_METHODS = {"__init__", "__repr__", "__str__"}
# Where what torch/numpy hand out may come from besides themselves (typing names, built-in
# types): anything else (a function of importlib, inspect, os, ...) is not torch or numpy.
_OBJECT_ROOTS = set(ALLOWED_ROOTS) | {"builtins", "typing", "typing_extensions", "collections", "abc", "enum",
                                      "numbers", "warnings", "dataclasses", "functools"}
_FORBIDDEN_OBJECTS = {id(getattr(builtins, n)) for n in (*FORBIDDEN_BUILTINS, *NAME_ATTRIBUTE_CALLS)
                      if hasattr(builtins, n)}
# Identifier-like strings naming the autograd API ("grad" alone is too common a word).
_STRING_WORDS = AUTOGRAD_ATTRIBUTES - {"grad"} | {"torch.func", "torch._C", "requires_grad"}
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*")
_LOCATED = re.compile(r"^[^\n]*?, line \d+: ")

# ----------------------------------------------------------------------------- rules, in words

_ALLOWED = "only torch, numpy, math and your own .py files beside {main} can be imported in this exercise"
RULES = {
    "unknown_import": "imports {name}, but " + _ALLOWED + ", and there is no {name}.py there (only .py files reach "
                      "the grader: a .pyc or any other file is left out)",
    "other_import": "imports a module this exercise does not allow: " + _ALLOWED,
    "private_import": "imports a private part of a library (a name starting with _); import only public parts",
    "package_import": "treats {name}.py as a package, but it is one module: import it as `import {name}`",
    "relative_import": "is a relative import; write it without dots (`import {name}`)",
    "star_import": "brings in names the grader cannot see; import the module and write `module.name`",
    "shadow": "imports {name}, and your own file {name}.py has the name of a module Python already has, so the "
              "grader cannot tell which one would run; give your file another name",
    "too_many": "imports more of your own modules than the {limit} the grader reads",
    "unreadable": "imports {name}.py, which could not be read ({why})",
    "private_attribute": "reads a private name (starting with _): Python's or a library's insides, which the grader "
                         "cannot check; use public names only (for your own attributes, drop the leading _)",
    "dunder_name": "uses one of Python's hidden __names__, which reach what the code does not write out; leave it out",
    "dunder_method": "defines a special method that hooks into how Python or PyTorch work inside; your classes "
                     "need only ordinary methods (__init__, __call__, __add__, ...)",
    "dynamic_name": "looks up an attribute by a name computed at run time; write the attribute out "
                    "(`torch.relu`) so the grader can read your code",
    "name_function": "uses {name} other than by calling it with the attribute's name written out as a string; "
                     "write the attribute out instead (`torch.relu`)",
    "three_argument_type": "builds a class from a dictionary the grader cannot read; write a `class` statement",
    "type_value": "uses `type` other than as `type(x)`",
    "super_value": "uses `super` other than by calling it (`super().__init__()`)",
    "frame": "reaches Python's running frames and code, which the grader cannot check; leave it out",
    "foreign_module": "is Python's own {module} module, reached through {via}; only torch, numpy and math "
                      "themselves may be used here",
    "foreign_object": "comes from Python's {module} module, reached through {via}; only torch, numpy and math "
                      "themselves may be used here",
    "module_value": "passes the module {module} around as a value; use it directly (`{module}.name`) so the "
                    "grader can see what is used",
    "patch_library": "changes {module} itself; leave the library as it is",
    "foreign_name": "has the name of Python's own {name} module, which only torch and numpy themselves use; "
                    "only torch, numpy and math may be used here (if it is your own attribute, give it another "
                    "name)",
    "denied": "{what}; this exercise needs only tensor operations",
}


def rule(kind: str, **fill) -> str:
    """The learner's sentence for a rule (``kind`` is a key of RULES)."""
    return RULES[kind].format(**fill)


def is_autograd(finding: str) -> bool:
    """Whether ``finding`` says autograd was used (the rest say the code could not be checked).

    The child's runtime guard reports without a file and line: those are autograd too.
    """
    return AUTOGRAD_MARK in finding or not _LOCATED.match(finding)


# ----------------------------------------------------------------------------- findings


@dataclass
class Findings:
    """What the source uses, by top-level function; ``module`` applies to every call."""

    module: list[str] = field(default_factory=list)
    functions: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # real paths of every module read

    def for_function(self, name: str | None) -> list[str]:
        """Findings that count for a call of ``name`` (None: a method of a kept object)."""
        if name is None:
            found = list(self.module)
            for items in self.functions.values():
                found.extend(items)
            return list(dict.fromkeys(found))
        found = list(self.module)
        for fn in self._reach([name]):
            found.extend(self.functions.get(fn, []))
        return list(dict.fromkeys(found))

    def _reach(self, start) -> list[str]:
        seen, todo, order = set(), list(start), []
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            order.append(fn)
            todo.extend(sorted(self.calls.get(fn, ())))
        return order

    def __bool__(self) -> bool:
        return bool(self.module or any(self.functions.values()))


_KEPT_FORMAT = 1
_kept_readings: dict[str, dict] = {}


def kept_autograd_uses(module_path: str, source_dir: str) -> Findings:
    """:func:`autograd_uses`, read once per content of the folder (no work twice).

    What the policy finds depends only on the modules in ``source_dir``, this file, and the
    versions of torch, NumPy and Python: the same files (the untouched stubs every learner
    starts from, a module saved again unchanged) give the same findings, kept in memory and
    in the grader's cache folder (grader/examples.py; ``GRADE_EXAMPLE_CACHE=0`` keeps
    nothing). Reading them needs no torch, whose import is most of the reader's time.
    """
    from .. import examples

    key = _reading_key(module_path, source_dir) if examples.enabled() else None
    if key is None:
        return autograd_uses(module_path, source_dir)
    kept = _kept_readings.get(key) or _read_kept(key, examples.cache_root())
    if kept is not None:
        return _from_kept(kept, source_dir)
    findings = autograd_uses(module_path, source_dir)
    kept = {"format": _KEPT_FORMAT, "key": key, "module": findings.module, "functions": findings.functions,
            "calls": {k: sorted(v) for k, v in findings.calls.items()},
            "files": sorted(os.path.basename(f) for f in findings.files)}
    if all(os.path.dirname(f) == os.path.realpath(source_dir) for f in findings.files):
        _kept_readings[key] = kept
        examples.write_whole(os.path.join(examples.cache_root(), "policy"), f"{key}.json",
                             json.dumps(kept).encode("utf-8"))
    return findings


def _reading_key(module_path: str, source_dir: str) -> str | None:
    """A hash of everything the findings depend on; None if some module cannot be read."""
    import hashlib
    import importlib.metadata

    digest = hashlib.sha256()
    try:
        with open(__file__, "rb") as f:
            digest.update(f.read())
        for name in ("torch", "numpy"):
            try:
                digest.update(f"{name}={importlib.metadata.version(name)};".encode())
            except importlib.metadata.PackageNotFoundError:
                digest.update(f"{name}=-;".encode())
        digest.update(f"{sys.version};{_KEPT_FORMAT};{os.path.basename(module_path)};".encode())
        for name in sorted(os.listdir(source_dir)):
            if name.endswith(".py"):
                with open(os.path.join(source_dir, name), "rb") as f:
                    digest.update(name.encode("utf-8", "surrogateescape") + b"\0" +
                                  hashlib.sha256(f.read()).digest())
                # A module of the learner's named like one installed here is refused: what
                # is installed is part of the reading.
                digest.update(b"taken" if _taken_elsewhere(name[:-3]) else b"free")
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def _read_kept(key: str, root: str) -> dict | None:
    try:
        with open(os.path.join(root, "policy", f"{key}.json"), "rb") as f:
            kept = json.loads(f.read(1 << 22))
    except (OSError, ValueError):
        return None
    strings = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
    mapping = (lambda v: isinstance(v, dict) and all(isinstance(k, str) and strings(x) for k, x in v.items()))
    if not (isinstance(kept, dict) and kept.get("format") == _KEPT_FORMAT and kept.get("key") == key
            and strings(kept.get("module")) and mapping(kept.get("functions")) and mapping(kept.get("calls"))
            and strings(kept.get("files"))
            and all(f.endswith(".py") and "/" not in f and f not in (".", "..") for f in kept["files"])):
        return None
    _kept_readings[key] = kept
    return kept


def _from_kept(kept: dict, source_dir: str) -> Findings:
    folder = os.path.realpath(source_dir)
    return Findings(module=list(kept["module"]), functions={k: list(v) for k, v in kept["functions"].items()},
                    calls={k: set(v) for k, v in kept["calls"].items()},
                    files={os.path.join(folder, name) for name in kept["files"]})


def autograd_uses(module_path: str, source_dir: str) -> Findings:
    """Check ``module_path`` and the local modules it imports against the policy."""
    findings = Findings()
    main_name = os.path.basename(module_path)
    findings.files.add(os.path.realpath(module_path))
    try:
        main = _Module.read(module_path)
    except _Unreadable as exc:
        findings.module.append(f"{main_name}, line 1: `{main_name}` could not be read ({exc})")
        return findings
    # Every local module the exercise imports, however deep, read before any is checked (a
    # chain such as helper.torch.sys is followed through the helper's own imports).
    modules = {main.name: main}
    queue = [main]
    while queue:
        module = queue.pop(0)
        for node, name in module.local_imports(source_dir):
            if name in modules:
                continue
            if len(modules) >= _MAX_FILES:
                module.problems.append((node, rule("too_many", limit=_MAX_FILES)))
                continue
            path = os.path.join(source_dir, name + ".py")
            try:
                modules[name] = _Module.read(path)
            except _Unreadable as exc:
                module.problems.append((node, rule("unreadable", name=name, why=str(exc))))
                continue
            findings.files.add(os.path.realpath(path))
            queue.append(modules[name])
    resolver = _Resolver(modules)
    for module in modules.values():
        checker = _Checker(module, resolver, source_dir, main_name)
        checker.run()
        if module is main:
            findings.module.extend(checker.bucket(None))
            top = {n.name for n in main.tree.body
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            for name in top:
                findings.functions[name] = checker.bucket(name)
                findings.calls[name] = checker.refs.get(name, set()) & top
            # A definition code at import refers to (a decorator, a table of functions, an
            # alias) may run from anywhere: what it uses counts for every function.
            for fn in findings._reach(sorted(checker.refs.get(None, set()) & top)):
                findings.module.extend(findings.functions.get(fn, []))
        else:
            for bucket in sorted(checker.buckets, key=lambda b: (b is not None, b or "")):
                findings.module.extend(checker.bucket(bucket))
    findings.module = list(dict.fromkeys(findings.module))
    return findings


# ----------------------------------------------------------------------------- reading


class _Unreadable(Exception):
    pass


class _Module:
    """One parsed file, with the names its imports and simple assignments bind."""

    def __init__(self, name: str, file_name: str, text: str, tree: ast.Module):
        self.name, self.file_name, self.text, self.tree = name, file_name, text, tree
        self.lines = text.splitlines()
        self.problems: list[tuple[ast.AST, str]] = []  # found while reading the imports
        self.parents: dict[int, ast.AST] = {}
        # name -> dotted paths it may stand for ("np" -> "numpy", "F" -> "torch.nn.functional")
        self.aliases: dict[str, set[str]] = {}
        self.module_names: set[str] = set()  # bound by `import X` (a module for sure)
        self.assignments: list[tuple[str, ast.AST]] = []  # `name = value`, for aliases
        self.imports: list[ast.AST] = []
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assignments.append((node.targets[0].id, node.value))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                self.assignments.append((node.target.id, node.value))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.append(node)
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self._bind(a.asname, a.name)
                    else:
                        self._bind(a.name.split(".")[0], a.name.split(".")[0])
                    self.module_names.add(a.asname or a.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    if a.name != "*":
                        self._bind(a.asname or a.name, f"{node.module}.{a.name}")

        self._scope_names: dict[int, set[str]] = {}

    def _bind(self, name: str, path: str) -> None:
        self.aliases.setdefault(name, set()).add(path)

    def is_builtin(self, node: ast.Name) -> bool:
        """Whether ``node`` names Python's built-in of that name, not something the module binds.

        Python's rule: a name bound anywhere in a function is that function's; else an
        enclosing function's; else the module's; else a built-in (class bodies are seen only
        by code directly in them)."""
        first, current = True, self.parents.get(id(node))
        while current is not None:
            if isinstance(current, _SCOPES) and (first or not isinstance(current, ast.ClassDef)):
                if node.id in self._bound(current):
                    return False
                first = False
            current = self.parents.get(id(current))
        return node.id not in self._bound(self.tree)

    def _bound(self, scope) -> set[str]:
        key = id(scope)
        if key not in self._scope_names:
            self._scope_names[key] = _bindings(scope)
        return self._scope_names[key]

    @classmethod
    def read(cls, path: str) -> "_Module":
        file_name = os.path.basename(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (OSError, ValueError) as exc:
            raise _Unreadable(type(exc).__name__) from None
        try:
            tree = ast.parse(data, filename=file_name)
            text = _decode(data)
        except (SyntaxError, ValueError):
            # The child reports a syntax error with its line; a file Python cannot read
            # cannot run either.
            tree, text = ast.Module(body=[], type_ignores=[]), ""
        return cls(file_name[:-3] if file_name.endswith(".py") else file_name, file_name, text, tree)

    def local_imports(self, source_dir: str):
        """(import node, module name) for every import of a module beside the exercise."""
        for node in self.imports:
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                if root.isidentifier() and os.path.isfile(os.path.join(source_dir, root + ".py")):
                    yield node, root

    def assignment_aliases(self, resolver: "_Resolver") -> None:
        """``F = torch.nn.functional``: F stands for that path too (a few rounds, flow-blind)."""
        for _ in range(3):
            changed = False
            for target, value in self.assignments:
                if not isinstance(value, (ast.Name, ast.Attribute)):
                    continue
                for path in resolver.paths(self, value):
                    if path not in self.aliases.get(target, ()):
                        self._bind(target, path)
                        changed = True
            if not changed:
                return


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


def _bindings(scope) -> set[str]:
    """Names bound directly in ``scope`` (not in the scopes nested in it)."""
    names: set[str] = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        names |= {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x}
        todo = list(scope.body) if isinstance(scope.body, list) else [scope.body]
    elif isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        todo = [g.target for g in scope.generators] + [c for g in scope.generators for c in g.ifs]
    else:
        todo = list(scope.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _decode(data: bytes) -> str:
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


class _Resolver:
    """What a chain of names rooted at an import stands for, in torch/numpy/math themselves."""

    def __init__(self, modules: dict[str, _Module]):
        self.modules = modules
        for _ in range(2):  # a helper's aliases may be needed to follow the exercise's
            for module in modules.values():
                module.assignment_aliases(self)

    def chain(self, node) -> tuple[ast.AST, list[str]]:
        """(root node, attribute names from the root outwards)."""
        names = []
        while isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        return node, names[::-1]

    def paths(self, module: _Module, node) -> set[str]:
        """Dotted paths ``node`` (a name or an attribute chain) may stand for."""
        root, names = self.chain(node)
        if not isinstance(root, ast.Name):
            return set()
        found = set()
        for base in module.aliases.get(root.id, ()):
            path = self.canonical(".".join([base, *names]))
            if path:
                found.add(path)
        return found

    def canonical(self, path: str, depth: int = 0) -> str | None:
        """The path through torch/numpy/math (following a local module's own imports)."""
        parts = path.split(".")
        if parts[0] in ALLOWED_ROOTS:
            return path
        local = self.modules.get(parts[0])
        if local is None or len(parts) < 2 or depth > 8:
            return None
        for base in sorted(local.aliases.get(parts[1], ())):
            found = self.canonical(".".join([base, *parts[2:]]), depth + 1)
            if found:
                return found
        return None

    def is_local_module(self, module: _Module, name: str) -> bool:
        return any(p.split(".")[0] in self.modules and "." not in p for p in module.aliases.get(name, ()))

    @staticmethod
    def objects(path: str) -> list[tuple[str, object]]:
        """(prefix, object) along ``path``, read from torch/numpy/math in this process without
        running their lazy imports; stops where a name is not found (or not a module's)."""
        parts = path.split(".")
        obj = _library(parts[0])
        if obj is None:
            return []
        found = [(parts[0], obj)]
        for i, name in enumerate(parts[1:], start=1):
            if not isinstance(obj, types.ModuleType) or name.startswith("_"):
                break
            prefix = ".".join(parts[:i + 1])
            value = vars(obj).get(name, _MISSING)
            if value is _MISSING:
                value = _submodule(obj, name)
            if value is _MISSING:
                break
            found.append((prefix, value))
            obj = value
        return found


_MISSING = object()


def _library(root: str):
    if root not in ALLOWED_ROOTS:
        return None
    if root in sys.modules:
        return sys.modules[root]
    try:
        return __import__(root)
    except Exception:  # noqa: BLE001 - without the library, chains are checked by name only
        return None


def _submodule(package: types.ModuleType, name: str):
    """``package.name`` where it is a submodule not imported yet (a library imports some
    lazily, on first use): imported here, in the grader, so what it holds can be checked."""
    full = f"{package.__name__}.{name}"
    if full in sys.modules:
        return sys.modules[full]
    if not hasattr(package, "__path__") or not name.isidentifier():
        return _MISSING
    if _under(full, DENIED_PATHS) or _under(full, AUTOGRAD_ORIGINS):
        return types.ModuleType(full)  # refused by its name; not worth loading here
    try:
        if importlib.util.find_spec(full) is None:
            return _MISSING
        return importlib.import_module(full)
    except Exception:  # noqa: BLE001 - a submodule that cannot load here cannot load in the child either
        return _MISSING


_TAKEN: dict[str, bool] = {}


def _taken_elsewhere(name: str) -> bool:
    """Whether ``name`` is a module Python could import without the learner's folder."""
    if name in _TAKEN:
        return _TAKEN[name]
    taken = name in ALLOWED_ROOTS or name in sys.builtin_module_names or \
        name in getattr(sys, "stdlib_module_names", ())
    if not taken:
        paths = sorted({p for p in (sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib"))
                        if p and os.path.isdir(p)})
        paths += [os.path.join(p, "lib-dynload") for p in paths if os.path.isdir(os.path.join(p, "lib-dynload"))]
        try:
            taken = importlib.machinery.PathFinder.find_spec(name, paths) is not None
        except (ImportError, ValueError, OSError):
            taken = False
    _TAKEN[name] = taken
    return taken


# ----------------------------------------------------------------------------- checking


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


class _Checker:
    """Applies the policy to one module, sorting findings by where they run."""

    def __init__(self, module: _Module, resolver: _Resolver, source_dir: str, main_name: str):
        self.module, self.resolver, self.source_dir, self.main_name = module, resolver, source_dir, main_name
        self.parents = module.parents
        self.buckets: dict[str | None, list[tuple[int, str]]] = {}
        self.refs: dict[str | None, set[str]] = {}  # bucket -> names it refers to
        self.docstrings = _docstrings(module.tree)

    def bucket(self, name: str | None) -> list[str]:
        return [text for _, text in sorted(self.buckets.get(name, []), key=lambda item: item[0])]

    # ------------------------------------------------------------------ where code runs
    def run(self) -> None:
        """Split the module into what runs at import and what runs in each top-level definition."""
        for node, text in self.module.problems:
            self.note(None, node, text)
        for stmt in self.module.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.definition(stmt, stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                self.scan(None, [*stmt.decorator_list, *stmt.bases, *stmt.keywords])
                for inner in stmt.body:
                    if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.definition(inner, stmt.name)
                    else:  # a class body runs at import
                        self.scan(None, [inner])
            else:
                self.scan(None, [stmt])

    def definition(self, node, bucket: str) -> None:
        """A def: its decorators, defaults and annotations run at import, its body when called."""
        self.def_name(None, node)
        args = node.args
        at_import = [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
        at_import += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                             *(x for x in (args.vararg, args.kwarg) if x)) if a.annotation]
        if node.returns is not None:
            at_import.append(node.returns)
        self.scan(None, at_import)
        self.scan(bucket, node.body)

    def scan(self, bucket: str | None, nodes) -> None:
        for top in nodes:
            for node in ast.walk(top):
                self.visit(bucket, node)

    def segment(self, node) -> str | None:
        """The source of ``node``, enough of it for a snippet (offsets count UTF-8 bytes)."""
        try:
            first, last = node.lineno - 1, node.end_lineno - 1
            start, end = node.col_offset, node.end_col_offset
        except (AttributeError, TypeError):
            return None
        lines = self.module.lines
        if not 0 <= first <= last < len(lines):
            return None
        if first == last:
            return lines[first].encode("utf-8")[start:end].decode("utf-8", "replace")
        parts = [lines[first].encode("utf-8")[start:].decode("utf-8", "replace")]
        for index in range(first + 1, last + 1):
            if sum(len(p) for p in parts) > 2 * _SNIPPET:
                break
            piece = lines[index].encode("utf-8")
            parts.append((piece[:end] if index == last else piece).decode("utf-8", "replace"))
        return "\n".join(parts)

    def note(self, bucket: str | None, node, text: str, code: str | None = None) -> None:
        found = self.buckets.setdefault(bucket, [])
        if len(found) >= _MAX_FINDINGS:  # what is shown is a few; a file of a million is not read out
            return
        line = getattr(node, "lineno", 1)
        shown = self.snippet(node) if code is None else code
        found.append((line, f"{self.module.file_name}, line {line}: `{shown}` {text}"))

    def snippet(self, node) -> str:
        text = self.segment(node)
        if not text:
            try:
                text = ast.unparse(node)
            except Exception:  # noqa: BLE001
                text = type(node).__name__
        text = " ".join(text.split()).replace("`", "'")
        return text if len(text) <= _SNIPPET else text[:_SNIPPET - 1] + "…"

    # ------------------------------------------------------------------ one node
    def visit(self, bucket, node) -> None:
        parent = self.parents.get(id(node))
        if isinstance(node, ast.Name):
            self.refs.setdefault(bucket, set()).add(node.id)
            self.name(bucket, node, parent)
        elif isinstance(node, ast.Attribute):
            if not (isinstance(parent, ast.Attribute) and parent.value is node):
                self.attribute_chain(bucket, node, parent)
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                self.patch(bucket, node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.imports(bucket, node)
        elif isinstance(node, ast.Call):
            self.call(bucket, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.def_name(bucket, node)
        elif isinstance(node, ast.keyword) and node.arg == "requires_grad" and not _is_false(node.value):
            self.note(bucket, node.value, f"{AUTOGRAD_MARK} (leave requires_grad out)", code="requires_grad=True")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "requires_grad" and \
                        not _is_false(node.value):
                    self.note(bucket, node, AUTOGRAD_MARK)
        elif isinstance(node, ast.MatchClass):
            for attr in node.kwd_attrs:
                self.attribute_name(bucket, node, attr, f"{attr}=")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in self.docstrings:
            text = node.value.strip()
            if len(text) < 80 and _IDENTIFIER.fullmatch(text) and \
                    (any(part in _STRING_WORDS for part in text.split(".")) or text in _STRING_WORDS):
                self.note(bucket, node, f"names part of autograd in a string, which {AUTOGRAD_MARK} by hiding it")

    def def_name(self, bucket, node) -> None:
        if _dunder(node.name) and node.name not in SAFE_DUNDER_METHODS:
            self.note(bucket, node, rule("dunder_method"), code=f"def {node.name}")

    def name(self, bucket, node: ast.Name, parent) -> None:
        name = node.id
        called = isinstance(parent, ast.Call) and parent.func is node
        builtin = name in _BUILTIN_RULED and self.module.is_builtin(node)
        if name in FORBIDDEN_BUILTINS and builtin:
            self.note(bucket, parent if called else node, FORBIDDEN_BUILTINS[name])
        elif _dunder(name) and name not in SAFE_DUNDER_NAMES:
            self.note(bucket, node, rule("dunder_name"))
        elif name in NAME_ATTRIBUTE_CALLS and not called and builtin:
            self.note(bucket, node, rule("name_function", name=name))
        elif name == "type" and not called and builtin:
            self.note(bucket, node, rule("type_value"))
        elif name == "super" and not called and builtin:
            self.note(bucket, node, rule("super_value"))
        if isinstance(node.ctx, ast.Load) and not (isinstance(parent, ast.Attribute) and parent.value is node):
            self.module_value(bucket, node, parent)

    def module_value(self, bucket, node, parent) -> None:
        """A module used as a value (passed, stored, returned): its later uses would be unreadable."""
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and \
                parent.func.id in NAME_ATTRIBUTE_CALLS and parent.args and parent.args[0] is node and \
                self.module.is_builtin(parent.func):
            return  # getattr(torch, ...): the call is checked as the attribute it names
        root, names = self.resolver.chain(node)
        if not isinstance(root, ast.Name):
            return
        shown = ".".join([root.id, *names])
        if not names and (root.id in self.module.module_names or self.resolver.is_local_module(self.module, root.id)):
            self.note(bucket, node, rule("module_value", module=shown))
            return
        for path in self.resolver.paths(self.module, node):
            objects = self.resolver.objects(path)
            if objects and objects[-1][0] == path and isinstance(objects[-1][1], types.ModuleType):
                self.note(bucket, node, rule("module_value", module=shown))
                return

    def attribute_chain(self, bucket, node: ast.Attribute, parent) -> None:
        """A whole chain ``a.b.c``: the first thing wrong with it, once."""
        root, names = self.resolver.chain(node)
        nodes = []  # the Attribute node ending at each name
        current = node
        while isinstance(current, ast.Attribute):
            nodes.append(current)
            current = current.value
        nodes.reverse()
        for attr_node, attr in zip(nodes, names):
            if self.attribute_name(bucket, attr_node, attr):
                return
        if self.library_chain(bucket, node, nodes):
            return
        for attr_node, attr in zip(nodes, names):
            if attr in FOREIGN_NAMES:
                self.note(bucket, attr_node, rule("foreign_name", name=attr))
                return
        if isinstance(node.ctx, ast.Load):
            self.module_value(bucket, node, parent)

    def attribute_name(self, bucket, node, attr: str, code: str | None = None) -> bool:
        """Rules about an attribute's name alone, whatever it is read from."""
        shown = code
        if attr in SAFE_SUPER_METHODS and isinstance(node, ast.Attribute) and _is_super_call(node.value):
            return False
        if attr in AUTOGRAD_ATTRIBUTES:
            note = " (if it is a method of your own, give it another name)" if attr == "backward" else ""
            self.note(bucket, node, AUTOGRAD_MARK + note, code=shown)
        elif attr.startswith("_"):
            self.note(bucket, node, rule("dunder_name" if attr in ("__dict__", "__builtins__") else
                                         "private_attribute"), code=shown)
        elif attr in FRAME_ATTRIBUTES:
            self.note(bucket, node, rule("frame"), code=shown)
        elif attr in DENIED_NAMES:
            self.note(bucket, node, rule("denied", what=DENIED_NAMES[attr]), code=shown)
        else:
            return False
        return True

    def library_chain(self, bucket, node, nodes) -> bool:
        """What a chain rooted at torch/numpy/math (or a helper's import of them) reaches."""
        for attr_node in nodes:
            for path in sorted(self.resolver.paths(self.module, attr_node)):
                if self.library_path(bucket, attr_node, path):
                    return True
        return False

    def library_path(self, bucket, node, path: str, code: str | None = None) -> bool:
        if _under(path, AUTOGRAD_PATHS):
            self.note(bucket, node, AUTOGRAD_MARK, code=code)
            return True
        last = path.rsplit(".", 1)[-1]
        if path.startswith("torch.") and "backward" in last:
            self.note(bucket, node, f"{AUTOGRAD_MARK}: it is one of PyTorch's own gradient routines", code=code)
            return True
        for denied, what in DENIED_PATHS.items():
            if path == denied or path.startswith(denied + "."):
                self.note(bucket, node, rule("denied", what=what), code=code)
                return True
        objects = self.resolver.objects(path)
        if objects and objects[-1][0] == path:
            prefix, obj = objects[-1]
            via = prefix.rsplit(".", 1)[0]
            origin = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
            if isinstance(origin, str):
                if _under(origin, AUTOGRAD_ORIGINS) and last not in AUTOGRAD_HARMLESS:
                    what = origin if isinstance(obj, types.ModuleType) else \
                        f"{origin}.{getattr(obj, '__name__', last)}"
                    self.note(bucket, node, f"{AUTOGRAD_MARK} (it is {what})", code=code)
                    return True
                denied = next((what for p, what in DENIED_PATHS.items() if _under(origin, (p,))), None)
                if denied:
                    self.note(bucket, node, rule("denied", what=denied), code=code)
                    return True
            if isinstance(obj, types.ModuleType):
                origin = obj.__name__.split(".")[0]
                if origin not in ALLOWED_ROOTS:
                    self.note(bucket, node, rule("foreign_module", module=obj.__name__, via=via), code=code)
                    return True
            elif id(obj) in _FORBIDDEN_OBJECTS:
                self.note(bucket, node, rule("foreign_object", module="builtins", via=via), code=code)
                return True
            else:
                origin = getattr(obj, "__module__", None)
                if isinstance(origin, str) and origin.split(".")[0] not in _OBJECT_ROOTS:
                    self.note(bucket, node, rule("foreign_object", module=origin, via=via), code=code)
                    return True
        return False

    def patch(self, bucket, node: ast.Attribute) -> None:
        """``torch.no_grad = ...``: changing the library, not using it."""
        paths = self.resolver.paths(self.module, node.value)
        if paths:
            self.note(bucket, node, rule("patch_library", module=sorted(paths)[0].split(".")[0]))

    def call(self, bucket, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in _BUILTIN_RULED or not self.module.is_builtin(func):
            return
        if func.id in NAME_ATTRIBUTE_CALLS:
            name = _literal(node.args[1]) if len(node.args) >= 2 and not any(
                isinstance(a, ast.Starred) for a in node.args) else None
            if name is None:
                self.note(bucket, node, rule("dynamic_name"))
                return
            # Checked as the attribute it names: getattr(x, "_C") is x._C.
            shown = self.snippet(node)
            if self.attribute_name(bucket, node, name, code=shown):
                return
            target = node.args[0]
            if isinstance(target, (ast.Name, ast.Attribute)):
                for path in sorted(self.resolver.paths(self.module, target)):
                    if func.id in ("setattr", "delattr"):
                        self.note(bucket, node, rule("patch_library", module=path.split(".")[0]), code=shown)
                        return
                    if self.library_path(bucket, node, f"{path}.{name}", code=shown):
                        return
            if name in FOREIGN_NAMES:
                self.note(bucket, node, rule("foreign_name", name=name), code=shown)
        elif func.id == "type" and (len(node.args) != 1 or node.keywords):
            self.note(bucket, node, rule("three_argument_type"))

    def imports(self, bucket, node) -> None:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__" and not node.level:
            return
        if isinstance(node, ast.ImportFrom) and node.level:
            self.note(bucket, node, rule("relative_import", name=node.module or node.names[0].name))
            return
        if isinstance(node, ast.Import):
            modules = [(a.name, a.name) for a in node.names]
        else:
            modules = [(node.module, node.module)]
            for a in node.names:
                if a.name == "*":
                    self.note(bucket, node, rule("star_import"))
                    return
                modules.append((f"{node.module}.{a.name}", None))
        for dotted, as_module in modules:
            parts = dotted.split(".")
            root = parts[0]
            local = os.path.isfile(os.path.join(self.source_dir, root + ".py")) and root.isidentifier()
            if local and (root in ALLOWED_ROOTS or (root != self.module.name and _taken_elsewhere(root))):
                self.note(bucket, node, rule("shadow", name=root))
                return
            if any(p.startswith("_") for p in parts):
                self.note(bucket, node, rule("private_import"))
                return
            if root in ALLOWED_ROOTS:
                if self.library_path(bucket, node, dotted):
                    return
                if any(p in DENIED_NAMES for p in parts):
                    self.note(bucket, node, rule("denied", what=DENIED_NAMES[next(p for p in parts
                                                                                   if p in DENIED_NAMES)]))
                    return
                if any(p in AUTOGRAD_ATTRIBUTES for p in parts[1:]):
                    self.note(bucket, node, AUTOGRAD_MARK)
                    return
                continue
            if local:
                if as_module is not None and len(parts) > 1:
                    self.note(bucket, node, rule("package_import", name=root))
                    return
                continue
            main = self.main_name
            if root.isidentifier() and not _taken_elsewhere(root):
                self.note(bucket, node, rule("unknown_import", main=main, name=root))
            else:
                self.note(bucket, node, rule("other_import", main=main))
            return


def _under(path: str, prefixes) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_super_call(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def _is_false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None, 0)
