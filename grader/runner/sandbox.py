"""The grader's side of the isolated runner: start, talk to, and stop a learner process.

One :class:`LearnerProcess` serves one exercise module. The child is started as
``python -I`` (no user site, no PYTHON* variables, no script directory on sys.path) in a
fresh temporary directory, in its own session and process group, with stdin closed,
stdout/stderr captured to a file, a minimal environment, and resource limits (CPU time,
address space, file size, open files). Every reply is awaited with a deadline; a call
that runs past it gets the whole process group killed, and the next call starts a fresh
child (the learner module is imported again).
"""
from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from . import wire
from .expressions import Function

CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")

# Variables the child keeps; everything else (tokens, CI secrets, PYTHON*) is dropped.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "SYSTEMROOT", "TZ")
_ENV_KEEP_PREFIXES = ("CUDA_", "NVIDIA_")


@dataclass
class Limits:
    """Resource limits for one learner process (set per exercise in the course file)."""

    call_timeout: float = 10.0  # wall seconds for one call (import included)
    cpu_seconds: int = 120  # CPU seconds for the child's whole life
    memory_mb: int = 4096  # address space
    file_size_mb: int = 64  # largest file the child may write (its captured output too)
    open_files: int = 256
    threads: int = 1  # BLAS / OpenMP threads: the same for every child, so timings compare


