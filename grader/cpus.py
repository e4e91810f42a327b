"""How many CPUs this process may really use: ``grade --jobs``'s default.

``os.cpu_count()`` counts the machine's cores, not the ones a container or a job
scheduler lends this process. A Gradescope or CI container on a 64-core host may hold a
quota of 2 CPUs; 64 worker processes there only fight over them (and each holds memory).
:func:`usable_cpus` takes the smallest of

- the CPUs the process may be scheduled on (``os.sched_getaffinity(0)``, where it exists),
- the cgroup CPU quota, rounded up: cgroup v2 ``cpu.max`` (``"max 100000"`` means none,
  ``"200000 100000"`` two CPUs), or v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
  (a quota of -1 means none),

never more than ``os.cpu_count()``, and at least 1.
"""
from __future__ import annotations

import math
import os

CGROUP_ROOT = "/sys/fs/cgroup"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroup_dirs(root: str) -> list[str]:
    """The folders that may hold this process's CPU limits: its own cgroup's, then the root's.

    /proc/self/cgroup names the cgroup (``0::/path`` on v2, ``N:cpu,cpuacct:/path`` on v1);
    inside a container it is usually ``/`` and the limits sit at the mount point itself.
    """
    dirs = []
    text = _read("/proc/self/cgroup") or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.lstrip("/")
        if controllers == "":
            dirs.append(os.path.join(root, path))
        elif "cpu" in controllers.split(","):
            for sub in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
                dirs.append(os.path.join(root, sub, path))
    dirs += [root, os.path.join(root, "cpu,cpuacct"), os.path.join(root, "cpu")]
    seen, unique = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def _limit_in(folder: str) -> float | None:
    v2 = _read(os.path.join(folder, "cpu.max"))
    if v2 is not None:
        fields = v2.split()
        try:
            quota = int(fields[0])
            period = int(fields[1]) if len(fields) > 1 else 100000
        except (IndexError, ValueError):  # "max ...": no quota
            return None
        return quota / period if quota > 0 and period > 0 else None
    quota, period = (_read(os.path.join(folder, "cpu.cfs_quota_us")),
                     _read(os.path.join(folder, "cpu.cfs_period_us")))
    try:
        q, p = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None  # v1: a quota of -1 means none


def cgroup_cpu_limit(root: str = CGROUP_ROOT) -> float | None:
    """The cgroup CPU quota in CPUs (e.g. 1.5), or None where there is none or it cannot be read.

    The smallest quota of this process's own cgroup and of the mount point (a container's).
    """
    limits = [limit for limit in map(_limit_in, _own_cgroup_dirs(root)) if limit is not None]
    return min(limits) if limits else None


def usable_cpus(root: str = CGROUP_ROOT) -> int:
    """The CPUs this process may use: affinity, cgroup quota, and os.cpu_count(), the smallest; >= 1."""
    total = os.cpu_count() or 1
    counts = [total]
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            counts.append(len(affinity(0)))
        except OSError:
            pass
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        counts.append(math.ceil(limit))
    return max(1, min(counts))
