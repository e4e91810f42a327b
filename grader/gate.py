"""The one gate between a learner's folder and everything the grader reads from it.

Before anything from a submission is parsed, imported, linted or timed, :func:`snapshot`
copies what grading needs into a private folder (mode 0700) and the grader works only
from that copy. The copy holds:

- the ``*.py`` modules at the top of the folder, and
- the quiz answers ``quizzes/*.yaml`` (and ``*.yml``),

each one a *regular* file, opened without following links and without blocking
(``O_NOFOLLOW | O_NONBLOCK``), checked with ``fstat`` and read up to a size cap. So a
module that is a symlink to ``/dev/zero`` or to ``../../solutions``, a FIFO that would
block the grader forever, a device, or an 8 MB file that would take the linter half a
minute never reaches the grader: each is left out and named in :attr:`Snapshot.refused`
(shown as a warning). Code Python could load besides ``.py`` sources (``.pyc``, ``.so``,
``.pth``, packages) is refused the same way. Everything else in the folder (a README,
``.grade/``, hidden files, Python's own ``__pycache__``) is simply not copied.

A folder that is itself a symlink, or is not a folder, raises :class:`GateError`: a
learner whose ``exercises`` points at the solutions gets an error, never their marks.

Names may be any bytes: they are listed and copied as bytes and shown with
:func:`grader.text.show_name`.

The grader's own state files (``.grade/*.json``) are read through :func:`load_state_json`,
which bounds their size and nesting and sets a broken one aside instead of failing.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field

from .text import show_name

MB = 1 << 20
QUIZ_FOLDER = b"quizzes"
SOURCE_SUFFIXES = (b".py",)
ANSWER_SUFFIXES = (b".yaml", b".yml")
# Files Python could load as code besides a .py source, with what to call them.
CODE_SUFFIXES = {b".pyc": "is compiled code (.pyc)", b".pyo": "is compiled code (.pyo)",
                 b".so": "is compiled code (.so)", b".pyd": "is compiled code (.pyd)",
                 b".dylib": "is compiled code (.dylib)", b".dll": "is compiled code (.dll)",
                 b".pth": "is a .pth file"}
SILENT_FOLDERS = {b"__pycache__", QUIZ_FOLDER}  # Python's own cache; quizzes/ is read on its own
MAX_WARNINGS = 20  # a folder of 10 000 links gets 20 sentences and a count, not 10 000

SYMLINK = "is a symbolic link"
PACKAGE = "is a package (a folder of Python code)"
# Why each kind of file is left out, for the learner (see Snapshot.warnings).
_WHY = {
    SYMLINK: "only real files in your folder are read, never what a link points to",
    "is a FIFO": "a named pipe is not a file the grader can read",
    "is a socket": "a socket is not a file the grader can read",
    "is a device": "a device is not a file the grader can read",
    "is not a regular file": "only regular files are read",
    "is compiled code": "only .py sources are graded",
    "is a .pth file": "it could change what Python imports",
    PACKAGE: "only the .py files at the top of your folder are graded (put helpers there, as modules)",
}


class GateError(Exception):
    """The submission folder cannot be read at all; the message is one paragraph for the learner."""


@dataclass
class Refused:
    """One file or folder of the submission left out of the snapshot, and why."""

    name: str  # relative to the source folder, printable (grader.text.show_name)
    reason: str  # "is a symbolic link", "is larger than 1 MB (the limit for one file)", ...


@dataclass
class Snapshot:
    """A private copy of a submission: grade from ``root``, name ``source`` in messages."""

    root: str
    source: str
    refused: list[Refused] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """One sentence per refused file, naming it (at most ``MAX_WARNINGS``, then a count)."""
        shown = [self.sentence(r) for r in self.refused[:MAX_WARNINGS]]
        more = len(self.refused) - len(shown)
        if more > 0:
            shown.append(f"{more} more file{'s' * (more != 1)} in {show_name(self.source)} "
                         f"{'were' if more != 1 else 'was'} left out for the same kinds of reasons.")
        return shown

    def sentence(self, refused: Refused) -> str:
        """The warning about one refused file."""
        return _warning(self.source, refused)

    def refusal_of(self, name: str) -> Refused | None:
        """The refusal of ``name`` (a relative path such as ``vectors.py``), or None."""
        return next((r for r in self.refused if r.name == name), None)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _warning(source: str, refused: Refused) -> str:
    folder = show_name(source).rstrip("/") if source else ""
    path = f"{folder}/{refused.name}" if folder else refused.name
    why = next((text for start, text in _WHY.items() if refused.reason.startswith(start)), "")
    return f"{path} {refused.reason}, so the grader left it out" + (f": {why}." if why else ".")


# ----------------------------------------------------------------------------- the snapshot


def snapshot(source_dir: str, *, max_file_bytes: int = MB, max_total_bytes: int = 16 * MB,
             max_files: int = 500) -> Snapshot:
    """Copy the gradable files of ``source_dir`` into a private folder; see the module docstring.

    Raises GateError when ``source_dir`` itself is a symlink, not a folder, or unreadable.
    """
    source_fd = _open_folder(source_dir)
    root = tempfile.mkdtemp(prefix="grade-submission-")
    snap = Snapshot(root=root, source=source_dir)
    copier = _Copier(snap, max_file_bytes, max_total_bytes, max_files)
    try:
        copier.top_level(source_fd)
    except BaseException:
        snap.close()
        raise
    finally:
        os.close(source_fd)
    return snap


def _open_folder(source_dir: str) -> int:
    """An fd of ``source_dir`` opened without following a final symlink, or GateError."""
    shown = show_name(source_dir)
    path = os.path.normpath(source_dir)  # "exercises/" would follow a link named exercises
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise GateError(f"{shown}: no such folder.") from None
    except OSError as e:
        raise GateError(f"{shown} cannot be read ({e.strerror}).") from None
    if stat.S_ISLNK(st.st_mode):
        raise GateError(f"{shown} is a symbolic link, not a folder. The grader reads a submission only "
                        f"from a real folder, never from where a link points: copy your modules into a "
                        f"folder and grade that.")
    if not stat.S_ISDIR(st.st_mode):
        raise GateError(f"{shown} is not a folder: point the grader at the folder that holds your modules.")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link just now
            raise GateError(f"{shown} is a symbolic link or not a folder; the grader reads a submission "
                            f"only from a real folder.") from None
        raise GateError(f"{shown} cannot be read ({e.strerror}).") from None
    return fd


def _kind(mode: int) -> str | None:
    """Why a file of this type is refused, or None for a regular file or a folder."""
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISFIFO(mode):
        return "is a FIFO"
    if stat.S_ISSOCK(mode):
        return "is a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "is not a regular file"


def _size_text(n: int) -> str:
    if n % MB == 0:
        return f"{n // MB} MB"
    if n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"


class _Copier:
    """Walks the considered entries of one submission and fills its snapshot."""

    def __init__(self, snap: Snapshot, max_file: int, max_total: int, max_files: int):
        self.snap, self.max_file, self.max_total, self.max_files = snap, max_file, max_total, max_files
        self.total = 0
        self.count = 0

    def refuse(self, name: bytes, reason: str) -> None:
        self.snap.refused.append(Refused(show_name(name), reason))

    def top_level(self, fd: int) -> None:
        for name in sorted(os.fsencode(n) for n in os.listdir(fd)):
            if name.startswith(b"."):
                continue  # hidden: .grade/, .git, editor files; never code Python would import
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue  # gone since it was listed
            if name == QUIZ_FOLDER:
                self.quizzes(fd, st)
            elif name.endswith(SOURCE_SUFFIXES):
                self.copy(fd, name, name, st)
            elif name.endswith(tuple(CODE_SUFFIXES)):
                self.refuse(name, _kind(st.st_mode) or CODE_SUFFIXES[os.path.splitext(name)[1]])
            elif stat.S_ISDIR(st.st_mode) and name not in SILENT_FOLDERS and _holds_code(fd, name):
                self.refuse(name, PACKAGE)

    def quizzes(self, fd: int, st: os.stat_result) -> None:
        """``quizzes/*.yaml``: the answers; a ``quizzes`` that is a link is refused whole."""
        kind = _kind(st.st_mode)
        if kind is not None:
            self.refuse(QUIZ_FOLDER, kind)
            return
        if not stat.S_ISDIR(st.st_mode):
            return
        try:
            sub = os.open(QUIZ_FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError as e:
            self.refuse(QUIZ_FOLDER, SYMLINK if e.errno == errno.ELOOP else f"cannot be read ({e.strerror})")
            return
        try:
            for name in sorted(os.fsencode(n) for n in os.listdir(sub)):
                if name.startswith(b".") or not name.endswith(ANSWER_SUFFIXES):
                    continue
                try:
                    entry = os.stat(name, dir_fd=sub, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(entry.st_mode):
                    continue
                self.copy(sub, name, QUIZ_FOLDER + b"/" + name, entry)
        finally:
            os.close(sub)

    def copy(self, fd: int, name: bytes, relative: bytes, st: os.stat_result) -> None:
        """Copy one regular file (``name`` in folder ``fd``) to ``relative`` in the snapshot."""
        reason = _kind(st.st_mode) or ("is a folder, not a file" if stat.S_ISDIR(st.st_mode) else None)
        if reason is None:
            reason = self.over_a_cap(st.st_size)
        if reason is None:
            data, reason = _read_regular(name, fd, self.max_file)
        if reason is None:
            reason = self.over_a_cap(len(data))
        if reason is not None:
            self.refuse(relative, reason)
            return
        target = os.path.join(os.fsencode(self.snap.root), relative)
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(out, "wb") as f:
            f.write(data)
        self.total += len(data)
        self.count += 1

    def over_a_cap(self, size: int) -> str | None:
        if size > self.max_file:
            return f"is larger than {_size_text(self.max_file)} (the limit for one file)"
        if self.total + size > self.max_total:
            return f"would take the submission past {_size_text(self.max_total)} (the limit for a whole submission)"
        if self.count >= self.max_files:
            return f"is one file too many (the limit is {self.max_files} files in a submission)"
        return None


def _holds_code(fd: int, name: bytes) -> bool:
    """Whether the folder ``name`` could be imported as a package (it holds .py or compiled code)."""
    try:
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return False
    try:
        return any(n.endswith(SOURCE_SUFFIXES + tuple(CODE_SUFFIXES)) for n in map(os.fsencode, os.listdir(sub)))
    except OSError:
        return False
    finally:
        os.close(sub)


def _read_regular(name, dir_fd: int | None, max_bytes: int) -> tuple[bytes, str | None]:
    """The bytes of a regular file, read without following a link or blocking; or (b"", why not).

    ``O_NONBLOCK`` makes opening a FIFO return at once; ``fstat`` on the open file (not
    the name, which could be swapped) decides; the read stops one byte past the cap.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return b"", SYMLINK
        if e.errno == errno.ENXIO:  # a socket, or a FIFO's other end
            return b"", "is not a regular file"
        return b"", f"cannot be read ({e.strerror})"
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind is not None or not stat.S_ISREG(st.st_mode):
            return b"", kind or "is not a regular file"
        if st.st_size > max_bytes:
            return b"", f"is larger than {_size_text(max_bytes)} (the limit for one file)"
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while being read
            return b"", f"is larger than {_size_text(max_bytes)} (the limit for one file)"
        return b"".join(chunks), None
    except OSError as e:
        return b"", f"cannot be read ({e.strerror})"
    finally:
        os.close(fd)


def read_file(path: str, *, max_bytes: int = MB, shown_as: str | None = None) -> bytes:
    """One file the grader reads outside a snapshot (a learner's answers, a module to hash).

    The same rules as :func:`snapshot` for a single file: a regular file of at most
    ``max_bytes``, the last name not a link. Raises FileNotFoundError when it is missing
    and GateError (naming ``shown_as`` or ``path``) when it is refused or unreadable.
    """
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    data, reason = _read_regular(path, None, max_bytes)
    if reason is not None:
        raise GateError(_warning(os.path.dirname(shown_as or path), Refused(os.path.basename(shown_as or path), reason)))
    return data


# ----------------------------------------------------------------------------- state files

# Escapes first (so a string is then just quote to quote), then strings and brackets: enough to
# measure nesting in one linear pass, without parsing and without recursion.
_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_JSON_TOKENS = re.compile(rb'"[^"]*"|[\[\]{}]')


def json_depth(data: bytes, stop_above: int | None = None) -> int:
    """How deeply ``data`` (JSON text) nests lists and objects (stops early past ``stop_above``)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(_JSON_ESCAPE.sub(b"", data)):
        t = token.group()
        if t in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif t in (b"]", b"}"):
            depth -= 1
    return deepest


def load_state_json(path: str, *, max_bytes: int = MB, max_depth: int = 32) -> tuple[object | None, str | None]:
    """``(data, warning)`` from one of the grader's own state files; never raises.

    A missing file is ``(None, None)``. One that is not a regular file, larger than
    ``max_bytes``, nested deeper than ``max_depth`` or not JSON is renamed aside to
    ``<name>.broken`` (removed if that fails) and ``(None, warning)`` returned: the state
    only feeds displays, so grading goes on without it.
    """
    if not os.path.lexists(path):
        return None, None
    data, reason = _read_regular(path, None, max_bytes)
    value = None
    if reason is None and json_depth(data, max_depth) > max_depth:
        reason = f"is nested more than {max_depth} levels deep"
    if reason is None:
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as e:
            reason = f"is not valid JSON ({type(e).__name__})"
    if reason is None:
        return value, None
    return None, _set_aside(path, reason)


def _set_aside(path: str, reason: str) -> str:
    aside = path + ".broken"
    try:
        if os.path.isdir(aside) and not os.path.islink(aside):
            raise OSError("a folder is in the way")
        os.replace(path, aside)
        where = f"it was moved to {show_name(aside)}"
    except OSError:
        try:
            os.unlink(path)
            where = "it was removed"
        except OSError:
            where = "it could not be moved aside"
    return (f"the grader's state file {show_name(path)} {reason}, so {where} and a fresh one is started: "
            f"grading is not affected, but grade list and hints forget the earlier runs.")


__all__ = ["GateError", "Refused", "Snapshot", "snapshot", "read_file", "load_state_json", "json_depth"]
