"""Who a learner process runs as: a fresh uid with no way back, and no capabilities.

Used on both sides of the process boundary, so it imports nothing from the grader:

- by the grader (:mod:`grader.runner.sandbox`) in ``uid`` mode, between fork and exec;
- by the child (:mod:`grader.runner.child`, loaded by file path) in ``namespaces`` mode
  when the grader is root: bubblewrap then builds the namespaces with root's privileges,
  and the child switches to its fresh uid as its very first step, before Python has
  imported anything of the learner's. A fresh uid is what makes the kernel count the
  learner's processes (``RLIMIT_NPROC``) apart from every other process on the machine;
- by an ordinary user's learner process forked by the warm grader (:mod:`grader.runner.zygote`),
  which keeps the user's uid and gives up the capabilities its zygote holds inside its
  user namespace (:func:`drop_capabilities`).
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
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
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

    _no_way_up(ctypes, c, check)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # a uid change from root clears the permitted and effective sets
    if os.getuid() == 0 or os.geteuid() == 0 or _capabilities()["CapEff"]:
        raise OSError("the learner process still has privileges")


def drop_capabilities() -> None:
    """Give up every capability for good, keeping the uid (an ordinary user's warm learner
    process, forked by a zygote that holds ``CAP_SYS_ADMIN`` in its own user namespace):
    afterwards it holds what a process bubblewrap starts for that user holds, nothing.

    Raises OSError if any capability set is not empty afterwards.
    """
    ctypes, c = libc()

    def check(result, what):
        if result != 0:
            raise OSError(ctypes.get_errno(), f"{what} failed")

    _no_way_up(ctypes, c, check)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):  # effective, permitted, inheritable: 32 capabilities each
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    empty = (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3 takes two of them (64 capabilities)
    check(c.capset(ctypes.byref(Header(_LINUX_CAPABILITY_VERSION_3, 0)), empty), "capset")
    held = {name: value for name, value in _capabilities().items() if value}
    if held:
        raise OSError(f"the learner process still holds capabilities ({', '.join(sorted(held))})")


def _no_way_up(ctypes, c, check) -> None:
    """No setuid program or file capability can raise it again; an empty bounding and
    ambient set (what bubblewrap gives every process it starts)."""
    check(c.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    for cap in range(64):  # empty the bounding set (EINVAL past the last capability)
        c.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    c.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def _capabilities() -> dict:
    """This process's capability sets, from /proc/self/status (``{"CapEff": bits, ...}``)."""
    sets = {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                name = line.split(":", 1)[0]
                if name in sets:
                    sets[name] = int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return sets


def die_with_parent() -> None:
    """SIGKILL this process when the thread that started it ends (``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        try:
            libc()[1].prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def make_undumpable() -> None:
    """Keep same-user processes out of this process's memory and environment (/proc/PID/mem)."""
    _set_dumpable(0)


def make_dumpable() -> None:
    """Undo :func:`make_undumpable` (inherited across a fork): an ordinary user's warm learner
    process is, as one bubblewrap starts for that user, its user's to inspect (the grader
    finds it by its token in /proc/PID/environ)."""
    _set_dumpable(1)


def _set_dumpable(value: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc()[1].prctl(_PR_SET_DUMPABLE, value, 0, 0, 0)
        except (OSError, AttributeError):
            pass
