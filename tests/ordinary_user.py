"""Run a program as an ordinary user (``nobody``) from root, with this Python reachable.

For the tests and benchmarks of an ordinary user's sandbox (tests/test_warm_user.py,
benchmarks/stubs_user.py). Python and its packages often live under a folder other users
may not enter (``/root``, mode 0700): in a private mount namespace, each such folder is
covered by a tmpfs through which only the runtime's and the repository's folders are
bound back, then ``setpriv`` drops to ``nobody``. Nothing changes outside that namespace.
"""
from __future__ import annotations

import os
import pwd
import shlex
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.runner import isolation  # noqa: E402


def user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def command() -> tuple[list[str] | None, str]:
    """A command prefix that runs a program as ``nobody`` (as it is, for an ordinary user
    already: ``[]``), or (None, why not)."""
    if os.geteuid() != 0:
        return [], ""
    if not all(shutil.which(t) for t in ("unshare", "setpriv", "mount", "sh")):
        return None, "unshare, setpriv and mount (util-linux) are needed"
    nobody = user()
    if nobody is None:
        return None, "there is no user nobody"
    needed = sorted({isolation.real_executable(), *isolation.runtime_paths(), str(ROOT)})
    script, covered = ["set -e"], []
    for path in needed:
        for folder in [*_ancestors(path), path]:
            if folder in covered or not os.path.isdir(folder) or os.stat(folder).st_mode & 0o001:
                continue
            if folder == path or any(folder.startswith(c + "/") for c in covered):
                return None, f"{path} itself is closed to other users"
            covered.append(folder)
            saved = f"/tmp/.grade-as-nobody-{os.getpid()}{folder.replace('/', '-')}"
            script += [f"mkdir -p {shlex.quote(saved)}", f"mount --bind {shlex.quote(folder)} {shlex.quote(saved)}",
                       f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(folder)}"]
            for inner in sorted({folder + "/" + p[len(folder) + 1:].split("/")[0]
                                 for p in needed if p.startswith(folder + "/")}):
                script += [f"mkdir -p {shlex.quote(inner)}",
                           f"mount --bind {shlex.quote(saved + inner[len(folder):])} {shlex.quote(inner)}"]
            script += [f"umount -l {shlex.quote(saved)}", f"rmdir {shlex.quote(saved)}"]
    script.append(f'exec setpriv --reuid {nobody.pw_uid} --regid {nobody.pw_gid} --clear-groups "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "sh"], ""


def give(path: str | Path) -> None:
    """Make ``path`` (and everything in it) the ordinary user's, when root runs as nobody."""
    nobody = user()
    if os.geteuid() != 0 or nobody is None:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, nobody.pw_uid, nobody.pw_gid)


def environment(home: str | Path, **more: str) -> dict:
    """A small environment for the ordinary user: this Python first on PATH, the repository
    importable (an editable install may point elsewhere), ``home`` as HOME and TMPDIR."""
    return {"PATH": os.path.dirname(isolation.real_executable()) + ":/usr/bin:/bin", "HOME": str(home),
            "TMPDIR": str(home), "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT), **more}


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
