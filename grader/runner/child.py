"""The child process: imports one learner module and runs calls the grader sends.

Started by :mod:`grader.runner.sandbox` as ``python -I child.py READ_FD WRITE_FD REPORT_FD``
in a fresh temporary directory, its own session, stdin closed, stdout/stderr going to a pipe
the grader reads (and cuts off past ``output_kb``), resource limits already applied and, when
the grader is root, as a user of its own. It knows nothing about checks or expected values:
it receives inputs, calls the learner's function, and sends back plain data (see
:mod:`grader.runner.wire`). Everything that decides a verdict happens in the grader's process.
Before the learner's module is imported, :mod:`grader.runner.guard` adds an audit hook that
refuses reading the solutions, writing outside the working folder, starting processes and
more, and reports attempts on REPORT_FD. After learner code runs, built-ins the child's own
code needs are put back (``after_learner_code``).

Requests (JSON headers) and replies:

- ``{"op": "load", "path", "module", "source_dir", "torch", "forbid_autograd"}``
  -> ``{"status": "ok"}`` or ``{"status": "error", "error": {...}}``
- ``{"op": "call", "fn": NAME | null, "target": HANDLE | null, "args", "kwargs",
  "return_args": bool, "keep": bool}`` -> ``{"status": "ok", "value", "args"?}``
  or ``{"status": "raised", "error": {...}}``. ``keep`` stores the result in the child and
  returns a handle, so objects (an ``MLP``) can be used across calls without crossing over.
- ``{"op": "describe", "target": HANDLE}`` -> facts about a torch module (parameter shapes,
  layer types), read with ``torch.nn.Module``'s own methods so a learner class cannot lie.
- ``{"op": "ping"}`` -> ``{"status": "ok"}`` (measures an empty round trip).
- Timed runs (:mod:`grader.timing`): ``{"op": "store", "values"}`` keeps the decoded values
  in the child and answers their handles, so a timed ``call`` can take them as references
  (``{"t": "ref"}``) without copying them inside the timed window; ``{"op": "fetch",
  "target", "drop"}`` sends a kept object back and forgets the ``drop`` handles. A ``call``,
  ``store`` or ``fetch`` with ``"sync": true`` waits for queued CUDA work before replying.
"""
import importlib.util
import os
import sys
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load_sibling(name):
    # Loaded by path: the child's sys.path must not expose the grader or solutions.
    spec = importlib.util.spec_from_file_location(f"_grader_{name}", os.path.join(_HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_sibling("wire")
expressions = _load_sibling("expressions")
guard = _load_sibling("guard")
identity = _load_sibling("identity")


class AutogradForbidden(RuntimeError):
    pass


class Child:
    def __init__(self, read_fd: int, write_fd: int):
        self.rfile = os.fdopen(read_fd, "rb", buffering=0)
        self.wfile = os.fdopen(write_fd, "wb", buffering=0)
        self.module = None
        self.source_dir = None
        self.module_path = None
        self.objects = {}
        self.next_handle = 0
        self.torch = None
        self.forbid_autograd = False
        self.autograd_attempts = []
        self.report_fd = None  # the audit hook's own pipe to the grader (see guard.py)
        self.limits = {}

    # ---------------------------------------------------------------- plumbing
    def read_exactly(self, n):
        chunks, left = [], n
        while left:
            chunk = self.rfile.read(left)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def send(self, header, buffers=()):
        self.wfile.write(wire.pack(header, list(buffers)))

    def serve(self):
        while True:
            try:
                header, buffers = wire.unpack(self.read_exactly)
            except EOFError:
                return
            op = header.get("op")
            if op == "bye":
                return
            handler = getattr(self, f"op_{op}", None)
            if handler is None:
                self.send({"status": "error", "error": {"type": "ProtocolError", "message": f"unknown op {op}"}})
                continue
            reply, out_buffers = handler(header, buffers)
            self.send(reply, out_buffers)

    # ---------------------------------------------------------------- values
    def decode(self, node, buffers, shared: dict | None = None):
        """A value the grader sent; ``shared`` (one per message) keeps ``f(a, a)`` aliased."""
        return wire.decode(node, buffers, tensor_factory=self.make_tensor,
                           expr_factory=self.make_function, ref_factory=self.objects.__getitem__,
                           shared=shared)

    def make_tensor(self, array, dtype, device):
        torch = self.torch
        if torch is None:
            raise wire.WireError("tensor sent to a NumPy exercise")
        t = torch.from_numpy(array.copy())
        return t.to(device=device)

    def make_function(self, payload):
        return expressions.as_plain_function(expressions.validate(payload))

    def encode(self, value, buffers):
        return wire.encode(value, buffers)

    # ---------------------------------------------------------------- errors
    def describe_error(self, exc):
        """Type, message, and the learner-file line the exception came from."""
        info = {"type": type(exc).__name__, "message": _safe_str(exc)}
        limit = self.limit_hit(exc)
        if limit:
            info["message"] = f"{info['message']} ({limit})" if info["message"] else limit
        if isinstance(exc, SyntaxError):
            info.update(file=exc.filename, line=exc.lineno, text=(exc.text or "").rstrip()[:300],
                        message=exc.msg)
            return info
        tb = exc.__traceback__
        frames = traceback.extract_tb(tb) if tb is not None else []
        learner = [f for f in frames if self.source_dir and os.path.abspath(f.filename).startswith(self.source_dir)]
        if learner:
            last = learner[-1]
            info.update(file=last.filename, line=last.lineno, text=(last.line or "")[:300])
            # Raised by the learner's own line (not by a library it called)?
            info["raised_here"] = frames[-1] is last
        return info

    def limit_hit(self, exc):
        """Which limit of the exercise an exception comes from, in words (or "")."""
        import errno

        lim = self.limits
        if isinstance(exc, MemoryError):
            return f"out of memory: this exercise may use at most {lim.get('memory_mb', '?')} MB"
        if (isinstance(exc, RuntimeError) and "can't start new thread" in _safe_str(exc)) or \
                (isinstance(exc, BlockingIOError) and exc.errno == errno.EAGAIN):
            return f"this exercise may run at most {lim.get('processes', '?')} processes and threads at once"
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            return f"files an exercise writes may be at most {lim.get('file_size_mb', '?')} MB"
        if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
            return f"an exercise may have at most {lim.get('open_files', '?')} files open at once"
        return ""

    def install_guard(self, header):
        """The audit hook (guard.py): installed before any learner code runs."""
        import sysconfig

        roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE}
        guard.install(workdir=os.getcwd(), source_dirs=[self.source_dir],
                      forbidden=[str(d) for d in header.get("forbidden", [])],
                      allowed=[str(d) for d in header.get("allowed", [])],
                      grader_pid=int(header.get("grader_pid", os.getppid())),
                      report_fd=self.report_fd if self.report_fd is not None else -1,
                      library_roots=sorted(r for r in roots if r))

    # ---------------------------------------------------------------- ops
    def op_ping(self, header, buffers):
        return {"status": "ok"}, []

    def op_load(self, header, buffers):
        self.source_dir = os.path.abspath(header["source_dir"])
        self.module_path = os.path.abspath(header["path"])
        self.forbid_autograd = bool(header.get("forbid_autograd"))
        self.limits = header.get("limits") or {}
        try:
            import numpy  # noqa: F401  (loaded before learner code, as learners expect)
            seed = int(header.get("seed", 0))
            import random

            import numpy as np
            random.seed(seed)
            np.random.seed(seed % (2 ** 32))
            if header.get("torch"):
                import torch
                self.torch = torch
                torch.manual_seed(seed)
                torch.set_num_threads(max(1, int(header.get("threads", 1))))
                if self.forbid_autograd:
                    self.install_autograd_guard(torch)
            self.install_guard(header)
            # Learners may import their own helper modules that sit beside the exercise.
            sys.path.insert(0, self.source_dir)
            spec = importlib.util.spec_from_file_location(header["module"], self.module_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[header["module"]] = module
            self.snapshot_plumbing()
            try:
                spec.loader.exec_module(module)
            finally:
                self.after_learner_code()
            self.module = module
        except BaseException as exc:  # noqa: B902 - learner code may raise anything
            return {"status": "error", "error": self.describe_error(exc)}, []
        return {"status": "ok"}, []

    def install_autograd_guard(self, torch):
        """Make every way of switching autograd back on fail loudly, and remember it."""
        attempts = self.autograd_attempts

        def forbid(name):
            def blocked(*args, **kwargs):
                attempts.append(name)
                raise AutogradForbidden(
                    f"{name} was called, but this exercise asks you to compute gradients by hand")
            return blocked

        # Autograd is off for the whole life of the process; switching it *off* stays allowed
        # (torch.no_grad() in learner code is fine), switching it on is refused.
        torch._C._set_grad_enabled(False)
        original_set_grad_enabled = torch.set_grad_enabled
        refuse_enable = forbid("torch.set_grad_enabled(True)")

        def set_grad_enabled(mode, *args, **kwargs):
            if mode:
                return refuse_enable()
            return original_set_grad_enabled(False)

        torch.Tensor.backward = forbid("Tensor.backward()")
        torch.autograd.backward = forbid("torch.autograd.backward()")
        torch.autograd.grad = forbid("torch.autograd.grad()")
        torch.enable_grad = forbid("torch.enable_grad()")
        torch.autograd.enable_grad = torch.enable_grad
        torch.set_grad_enabled = set_grad_enabled
        torch.autograd.set_grad_enabled = set_grad_enabled
        torch.autograd.grad_mode.set_grad_enabled = set_grad_enabled
        # torch.func transforms differentiate even inside no_grad(), so they are closed too.
        func = getattr(torch, "func", None)
        for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize"):
            if func is not None and hasattr(func, name):
                setattr(func, name, forbid(f"torch.func.{name}()"))
        functional = getattr(torch.autograd, "functional", None)
        for name in ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"):
            if functional is not None and hasattr(functional, name):
                setattr(functional, name, forbid(f"torch.autograd.functional.{name}()"))

    def snapshot_plumbing(self):
        """Remember the built-ins and module functions this process's own code needs to answer."""
        import builtins
        import json
        import struct

        def some(module, *names):
            return module.__dict__, {n: module.__dict__[n] for n in names if n in module.__dict__}

        self.plumbing = [(builtins.__dict__, dict(builtins.__dict__)), some(json, "dumps", "loads"),
                         some(struct, "pack", "unpack", "calcsize"), some(os, "write", "read", "fdopen")]

    def after_learner_code(self):
        """Undo learner patches of built-ins/json/struct/os (the child's own replies need
        them; the learner's module keeps whatever it bound itself), and recheck autograd."""
        for namespace, saved in getattr(self, "plumbing", ()):
            if any(namespace.get(key, _MISSING) is not value for key, value in saved.items()) \
                    if len(saved) < 8 else namespace != saved:
                for key, value in saved.items():
                    if namespace.get(key, _MISSING) is not value:
                        namespace[key] = value
        self.check_grad_mode()

    def check_grad_mode(self):
        """Autograd switched back on by a private route: note it, and switch it off again."""
        torch = self.torch
        if torch is not None and self.forbid_autograd and torch.is_grad_enabled():
            self.autograd_attempts.append("autograd switched back on")
            torch._C._set_grad_enabled(False)

    def resolve(self, header):
        target = header.get("target")
        if target is not None:
            obj = self.objects[int(target)]
            method = header.get("method")
            return getattr(obj, method) if method else obj
        name = header.get("fn")
        fn = getattr(self.module, name, None)
        if fn is None:
            raise AttributeError(f"{os.path.basename(self.module_path)} has no function named {name!r}")
        return fn

    def op_call(self, header, buffers):
        try:
            fn = self.resolve(header)
        except BaseException as exc:  # noqa: B902
            error = self.describe_error(exc)
            error["missing"] = True
            return {"status": "raised", "error": error}, []
        try:
            shared: dict = {}
            args = [self.decode(a, buffers, shared) for a in header.get("args", [])]
            kwargs = {k: self.decode(v, buffers, shared) for k, v in header.get("kwargs", {}).items()}
        except BaseException as exc:  # noqa: B902
            return {"status": "raised", "error": self.describe_error(exc)}, []
        before = len(self.autograd_attempts)
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: B902 - SystemExit, KeyboardInterrupt too
            self.after_learner_code()
            error = self.describe_error(exc)
            error["autograd"] = self.autograd_attempts[before:]
            error["not_implemented"] = isinstance(exc, NotImplementedError) and error.get("raised_here", False)
            return {"status": "raised", "error": error}, []
        self.after_learner_code()
        if self.torch is not None and self.forbid_autograd and _has_graph(value, self.torch):
            # Autograd switched on by a route the guard does not close: the result carries a graph.
            self.autograd_attempts.append("a result that carries an autograd graph (requires_grad)")
        if header.get("sync"):
            self.synchronize()
        reply = {"status": "ok", "autograd": self.autograd_attempts[before:]}
        out = []
        if header.get("keep"):
            handle = self.keep(value)
            reply["value"] = {"t": "handle", "id": handle, "type": wire._type_name(value)}
        else:
            try:
                reply["value"] = self.encode(value, out)
            except BaseException as exc:  # noqa: B902 - a hostile object may raise anything
                reply["value"] = {"t": "opaque", "type": wire._type_name(value), "repr": f"(could not be read: {_safe_str(exc)})"}
        if header.get("return_args"):
            reply["args"] = [self.encode(a, out) for a in args]
        return reply, out

    def keep(self, value):
        """Store ``value`` in the child under a new handle (never reused, even after a drop)."""
        self.next_handle += 1
        self.objects[self.next_handle] = value
        return self.next_handle

    def synchronize(self):
        """Wait for queued CUDA work, so a timed call is finished when its reply leaves."""
        torch = self.torch
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    def op_store(self, header, buffers):
        try:
            shared: dict = {}
            values = [self.decode(v, buffers, shared) for v in header.get("values", [])]
            if header.get("sync"):
                self.synchronize()
        except BaseException as exc:  # noqa: B902
            return {"status": "error", "error": self.describe_error(exc)}, []
        return {"status": "ok", "value": wire.encode([self.keep(v) for v in values], [])}, []

    def op_fetch(self, header, buffers):
        out = []
        try:
            if header.get("sync"):
                self.synchronize()
            value = self.objects[int(header["target"])]
            node = self.encode(value, out)
        except BaseException as exc:  # noqa: B902 - a hostile object may raise anything
            node = {"t": "opaque", "type": "object", "repr": f"(could not be read: {_safe_str(exc)})"}
            out = []
        for handle in header.get("drop", []):
            self.objects.pop(int(handle), None)
        return {"status": "ok", "value": node}, out

    def op_describe(self, header, buffers):
        torch = self.torch
        obj = self.objects.get(int(header["target"]))
        info = {"is_module": bool(torch is not None and isinstance(obj, torch.nn.Module))}
        out = []
        if info["is_module"]:
            Module = torch.nn.Module
            params = list(Module.named_parameters(obj))
            info["parameters"] = {n: p.detach() for n, p in params}
            info["layers"] = [type(m).__name__ for _, m in Module.named_modules(obj) if m is not obj]
        return {"status": "ok", "value": wire.encode(info, out)}, out


def _has_graph(value, torch, depth=0):
    if depth > 4:
        return False
    if type(value) is torch.Tensor:
        return bool(value.requires_grad or value.grad_fn is not None)
    if type(value) in (list, tuple):
        return any(_has_graph(v, torch, depth + 1) for v in value)
    if type(value) is dict:
        return any(_has_graph(v, torch, depth + 1) for v in value.values())
    return False


_MISSING = object()


def _safe_str(exc):
    try:
        text = str(exc)
        return text[:1000] if type(text) is str else ""
    except BaseException:  # noqa: B902
        return ""


def _become_subreaper():
    """Orphans of learner code (a daemon that double-forked) stay below this process, where
    the grader finds and kills them at close (Linux; harmless elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def serve_child(read_fd, write_fd, report_fd, become=None):
    """Serve the grader on these descriptors until it closes them (or says bye).

    ``become``: the fresh uid to take first (as root), before anything of the learner's
    runs; a child that cannot take it stops here (exit 71), so learner code never runs
    with privileges. The cold start (:func:`main`) and the warm grader's zygote
    (``zygote.py``, after its fork) both end here.
    """
    if become is not None:
        try:
            identity.become(become)
        except (OSError, ValueError) as exc:
            os.write(2, f"\nthe grader could not give this process a user of its own: {exc}\n".encode())
            os._exit(71)
        identity.die_with_parent()  # a uid change clears it: the namespace's init is the parent
    _become_subreaper()
    child = Child(read_fd, write_fd)
    child.report_fd = report_fd
    try:
        child.serve()
    except BaseException as exc:  # noqa: B902 - the child's own code broken by learner code
        try:
            os.write(2, f"\nthe grader's code in this process failed: {type(exc).__name__}: "
                        f"{_safe_str(exc)[:200]}\n".encode("utf-8", "replace"))
        finally:
            os._exit(70)


def main():
    if "--zygote" in sys.argv:  # the warm grader: import once, fork a learner process per module
        _load_sibling("zygote").main(sys.argv, identity, wire, serve_child)
    read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
    become = None
    if "--become" in sys.argv:
        # Namespaces built by bubblewrap as root: take the fresh uid before anything else.
        try:
            become = int(sys.argv[sys.argv.index("--become") + 1])
        except (ValueError, IndexError):
            os._exit(71)
    report_fd = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else None
    serve_child(read_fd, write_fd, report_fd, become)


if __name__ == "__main__":
    main()
