"""Who a learner process runs as: a fresh uid with no way back, and no capabilities.

Used on both sides of the process boundary, so it imports nothing from the grader:

- by the grader (:mod:`grader.runner.sandbox`) in ``uid`` mode, between fork and exec;
- by the child (:mod:`grader.runner.child`, loaded by file path) in ``namespaces`` mode
  when the grader is root: bubblewrap then builds the namespaces with root's privileges,
  and the child switches to its fresh uid as its very first step, before Python has
  imported anything of the learner's. A fresh uid is what makes the kernel count the
  learner's processes (``RLIMIT_NPROC``) apart from every other process on the machine.
"""
import os
import sys

UID_RANGE = (1_900_000_000, 2_000_000_000)  # fresh uids for children; no account needed

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_SET_DUMPABLE = 4
_PR_SET_PDEATHSIG = 1
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_libc_cache = []


def libc():
    """The C library (loaded once; call it in the parent before forking)."""
    if not _libc_cache:
        import ctypes

        _libc_cache.append((ctypes, ctypes.CDLL(None, use_errno=True)))
    return _libc_cache[0]


def become(uid: int) -> None:
    """Switch to ``uid`` for good: no setuid programs, no capabilities, no supplementary groups.

    Raises OSError if any step fails, so a child that could not drop root never runs
    learner code.
    """
    ctypes, c = libc()

    def check(result, what):
        if result != 0:
            raise OSError(ctypes.get_errno(), f"{what} failed")

    check(c.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    for cap in range(64):  # empty the bounding set (EINVAL past the last capability)
        c.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    c.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # a uid change from root clears the permitted and effective sets
    if os.getuid() == 0 or os.geteuid() == 0 or _effective_capabilities():
        raise OSError("the learner process still has privileges")


def _effective_capabilities() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def die_with_parent() -> None:
    """SIGKILL this process when the thread that started it ends (``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        try:
            libc()[1].prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def make_undumpable() -> None:
    """Keep same-user processes out of this process's memory and environment (/proc/PID/mem)."""
    if sys.platform.startswith("linux"):
        try:
            libc()[1].prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass
