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


def resolve(ref: str, root: str, on_note=None) -> str:
    """The commit id of ``ref``; RefError naming the branches there are if it is unknown.

    In a clone, a branch of the original repository is often there only as
    ``origin/<ref>`` (``git clone`` makes a local branch for the default one alone): then
    that is used, and ``on_note`` (if given) gets one line that says so.
    """
    if ref.startswith("-"):
        raise RefError(f"--ref {ref}: a ref cannot start with '-'.")
    proc = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if proc.returncode != 0:
        remote = _git(["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{ref}^{{commit}}"], root)
        if remote.returncode == 0 and remote.stdout.strip():
            if on_note is not None:
                on_note(f"--ref {ref}: there is no local branch '{ref}' here, so origin/{ref} is used "
                        f"(git fetch origin updates it).")
            return remote.stdout.strip()
        branches = _git(["for-each-ref", "--format=%(refname:short)", "refs/heads"], root).stdout.split()
        remotes = [b for b in _git(["for-each-ref", "--format=%(refname:short)", "refs/remotes"],
                                   root).stdout.split() if not b.endswith("/HEAD")]
        known = f" The branches here are: {', '.join(branches)}." if branches else ""
        if remotes:
            known += f" Remote branches: {', '.join(remotes)}."
        raise RefError(f"--ref {ref}: there is no branch, tag or commit called '{ref}' in {root}.{known}")
    return proc.stdout.strip()


def extract(ref: str, folder: str, dest: str, root: str | None = None, on_note=None) -> str:
    """Unpack ``folder`` (a path inside the working tree) as it is at ``ref`` into ``dest``.

    Returns the path of the unpacked folder inside ``dest``.
    """
    abs_folder = os.path.realpath(folder)
    root = root or repo_root(abs_folder if os.path.isdir(abs_folder) else ".")
    rel = os.path.relpath(abs_folder, os.path.realpath(root))
    if rel.startswith(".."):
        raise RefError(f"{folder} is outside the git repository {root}.")
    rel = rel.replace(os.sep, "/")
    commit = resolve(ref, root, on_note)
    proc = _git(["archive", "--format=tar", commit, "--", rel], root, binary=True)
    if proc.returncode != 0:
        raise RefError(f"'{ref}' has no folder {rel} (git archive: {_err(proc)}).")
    base = unpack_tar(proc.stdout, dest)
    out = os.path.join(base, *rel.split("/")) if rel != "." else base
    if not os.path.isdir(out):
        raise RefError(f"'{ref}' has no folder {rel}.")
    return out


def unpack_tar(data: bytes, dest: str) -> str:
    """Unpack a tar made by ``git archive`` into ``dest``: regular files and folders only (no
    links, nothing outside ``dest``). Returns ``dest``'s real path."""
    base = os.path.realpath(dest)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        safe = []
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(base, member.name))
            if (member.isfile() or member.isdir()) and (target == base or target.startswith(base + os.sep)):
                safe.append(member)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(base, members=safe, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(base, members=safe)
    return base


def source_at_ref(ref: str, folder: str, on_note=None) -> str:
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
        return extract(ref, folder, tmp, on_note=on_note)
    except BaseException:
        cleanup()
        raise


def source_at_ref_or_fail(ref: str, folder: str) -> str:
    """:func:`source_at_ref` for the CLI: a RefError becomes a set-up error (exit code 2)."""
    import click

    from ..context import fail_setup

    try:
        return source_at_ref(ref, folder, on_note=lambda line: click.echo(line, err=True))
    except RefError as e:
        fail_setup(str(e))


# ----------------------------------------------------------------------------- a learner's history

# The configuration git reads for a learner's repository: none of the machine's or the
# teacher's (no system or global file), no hooks, no file:// transport, no fsmonitor or
# pager to start. rev-list, ls-tree and cat-file run nothing configured anyway (no filters,
# no attributes); these make sure.
_SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=never",
                "-c", "core.fsmonitor=false", "-c", "core.pager=cat", "-c", "core.attributesFile=/dev/null"]


