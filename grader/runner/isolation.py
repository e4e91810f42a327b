"""Which isolation a learner process gets on this machine, and the bubblewrap command for it.

Three modes, strongest first (``sandbox`` in every report):

``namespaces``
    The kernel's namespaces, through bubblewrap (``bwrap``, the sandbox Flatpak uses). The
    learner's process gets a private mount namespace in which it sees, read-only, only the
    Python runtime and the libraries it needs (``/usr``, the interpreter's prefix, its
    site-packages with the grader package masked), plus ``/work``: a private, size-limited
    scratch folder holding a copy of its own modules. No ``solutions/``, no grader source, no
    other learner, no home, no host ``/tmp`` or ``/dev/shm``. It also gets its own PID
    namespace (it sees and signals only its own processes; when it ends, all of them end),
    network (none), IPC and UTS namespaces, a new session, and ``--die-with-parent``. As
    root, bubblewrap builds the namespaces with root's privileges and the child switches to
    a fresh uid of its own before it runs anything (:func:`grader.runner.identity.become`);
    as an ordinary user, bubblewrap uses a user namespace.
``uid``
    Where namespaces are refused (a Docker container such as Gradescope's) but the grader is
    root: a fresh, unused uid per learner process, ``no_new_privs``, no capabilities. The
    kernel refuses it everything its uid may not do; files readable by every user stay
    readable (docs/security.md says what to lock away).
``none``
    Neither works (an ordinary user without bubblewrap, macOS): the learner's code runs as
    the grader's own user. Fine for practice; ``grade batch`` refuses it unless told
    ``--allow-weak-sandbox``.

``GRADE_SANDBOX=auto|namespaces|uid|none`` chooses; ``auto`` (the default) takes the
strongest that works here. Asking for a mode this machine cannot give is an error, not a
silent downgrade.
"""
from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import sysconfig

MODES = ("namespaces", "uid", "none")
SANDBOX_ENV = "GRADE_SANDBOX"
RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
GRADER_DIR = os.path.dirname(RUNNER_DIR)
# The child's own code: all of it, and nothing else of the grader, is visible to the child.
RUNNER_FILES = ("child.py", "wire.py", "expressions.py", "guard.py", "identity.py", "zygote.py")
CHILD_RUNNER = "/opt/grade-runner"  # where those files are, inside the namespace
CHILD_WORK = "/work"  # the learner's private scratch folder, inside the namespace


class SandboxUnavailable(Exception):
    """``GRADE_SANDBOX`` asks for a mode this machine cannot give (one paragraph)."""


def requested() -> str:
    value = os.environ.get(SANDBOX_ENV, "auto").strip().lower() or "auto"
    if value not in MODES + ("auto",):
        raise SandboxUnavailable(f"{SANDBOX_ENV}={value} is not a sandbox mode: use auto, namespaces, uid or none.")
    return value


def sandbox_mode(torch: bool = False) -> str:
    """The mode learner processes get here: "namespaces", "uid" or "none"."""
    wanted = requested()
    if wanted == "none":
        return "none"
    if wanted in ("auto", "namespaces"):
        problem = bwrap_problem()
        if problem is None:
            return "namespaces"
        if wanted == "namespaces":
            raise SandboxUnavailable(f"{SANDBOX_ENV}=namespaces, but {problem}")
    problem = uid_problem(torch)
    if problem is None:
        return "uid"
    if wanted == "uid":
        raise SandboxUnavailable(f"{SANDBOX_ENV}=uid, but {problem}")
    return "none"


def why_not_stronger(mode: str) -> str:
    """One sentence: why this machine gives ``mode`` and not namespaces (for messages)."""
    if mode == "namespaces":
        return ""
    if requested() == mode:
        return f"{SANDBOX_ENV}={mode} was asked for."
    return f"Namespaces are not available: {bwrap_problem()}."


# ---------------------------------------------------------------------------- namespaces


