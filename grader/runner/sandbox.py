"""The grader's side of the isolated runner: start, talk to, and stop a learner process.

One :class:`LearnerProcess` serves one exercise module. Its modules are first staged: the
``.py`` files of the graded folder (already a private snapshot made by :mod:`grader.gate`)
are copied into a private folder together with the runner's own files, and the child runs
from there, never from the learner's folder or the grader's. How the child is isolated is
the sandbox mode (:mod:`grader.runner.isolation`): ``namespaces`` (bubblewrap: it sees only
the Python runtime and its staged copy, in its own PID, network, IPC and mount namespaces),
``uid`` (a fresh uid of its own) or ``none``. In every mode the child is ``python -I`` in
its own session, stdin closed, stdout/stderr captured through a pipe (cut off past
``output_kb``), with a minimal environment and resource limits; where the machine lets
the grader make a control group (:mod:`grader.runner.cgroup`), memory, processes and CPU
time are also limited for all of the learner's processes together.

Every reply is awaited with a deadline and bounded in size before it is read; a call that
runs past its deadline gets the child and everything it started killed, and the next call
starts a fresh child (the module is imported again). Closing ends everything: the PID
namespace (or every process of the fresh uid, or the child's whole tree) and every file it
wrote. See docs/security.md for what holds in each mode.
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import json
import os
import queue
import random
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from . import cgroup, identity, isolation, kill, warm, wire
from .expressions import Function
from .isolation import GRADER_DIR, RUNNER_DIR, SandboxUnavailable, sandbox_mode  # noqa: F401 (re-exported)

CHILD_SCRIPT = os.path.join(RUNNER_DIR, "child.py")

# Variables the child keeps; everything else (tokens, CI secrets, PYTHON*) is dropped.
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "SYSTEMROOT", "TZ")
_ENV_KEEP_PREFIXES = ("CUDA_", "NVIDIA_")

# Extra folders learner code may not read (os.pathsep-separated), besides solutions/ and grader/.
FORBIDDEN_ENV = "GRADE_FORBIDDEN_DIRS"
_OUTPUT_TAIL = 64 * 1024
_STAGED_FILE_LIMIT = 4 << 20  # a module larger than this is not staged (the gate refuses it first)


@dataclass
class Limits:
    """Resource limits for one learner process (set per exercise in the course file)."""

    call_timeout: float = 10.0  # wall seconds for one call (import included)
    cpu_seconds: int = 120  # CPU seconds: each process, and all of them together where a cgroup holds
    memory_mb: int = 4096  # address space of each process; all of them together where a cgroup holds
    file_size_mb: int = 64  # largest file the child may write
    open_files: int = 256
    threads: int = 1  # BLAS / OpenMP threads: the same for every child, so timings compare
    processes: int = 64  # processes and threads the child may run at once (RLIMIT_NPROC, pids.max)
    output_kb: int = 1024  # what the learner's code may print over the child's life
    scratch_mb: int = 256  # its private /work and /dev/shm (namespaces mode)


class ProcessGone(Exception):
    """The child stopped answering: it hung, exited, crashed or broke the protocol."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        # "timeout", "exited", "signal", "protocol", "cpu", "start", "output", "forbidden", "memory"
        self.reason = reason
        self.message = message


class Diverged(BaseException):
    """A check did not make the calls that were sent ahead of it (:meth:`LearnerProcess.prefetch`).

    The learner's code has then run calls the check would not have made, so nothing of
    this process can stand: the caller grades the task again the ordinary way, in a fresh
    process. A BaseException, so that no check or hypothesis takes it for a failure.
    ``other_call``: the check made a call other than the one sent (its calls depend on more
    than its example, e.g. on the learner's earlier answers), not merely fewer.
    """

    def __init__(self, message: str, *, other_call: bool = False):
        super().__init__(message)
        self.other_call = other_call


@dataclass
class Reply:
    status: str  # "ok" or "raised"
    value: object = None
    args: list | None = None
    error: dict | None = None
    autograd: list | None = None
    seconds: float = 0.0  # send-to-reply time on the grader's clock


def _encode_arg(value, buffers, seen: dict | None = None):
    """One argument; ``seen`` (one per call) sends an array passed twice as one (aliased) array."""
    return wire.encode(value, buffers, expr_to_tree=lambda v: v.to_wire() if isinstance(v, Function) else None,
                       seen=seen)


