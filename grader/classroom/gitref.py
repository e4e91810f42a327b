"""The exercises as they stand at a git ref, without touching the working tree.

``grade --ref solutions`` and ``grade compare`` need the modules of another branch or
commit. ``git archive REF -- <path>`` streams that folder as a tar; it is unpacked into a
fresh temporary directory (regular files and folders only: no links, nothing outside
it), which is removed when the command ends. The index, HEAD and the files in the
working tree are never touched.
"""
from __future__ import annotations

import atexit
import io
import os
import shutil
import subprocess
import tarfile
import tempfile


class RefError(Exception):
    """The ref cannot be used (no git, not a repository, unknown ref, folder missing)."""


def _git(args: list[str], cwd: str, *, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=not binary,
                              stdin=subprocess.DEVNULL, timeout=120)
    except FileNotFoundError:
        raise RefError("--ref needs git, and the git command was not found. Install git, or grade "
                       "a folder with --source DIR instead.") from None
    except subprocess.TimeoutExpired:
        raise RefError(f"git {' '.join(args[:2])} took longer than two minutes.") from None


def _err(proc) -> str:
    text = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode("utf-8", "replace")
    return " ".join(text.strip().split())


def repo_root(start: str = ".") -> str:
    proc = _git(["rev-parse", "--show-toplevel"], os.path.abspath(start))
    if proc.returncode != 0:
        raise RefError(f"--ref grades the exercises as they are in a git branch or commit, but "
                       f"{os.path.abspath(start)} is not inside a git repository. Run grade from "
                       f"your course repository.")
    return proc.stdout.strip()


def resolve(ref: str, root: str) -> str:
    """The commit id of ``ref``; RefError naming the branches there are if it is unknown."""
    if ref.startswith("-"):
        raise RefError(f"--ref {ref}: a ref cannot start with '-'.")
    proc = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if proc.returncode != 0:
        branches = _git(["for-each-ref", "--format=%(refname:short)", "refs/heads"], root).stdout.split()
        known = f" The branches here are: {', '.join(branches)}." if branches else ""
        raise RefError(f"--ref {ref}: there is no branch, tag or commit called '{ref}' in {root}.{known}")
    return proc.stdout.strip()


def extract(ref: str, folder: str, dest: str, root: str | None = None) -> str:
    """Unpack ``folder`` (a path inside the working tree) as it is at ``ref`` into ``dest``.

    Returns the path of the unpacked folder inside ``dest``.
    """
    abs_folder = os.path.realpath(folder)
    root = root or repo_root(abs_folder if os.path.isdir(abs_folder) else ".")
    rel = os.path.relpath(abs_folder, os.path.realpath(root))
    if rel.startswith(".."):
        raise RefError(f"{folder} is outside the git repository {root}.")
    rel = rel.replace(os.sep, "/")
    commit = resolve(ref, root)
    proc = _git(["archive", "--format=tar", commit, "--", rel], root, binary=True)
    if proc.returncode != 0:
        raise RefError(f"'{ref}' has no folder {rel} (git archive: {_err(proc)}).")
    base = os.path.realpath(dest)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r:") as tar:
        safe = []
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(base, member.name))
            if (member.isfile() or member.isdir()) and (target == base or target.startswith(base + os.sep)):
                safe.append(member)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(base, members=safe, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(base, members=safe)
    out = os.path.join(base, *rel.split("/")) if rel != "." else base
    if not os.path.isdir(out):
        raise RefError(f"'{ref}' has no folder {rel}.")
    return out


def source_at_ref(ref: str, folder: str) -> str:
    """``folder`` as it is at ``ref``, unpacked into a temporary directory.

    The directory is removed when the click command ends (or, failing that, at exit).
    """
    tmp = tempfile.mkdtemp(prefix="grade-ref-")
    cleanup = lambda: shutil.rmtree(tmp, ignore_errors=True)  # noqa: E731
    try:
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.call_on_close(cleanup)
    except ImportError:  # pragma: no cover
        pass
    atexit.register(cleanup)
    try:
        return extract(ref, folder, tmp)
    except BaseException:
        cleanup()
        raise


def source_at_ref_or_fail(ref: str, folder: str) -> str:
    """:func:`source_at_ref` for the CLI: a RefError becomes a set-up error (exit code 2)."""
    from ..cli import fail_setup

    try:
        return source_at_ref(ref, folder)
    except RefError as e:
        fail_setup(str(e))
