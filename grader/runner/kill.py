"""Ending processes for good: one process-tree killer for the runner and the batch.

Learner code may fork, start a new session or process group, double-fork a daemon, or
keep forking while it is being killed. Everything here works from ``/proc`` (Linux) and
does nothing where there is none:

- :func:`kill_tree`: a process and everything below it (its descendants, whatever their
  session or process group), plus, optionally, processes of the caller's user in its
  session or process group or carrying a token in their environment (a daemon that left
  the tree). The tree is frozen with ``SIGSTOP`` first, read again until no new process
  appears, then killed with ``SIGKILL``, each process and each of their process groups,
  so nothing can fork while it is being looked at. Used by :mod:`grader.runner.sandbox`
  (a learner process without a namespace or a uid of its own) and by
  :mod:`grader.classroom.batch` (a ``grade run`` process and its learner processes).
- :func:`kill_user`: every process of one uid at once (``kill(-1)`` as that uid), for the
  ``uid`` sandbox.
- :func:`kill_pidfd` / :func:`wait_pidfd`: a process named by a pidfd, which never names
  a reused pid: the first process of a learner's PID namespace (its whole namespace ends
  with it).

Killing by pid is only safe while the pid cannot be reused: a child not yet waited for,
or a process whose parent is known to be alive. The warm grader's learner processes are
reaped by their zygote, so they are only ever killed through a pidfd.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def pids() -> list[int]:
    """Every process id in /proc (empty where there is none)."""
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def status(pid: int) -> dict | None:
    """Real uid, state, ppid, pgid, sid and thread count of a process (None if it is gone).

    Read from /proc/PID/status, which everyone may read, even for a process that is not
    dumpable (whose /proc folder belongs to root whatever its user). Process group and
    session are as this process sees them (the first of ``NSpgid``/``NSsid``): inside a
    PID namespace a process's own are small numbers (1, 2), and ``killpg(1)`` is
    ``kill(-1)``, every process there is.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            text = f.read().decode("ascii", "replace")
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {"state": fields["State"].split()[0], "ppid": int(fields["PPid"]),
                "pgid": int((fields.get("NSpgid") or "0").split()[0]),
                "sid": int((fields.get("NSsid") or "0").split()[0]),
                "threads": int(fields.get("Threads", "1")), "uid": int(fields["Uid"].split()[0])}
    except (OSError, ValueError, KeyError, IndexError):
        return None


def environ(pid: int) -> bytes:
    """The start of a process's environment block (b"" if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read(1 << 16)
    except OSError:
        return b""


def _live_table() -> dict[int, dict]:
    return {p: s for p in pids() if (s := status(p)) and s["state"] not in "ZX"}


def descendants(pid: int, table: dict[int, dict] | None = None) -> set[int]:
    """Every process below ``pid`` (not ``pid`` itself)."""
    table = _live_table() if table is None else table
    children: dict[int, list[int]] = {}
    for p, s in table.items():
        children.setdefault(s["ppid"], []).append(p)
    found, todo = set(), list(children.get(pid, ()))
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo.extend(children.get(p, ()))
    return found


def _signal(pid: int, sig: int) -> None:
    """Signal one process; never pid 0, -1 or 1 (the caller's group, everyone, init)."""
    if pid <= 1:
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pgid: int, sig: int) -> None:
    """Signal a process group; never group 0 or 1 (``killpg(1)`` is ``kill(-1)``)."""
    if pgid <= 1:
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def kill_tree(pid: int, *, token: str = "", session: bool = True) -> None:
    """Kill ``pid``, every process below it, and every process group among them.

    ``session``: also what runs in ``pid``'s session or process group as the caller's own
    user (learner code that left the tree but not its session). ``token``: also what
    carries ``GRADE_SANDBOX_TOKEN=token`` in its environment, as the caller's user (and
    what is below those). The caller's own process and process group are never touched.
    Call it only while ``pid`` cannot be reused (see the module's docstring).
    """
    if pid <= 1:
        raise ValueError(f"kill_tree({pid}): not a process of the caller's")
    me, own_group = os.getpid(), os.getpgid(0)
    uid = os.getuid()
    needle = f"GRADE_SANDBOX_TOKEN={token}".encode() if token else b""
    if pid != own_group:
        _signal_group(pid, signal.SIGSTOP)  # nothing of its group starts anything new meanwhile
    stopped: set[int] = set()
    groups: set[int] = set()
    for _ in range(20):
        table = _live_table()
        found = {pid} | descendants(pid, table)
        for p, s in table.items():
            if p in found or p == me or s["uid"] != uid:
                continue
            if (session and (s["sid"] == pid or s["pgid"] == pid)) or (needle and needle in environ(p)):
                found |= {p} | descendants(p, table)
        found.discard(me)
        groups |= {table[p]["pgid"] for p in found if p in table}
        new = found - stopped
        if not new:
            break
        for p in new:
            _signal(p, signal.SIGSTOP)
        stopped |= new
    for group in groups - {own_group, 0}:
        _signal_group(group, signal.SIGKILL)
    for p in stopped | {pid}:
        if p != me:
            _signal(p, signal.SIGKILL)
    if pid != own_group:
        _signal_group(pid, signal.SIGKILL)


def kill_group(pid: int) -> None:
    """SIGKILL a process and its process group (``pid`` leads one), nothing more."""
    _signal_group(pid, signal.SIGKILL)
    _signal(pid, signal.SIGKILL)


def alive_of(uid: int) -> list[int]:
    """Live processes whose real uid is ``uid``."""
    return [p for p in pids() if (s := status(p)) and s["uid"] == uid and s["state"] not in "ZX"]


def kill_user(uid: int) -> None:
    """``kill(-1, SIGKILL)`` as ``uid``: every process of that user, atomically (no fork escapes).

    Needs root. Most of the time nothing of that user is left and nothing is started.
    Never for root or the caller's own user (that ``kill(-1)`` would end everything).
    """
    if uid <= 0 or uid == os.getuid() or not alive_of(uid):
        return

    def as_uid():  # runs in a short-lived child of the caller; never execs
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: B902 - nothing left to kill, or nothing we may kill
            pass
        os._exit(0)

    try:
        subprocess.Popen([sys.executable, "-c", ""], preexec_fn=as_uid, close_fds=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL).wait()
    except (OSError, subprocess.SubprocessError):
        pass
    for _ in range(50):  # belt and braces: anything of that user still alive
        left = alive_of(uid)
        if not left:
            return
        for p in left:
            _signal(p, signal.SIGKILL)
        time.sleep(0.001)


def kill_pidfd(pidfd: int) -> None:
    """SIGKILL the process a pidfd names (nothing if it has ended)."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def wait_pidfd(pidfd: int, timeout: float | None = 10.0) -> bool:
    """Wait until the process a pidfd names has ended; whether it has."""
    import select

    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    except (OSError, ValueError):
        return True


__all__ = ["pids", "status", "environ", "descendants", "kill_tree", "kill_group", "alive_of", "kill_user",
           "kill_pidfd", "wait_pidfd"]
