"""The warm grader's zygote: one process, inside the sandbox, that forks a fresh learner process per module.

Started by :mod:`grader.runner.warm` as ``python -I -u child.py --zygote CTL_FD FRAMEWORK``
inside bubblewrap (the same read-only runtime, masks and namespaces as every learner
process, ``/work`` and ``/tmp`` private tmpfs), it imports NumPy (and PyTorch for a torch
exercise) once and then waits. It never runs learner code and never sees a submission's
folder or the grader's secrets: what it gets per learner process is a request on its
control socket (a few numbers: limits, a fresh uid or none, a token) and the pipes of
that process. Before its imports it tries once to build a learner process's namespaces
(:func:`_trial`); where this machine refuses, it stops, and the grader starts every
learner process cold. For each request it forks:

1. **the keeper** (``L``): the first process of a PID namespace of its own (unshared by the
   zygote just before the fork, and reset right after, so every learner process gets a
   new one; an ordinary user's zygote, which may not reset it, has a *midwife* fork do
   it: :func:`_first_of_pid_namespace`). It joins the submission's control group (where
   there is one), unshares its own mount, network, IPC, UTS and cgroup namespaces, makes
   every mount it inherits read-only, mounts a fresh ``/proc`` (it sees only its own
   namespace), fresh tmpfs ``/work``, ``/tmp`` and ``/dev/shm`` and a ``/dev/pts`` of its
   own, receives the learner's modules on the learner's own pipe and writes them to
   ``/work/src``, made read-only. It then stays as that namespace's init: it reaps, tells
   the grader how the learner process ended, and when it ends (killed by the grader, or
   because the grader went away) the kernel ends every process of the namespace;
2. **the learner process** (``L2``, pid 2 in that namespace, as with bubblewrap): a new
   session, stdin ``/dev/null``, stdout/stderr to the grader's pipe, every other
   descriptor closed, the resource limits, then no capabilities and no way back: as
   root a fresh uid (:func:`identity.become`); as an ordinary user the user's own uid,
   every capability dropped (:func:`identity.drop_capabilities`). It serves the
   ordinary wire protocol (:mod:`child`).

As root the zygote holds what switching uids takes and ``CAP_SYS_ADMIN``; as an ordinary
user it runs in bubblewrap's user namespace (``--disable-userns``) with ``CAP_SYS_ADMIN``
and ``CAP_SETPCAP`` there only, which give it power over the namespaces it makes and
nothing the user could not do.

Nothing of one learner process is visible to another: each has its own PID namespace,
``/proc``, ``/work``, ``/tmp``, ``/dev/shm``, ``/dev/pts``, network, IPC and control group
(and, as root, uid); what they share (the runtime, the sandbox's root and ``/dev``) is
read-only. The zygote itself is in none of them, so none can signal or trace it, and
none of the zygote, its midwives and keepers is dumpable. See docs/security.md.

Replies to the grader travel on a per-request socket (``SOCK_SEQPACKET``): ``{"status":
"forked"}`` with a pidfd of the keeper (from the zygote, or its midwife), then ``{"status": "ready"}`` or
``{"status": "error", "message"}`` (from the keeper, once the learner's files are in
place), and at the end ``{"exit": CODE}`` (bubblewrap's convention: 128+N for signal N).
"""
import array
import json
import os
import re
import select
import signal
import socket
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # read-only in /proc, as bubblewrap has them

MAX_FDS = 16  # the reply socket, four pipes and at most three control groups, with room
TOKEN_VAR = b"GRADE_SANDBOX_TOKEN="
STAGE_LIMIT = 64 << 20  # the learner's modules, all together (each is at most 4 MiB)
SETUP_FAILED = 72  # the keeper's exit code when the namespace could not be built
_LIBC = []  # the one _Libc, made in main()


class _Libc:
    """The few system calls Python 3.11's ``os`` lacks."""

    def __init__(self, identity):
        self.ctypes, self.c = identity.libc()

    def check(self, result, what):
        if result != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags):
        self.check(self.c.unshare(flags), "unshare")

    def setns(self, fd, flags):
        self.check(self.c.setns(fd, flags), "setns")

    def mount(self, source, target, fstype, flags, data=None):
        enc = (lambda s: s.encode() if s is not None else None)
        self.check(self.c.mount(enc(source), enc(target), enc(fstype), self.ctypes.c_ulong(flags), enc(data)),
                   f"mount {target}")

    def sethostname(self, name):
        raw = name.encode()
        self.check(self.c.sethostname(raw, self.ctypes.c_size_t(len(raw))), "sethostname")