def _learner_git(git_dir: str, args: list[str], *, binary: bool = False,
                 stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0",
               GIT_NO_REPLACE_OBJECTS="1")
    try:
        return subprocess.run(["git", *_SAFE_CONFIG, f"--git-dir={git_dir}", *args], cwd=git_dir,
                              capture_output=True, text=not binary, env=env, timeout=120,
                              **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}))
    except FileNotFoundError:
        raise RefError("--before needs git, and the git command was not found.") from None
    except subprocess.TimeoutExpired:
        raise RefError(f"git {args[0]} took longer than two minutes.") from None


def git_dir_of(folder: str) -> str | None:
    """``folder/.git`` when it is a real folder (not a link, not a ``gitdir:`` file), else None.

    Only the folder's own ``.git`` counts: a folder that is not a repository of its own
    is never taken for the repository it happens to sit in.
    """
    path = os.path.join(folder, ".git")
    try:
        import stat

        return path if stat.S_ISDIR(os.lstat(path).st_mode) else None
    except OSError:
        return None


def commit_before(git_dir: str, deadline: str) -> tuple[str, str] | None:
    """``(commit, committer date in ISO 8601)`` of the last commit of HEAD committed at or
    before ``deadline`` (a date git reads, e.g. ``2026-12-01 23:59:59 +0000``); None if
    there is none (or no commit at all). RefError if git cannot read the repository."""
    head = _learner_git(git_dir, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    if head.returncode != 0 and not _err(head):
        return None  # a repository without a commit
    proc = _learner_git(git_dir, ["rev-list", "-1", f"--before={deadline}", "--format=%cI", "HEAD", "--"])
    if proc.returncode != 0:
        raise RefError(f"git could not read the history: {_err(proc)[:300]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("commit "):
        return None
    return lines[0].split()[1], lines[1].strip()


EXPORT_LIMIT = 64 * 1024 * 1024  # bytes of one commit's exercises/ (the grader's own snapshot takes 16 MB)


def export_commit(git_dir: str, commit: str, dest: str, path: str) -> str | None:
    """The folder ``path`` of ``commit``, written into ``dest/path``: regular files and
    folders only (no links, no submodules), each file's bytes exactly as committed.

    The blobs are read with ``git cat-file --batch``, not ``git archive``: archive applies
    the repository's smudge filters and ``export-subst``, which a ``.git/config`` that came
    with a submission could turn into commands. Returns the folder, or None when the commit
    has no such folder; RefError if git fails or the folder is too large.
    """
    listing = _learner_git(git_dir, ["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", path], binary=True)
    if listing.returncode != 0:
        raise RefError(_err(listing)[:300])
    files, total = [], 0
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob" or fields[0] not in (b"100644", b"100755"):
            continue  # links, submodules
        parts = name.split(b"/")
        if any(p in (b"", b".", b"..") for p in parts):
            continue
        total += int(fields[3])
        if total > EXPORT_LIMIT:
            raise RefError(f"{path}/ holds more than {EXPORT_LIMIT // 2**20} MB in commit {commit[:12]}")
        files.append((fields[2].decode("ascii"), parts))
    if not files:
        return None
    proc = _learner_git(git_dir, ["cat-file", "--batch"], binary=True,
                        stdin="".join(f"{oid}\n" for oid, _ in files).encode("ascii"))
    if proc.returncode != 0:
        raise RefError(_err(proc)[:300])
    data, at = proc.stdout, 0
    base = os.path.realpath(dest)
    for oid, parts in files:
        eol = data.index(b"\n", at)
        header = data[at:eol].split()
        if len(header) != 3 or header[0].decode("ascii") != oid or header[1] != b"blob":
            raise RefError(f"git cat-file gave an unexpected answer for {oid}")
        size = int(header[2])
        content = data[eol + 1:eol + 1 + size]
        at = eol + 1 + size + 1
        target = os.path.join(base, *[os.fsdecode(p) for p in parts])
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
    return os.path.join(base, *path.split("/"))
