"""The warm grader, on the grader's side: a zygote per framework, and the learner processes it forks.

Importing PyTorch takes a second or more; a cold start pays it in every learner process.
A *zygote* (:mod:`grader.runner.zygote`) is started once per framework (``numpy``,
``torch``) in the same bubblewrap sandbox as every learner process, imports the framework,
and forks one fresh learner process per module, each in namespaces, a control group and a
uid of its own (see that module and docs/security.md). So ``grade`` pays torch's import once per
run, ``grade watch`` once per session, a batch once per ``grade run`` process (each
learner's: zygotes are never shared between learners).

:class:`~grader.runner.sandbox.LearnerProcess` uses one where it can and starts cold
otherwise, with the same wire protocol either way:

- only in ``namespaces`` mode as root (the learner process must take a fresh uid); the
  ``uid`` and ``none`` modes start cold;
- not where ``GRADE_WARM=0`` (``cold``, ``off``); a torch zygote not on a machine with an
  NVIDIA device unless ``GRADE_WARM=1``: CUDA in a forked process is untried there
  (``scripts/gpu_check.sh`` tries it);
- a zygote that cannot start, or stops, is not asked again by this process: cold starts
  from then on.

Zygotes are started by the process that grades (``grade``, ``grade watch``, a test) and
inherited by its worker processes (``grade -j N`` forks them after starting the zygotes),
which send their requests on the same socket; a worker never starts one of its own. They
end with the process that started them: at exit, or with it however it ends (bubblewrap's
``--die-with-parent``); a learner process ends when the process that asked for it does.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

from . import identity, isolation, kill
from .zygote import receive, send

WARM_ENV = "GRADE_WARM"
FIRST_FORK_TIMEOUT = 180.0  # the zygote imports the framework first (torch on a slow machine)
FORK_TIMEOUT = 30.0
TOKEN_PLACEHOLDER = "0" * 16  # each learner process writes its own token over it (same length)
MAX_ZYGOTES = 4  # per process: keys differ only when masks or the environment do


class Unavailable(Exception):
    """No warm start this time: the caller starts the learner process cold."""


def mode() -> str:
    """``auto`` (the default), ``on`` (also torch on a GPU machine) or ``off``."""
    value = os.environ.get(WARM_ENV, "auto").strip().lower()
    if value in ("0", "off", "no", "false", "cold"):
        return "off"
    if value in ("1", "on", "yes", "true", "warm"):
        return "on"
    return "auto"


def possible(framework: str) -> bool:
    """Whether learner processes of ``framework`` may be forked by a zygote here."""
    wanted = mode()
    if wanted == "off" or not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return False
    if framework == "torch" and wanted == "auto" and isolation._gpu_devices():
        return False
    return True


def _host_pid(pidfd: int) -> int:
    """The pid (in this process's PID namespace) of the process a pidfd names."""
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _receive_until(sock: socket.socket, deadline: float) -> tuple[dict | None, list[int]]:
    """One JSON message (None at the end, or past the deadline) and its descriptors."""
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([sock], [], [], left)[0]:
        return None, []
    try:
        data, fds = receive(sock)
    except OSError:
        return None, []
    if not data:
        return None, fds
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    return (message if isinstance(message, dict) else None), fds


class ForkedProcess:
    """A learner process forked by a zygote, as the grader sees it: like ``subprocess.Popen``.

    ``pid`` is the namespace's first process (the keeper), seen from here; it is never
    killed by pid (its zygote reaps it, so the pid may be reused): :meth:`kill` and the
    grader use the pidfd. ``returncode`` follows bubblewrap's convention (128+N for a
    signal), as the cold path's does.
    """

    def __init__(self, pidfd: int, sock: socket.socket):
        self.pidfd = pidfd
        self.sock = sock
        self.returncode: int | None = None
        self.pid = _host_pid(pidfd)

    def wait_ready(self, deadline: float) -> None:
        """Until the keeper has built the namespace and placed the modules."""
        message, fds = _receive_until(self.sock, deadline)
        for fd in fds:
            os.close(fd)
        if message is None or message.get("status") != "ready":
            why = (message or {}).get("message") or "no answer from the learner process's namespace"
            raise Unavailable(str(why)[:300])

    def poll(self) -> int | None:
        if self.returncode is None and kill.wait_pidfd(self.pidfd, 0):
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not kill.wait_pidfd(self.pidfd, timeout):
                raise subprocess.TimeoutExpired("learner process", timeout)
            self._ended()
        return self.returncode

    def kill(self) -> None:
        kill.kill_pidfd(self.pidfd)

    def _ended(self) -> None:
        code = 128 + signal.SIGKILL  # killed before it could say (by the grader, or the kernel)
        self.sock.setblocking(False)
        while True:
            try:
                data, fds = receive(self.sock)
            except (OSError, BlockingIOError):
                break
            for fd in fds:
                os.close(fd)
            if not data:
                break
            try:
                message = json.loads(data)
            except ValueError:
                continue
            if isinstance(message, dict) and type(message.get("exit")) is int:
                code = message["exit"]
        self.returncode = code

    def release(self) -> None:
        """Close the descriptors (once it has ended)."""
        for close in (self.sock.close, lambda: os.close(self.pidfd)):
            try:
                close()
            except OSError:
                pass


class Zygote:
    """One zygote process (one framework, one sandbox layout), started by this process."""

    def __init__(self, framework: str, *, as_root: bool, env: dict, hidden: list[str]):
        self.framework = framework
        self.as_root = as_root
        self.env = dict(env)
        self.hidden = list(hidden)
        self.owner = os.getpid()
        self.broken = False
        self.proven = False  # it has forked once: it is past its imports
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        self.ns_pidfd: int | None = None
        self.err_r: int | None = None

    def start(self) -> None:
        from .sandbox import _namespace_pidfd, _spawn, held_signals, release_signals

        # The runner's files travel as descriptors bubblewrap copies (nothing on disk to be
        # left behind, however this process ends).
        runner_fds = {}
        for name in isolation.RUNNER_FILES:
            with open(os.path.join(isolation.RUNNER_DIR, name), "rb") as f:
                data = f.read()
            fd = os.memfd_create(f"grade-runner-{name}")
            os.write(fd, data)
            os.lseek(fd, 0, os.SEEK_SET)
            runner_fds[name] = fd
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        info_r, info_w = os.pipe()
        self.err_r, err_w = os.pipe()
        os.set_blocking(self.err_r, False)
        args = isolation.sandbox_arguments(as_root=self.as_root, staged=None, scratch_mb=16, hidden=self.hidden,
                                           env=self.env, zygote=True, runner_fds=runner_fds)
        args[1:1] = ["--info-fd", str(info_w)]
        command = args + [isolation.real_executable(), "-I", "-u", f"{isolation.CHILD_RUNNER}/child.py",
                          "--zygote", str(theirs.fileno()), self.framework]
        identity.libc()
        def prepare():  # in the child, before bubblewrap runs
            release_signals()
            identity.die_with_parent()

        try:
            # An empty environment for bubblewrap too: the zygote's is given with --setenv, and
            # nothing of the grader's (a secret seed, a CI token) is in any process of it.
            with held_signals():
                self.proc = _spawn(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_w,
                                   pass_fds=(theirs.fileno(), info_w, *runner_fds.values()), start_new_session=True,
                                   close_fds=True, env={}, preexec_fn=prepare)
        finally:
            theirs.close()
            for fd in (info_w, err_w, *runner_fds.values()):
                os.close(fd)
        self.ns_pidfd = _namespace_pidfd(info_r, self.proc, 30.0)

    def fork(self, request: dict, fds: list[int]) -> ForkedProcess:
        """Ask for one learner process; its pidfd comes back once it is forked."""
        if self.broken or self.ctl is None:
            raise Unavailable("the zygote is not running")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            send(self.ctl, request, [theirs.fileno(), *fds])
        except OSError as exc:
            ours.close()
            self.broken = True
            raise Unavailable(f"the zygote is not running ({exc})") from None
        finally:
            theirs.close()
        deadline = time.monotonic() + (FORK_TIMEOUT if self.proven else FIRST_FORK_TIMEOUT)
        message, got = _receive_until(ours, deadline)
        if message is None or message.get("status") != "forked" or len(got) != 1:
            for fd in got:
                os.close(fd)
            ours.close()
            if message is None:
                self.broken = True  # it stopped (or hangs): cold starts from now on
            raise Unavailable(str((message or {}).get("message") or "the zygote did not answer")[:300])
        self.proven = True
        return ForkedProcess(got[0], ours)

    def stderr_tail(self) -> str:
        """What the zygote said on stderr (why it stopped), for GRADE_DEBUG."""
        if self.err_r is None:
            return ""
        try:
            return os.read(self.err_r, 1 << 16).decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        """End the zygote and every learner process it still holds (this process's own only)."""
        if os.getpid() != self.owner:
            return  # a worker's inherited copy: the process that started it ends it
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.ns_pidfd is not None:
            kill.kill_pidfd(self.ns_pidfd)
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None
        if self.ns_pidfd is not None:
            kill.wait_pidfd(self.ns_pidfd)
            os.close(self.ns_pidfd)
            self.ns_pidfd = None
        if self.err_r is not None:
            os.close(self.err_r)
            self.err_r = None
        self.broken = True


_zygotes: dict[tuple, Zygote] = {}
_lock = threading.Lock()
_exit_registered = []


def _may_start_here() -> bool:
    """Not in a worker process of a pool: its zygotes come from the process that forked it."""
    import multiprocessing

    return multiprocessing.parent_process() is None


def zygote_for(framework: str, *, as_root: bool, env: dict, hidden: list[str]) -> Zygote | None:
    """This process's zygote for ``framework`` and this sandbox layout, started if need be;
    None where learner processes start cold."""
    if not as_root or not possible(framework):
        return None
    key = (framework, as_root, tuple(sorted(env.items())), tuple(isolation.masks(hidden)))
    with _lock:
        zygote = _zygotes.get(key)
        if zygote is None:
            if not _may_start_here() or len(_zygotes) >= MAX_ZYGOTES:
                return None
            zygote = Zygote(framework, as_root=as_root, env=env, hidden=hidden)
            _zygotes[key] = zygote
            if not _exit_registered:
                atexit.register(close_all)
                _exit_registered.append(True)
            try:
                zygote.start()
            except (OSError, subprocess.SubprocessError):
                zygote.close()
        if zygote.broken:
            return None
        return zygote


def close_all() -> None:
    """End every zygote this process started (at exit; tests that change the sandbox)."""
    with _lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.close()


__all__ = ["ForkedProcess", "Unavailable", "Zygote", "zygote_for", "close_all", "possible", "mode"]
