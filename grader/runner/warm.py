"""The warm grader, on the grader's side: a zygote per framework, and the learner processes it forks.

Importing PyTorch takes a second or more; a cold start pays it in every learner process.
A *zygote* (:mod:`grader.runner.zygote`) is started once per framework (``numpy``,
``torch``) in the same bubblewrap sandbox as every learner process, imports the framework,
and forks one fresh learner process per module, each in namespaces, a control group and a
uid of its own (see that module and docs/security.md). So ``grade`` pays torch's import once per
run, ``grade watch`` once per session, ``grade batch`` once per batch (on a Dask cluster,
once per worker process): its zygotes are shared by the learners of the batch, whose
``grade run`` processes inherit them. That is
sound because a zygote holds nothing of any learner: it never runs learner code, and what
differs per learner (the modules, a fresh uid, a token, the limits, the control group)
travels in each fork request, into a learner process with namespaces of its own.

:class:`~grader.runner.sandbox.LearnerProcess` uses one where it can and starts cold
otherwise, with the same wire protocol either way:

- only in ``namespaces`` mode: as root (each learner process takes a fresh uid) and as an
  ordinary user (bubblewrap's user namespace; each keeps the user's uid and drops every
  capability: :mod:`grader.runner.zygote`); the ``uid`` and ``none`` modes start cold
  (docs/security.md says why ``uid`` mode does);
- not where ``GRADE_WARM=0`` (``cold``, ``off``); a torch zygote not on a machine with an
  NVIDIA device unless ``GRADE_WARM=1``: CUDA in a forked process is untried there
  (``scripts/gpu_check.sh`` tries it);
- a zygote that cannot start, or stops, is not asked again by this process: cold starts
  from then on.

Zygotes are started by the process that grades (``grade``, ``grade watch``, a test) and
inherited by its worker processes (``grade -j N`` forks them after starting the zygotes),
which send their requests on the same socket; a worker never starts one of its own. A
``grade batch`` starts them itself and hands each ``grade run`` their control sockets as
inherited descriptors named in ``$GRADE_WARM_ZYGOTES`` (:func:`handover`, :func:`adopt`):
the grade run forks through one where its sandbox layout fits (the same environment, and
every folder it must hide hidden there too) and starts its own where not, or once it has
stopped. They end with the process that started them: at exit, or with it however it ends
(bubblewrap's ``--die-with-parent``); a learner process ends when the process that asked
for it does (its keeper sees the request's socket close).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

from . import identity, isolation, kill
from .zygote import receive, send

WARM_ENV = "GRADE_WARM"
FIRST_FORK_TIMEOUT = 180.0  # the zygote imports the framework first (torch on a slow machine)
FORK_TIMEOUT = 30.0
TOKEN_PLACEHOLDER = "0" * 16  # each learner process writes its own token over it (same length)
MAX_ZYGOTES = 4  # per process: keys differ only when masks or the environment do
# Set by ``grade batch`` alone, for the ``grade run`` processes it starts: the zygotes they
# may fork from (a JSON list, see :func:`handover`), each control socket an inherited descriptor.
INHERIT_ENV = "GRADE_WARM_ZYGOTES"
# A file to which every zygote start and warm fork adds one JSON line (tests, benchmarks).
LOG_ENV = "GRADE_WARM_LOG"


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


def _digest(env: dict) -> str:
    """The environment a zygote gives its learner processes, as one hash (a sandbox layout's part)."""
    return hashlib.sha256(json.dumps(sorted(env.items())).encode()).hexdigest()


def _masked(hidden: list[str]) -> tuple[str, ...]:
    """The folders :func:`isolation.masks` covers for ``hidden``: the rest of a sandbox layout."""
    args = isolation.masks(hidden)
    return tuple(args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--tmpfs")


def _covers(masked: tuple[str, ...], needed: tuple[str, ...]) -> bool:
    """Whether a sandbox masking ``masked`` hides each folder of ``needed`` (itself or a folder above it)."""
    return all(any(path == m or path.startswith(m.rstrip("/") + "/") for m in masked) for path in needed)


def _log(event: str, zygote: "Zygote") -> None:
    """One line in $GRADE_WARM_LOG (when set): a zygote started, or a learner process forked."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "framework": zygote.framework, "pid": os.getpid(),
                       "inherited": zygote.inherited}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, line.encode())  # one write with O_APPEND: lines of several processes never mix
        finally:
            os.close(fd)
    except OSError:
        pass


def debug(text: str) -> None:
    """Say ``text`` on stderr where ``GRADE_DEBUG`` is set: why a warm start did not happen."""
    if os.environ.get("GRADE_DEBUG"):
        print(text, file=sys.stderr)


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
    """One zygote process (one framework, one sandbox layout), started by this process, or
    ``inherited`` from the ``grade batch`` that started this ``grade run`` (then only its
    control socket is here: see :func:`adopt`)."""

    def __init__(self, framework: str, *, as_root: bool, env: dict, hidden: list[str]):
        self.framework = framework
        self.as_root = as_root
        self.env = dict(env)
        self.hidden = list(hidden)
        # Its sandbox layout, as a grade run compares it with the one it needs (handover).
        self.env_digest = _digest(self.env)
        self.masked = _masked(self.hidden)
        self.owner = os.getpid()
        self.inherited = False
        self.broken = False
        self.proven = False  # it has forked once: it is past its imports
        self.proc: subprocess.Popen | None = None
        self.ctl: socket.socket | None = None
        self.ns_pidfd: int | None = None
        self.err_r: int | None = None

    def serves(self, framework: str, as_root: bool, env_digest: str, needed: tuple[str, ...]) -> bool:
        """Whether a learner process that needs this layout may be forked here: the same
        framework, privileges and environment, and every folder it needs hidden, hidden here
        (a batch's zygote hides the whole class folder, each grade run one learner's part)."""
        return (framework == self.framework and as_root == self.as_root and env_digest == self.env_digest
                and _covers(self.masked, needed))

    def hung_up(self) -> bool:
        """Whether the zygote's end of the control socket is closed (it stopped). It never
        writes on that socket, so anything to read there is the end."""
        if self.ctl is None:
            return True
        try:
            poller = select.poll()
            poller.register(self.ctl, select.POLLIN | select.POLLHUP | select.POLLERR)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def describe(self) -> dict:
        """What a grade run needs to know of it to fork from it (:func:`handover`)."""
        return {"fd": self.ctl.fileno(), "framework": self.framework, "as_root": self.as_root,
                "env": self.env_digest, "masks": list(self.masked)}

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
        _log("start", self)

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
        _log("fork", self)
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
    None where learner processes start cold. ``as_root``: the grader is root and each learner
    process takes a fresh uid; otherwise it keeps the ordinary user's own (see zygote.py)."""
    if not possible(framework):
        return None
    inherited = _inherited(framework, as_root, env, hidden)
    if inherited is not None:
        return inherited
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


def started() -> set[tuple]:
    """The keys of the zygotes this process has started (for :func:`close_all`'s ``keys``)."""
    with _lock:
        return set(_zygotes)


def close_all(keys=None) -> None:
    """End every zygote this process started (at exit; tests that change the sandbox), and
    let go of those it inherited; or only the started ones of ``keys``."""
    with _lock:
        chosen = [k for k in _zygotes if keys is None or k in keys]
        zygotes = [_zygotes.pop(k) for k in chosen]
        if keys is None:
            zygotes += _adopted
            _adopted.clear()
    for zygote in zygotes:
        zygote.close()


# ---------------------------------------------------------------------------- shared by a batch
#
# ``grade batch`` starts one ``grade run`` process per learner. It starts the zygotes itself
# (grader/classroom/batch.py), once per batch, and hands each grade run their control
# sockets: inherited descriptors, named with their sandbox layouts in $GRADE_WARM_ZYGOTES.
# A grade run forks its learner processes through them where the layout fits, and starts
# its own zygote (or cold) where not, or once one has stopped. Nothing of a learner is in a
# zygote (see grader/runner/zygote.py): what differs per learner (modules, uid, token,
# limits, control group) travels in each fork request, so the learners of a batch can share.

_adopted: list[Zygote] = []
_HANDOVER_KEYS = {"fd", "framework", "as_root", "env", "masks"}


def handover() -> tuple[str, tuple[int, ...]]:
    """What a grade run started now needs to fork from this process's zygotes: the value of
    $GRADE_WARM_ZYGOTES and the descriptors to pass it; ``("", ())`` where there are none."""
    with _lock:
        live = [z for z in _zygotes.values()
                if z.owner == os.getpid() and not z.broken and z.ctl is not None]
    entries = [z.describe() for z in live]
    return (json.dumps(entries), tuple(e["fd"] for e in entries)) if entries else ("", ())


def adopt() -> int:
    """Take the zygotes of $GRADE_WARM_ZYGOTES (the grade batch that started this process),
    and remove the variable; how many there were. Called first thing by ``grade run``.

    Only the grader sets it; still, whatever does not hold up is ignored (this process then
    starts its own zygote): text that is not the list :func:`handover` writes, a descriptor
    that is not an open Unix ``SOCK_SEQPACKET`` socket made by a process of this user, the
    same descriptor twice. A descriptor taken is made close-on-exec, so nothing this process
    starts (a learner process least of all) inherits it.
    """
    text = os.environ.pop(INHERIT_ENV, None)
    if not text:
        return 0
    try:
        entries = _handover_entries(text)
    except ValueError as exc:
        debug(f"grade: {INHERIT_ENV} ignored: {exc}")
        return 0
    taken = []
    for entry in entries:
        sock = _inherited_socket(entry["fd"])
        if sock is None:
            debug(f"grade: {INHERIT_ENV} ignored descriptor {entry['fd']}: not the control socket of a zygote")
            continue
        zygote = Zygote(entry["framework"], as_root=entry["as_root"], env={}, hidden=[])
        zygote.env_digest, zygote.masked = entry["env"], tuple(entry["masks"])
        zygote.ctl, zygote.inherited = sock, True
        taken.append(zygote)
    with _lock:
        _adopted.extend(taken)
    return len(taken)


def _handover_entries(text: str) -> list[dict]:
    try:
        entries = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(entries, list) or len(entries) > MAX_ZYGOTES:
        raise ValueError(f"not a list of at most {MAX_ZYGOTES} zygotes")
    fds = set()
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != _HANDOVER_KEYS:
            raise ValueError(f"an entry without exactly {sorted(_HANDOVER_KEYS)}")
        fd, masks = entry["fd"], entry["masks"]
        if type(fd) is not int or not 3 <= fd < 1 << 20 or fd in fds:
            raise ValueError("a descriptor that cannot be one (or one named twice)")
        fds.add(fd)
        if entry["framework"] not in ("numpy", "torch") or type(entry["as_root"]) is not bool:
            raise ValueError("an unknown framework")
        if not isinstance(entry["env"], str) or not re.fullmatch(r"[0-9a-f]{64}", entry["env"]):
            raise ValueError("an environment that is not a SHA-256 digest")
        if not isinstance(masks, list) or len(masks) > 256 or not all(
                isinstance(m, str) and m.startswith("/") and "\0" not in m for m in masks):
            raise ValueError("masks that are not a list of absolute paths")
    return entries


def _inherited_socket(fd: int) -> socket.socket | None:
    """``fd`` as a socket, if it is a zygote's control socket as :func:`handover` passes it."""
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return None
        sock = socket.socket(fileno=fd)
    except (OSError, ValueError):
        return None
    try:
        pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                             struct.calcsize("3i")))
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_SEQPACKET or uid != os.geteuid():
            sock.detach()  # not ours to close
            return None
        sock.set_inheritable(False)
    except OSError:
        sock.detach()
        return None
    return sock


def _inherited(framework: str, as_root: bool, env: dict, hidden: list[str]) -> Zygote | None:
    """An inherited zygote this layout may fork from, if one is still there."""
    if not _adopted:
        return None
    env_digest, needed = _digest(env), _masked(hidden)
    with _lock:
        for zygote in _adopted:
            if not zygote.broken and zygote.hung_up():
                debug(f"grade: the batch's {zygote.framework} zygote has stopped: this grade run starts its own")
                zygote.broken = True
            if not zygote.broken and zygote.serves(framework, as_root, env_digest, needed):
                return zygote
    return None


__all__ = ["ForkedProcess", "Unavailable", "Zygote", "zygote_for", "close_all", "started", "handover", "adopt",
           "possible", "mode"]