class ProcessGone(Exception):
    """The child stopped answering: it hung, exited, crashed or broke the protocol."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # "timeout", "exited", "signal", "protocol", "cpu", "start"
        self.message = message


@dataclass
class Reply:
    status: str  # "ok" or "raised"
    value: object = None
    args: list | None = None
    error: dict | None = None
    autograd: list | None = None
    seconds: float = 0.0  # send-to-reply time on the grader's clock


def _encode_arg(value, buffers):
    return wire.encode(value, buffers, expr_to_tree=lambda v: v.to_wire() if isinstance(v, Function) else None)


class LearnerProcess:
    """Runs one learner module in an isolated child process."""

    def __init__(self, module_name: str, module_path: str, limits: Limits | None = None, *,
                 torch: bool = False, forbid_autograd: bool = False, seed: int = 0):
        self.module_name = module_name
        self.module_path = os.path.abspath(module_path)
        self.source_dir = os.path.dirname(self.module_path)
        self.limits = limits or Limits()
        self.torch = torch
        self.forbid_autograd = forbid_autograd
        self.seed = seed
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.load_error: dict | None = None
        self.starts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> dict | None:
        """Start the child and import the module; return the import error, or None."""
        self.close()
        self.starts += 1
        self.workdir = tempfile.mkdtemp(prefix=f"grade-{self.module_name}-")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self._output_path = os.path.join(self.workdir, ".output")
        with open(self._output_path, "wb") as out:
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", CHILD_SCRIPT, str(to_child_r), str(from_child_w)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=self.workdir, env=self._child_env(), pass_fds=(to_child_r, from_child_w),
                    start_new_session=True, preexec_fn=self._apply_limits, close_fds=True,
                )
            finally:
                os.close(to_child_r)
                os.close(from_child_w)
        self._to_child = to_child_w
        self._from_child = from_child_r
        os.set_blocking(self._to_child, False)
        fcntl.fcntl(self._to_child, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        fcntl.fcntl(self._from_child, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        reply = self._request({"op": "load", "path": self.module_path, "module": self.module_name,
                               "source_dir": self.source_dir, "torch": self.torch,
                               "forbid_autograd": self.forbid_autograd, "seed": self.seed,
                               "threads": self.limits.threads}, [])
        header = reply[0]
        self.load_error = header.get("error") if header.get("status") != "ok" else None
        if self.load_error is not None and not isinstance(self.load_error, dict):
            self.load_error = {"type": "Error", "message": "the module could not be loaded"}
        return self.load_error

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Kill the child's whole process group and remove its working directory."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def output_tail(self, limit: int = 4000) -> str:
        """The last ``limit`` characters the learner's code printed."""
        try:
            with open(self._output_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - limit))
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def _child_env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k in _ENV_KEEP or k.startswith(_ENV_KEEP_PREFIXES)}
        env.setdefault("PATH", "/usr/bin:/bin")
        env["HOME"] = self.workdir
        env["TMPDIR"] = self.workdir
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(self.limits.threads)
        return env

    def _apply_limits(self) -> None:  # runs in the child between fork and exec
        import resource

        lim = self.limits
        mb = 1024 * 1024
        settings = [
            (resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 1)),
            (resource.RLIMIT_FSIZE, (lim.file_size_mb * mb, lim.file_size_mb * mb)),
            (resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files)),
            (resource.RLIMIT_CORE, (0, 0)),
        ]
        if lim.memory_mb:
            settings.append((resource.RLIMIT_AS, (lim.memory_mb * mb, lim.memory_mb * mb)))
        for which, value in settings:
            try:
                resource.setrlimit(which, value)
            except (ValueError, OSError):
                pass

    # ------------------------------------------------------------------ requests
    def call(self, fn: str | None, args=(), kwargs=None, *, return_args=False, keep=False,
             target=None, method=None, timeout: float | None = None) -> Reply:
        """Call ``fn(*args, **kwargs)`` in the child (or ``target.method(...)``).

        Raises :class:`ProcessGone` if the child hangs, dies or misbehaves; it is
        restarted on the next call.
        """
        if not self.alive:
            error = self.start()
            if error is not None:
                raise ProcessGone("start", "the module could not be imported again")
        buffers: list = []
        header = {
            "op": "call", "fn": fn, "method": method,
            "target": None if target is None else target.id,
            "args": [_encode_arg(a, buffers) for a in args],
            "kwargs": {k: _encode_arg(v, buffers) for k, v in (kwargs or {}).items()},
            "return_args": return_args, "keep": keep,
        }
        started = time.perf_counter()
        reply, out_buffers = self._request(header, buffers, timeout)
        seconds = time.perf_counter() - started
        return self._decode_reply(reply, out_buffers, seconds)

    def describe(self, handle) -> dict:
        reply, buffers = self._request({"op": "describe", "target": handle.id}, [])
        value = self._decode_reply(reply, buffers, 0.0).value
        return value if isinstance(value, dict) else {}

    def ping(self) -> float:
        """Seconds for one empty round trip."""
        started = time.perf_counter()
        self._request({"op": "ping"}, [])
        return time.perf_counter() - started

    def _decode_reply(self, reply: dict, buffers: list, seconds: float) -> Reply:
        try:
            status = reply.get("status")
            if status == "ok":
                value = wire.decode(reply.get("value", {"t": "none"}), buffers)
                args = reply.get("args")
                if args is not None:
                    args = [wire.decode(a, buffers) for a in args]
                return Reply("ok", value=value, args=args, autograd=_str_list(reply.get("autograd")),
                             seconds=seconds)
            if status in ("raised", "error"):
                error = reply.get("error")
                if not isinstance(error, dict):
                    raise wire.WireError("malformed error")
                error = {k: v for k, v in error.items() if isinstance(v, (str, int, bool, list)) or v is None}
                return Reply("raised", error=error, autograd=_str_list(error.get("autograd")), seconds=seconds)
        except (wire.WireError, ValueError, TypeError, OverflowError) as exc:
            self.close()
            raise ProcessGone("protocol", f"sent back something the grader could not read ({exc})") from None
        self.close()
        raise ProcessGone("protocol", "sent back something the grader could not read")

    def _request(self, header: dict, buffers: list, timeout: float | None = None):
        timeout = self.limits.call_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            self._write_all(wire.pack(header, buffers), deadline, timeout)
            return wire.unpack(lambda n: self._read_exactly(n, deadline, timeout))
        except ProcessGone:
            raise
        except wire.WireError as exc:
            self.close()
            raise ProcessGone("protocol", f"sent back something the grader could not read ({exc})") from None
        except (EOFError, BrokenPipeError, OSError):
            raise self._gone() from None

    def _write_all(self, data: bytes, deadline: float, timeout: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timed_out(timeout)
            _, ready, _ = select.select([], [self._to_child], [], left)
            if ready:
                try:
                    n = os.write(self._to_child, view[: 1 << 20])
                except BlockingIOError:
                    continue
                view = view[n:]
            elif self.proc.poll() is not None:
                raise EOFError

    def _read_exactly(self, n: int, deadline: float, timeout: float) -> bytes:
        chunks, left = [], n
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(timeout)
            ready, _, _ = select.select([self._from_child], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_child, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _timed_out(self, timeout: float) -> ProcessGone:
        self.close()
        return ProcessGone("timeout", f"took longer than {timeout:g} s")

    def _gone(self) -> ProcessGone:
        """Explain why the child ended, in the learner's terms."""
        proc = self.proc
        try:
            code = proc.wait(timeout=2) if proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        tail = self.output_tail(600).strip()
        self.close()
        if code is None:
            return ProcessGone("protocol", "stopped answering the grader")
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = {"SIGXCPU": " (it used more CPU time than allowed)",
                    "SIGXFSZ": " (it wrote more output than allowed)",
                    "SIGSEGV": " (a crash inside a compiled library)"}.get(name, "")
            return ProcessGone("signal", f"was stopped by signal {name}{hint}")
        message = (f"ended the Python process with exit code {code} — did the code call "
                   f"sys.exit(), exit() or os._exit()?")
        if tail:
            message += f" Its last output was: {tail[-300:]}"
        return ProcessGone("exited", message)


def _str_list(value) -> list:
    return [str(v)[:200] for v in value] if isinstance(value, list) else []