class LearnerProcess:
    """Runs one learner module in an isolated child process."""

    def __init__(self, module_name: str, module_path: str, limits: Limits | None = None, *,
                 torch: bool = False, forbid_autograd: bool = False, seed: int = 0,
                 read_policy: bool = True):
        self.module_name = module_name
        self.module_path = os.path.abspath(module_path)
        self.source_dir = os.path.dirname(self.module_path)
        self.limits = limits or Limits()
        self.torch = torch
        self.forbid_autograd = forbid_autograd
        # The autograd policy (lint.py) is read in this process, which imports torch to do it;
        # timed runs skip it: only functions whose checks (policy included) passed are timed.
        self.read_policy = read_policy
        self.seed = seed
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.load_error: dict | None = None
        self.starts = 0
        # How the child runs: "namespaces", "uid" or "none" (see grader.runner.isolation).
        self.sandbox = "none"
        self.uid: int | None = None
        self.cgroup: cgroup.SubmissionCgroup | None = None
        self._namespace_pidfd: int | None = None  # the PID namespace's first process (namespaces mode)
        self.warm = False  # forked by a zygote (grader/runner/warm.py), not started cold
        self._cpu_read_at = 0.0  # when the cgroup's CPU time was last read
        self._inbox = bytearray()
        # Calls sent ahead (prefetch): those sent, each (frame, reply, buffers, seconds), and
        # those still to send, used in order.
        self._prefetched: collections.deque | None = None
        self._pending: collections.deque | None = None
        self._window = 1
        self.recording: list | None = None  # when a list: the frame of every call is added to it
        self._replied_to: list | None = None  # the recording whose replies _replies holds
        self._replies: set = set()  # the buffers the learner's code sent back, while recording
        # Reads of the reference solutions / the grader's process, reported by the child's
        # audit hook ("reference" or "grader-process", path). Sticky: the exercise fails.
        self.violations: list[tuple[str, str]] = []
        self.refused: list[str] = []  # other refused actions (starting a process, ...)
        self._autograd_lint = None
        self._to_child = self._from_child = self._out_r = self._report_r = None
        self._out_tail = bytearray()
        self._out_total = 0
        self._out_eof = True
        self._report_buf = b""
        self._token = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> dict | None:
        """Start the child and import the module; return the import error, or None."""
        self.close()
        self.starts += 1
        if self.violations:
            raise ProcessGone("forbidden", self.violation_message())
        try:
            self.sandbox = sandbox_mode(self.torch)
        except SandboxUnavailable as exc:
            raise ProcessGone("start", str(exc)) from None
        as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
        # A fresh uid: the child's own in uid mode; in namespaces mode as root, the child takes it.
        self.uid = random.SystemRandom().randrange(*identity.UID_RANGE) if as_root and self.sandbox != "none" else None
        if self.sandbox == "none":
            identity.make_undumpable()
        self.workdir = _private_folder(self.module_name, self.uid if self.sandbox == "uid" else None)
        self._stage()
        if self.forbid_autograd and self.read_policy:
            from .lint import kept_autograd_uses

            src = os.path.join(self.workdir, "src")
            self._autograd_lint = kept_autograd_uses(self._staged_module(), src)
            for name in os.listdir(src):  # the child can import only what the policy read
                if os.path.realpath(os.path.join(src, name)) not in self._autograd_lint.files:
                    os.remove(os.path.join(src, name))
        self._token = os.urandom(8).hex()
        self._out_tail, self._out_total, self._report_buf = bytearray(), 0, b""
        self._inbox = bytearray()  # read from the child, not yet used (see _read_exactly)
        self.cgroup = cgroup.create(self.limits.memory_mb, self.limits.processes)
        if self.sandbox == "uid":
            nproc = self.limits.processes
        elif self.sandbox == "namespaces" and self.uid is not None:
            nproc = self.limits.processes  # counted for the fresh uid the child becomes
        else:
            nproc = _nproc_for_own_user(self.limits.processes)
        self.warm = self._start_warm(nproc)
        if not self.warm:
            self._start_cold(nproc)
        self._out_eof = False
        module_path, source_dir = self._child_paths()
        forbidden, allowed = forbidden_roots(self.source_dir)
        reply = self._request({"op": "load", "path": module_path, "module": self.module_name,
                               "source_dir": source_dir, "torch": self.torch,
                               "forbid_autograd": self.forbid_autograd, "seed": self.seed,
                               "threads": self.limits.threads, "forbidden": forbidden,
                               "allowed": allowed, "grader_pid": os.getpid(),
                               "limits": {"memory_mb": self.limits.memory_mb,
                                          "file_size_mb": self.limits.file_size_mb,
                                          "open_files": self.limits.open_files,
                                          "processes": self.limits.processes}}, [])
        self._check_reports()
        header = reply[0]
        self.load_error = header.get("error") if header.get("status") != "ok" else None
        if self.load_error is not None and not isinstance(self.load_error, dict):
            self.load_error = {"type": "Error", "message": "the module could not be loaded"}
        return self.load_error

    def _stage(self) -> None:
        """Copy the graded folder's modules and the runner's own files into the private folder.

        Regular ``.py`` files only, never through a symlink, and never more than a bounded
        size: the folder is a gate snapshot already, and this keeps it so whoever calls.
        """
        src, runner = os.path.join(self.workdir, "src"), os.path.join(self.workdir, "runner")
        os.mkdir(src, 0o755)
        os.mkdir(runner, 0o755)
        try:
            names = os.listdir(os.fsencode(self.source_dir))
        except OSError:
            names = []
        for name in names:
            if name.endswith(b".py"):
                _copy_regular(os.path.join(os.fsencode(self.source_dir), name), os.path.join(os.fsencode(src), name))
        for name in isolation.RUNNER_FILES:
            _copy_regular(os.path.join(RUNNER_DIR, name), os.path.join(runner, name))
        if self.sandbox == "uid":  # the staged copy belongs to the child's own user, and only to it
            for folder in (self.workdir, src, runner):
                os.chown(folder, self.uid, self.uid)

    def _start_cold(self, nproc: int | None) -> None:
        """Start the child as a new program (bubblewrap, or Python itself in a fresh uid)."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        out_r, out_w = os.pipe()
        report_r, report_w = os.pipe()
        info_r, info_w = os.pipe() if self.sandbox == "namespaces" else (None, None)
        os.set_blocking(report_w, False)  # the child's hook never blocks on a full pipe
        child_fds = [fd for fd in (to_child_r, from_child_w, out_w, report_w, info_w) if fd is not None]
        command, env, cwd = self._command(to_child_r, from_child_w, report_w, info_w)
        join = self.cgroup.join_fds() if self.cgroup is not None else []
        identity.libc()  # loaded here: the child calls into it between fork and exec
        failure = None
        try:
            self.proc = _spawn(
                command, stdin=subprocess.DEVNULL, stdout=out_w, stderr=subprocess.STDOUT,
                # out_w becomes stdout and stderr; in pass_fds too, a third copy of it stayed open
                cwd=cwd, env=env, pass_fds=tuple(fd for fd in child_fds if fd != out_w), start_new_session=True,
                close_fds=True,
                preexec_fn=functools.partial(_prepare_child, self.limits, self.uid if self.sandbox == "uid" else None,
                                             nproc, tuple(join)),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            failure = exc
        finally:
            for fd in child_fds + join:  # the child has its copies (or there is no child)
                os.close(fd)
        if failure is not None:
            for fd in (to_child_w, from_child_r, out_r, report_r, info_r):
                if fd is not None:
                    os.close(fd)
            raise ProcessGone("start", f"could not be started ({failure})")
        self._keep_pipes(to_child_w, from_child_r, out_r, report_r)
        if info_r is not None:
            self._namespace_pidfd = _namespace_pidfd(info_r, self.proc, self.limits.call_timeout)

    def _start_warm(self, nproc: int | None) -> bool:
        """Fork the child from this framework's zygote (:mod:`grader.runner.warm`); False
        where it cannot be (then nothing has changed, and the caller starts it cold)."""
        zygote = self._zygote()
        if zygote is None:
            return False
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        out_r, out_w = os.pipe()
        report_r, report_w = os.pipe()
        os.set_blocking(report_w, False)  # the child's hook never blocks on a full pipe
        join = self.cgroup.join_fds() if self.cgroup is not None else []
        lim = self.limits
        request = {"uid": self.uid, "token": self._token, "scratch_mb": lim.scratch_mb,
                   "limits": {"cpu_seconds": lim.cpu_seconds, "file_size_mb": lim.file_size_mb,
                              "open_files": lim.open_files, "memory_mb": lim.memory_mb, "nproc": nproc,
                              "processes": lim.processes}}  # an ordinary user's: the zygote counts (zygote.py)
        proc = None
        try:
            proc = zygote.fork(request, [to_child_r, from_child_w, out_w, report_w, *join])
        except warm.Unavailable:
            pass
        finally:
            for fd in (to_child_r, from_child_w, out_w, report_w, *join):
                os.close(fd)
        if proc is not None:
            self.proc = proc
            self._keep_pipes(to_child_w, from_child_r, out_r, report_r)
            try:
                self._send_modules(time.monotonic() + max(10.0, lim.call_timeout))
                return True
            except (warm.Unavailable, OSError) as exc:
                warm.debug(f"grade: warm start failed, starting cold: {exc}")
                zygote.broken = True  # its namespaces cannot be built here: cold from now on
                proc.kill()
                proc.wait()
                proc.release()
                self.proc = None
                self._close_pipes()
                return False
        for fd in (to_child_w, from_child_r, out_r, report_r):
            os.close(fd)
        return False

    def _zygote(self):
        """The zygote that would fork this child, or None (cold start)."""
        if self.sandbox != "namespaces":
            return None
        env = self._child_env()
        env.update(HOME=isolation.CHILD_WORK, TMPDIR=isolation.CHILD_WORK, GRADE_SANDBOX_TOKEN=warm.TOKEN_PLACEHOLDER)
        # As root the child takes a fresh uid; as an ordinary user it keeps the user's own.
        return warm.zygote_for("torch" if self.torch else "numpy", as_root=self.uid is not None, env=env,
                               hidden=self._hidden())

    def warm_up(self) -> bool:
        """Start (in the background) the zygote this process's child would be forked from,
        so that the first start finds it warm; whether there is one. ``grade`` calls it once
        per framework before it forks its workers, which then share it."""
        try:
            self.sandbox = sandbox_mode(self.torch)
        except SandboxUnavailable:
            return False
        as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
        self.uid = 0 if as_root else None  # only "is there a uid to take", for _zygote
        try:
            return self._zygote() is not None
        finally:
            self.uid = None

    def _send_modules(self, deadline: float) -> None:
        """The staged modules, to the forked child's namespace (then it is ready)."""
        src = os.path.join(self.workdir, "src")
        names = sorted(os.listdir(src))
        buffers = []
        for name in names:
            with open(os.path.join(src, name), "rb") as f:
                buffers.append(f.read())
        view = memoryview(wire.pack({"op": "stage", "files": names}, buffers))
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._to_child], [], left)[1]:
                raise warm.Unavailable("the learner's modules could not be sent")
            try:
                view = view[os.write(self._to_child, view[: 1 << 20]):]
            except BlockingIOError:
                continue
        self.proc.wait_ready(deadline)

    def _keep_pipes(self, to_child: int, from_child: int, out_r: int, report_r: int) -> None:
        self._to_child, self._from_child, self._out_r, self._report_r = to_child, from_child, out_r, report_r
        for fd in (self._to_child, self._out_r, self._report_r):
            os.set_blocking(fd, False)
        for fd in (self._to_child, self._from_child, self._out_r, self._report_r):
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)

    def _close_pipes(self) -> None:
        for fd in (self._to_child, self._from_child, self._out_r, self._report_r):
            try:
                if fd is not None:
                    os.close(fd)
            except OSError:
                pass
        self._to_child = self._from_child = self._out_r = self._report_r = None

    def _child_paths(self) -> tuple[str, str]:
        """(module path, source folder) as the child sees them."""
        if self.sandbox == "namespaces":
            src = f"{isolation.CHILD_WORK}/src"
            return f"{src}/{os.path.basename(self.module_path)}", src
        return self._staged_module(), os.path.join(self.workdir, "src")

    def _hidden(self) -> list[str]:
        """Folders to cover where the sandbox's read-only runtime would show them."""
        hidden = [os.path.dirname(GRADER_DIR), GRADER_DIR, self.source_dir]
        if self.workdir is not None:
            hidden.append(self.workdir)
        return hidden + forbidden_roots(self.source_dir)[0]

    def _staged_module(self) -> str:
        return os.path.join(self.workdir, "src", os.path.basename(self.module_path))

    def _command(self, to_child_r, from_child_w, report_w, info_w):
        """(argv, environment, working folder) of a cold start in this mode."""
        env = self._child_env()
        fds = [str(to_child_r), str(from_child_w), str(report_w)]
        python = isolation.real_executable()
        if self.sandbox == "namespaces":
            inside = isolation.CHILD_WORK
            env.update(HOME=inside, TMPDIR=inside)
            args = isolation.sandbox_arguments(as_root=self.uid is not None, staged=self.workdir,
                                               scratch_mb=self.limits.scratch_mb, hidden=self._hidden(), env=env)
            args[1:1] = ["--info-fd", str(info_w)]
            child = [python, "-I", "-u", f"{isolation.CHILD_RUNNER}/child.py", *fds]
            if self.uid is not None:
                child += ["--become", str(self.uid)]
            return args + child, {}, "/"
        env.update(HOME=self.workdir, TMPDIR=self.workdir)
        child = [python, "-I", "-u", os.path.join(self.workdir, "runner", "child.py"), *fds]
        return child, env, self.workdir

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Kill the child and everything it started; remove its files."""
        if self.proc is not None:
            if self._namespace_pidfd is not None:  # the namespace's first process: all of it goes
                kill.kill_pidfd(self._namespace_pidfd)
            if self.warm:
                self.proc.kill()  # by its pidfd: a forked child's pid is its zygote's to reap
                # The namespace's first process ends only once every process in it has: after
                # this wait the control group holds nothing more to kill.
                kill.wait_pidfd(self.proc.pidfd, 10)
            elif self.sandbox == "uid" and self.uid is not None:
                kill.kill_group(self.proc.pid)  # the rest of its user: kill_user, once it is reaped
            else:
                kill.kill_tree(self.proc.pid, token=self._token)
            if self.cgroup is not None:
                self.cgroup.kill()
            self.proc.wait()
            if self._namespace_pidfd is not None:
                kill.wait_pidfd(self._namespace_pidfd)
                os.close(self._namespace_pidfd)
                self._namespace_pidfd = None
            if self.sandbox == "uid" and self.uid is not None:  # whatever of its user still runs is a leftover
                kill.kill_user(self.uid)
            self._drain_output(check=False)
            self._read_reports()
            self._close_pipes()
            if self.warm:
                self.proc.release()
            self._out_eof = True
            self.proc = None
        self._prefetched = self._pending = None
        self._inbox = bytearray()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.workdir is not None:
            _remove_tree(self.workdir)
            self.workdir = None
        if self.sandbox == "uid" and self.uid is not None:
            _remove_files_of(self.uid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def output_tail(self, limit: int = 4000) -> str:
        """The last ``limit`` characters the learner's code printed (kept after the child ends).

        Only reads what the grader has already collected (it reads the pipe while it waits
        for replies), so another thread may call it while a call runs.
        """
        return bytes(self._out_tail[-limit:]).decode("utf-8", "replace")

    def violation_message(self) -> str:
        """Why the exercise is flagged, in the learner's terms."""
        kinds = {k for k, _ in self.violations}
        paths = [p for k, p in self.violations if k == "reference"]
        if "reference" in kinds:
            shown = _short_path(paths[0])
            return (f"tried to read {shown}: the reference solutions, the quiz answers, the grader's own "
                    f"files and other submissions are off limits, so this exercise is marked as using "
                    f"the reference solution and scores 0. Remove that code and grade again")
        return ("tried to look at the grader's own process, which is off limits, so this exercise "
                "scores 0. Remove that code and grade again")

    def _child_env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k in _ENV_KEEP or k.startswith(_ENV_KEEP_PREFIXES)}
        env.setdefault("PATH", "/usr/bin:/bin")
        env.setdefault("LANG", "C.UTF-8")
        env["USER"] = env["LOGNAME"] = "learner"
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["GRADE_SANDBOX_TOKEN"] = self._token  # finds descendants at close, whatever their session
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(self.limits.threads)
        return env

    def _cpu_exceeded(self) -> bool:
        """All processes of the submission together used more CPU time than allowed (cgroup)."""
        if self.cgroup is None:
            return False
        self._cpu_read_at = time.monotonic()
        used = self.cgroup.cpu_seconds()
        return used is not None and used > self.limits.cpu_seconds

    # ------------------------------------------------------------------ requests
    def call(self, fn: str | None, args=(), kwargs=None, *, return_args=False, keep=False,
             target=None, method=None, timeout: float | None = None, sync: bool = False) -> Reply:
        """Call ``fn(*args, **kwargs)`` in the child (or ``target.method(...)``).

        ``keep``: the result stays in the child and a :class:`~grader.runner.wire.Handle` to it
        comes back (arguments may be handles, and :meth:`store`'s). ``sync``: the child waits
        for queued CUDA work before it replies, so ``Reply.seconds`` (the grader's clock,
        from the request's first byte sent to the reply's last byte read: nothing of the
        encoding or decoding) covers the whole call; timed runs (grader/timing/) use this.

        Raises :class:`ProcessGone` if the child hangs, dies or misbehaves; it is
        restarted on the next call.
        """
        if self.violations:
            raise ProcessGone("forbidden", self.violation_message())
        if self.proc is not None and self.proc.poll() is not None:
            # It answered the last call and then ended on its own (os._exit in a thread,
            # or after sending a reply of its own making): that call's answer is not trusted.
            raise self._gone(after_reply=True)
        if not self.alive:
            error = self.start()
            if error is not None:
                raise ProcessGone("start", "the module could not be imported again")
        buffers: list = []
        seen: dict = {}
        header = {
            "op": "call", "fn": fn, "method": method,
            "target": None if target is None else target.id,
            "args": [_encode_arg(a, buffers, seen) for a in args],
            "kwargs": {k: _encode_arg(v, buffers, seen) for k, v in (kwargs or {}).items()},
            "return_args": return_args, "keep": keep, "sync": sync,
        }
        frame = wire.pack(header, buffers)
        if self.recording is not None:  # None: a call that cannot be sent ahead of its check
            if self._replied_to is not self.recording:
                self._replied_to, self._replies = self.recording, set()
            # A call made with what the learner's code sent back (matmul(matmul(A, B), C))
            # depends on the answer, not only on the example: it cannot be sent ahead.
            plain = timeout is None and not keep and target is None and not sync and \
                not any(len(b) >= 8 and bytes(b) in self._replies for b in buffers)
            self.recording.append(frame if plain else None)
        ahead = self._take_prefetched(frame) if self._prefetched is not None else None
        if ahead is not None:
            reply, out_buffers, seconds = ahead
        else:
            started = time.perf_counter()
            reply, out_buffers = self._send_frame(frame, timeout)
            seconds = time.perf_counter() - started
        if self.recording is not None and self._replied_to is self.recording:
            self._replies.update(bytes(b) for b in out_buffers if len(b) >= 8)
        self._drain_output()  # what it printed just before replying
        self._check_reports()
        result = self._decode_reply(reply, out_buffers, seconds)
        if self._autograd_lint:
            found = self._autograd_lint.for_function(fn if target is None else None)
            if found:
                result.autograd = list(dict.fromkeys(found + list(result.autograd or [])))
        return result

    def describe(self, handle) -> dict:
        """Facts about a kept torch module, read with ``torch.nn.Module``'s own methods."""
        value = self._exchange({"op": "describe", "target": handle.id}, []).value
        return value if isinstance(value, dict) else {}

    def store(self, values: list, *, sync: bool = False, timeout: float | None = None) -> Reply:
        """Keep ``values`` (arrays, tensors) in the child; ``Reply.value`` is their handles'
        ids, in order, for :meth:`call` to take as arguments without copying them again."""
        buffers: list = []
        seen: dict = {}
        header = {"op": "store", "values": [_encode_arg(v, buffers, seen) for v in values], "sync": sync}
        return self._exchange(header, buffers, timeout)

    def fetch(self, handle, *, drop=(), sync: bool = False, timeout: float | None = None) -> Reply:
        """The value a handle names, sent back; the handles in ``drop`` are forgotten."""
        header = {"op": "fetch", "target": handle.id, "drop": [int(h) for h in drop], "sync": sync}
        return self._exchange(header, [], timeout)

    def widen_pipes(self, size: int = 1 << 20) -> None:
        """Larger pipes to and from the child (1 MiB, not 64 KiB): megabytes of inputs cross
        in a few writes. Where the system refuses, only slower."""
        try:
            for fd in (self._to_child, self._from_child):
                if fd is not None:
                    fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
        except OSError:
            pass

    def _exchange(self, header: dict, buffers: list, timeout: float | None = None) -> Reply:
        """One request and its decoded reply (``Reply.seconds``: the round trip)."""
        if not self.alive:
            raise self._gone() if self.proc is not None else ProcessGone("start", "is not running")
        started = time.perf_counter()
        raw, out = self._request(header, buffers, timeout)
        seconds = time.perf_counter() - started
        self._drain_output()
        self._check_reports()
        return self._decode_reply(raw, out, seconds)

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
        except (wire.WireError, ValueError, TypeError, OverflowError, AttributeError) as exc:
            self.close()
            raise ProcessGone("protocol", f"sent back something the grader could not read ({exc})") from None
        self.close()
        raise ProcessGone("protocol", "sent back something the grader could not read")

    # ------------------------------------------------------------------ calls sent ahead
    def prefetch(self, frames: list[bytes]) -> None:
        """The frames of the calls a check is expected to make (:attr:`recording`'s, from an
        earlier run), to be sent ahead: :meth:`call` then finds its reply already there.

        They go in windows, in order, each sent when the check asks for the first call of
        it and four times as large as the one before (1, 4, 16, ...): a check that fails on
        its first call has had no call run ahead of it. A call that is not the next frame stops
        the sending: if frames were sent whose replies are not yet used, the learner's code
        ran calls the check would not have made, and :class:`Diverged` is raised; if none
        were, the call simply goes on its own. :meth:`prefetch_left` says how many were run
        and not used (the caller must then not go on with this process).
        """
        self._pending = collections.deque(frames)
        self._prefetched = collections.deque()
        self._window = 1

    def prefetch_left(self) -> int:
        """Calls sent ahead whose replies were not used; all sending ahead stops."""
        left = len(self._prefetched) if self._prefetched is not None else 0
        self._prefetched = self._pending = None
        return left

    def _take_prefetched(self, frame: bytes):
        """This call's reply, from those sent ahead (sending the next window if need be), or
        None when it is not the next frame and nothing unused was sent (then the call goes
        on its own)."""
        if not self._prefetched:
            if not self._pending or self._pending[0] != frame:
                self._prefetched = self._pending = None
                return None
            count = min(self._window, len(self._pending))
            self._window *= 4
            self._send_ahead([self._pending.popleft() for _ in range(count)])
        if self._prefetched[0][0] != frame:
            self._prefetched = self._pending = None
            raise Diverged("a call that was not sent ahead", other_call=True)
        _, reply, buffers, seconds = self._prefetched.popleft()
        return reply, buffers, seconds

    def _send_ahead(self, frames: list[bytes]) -> None:
        """Send these frames at once and read all their replies as they come (each with the
        call timeout, counted from the previous one).

        The child hanging, crashing or misbehaving on the window's first call is what that
        call would have met on its own (:class:`ProcessGone`); on a later one, the calls
        before it ran and their replies were not seen yet, so it is :class:`Diverged`.
        """
        received = self._prefetched
        try:
            self._send_window(frames)
        except ProcessGone as gone:
            if received:
                self._prefetched = self._pending = None
                raise Diverged(f"a call sent ahead {gone.message}") from None
            raise

    def _send_window(self, frames: list[bytes]) -> None:
        if not self.alive:
            raise self._gone() if self.proc is not None else ProcessGone("start", "is not running")
        timeout = self.limits.call_timeout
        data = memoryview(b"".join(frames))
        queue = self._prefetched
        since = time.monotonic()
        with self._talking():
            while len(queue) < len(frames):
                left = since + timeout - time.monotonic()
                if left <= 0:
                    raise self._timed_out(timeout)
                wait = min(left, 0.5) if self.cgroup is not None else left
                readable, writable, _ = select.select(self._watched(self._from_child),
                                                      [self._to_child] if data else [], [], wait)
                if self.cgroup is not None and time.monotonic() - self._cpu_read_at >= 0.5 and self._cpu_exceeded():
                    self.close()
                    raise ProcessGone("cpu", f"was stopped: its processes together used more than the "
                                             f"{self.limits.cpu_seconds} s of CPU time allowed")
                if self._out_r in readable:
                    self._drain_output()
                if writable:
                    try:
                        data = data[os.write(self._to_child, data[: 1 << 20]):]
                    except BlockingIOError:
                        pass
                if self._from_child in readable:
                    chunk = os.read(self._from_child, 1 << 20)
                    if not chunk:
                        raise EOFError
                    self._inbox += chunk
                    while len(queue) < len(frames):
                        got = self._frame_in_inbox()
                        if got is None:
                            break
                        now = time.monotonic()
                        queue.append((frames[len(queue)], got[0], got[1], now - since))
                        since = now
                elif not readable and not writable and self.proc.poll() is not None:
                    raise EOFError

    @contextlib.contextmanager
    def _talking(self):
        """What writing a request and reading its reply can raise, as the grader reports it."""
        try:
            yield
        except ProcessGone:
            raise
        except (wire.WireError, UnicodeDecodeError, RecursionError) as exc:
            self.close()
            raise ProcessGone("protocol", f"sent back something the grader could not read ({exc})") from None
        except (EOFError, BrokenPipeError, OSError):
            raise self._gone() from None

    def _frame_in_inbox(self):
        """One whole reply from what has been read, consumed; None while it is not all there."""
        try:
            header, buffers, used = wire.unpack_from(self._inbox)
        except EOFError:
            return None
        del self._inbox[:used]
        return header, buffers

    # ------------------------------------------------------------------ one request
    def _request(self, header: dict, buffers: list, timeout: float | None = None):
        return self._send_frame(wire.pack(header, buffers), timeout)

    def _send_frame(self, frame: bytes, timeout: float | None = None):
        timeout = self.limits.call_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._talking():
            self._write_all(frame, deadline, timeout)
            return wire.unpack(lambda n: self._read_exactly(n, deadline, timeout))

    def _watched(self, *fds):
        return [fd for fd in fds if fd is not None] + ([self._out_r] if not self._out_eof else [])

    def _write_all(self, data: bytes, deadline: float, timeout: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timed_out(timeout)
            readable, ready, _ = select.select(self._watched(), [self._to_child], [], left)
            if readable:
                self._drain_output()
            if ready:
                try:
                    n = os.write(self._to_child, view[: 1 << 20])
                except BlockingIOError:
                    continue
                view = view[n:]
            elif not readable and self.proc.poll() is not None:
                raise EOFError

    def _read_exactly(self, n: int, deadline: float, timeout: float) -> bytes:
        """``n`` bytes from the child's reply pipe. Read in large pieces (most replies arrive
        whole in one read, not one per field); what comes after them waits for the next read."""
        inbox = self._inbox
        while len(inbox) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(timeout)
            # Short waits where a cgroup counts CPU time: all of the learner's processes
            # together may not use more than cpu_seconds, checked while it works.
            wait = min(remaining, 0.5) if self.cgroup is not None else remaining
            ready, _, _ = select.select(self._watched(self._from_child), [], [], wait)
            # Read at most twice a second: a quick call must not pay a file read per chunk.
            if self.cgroup is not None and time.monotonic() - self._cpu_read_at >= 0.5 and self._cpu_exceeded():
                self.close()
                raise ProcessGone("cpu", f"was stopped: its processes together used more than the "
                                         f"{self.limits.cpu_seconds} s of CPU time allowed")
            if not ready:
                continue
            if self._out_r in ready:
                self._drain_output()
            if self._from_child not in ready:
                continue
            chunk = os.read(self._from_child, min(max(n - len(inbox), 1 << 16), 1 << 20))
            if not chunk:
                raise EOFError
            inbox += chunk
        data = bytes(inbox[:n])
        del inbox[:n]
        return data

    # ------------------------------------------------------------------ output and reports
    def _drain_output(self, check: bool = True) -> None:
        """Read what the learner's code printed; past ``output_kb`` the child is stopped."""
        while self._out_r is not None and not self._out_eof:
            try:
                chunk = os.read(self._out_r, 1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._out_eof = True
                break
            if not chunk:
                self._out_eof = True
                break
            self._out_total += len(chunk)
            self._out_tail += chunk
            if len(self._out_tail) > _OUTPUT_TAIL:
                del self._out_tail[:-_OUTPUT_TAIL]
            if check and self._out_total > self.limits.output_kb * 1024:
                self.close()
                raise ProcessGone("output", f"printed more than {self.limits.output_kb} KB of output, the "
                                            f"limit for one exercise — remove the print() calls from "
                                            f"functions that are called many times")

    def _read_reports(self) -> None:
        while self._report_r is not None:
            try:
                chunk = os.read(self._report_r, 1 << 16)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not chunk:
                break
            self._report_buf += chunk
        *lines, self._report_buf = self._report_buf.split(b"\n")
        for line in lines[:100]:
            kind, _, what = line.decode("utf-8", "replace").partition("\t")
            if kind in ("reference", "grader-process"):
                if (kind, what) not in self.violations:
                    self.violations.append((kind, what[:300]))
            elif what and what not in self.refused:
                self.refused.append(what[:300])

    def _check_reports(self) -> None:
        self._read_reports()
        if self.violations:
            self.close()
            raise ProcessGone("forbidden", self.violation_message())

    # ------------------------------------------------------------------ endings
    def _timed_out(self, timeout: float) -> ProcessGone:
        self.close()
        return ProcessGone("timeout", f"took longer than {timeout:g} s")

    def _gone(self, after_reply: bool = False) -> ProcessGone:
        """Explain why the child ended, in the learner's terms."""
        proc = self.proc
        try:
            code = proc.wait(timeout=2) if proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        self._read_reports()
        try:
            self._drain_output(check=False)
        except OSError:
            pass
        tail = self.output_tail(600).strip()
        oom = self.cgroup is not None and self.cgroup.out_of_memory()
        self.close()
        if self.violations:
            return ProcessGone("forbidden", self.violation_message())
        lim = self.limits
        if oom:
            return ProcessGone("memory", f"was stopped: its processes together used more than the "
                                         f"{lim.memory_mb} MB of memory allowed")
        if code is None:
            return ProcessGone("protocol", "stopped answering the grader")
        when = " after answering the previous call" if after_reply else ""
        if self.sandbox == "namespaces" and 128 < code < 128 + 65:
            code = 128 - code  # bubblewrap exits 128+N for a child that signal N ended
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = {"SIGXCPU": f" (it used more than the {lim.cpu_seconds} s of CPU time allowed)",
                    "SIGXFSZ": f" (it wrote a file larger than the {lim.file_size_mb} MB allowed)",
                    "SIGSEGV": " (a crash inside a compiled library)",
                    "SIGKILL": " (killed: did it run out of memory, or signal itself?)"}.get(name, "")
            return ProcessGone("cpu" if name == "SIGXCPU" else "signal", f"was stopped by signal {name}{when}{hint}")
        if code == 70:  # child.py's own code failed (see child.main)
            return ProcessGone("protocol", "broke the grader's own code in its process — does it replace "
                                           "built-in functions or standard modules the grader needs?")
        message = (f"ended the Python process{when} with exit code {code} — did the code call "
                   f"sys.exit(), exit() or os._exit()?")
        if tail:
            message += f" Its last output was: {tail[-300:]}"
        return ProcessGone("exited", message)



def _str_list(value) -> list:
    return [str(v)[:200] for v in value] if isinstance(value, list) else []


def _short_path(path: str) -> str:
    base = os.path.dirname(GRADER_DIR)
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


# ---------------------------------------------------------------------------- what is off limits


def forbidden_roots(source_dir: str) -> tuple[list[str], list[str]]:
    """Folders learner code may not read, and the folders inside them it may.

    Off limits: the reference solutions (beside the grader and beside the graded folder),
    the grader package (checks, quiz answer keys) and any folder in $GRADE_FORBIDDEN_DIRS
    (a batch run puts the folder of every submission there). Readable: the graded folder
    itself and the runner's own files (the child's code). The most specific folder decides,
    so ``grade --source solutions`` grades the solutions, and one student's folder inside
    the batch folder is readable by that student's code only.
    """
    source = os.path.realpath(source_dir)
    candidates = [os.path.join(os.path.dirname(GRADER_DIR), "solutions"), GRADER_DIR,
                  os.path.join(os.path.dirname(source), "solutions")]
    candidates += [d for d in os.environ.get(FORBIDDEN_ENV, "").split(os.pathsep) if d.strip()]
    roots = []
    for root in candidates:
        real = os.path.realpath(root)
        if real not in roots:
            roots.append(real)
    return roots, [source, os.path.realpath(RUNNER_DIR)]




# ---------------------------------------------------------------------------- starting

_HELD = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def held_signals():
    """SIGTERM and SIGINT held back (in the main thread) while the grader forks.

    Python runs a signal's handler at the next bytecode, and right after a fork that is an
    at-fork callback, which *ignores* the exception the handler raises: ``grade`` stopped by
    SIGTERM while it started its workers or a zygote ran on to the end. Held, the signal
    waits until the fork is done and its handler runs in ordinary code. A forked process
    that runs on lets them through again (:func:`release_signals`).
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def release_signals() -> None:
    """In a process forked under :func:`held_signals`: SIGTERM and SIGINT delivered again."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


_launcher: queue.Queue | None = None
_launcher_lock = threading.Lock()


def _spawn(command: list, **popen) -> subprocess.Popen:
    """``subprocess.Popen`` run on one long-lived thread.

    ``--die-with-parent`` (and ``PR_SET_PDEATHSIG`` in general) fires when the *thread* that
    started a process ends, not the process: a learner process started from a short-lived
    thread (the timed runs start two at once) would be killed with it. Every start goes
    through this one thread, which lives as long as the grader.
    """
    global _launcher
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(command, **popen)
    with _launcher_lock:
        if _launcher is None:
            _launcher = queue.Queue()

            def serve(jobs: queue.Queue) -> None:
                while True:
                    job, done = jobs.get()
                    try:
                        done.put((True, job()))
                    except BaseException as exc:  # noqa: B902 - handed back to the caller
                        done.put((False, exc))

            threading.Thread(target=serve, args=(_launcher,), name="grade-launcher", daemon=True).start()
    done: queue.Queue = queue.Queue(maxsize=1)
    _launcher.put((functools.partial(subprocess.Popen, command, **popen), done))
    ok, value = done.get()
    if not ok:
        raise value
    return value


def _private_folder(name: str, uid: int | None) -> str:
    """A fresh folder for one learner process (mode 0700); for a child with a uid of its own,
    inside a folder that uid may pass through (``0711``) but not list, wherever TMPDIR is."""
    base = None
    if uid is not None:
        base = os.path.join(tempfile.gettempdir() if isolation.others_can_reach(tempfile.gettempdir())
                            else "/tmp", f"grade-sandbox-{os.getuid()}")
        try:
            os.mkdir(base, 0o711)
        except FileExistsError:
            pass
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise ProcessGone("start", f"{base} is not a folder of the grader's own")
        os.chmod(base, 0o711)
    return tempfile.mkdtemp(prefix=f"grade-{name}-", dir=base)


def _copy_regular(source, target) -> None:
    """Copy one regular file (never a symlink, FIFO or device; at most a bounded size):
    the gate's own rules for a single file (:func:`grader.gate.read_file`); a file they
    refuse is left out."""
    from ..gate import GateError, read_file

    try:
        data = read_file(source, max_bytes=_STAGED_FILE_LIMIT)
    except (OSError, GateError):
        return
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(out, "wb") as f:
        f.write(data)


def _remove_tree(path: str) -> None:
    """Remove a folder whatever the learner's process left in it (read-only folders included)."""
    def unlock(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=unlock)


def _namespace_pidfd(info_r: int, proc: subprocess.Popen, timeout: float) -> int | None:
    """A pidfd of the namespace's first process, from bubblewrap's ``--info-fd`` JSON."""
    data, deadline = b"", time.monotonic() + max(5.0, timeout)
    try:
        while b"}" not in data and time.monotonic() < deadline and len(data) < 4096:
            ready, _, _ = select.select([info_r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(info_r, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(info_r)
    try:
        pid = int(json.loads(data[: data.index(b"}") + 1])["child-pid"])
        return os.pidfd_open(pid)
    except (ValueError, KeyError, TypeError, OSError, AttributeError):
        return None


def _prepare_child(limits: Limits, uid: int | None, nproc: int | None, cgroup_fds: tuple = ()) -> None:
    """Runs in the child between fork and exec: join the submission's cgroup, set the
    limits, then (uid mode) become a user of its own."""
    import resource

    for fd in cgroup_fds:  # "0": the writing process itself, before it can start anything
        os.write(fd, b"0")
    mb = 1024 * 1024
    settings = [
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb)),
        (resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if limits.memory_mb:
        settings.append((resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb)))
    if nproc is not None and hasattr(resource, "RLIMIT_NPROC"):
        settings.append((resource.RLIMIT_NPROC, (nproc, nproc)))
    for which, value in settings:
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError):
            pass
    if uid is not None:
        identity.become(uid)
    # Ends with the grader, however the grader ends (after a uid change, which clears it).
    # Namespaces mode gets the same from bubblewrap's --die-with-parent.
    identity.die_with_parent()


def _nproc_for_own_user(processes: int) -> int | None:
    """RLIMIT_NPROC counts every process of the user: allow what runs now plus ``processes``."""
    if os.geteuid() == 0 or not os.path.isdir("/proc/self/task"):
        return None  # root is not held by RLIMIT_NPROC anyway
    uid, count = os.getuid(), 0
    for pid in _pids():
        info = _status(pid)
        if info and info["uid"] == uid:
            count += info["threads"]
    return count + processes


# ---------------------------------------------------------------------------- ending everything
# One killer for the runner and the batch: grader/runner/kill.py. These names stay for the
# tests that read the process table the way the grader does.

_pids = kill.pids
_status = kill.status


def _remove_files_of(uid: int) -> None:
    """Delete what a child's own user left at the top of the shared temporary folders."""
    for folder in {"/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", tempfile.gettempdir()}:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