# ---------------------------------------------------------------------------- messages


def send(sock, message, fds=()):
    data = json.dumps(message).encode()
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sock.sendmsg([data], ancillary)


def receive(sock, size=1 << 16):
    """One message and the descriptors that came with it (``(b"", [])`` at the end)."""
    data, ancillary, flags, _ = sock.recvmsg(size, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
    if flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
        for fd in fds:
            os.close(fd)
        raise OSError("a request too large for the zygote")
    return data, fds


# ---------------------------------------------------------------------------- the zygote


def serve(ctl_fd, framework, identity, wire, serve_child):
    """Import the framework, then fork one learner process per request until the grader's end
    closes (requests sent meanwhile wait in the socket: the first fork answers once the
    imports are done)."""
    identity.make_undumpable()  # and so is every process it forks: none can read another's memory
    # As root it joins its own PID namespace again after each fork; an ordinary user's uses midwives.
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if os.geteuid() == 0 else None
    problem = _trial(own_pid_ns, identity)
    if problem:  # this machine will not let it build a learner's namespace: the grader starts them cold
        os.write(2, f"the zygote cannot build a learner process's sandbox here: {problem}\n".encode())
        return
    import numpy  # noqa: F401  (the whole point: imported once, shared by every fork)

    if framework == "torch":
        import torch  # noqa: F401
    _preload()
    ctl = socket.socket(fileno=ctl_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers (midwives) are reaped by the kernel
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # forking a process with other threads could copy a held lock
        os.write(2, f"the zygote has {threads} threads after its imports; it cannot fork safely\n".encode())
        return
    while True:
        try:
            data, fds = receive(ctl)
        except OSError:
            return
        if not data and not fds:
            return  # the grader closed its end: nothing more to do
        try:
            _fork_one(data, fds, ctl, own_pid_ns, identity, wire, serve_child)
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


def _trial(own_pid_ns, identity):
    """Build one learner process's namespaces, as :func:`_fork_one` will, and give up the
    capabilities, as an ordinary user's learner process will; None if that worked, otherwise
    why not. Run before the framework's import, so that a machine that refuses it (a kernel
    or security module that refuses an ordinary user nested namespaces) costs little."""
    read_end, write_end = os.pipe()

    def body():
        try:
            os.close(read_end)
            _build_namespace(1, "grade")
            if os.geteuid() != 0:
                identity.drop_capabilities()
            return 0
        except BaseException as exc:  # noqa: B902 - told to the zygote, which says why
            os.write(write_end, str(exc).encode("utf-8", "replace")[:300])
            return 1

    try:
        pid = _first_of_pid_namespace(body, lambda _pid: None, own_pid_ns, identity)
        os.close(write_end)
        write_end = None
        why = b""
        while True:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            why += chunk
        if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
            return why.decode("utf-8", "replace").strip() or "a trial learner process failed"
        return None
    except OSError as exc:
        return str(exc)
    finally:
        for fd in (read_end, write_end):
            if fd is not None:
                os.close(fd)


def _preload():
    """What every learner process loads before the learner's code (``Child.op_load`` and the
    audit hook's set-up), loaded once here: the same modules a cold start ends up with,
    nothing of CUDA (a forked process could not use a context made before the fork)."""
    import errno  # noqa: F401
    import pathlib  # noqa: F401
    import random  # noqa: F401
    import resource  # noqa: F401
    import sysconfig
    import traceback  # noqa: F401

    import numpy

    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        sysconfig.get_path(key)
    numpy.random.seed(0)  # its first call sets up the legacy generator; each child seeds its own


def _count_processes(request):
    """An ordinary user's learner process keeps the zygote's uid in the zygote's user namespace,
    where ``RLIMIT_NPROC`` counts every task of that uid, the zygote's and every other learner
    process's included. As a cold start counts what the user runs now plus the learner's
    allowance, this counts what runs in this sandbox now (every task of the namespace is
    below this PID namespace, so in its /proc) plus the allowance."""
    limits = request.get("limits")
    if request.get("uid") is not None or not isinstance(limits, dict) or limits.get("processes") is None:
        return
    running = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                running += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                pass
    limits["nproc"] = running + int(limits["processes"])


def _fork_one(data, fds, ctl, own_pid_ns, identity, wire, serve_child):
    if not fds:
        return
    reply = socket.socket(fileno=os.dup(fds[0]))
    try:
        try:
            request = json.loads(data)
            if not isinstance(request, dict) or len(fds) < 5:
                raise ValueError("a malformed request")
            _count_processes(request)

            def forked(pid):  # the grader gets a pidfd of the keeper
                pidfd = os.pidfd_open(pid)
                try:
                    send(reply, {"status": "forked"}, [pidfd])
                finally:
                    os.close(pidfd)

            _first_of_pid_namespace(
                lambda: _keeper(request, fds, ctl, own_pid_ns, identity, wire, serve_child), forked, own_pid_ns,
                identity, drop=[ctl.fileno(), *fds[1:]], failed=lambda exc: _could_not_fork(reply, exc))
        except (OSError, ValueError) as exc:
            _could_not_fork(reply, exc)
            if isinstance(exc, OSError) and "setns" in str(exc):
                raise SystemExit(1)  # it cannot give the next one a namespace of its own: stop
    finally:
        reply.close()


def _could_not_fork(reply, exc):
    try:
        send(reply, {"status": "error", "message": f"the zygote could not fork ({exc})"})
    except OSError:
        pass


def _first_of_pid_namespace(body, forked, own_pid_ns, identity, drop=(), failed=None):
    """Fork a process that runs ``body()`` (its exit code) as the first process (pid 1) of a
    new PID namespace, and call ``forked(pid)`` once it is there; return the pid of the
    zygote's child.

    As root the zygote unshares the namespace for its next child and joins its own again
    (``own_pid_ns``). An ordinary user's zygote may not join its own: bubblewrap made it
    in an outer user namespace and runs the zygote in a nested one (for ``--dev`` and
    ``--disable-userns``), where the zygote's capabilities hold. So
    (``own_pid_ns`` None) a *midwife*, a fork of the zygote that runs nothing else,
    unshares it, forks the first process, calls ``forked``, closes the descriptors of
    ``drop`` (the learner's pipes are the first process's alone) and waits for it; its
    exit code is the first process's. What keeps it from forking goes to ``failed(exc)``
    there (in the zygote, it is raised).
    """
    libc = _LIBC[0]
    if own_pid_ns is None:
        pid = os.fork()
        if pid != 0:
            return pid
        code = SETUP_FAILED
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # to wait for it
            identity.die_with_parent()  # the zygote gone, the midwife goes, and the keeper with it
            try:
                libc.unshare(CLONE_NEWPID)
                first = _forked_to_run(body)
            except OSError as exc:
                if failed is not None:
                    failed(exc)
                raise
            forked(first)
            for fd in drop:
                os.close(fd)
            status = os.waitstatus_to_exitcode(os.waitpid(first, 0)[1])
            code = status if status >= 0 else 128 - status
        finally:
            os._exit(code)
    libc.unshare(CLONE_NEWPID)  # the next child starts a PID namespace of its own
    try:
        pid = _forked_to_run(body)
    finally:
        # Back to the zygote's own namespace for its children: unshare() again needs it.
        libc.setns(own_pid_ns, CLONE_NEWPID)
    forked(pid)
    return pid


def _forked_to_run(body):
    """Fork a process that runs ``body()`` and exits with what it returns; its pid."""
    pid = os.fork()
    if pid == 0:
        code = SETUP_FAILED
        try:
            code = body()
        finally:
            os._exit(code)
    return pid


# ---------------------------------------------------------------------------- the keeper (pid 1)


def _keeper(request, fds, ctl, own_pid_ns, identity, wire, serve_child):
    """Build the namespace, fork the learner process, wait for it; returns an exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # As an ordinary user the learner process has this process's uid, and the init of a PID
    # namespace gets the signals it handles: Ctrl-C's would end the namespace early.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctl.close()
    if own_pid_ns is not None:
        os.close(own_pid_ns)
    reply_fd, to_child, from_child, out_w, report_w, *cgroups = fds
    reply = socket.socket(fileno=os.dup(reply_fd))
    try:
        identity.die_with_parent()  # the zygote gone: this namespace goes with it
        os.setsid()
        for fd in cgroups:  # before anything else, so nothing below runs outside the group
            os.write(fd, b"0")
            os.close(fd)
        _build_namespace(int(request.get("scratch_mb", 256)), request.get("hostname", "grade"))
        _receive_modules(to_child, wire)
    except BaseException as exc:  # noqa: B902 - whatever failed, the grader is told and nothing runs
        try:
            send(reply, {"status": "error", "message": f"the sandbox could not be built ({exc})"})
        except OSError:
            pass
        return SETUP_FAILED
    send(reply, {"status": "ready"})
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            reply.close()
            os.close(reply_fd)
            _learner(request, to_child, from_child, out_w, report_w, identity, serve_child)
            code = 0
        finally:
            os._exit(code)
    for fd in (to_child, from_child, out_w, report_w):
        os.close(fd)
    return _reap_until(pid, reply)


def _build_namespace(scratch_mb, hostname):
    """The learner process's own mount, network, IPC, UTS and cgroup namespaces.

    What the zygote's sandbox shares between learner processes (its root, ``/dev``, its
    own ``/tmp``) is made read-only here; what a learner process may write is fresh:
    ``/tmp``, ``/work``, ``/dev/shm``, and its own ``/proc`` and ``/dev/pts`` instances.
    As an ordinary user the learner process has the zygote's uid, so the modes of the
    shared folders could not keep it out of them: read-only mounts do, whoever it is.
    """
    libc = _LIBC[0]
    libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    libc.sethostname(hostname)
    for path in _writable_mounts():
        _mount_read_only(path, bind=False)
    libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_COVERED:  # as bubblewrap's --proc does
        if os.path.exists(f"/proc/{name}"):
            _mount_read_only(f"/proc/{name}")
    size = max(1, scratch_mb) << 20
    libc.mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={64 << 20}")
    libc.mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    libc.mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    if os.path.isdir("/dev/pts"):  # its own terminals: /dev/ptmx leads to pts/ptmx
        libc.mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    os.mkdir("/work/src", 0o755)


def _writable_mounts():
    """Mount points (folders) of this mount namespace that are not read-only, parents first."""
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split(b" ")
            point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), fields[4]).decode()
            options = fields[5].split(b",")
            if b"rw" in options and point not in found and os.path.isdir(point):
                found.append(point)
    return found


def _read_exactly(fd):
    def read(n):
        chunks, left = [], n
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    return read


def _receive_modules(to_child, wire):
    """The learner's modules (``{"op": "stage", "files": [names]}`` and one buffer each),
    written to /work/src, which is then made read-only."""
    header, buffers = wire.unpack(_read_exactly(to_child))
    names = header.get("files")
    if header.get("op") != "stage" or not isinstance(names, list) or len(names) != len(buffers):
        raise ValueError("the learner's modules did not arrive")
    if sum(len(b) for b in buffers) > STAGE_LIMIT:
        raise ValueError("the learner's modules are too large")
    for name, data in zip(names, buffers):
        if type(name) is not str or not name.endswith(".py") or "/" in name or "\0" in name:
            raise ValueError(f"not a module name: {name!r}")
        fd = os.open(os.path.join("/work/src", name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    _mount_read_only("/work/src")


def _mount_read_only(path, bind=True):
    """Make ``path`` read-only (``bind``: a mount of its own first), keeping the mount's other
    flags: a mount this user namespace inherited keeps them locked, and a remount that
    dropped one would be refused."""
    libc = _LIBC[0]
    if bind:
        libc.mount(path, path, None, MS_BIND | MS_REC)
    now = os.statvfs(path).f_flag
    kept = MS_RDONLY | MS_NOSUID | MS_NODEV
    kept |= (MS_NOEXEC if now & os.ST_NOEXEC else 0) | (MS_NODIRATIME if now & os.ST_NODIRATIME else 0)
    kept |= MS_NOATIME if now & os.ST_NOATIME else MS_RELATIME if now & os.ST_RELATIME else MS_STRICTATIME
    libc.mount(None, path, None, MS_REMOUNT | MS_BIND | kept)


def _reap_until(pid, reply):
    """As the namespace's init: reap every process, tell the grader how ``pid`` ended, return.

    Returning ends this process, and with it (it is pid 1) every process of the namespace.
    The grader's end of ``reply`` closing (the grader went away) ends it too.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    status = None
    while status is None:
        while True:
            try:
                found, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                found = 0
            if found == 0:
                break
            if found == pid:
                status = os.waitstatus_to_exitcode(raw)
        if status is not None:
            break
        try:
            ready, _, _ = select.select([reply, wake_r], [], [], 5.0)
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        if reply in ready:
            try:
                if not reply.recv(16):
                    return 0  # the grader's end closed
            except OSError:
                return 0
    code = status if status >= 0 else 128 - status  # bubblewrap's convention for a signal
    try:
        send(reply, {"exit": code})
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------- the learner process


def _learner(request, to_child, from_child, out_w, report_w, identity, serve_child):
    os.setsid()  # a session of its own (bubblewrap's --new-session): no terminal to push input into
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    keep = {0, 1, 2, to_child, from_child, report_w}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.chdir("/work")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any Python program
    _set_token(str(request.get("token", "")))
    _set_limits(request.get("limits") or {})
    uid = request.get("uid")
    if uid is None:  # an ordinary user's: the zygote's uid, with none of its capabilities
        try:
            identity.drop_capabilities()
        except OSError as exc:
            os.write(2, f"\nthe grader could not take this process's privileges away: {exc}\n".encode())
            os._exit(71)
        identity.die_with_parent()  # the keeper is its parent: it ends with the namespace
        identity.make_dumpable()  # the zygote's was not; a cold one's is (its keeper stays out of reach)
    # What a cold start's child sees in sys.argv (its descriptors, its uid), not the zygote's.
    sys.argv = [sys.argv[0], str(to_child), str(from_child), str(report_w)] + \
        (["--become", str(int(uid))] if uid is not None else [])
    serve_child(to_child, from_child, report_w, int(uid) if uid is not None else None)


def _set_token(token):
    """This process's token, in ``os.environ`` (inherited by what it starts) and in the
    environment block ``/proc/PID/environ`` shows (the zygote's holds a placeholder of
    the same length), so the grader finds it as it finds a learner process it started."""
    os.environ["GRADE_SANDBOX_TOKEN"] = token
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[-3]), int(fields[-2])
        ctypes_ = _LIBC[0].ctypes
        block = ctypes_.string_at(start, end - start)
        at = block.find(TOKEN_VAR)
        if at < 0:
            return
        value_at = at + len(TOKEN_VAR)
        old = block[value_at:block.index(b"\0", value_at)]
        new = token.encode()[: len(old)].ljust(len(old), b"0")
        ctypes_.memmove(start + value_at, new, len(new))
    except (OSError, ValueError, IndexError):
        pass


def _set_limits(limits):
    import resource

    mb = 1 << 20
    cpu = int(limits.get("cpu_seconds", 120))
    settings = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (int(limits.get("file_size_mb", 64)) * mb,) * 2),
        (resource.RLIMIT_NOFILE, (int(limits.get("open_files", 256)),) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if limits.get("memory_mb"):
        settings.append((resource.RLIMIT_AS, (int(limits["memory_mb"]) * mb,) * 2))
    if limits.get("nproc") is not None:
        settings.append((resource.RLIMIT_NPROC, (int(limits["nproc"]),) * 2))
    for which, value in settings:
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError):
            pass


def main(argv, identity, wire, serve_child):
    """``child.py --zygote CTL_FD FRAMEWORK``."""
    ctl_fd, framework = int(argv[argv.index("--zygote") + 1]), argv[argv.index("--zygote") + 2]
    _LIBC.append(_Libc(identity))
    try:
        serve(ctl_fd, framework, identity, wire, serve_child)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: B902 - told on stderr; the grader falls back to cold starts
        os.write(2, f"the zygote stopped: {type(exc).__name__}: {exc}\n".encode("utf-8", "replace"))
        raise SystemExit(1)
    raise SystemExit(0)