def bwrap_path() -> str | None:
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """None when bubblewrap can build the sandbox here; otherwise why not, in one clause."""
    path = bwrap_path()
    if path is None:
        return ("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)") if sys.platform.startswith("linux") else \
            "Linux namespaces exist only on Linux"
    command = [path, *base_arguments(as_root=os.geteuid() == 0), "--", real_executable(), "-I", "-S", "-c", ""]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not be started ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return ("bubblewrap is installed but the kernel refused it ("
                + (reason[-1][:200] if reason else f"exit code {done.returncode}")
                + "; inside Docker this is usual: run with --security-opt seccomp=unconfined and "
                  "--cap-add SYS_ADMIN, or let grading fall back to a uid of its own)")
    return None


@functools.lru_cache(maxsize=None)
def _bwrap_knows(option: str) -> bool:
    """Does this bubblewrap have ``option`` (newer ones do: Debian 12 has 0.8, Ubuntu 22.04 0.6)?"""
    try:
        text = subprocess.run([bwrap_path() or "bwrap", "--help"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return option.encode() in text


def real_executable() -> str:
    return os.path.realpath(sys.executable)


@functools.lru_cache(maxsize=None)
def runtime_paths() -> tuple[str, ...]:
    """Folders of the Python runtime and its installed packages that the child must read
    (found once per grader process: every learner process start asks)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(real_executable()))}
    paths |= {p for p in (sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")) if p}
    import site

    paths |= set(getattr(site, "getsitepackages", lambda: [])())
    for name in ("numpy", "torch"):  # wherever they are installed (a --target folder, a PYTHONPATH entry)
        folder = _package_parent(name)
        if folder:
            paths.add(folder)
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    # A folder inside another one is bound with it; "/" or a home folder never is.
    kept = [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in real)]
    return tuple(p for p in kept if p not in ("/", os.path.realpath(os.path.expanduser("~"))))


def _package_parent(name: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(os.path.dirname(spec.origin))


_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                 "/etc/alternatives", "/sys/devices/system/cpu")
_GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
                "/dev/dxg", "/dev/kfd")


def base_arguments(*, as_root: bool) -> list[str]:
    """Namespaces and the read-only system, common to every learner process and to the probe."""
    args = ["--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "grade"]
    if not as_root:  # an ordinary user builds the namespaces inside a user namespace
        args += ["--unshare-user"] + (["--disable-userns"] if _bwrap_knows("--disable-userns") else [])
    for path in _SYSTEM_DIRS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path in _SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    made = set()
    for path in runtime_paths():
        # The folders on the way are made searchable by anyone: bubblewrap would copy the
        # mode of /root (0700), and a child with a uid of its own could not reach Python.
        for parent in _ancestors(path):
            if parent not in made and not any(parent == d or parent.startswith(d + "/") for d in _SYSTEM_DIRS):
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for path in _gpu_devices():
        args += ["--dev-bind", path, path]
    args += ["--perms", "1777", "--size", str(64 << 20), "--tmpfs", "/tmp"]
    return args


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]``."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _gpu_devices() -> list[str]:
    found = [p for p in _GPU_DEVICES if os.path.exists(p)]
    try:
        found += sorted(f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("nvidia") and n[6:].isdigit())
    except OSError:
        pass
    return found


def masks(hidden: list[str]) -> list[str]:
    """Cover each folder of ``hidden`` that lies inside something bound (an installed grader
    package in site-packages, a repository under /usr/src) with an empty read-only tmpfs."""
    bound = [*_SYSTEM_DIRS, *runtime_paths()]
    args = []
    for path in sorted({os.path.realpath(p) for p in hidden if p}):
        inside = any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound)
        # Never a folder the runtime lives in (site-packages holds an installed grader).
        needed = any(b == path or b.startswith(path.rstrip("/") + "/") for b in bound)
        if inside and not needed and os.path.isdir(path):
            args += ["--perms", "0000", "--tmpfs", path, "--remount-ro", path]
    return args


def sandbox_arguments(*, as_root: bool, staged: str | None, scratch_mb: int, hidden: list[str],
                      env: dict[str, str], zygote: bool = False, runner_fds: dict | None = None) -> list[str]:
    """The whole bwrap command line (up to ``--``) for one learner process.

    ``staged`` holds the learner's modules (bound read-only at /work/src) and the runner's
    files (bound at /opt/grade-runner); /work itself is a fresh tmpfs of ``scratch_mb``.

    ``zygote``: the same sandbox for the warm grader's zygote (grader/runner/zygote.py),
    which holds no learner's modules (each process it forks gets its own /work, /tmp,
    /dev/shm and /proc) and keeps, besides what switching to a fresh uid takes, the
    capability to build those namespaces (``CAP_SYS_ADMIN``); an ordinary user's zygote gets
    ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP`` inside its own user namespace only. Each learner
    process it forks drops every capability before it runs anything of the learner's.
    ``runner_fds`` (``{file name: fd}``): the runner's files given as descriptors to copy
    (``--ro-bind-data``) instead of a staged folder, so nothing is left on disk.
    """
    args = [bwrap_path() or "bwrap", *base_arguments(as_root=as_root), *masks(hidden)]
    args += ["--perms", "1777", "--size", str(max(1, scratch_mb) << 20), "--tmpfs", CHILD_WORK]
    if not zygote:
        args += ["--ro-bind", os.path.join(staged, "src"), f"{CHILD_WORK}/src"]
    if runner_fds:
        for name, fd in runner_fds.items():
            args += ["--perms", "0644", "--ro-bind-data", str(fd), f"{CHILD_RUNNER}/{name}"]
    else:
        args += ["--ro-bind", os.path.join(staged, "runner"), CHILD_RUNNER]
    args += ["--perms", "1777", "--size", str(max(1, scratch_mb) << 20), "--tmpfs", "/dev/shm"]
    args += ["--chdir", CHILD_WORK, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if as_root:
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_SETPCAP"]  # just enough for the child to become its fresh uid
        if zygote:
            args += ["--cap-add", "CAP_SYS_ADMIN"]  # unshare and mount, for each learner process
    elif zygote:
        # Inside its own user namespace only (no more than the user has outside it): unshare
        # and mount for each learner process, and empty each one's bounding set (CAP_SETPCAP).
        args += ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
    return args + ["--"]


# ---------------------------------------------------------------------------- a uid of its own


def uid_problem(torch: bool = False) -> str | None:
    """None when a fresh uid can run the interpreter here; otherwise why not."""
    if not sys.platform.startswith("linux"):
        return "a uid of its own needs Linux"
    if os.geteuid() != 0:
        return "a uid of its own needs the grader to run as root"
    needed = [real_executable(), *runtime_paths()]
    closed = [p for p in needed if os.path.exists(p) and not others_can_reach(p)]
    if closed:
        return (f"{closed[0]} is not readable by other users, so a learner process with a uid of its "
                f"own could not even start Python (install Python where every user can read it)")
    return None


def others_can_reach(path: str) -> bool:
    """Can a user with no relation to the owner read ``path`` (every folder on the way searchable)?"""
    try:
        path = os.path.realpath(path)
        st = os.stat(path)
        if not st.st_mode & stat.S_IROTH or (stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH):
            return False
        parent = os.path.dirname(path)
        while True:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            if parent == os.path.dirname(parent):
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def uid_exposed(extra: list[str] | tuple = ()) -> list[str]:
    """Off-limits folders that a fresh uid could still read.

    ``uid`` mode keeps files away from learner code by their permissions alone: the
    reference solutions, the grader's own files (the quiz keys among them) and other
    learners' folders must not be readable by other users. ``grade batch`` refuses ``uid``
    mode while any of these is (``chmod -R o-rwx`` fixes it); ``grade`` warns.
    """
    candidates = [os.path.join(os.path.dirname(GRADER_DIR), "solutions"), GRADER_DIR, *extra]
    candidates += [d for d in os.environ.get("GRADE_FORBIDDEN_DIRS", "").split(os.pathsep) if d.strip()]
    return readable_by_others(list(dict.fromkeys(os.path.realpath(c) for c in candidates)))


def readable_by_others(paths: list[str]) -> list[str]:
    """Those of ``paths`` a fresh uid could read (what ``uid`` mode cannot hide: docs/security.md)."""
    return [p for p in paths if os.path.exists(p) and others_can_reach(p)]
