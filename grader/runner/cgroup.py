"""Limits for the whole submission: memory, processes and CPU time of all its processes together.

Resource limits (``setrlimit``) hold per process: three helpers of 1.5 GB each pass a 4 GB
``memory_mb``. A control group counts every process of one learner together, so where the
machine lets the grader make one, each learner process tree gets its own:

- **cgroup v2** (``/sys/fs/cgroup`` is ``cgroup2`` and the grader's own group lets it enable
  ``memory`` and ``pids`` for groups below it): ``memory.max``, ``memory.swap.max``,
  ``pids.max``, CPU time read from ``cpu.stat``;
- **cgroup v1** (separate ``memory``, ``pids`` and ``cpuacct`` hierarchies the grader may
  write, as root on many VMs): ``memory.limit_in_bytes`` (and ``memsw``), ``pids.max``,
  ``cpuacct.usage``.

Elsewhere (a container with a read-only ``/sys/fs/cgroup``, macOS) :func:`create` returns
None, and what holds is the per-process limits: ``memory_mb`` for each of at most
``processes`` processes (docs/security.md says so).

The learner's first process joins the group itself, between fork and exec
(:meth:`SubmissionCgroup.join_fds` are opened here, written in the child), so nothing it
starts can be outside it.
"""
from __future__ import annotations

import os
import secrets

CGROUP_ROOT = "/sys/fs/cgroup"


def _own_groups() -> dict[str, str]:
    """``{controller or "": path}`` from /proc/self/cgroup ("" is the v2 hierarchy)."""
    groups = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(",") if controllers else [""]:
                    groups[name] = path
    except (OSError, ValueError):
        pass
    return groups


def _mounts() -> dict[str, str]:
    """``{controller or "": mount point}`` for the cgroup file systems of this mount namespace."""
    found = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fstype, _source, options = (right.split() + ["", ""])[:3]
                point = left.split()[4]
                if fstype == "cgroup2":
                    found.setdefault("", point)
                elif fstype == "cgroup":
                    for opt in options.split(","):
                        found.setdefault(opt, point)
    except (OSError, IndexError):
        pass
    return found


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


class SubmissionCgroup:
    """The control group(s) of one learner process tree."""

    def __init__(self, version: int, dirs: dict[str, str]):
        self.version = version
        self.dirs = dirs  # controller ("" for v2) -> folder

    # ---------------------------------------------------------------- joining
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs.values()]

    def join_fds(self) -> list[int]:
        """Open ``cgroup.procs`` of each group for writing; the child writes its pid there."""
        fds = []
        for path in self.procs_files():
            fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        return fds

    # ---------------------------------------------------------------- reading
    def cpu_seconds(self) -> float | None:
        try:
            if self.version == 2:
                for line in _read(os.path.join(self.dirs[""], "cpu.stat")).splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
            elif "cpuacct" in self.dirs:
                return int(_read(os.path.join(self.dirs["cpuacct"], "cpuacct.usage"))) / 1e9
        except (OSError, ValueError, IndexError):
            pass
        return None

    def out_of_memory(self) -> bool:
        """Did the kernel kill a process of this group for using more than its memory?"""
        try:
            if self.version == 2:
                text = _read(os.path.join(self.dirs[""], "memory.events"))
            else:
                text = _read(os.path.join(self.dirs["memory"], "memory.oom_control"))
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key in ("oom_kill", "oom") and int(value or 0) > 0:
                    return True
            if self.version == 1:
                return int(_read(os.path.join(self.dirs["memory"], "memory.failcnt")) or 0) > 0 and \
                    "under_oom 1" in text
        except (OSError, ValueError, KeyError):
            pass
        return False

    # ---------------------------------------------------------------- ending
    def kill(self) -> None:
        """Kill every process still in the group."""
        import signal

        if self.version == 2:
            try:
                _write(os.path.join(self.dirs[""], "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for _ in range(100):
            pids = set()
            for path in self.procs_files():
                try:
                    pids |= {int(p) for p in _read(path).split()}
                except (OSError, ValueError):
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def remove(self) -> None:
        """Remove the (empty) groups; a group whose processes are still dying is retried."""
        self.kill()
        for folder in self.dirs.values():
            for _ in range(1000):
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY: a killed process is not reaped yet
                    os.sched_yield()


def create(memory_mb: int, processes: int, *, root: str | None = None) -> SubmissionCgroup | None:
    """A fresh group below the grader's own, limited to ``memory_mb`` and ``processes``; or None."""
    if not os.path.isfile("/proc/self/cgroup"):
        return None
    own, mounts = _own_groups(), _mounts()
    name = f"grade-{os.getpid()}-{secrets.token_hex(4)}"
    if "" in mounts and (root or mounts[""]) and "" in own:
        made = _create_v2(os.path.join(root or mounts[""], own[""].lstrip("/")), name, memory_mb, processes)
        if made is not None:
            return made
    if "memory" in mounts and "pids" in mounts:
        return _create_v1(mounts, own, name, memory_mb, processes)
    return None


def _sweep(parent: str) -> None:
    """Remove empty groups left by a grader that was killed outright (``grade-<pid>-...``)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith("grade-")]
    except OSError:
        return
    for name in names:
        pid = name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:  # still holds a process, or not ours to remove
                pass


def _create_v2(parent: str, name: str, memory_mb: int, processes: int) -> SubmissionCgroup | None:
    _sweep(parent)
    try:
        controllers = _read(os.path.join(parent, "cgroup.controllers")).split()
        if not {"memory", "pids"} <= set(controllers):
            return None
        enabled = _read(os.path.join(parent, "cgroup.subtree_control")).split()
        wanted = [c for c in ("memory", "pids", "cpu") if c in controllers and c not in enabled]
        if wanted:  # refused (EBUSY) when the grader's own group holds processes and is not the root
            _write(os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
        folder = os.path.join(parent, name)
        os.mkdir(folder)
    except OSError:
        return None
    group = SubmissionCgroup(2, {"": folder})
    try:
        _write(os.path.join(folder, "memory.max"), str(memory_mb << 20))
        if os.path.exists(os.path.join(folder, "memory.swap.max")):
            _write(os.path.join(folder, "memory.swap.max"), "0")
        _write(os.path.join(folder, "pids.max"), str(processes))
    except OSError:
        group.remove()
        return None
    return group


def _create_v1(mounts: dict, own: dict, name: str, memory_mb: int, processes: int) -> SubmissionCgroup | None:
    dirs: dict[str, str] = {}
    group = SubmissionCgroup(1, dirs)
    try:
        for controller in ("memory", "pids", "cpuacct"):
            if controller not in mounts:
                continue
            parent = os.path.join(mounts[controller], own.get(controller, "/").lstrip("/"))
            _sweep(parent)
            folder = os.path.join(parent, name)
            os.mkdir(folder)
            dirs[controller] = folder
        memory = dirs["memory"]
        _write(os.path.join(memory, "memory.limit_in_bytes"), str(memory_mb << 20))
        if os.path.exists(os.path.join(memory, "memory.memsw.limit_in_bytes")):
            _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), str(memory_mb << 20))
        _write(os.path.join(dirs["pids"], "pids.max"), str(processes))
    except (OSError, KeyError):
        group.remove()
        return None
    return group


def describe(group: SubmissionCgroup | None) -> str:
    if group is None:
        return "none"
    return "cgroup v2" if group.version == 2 else "cgroup v1"
