"""``grade verify``: is what will run the grader and course that were released, untouched?

A release ships a hash manifest, ``grader/MANIFEST.sha256``, in ``sha256sum`` format::

    # dlgrade 0.1.0 release manifest (sha256sum -c compatible from the release root)
    # paths: grader solutions tests .github/workflows
    3f5c...e1  grader/course.yaml
    9ab0...77  grader/runner/sandbox.py
    51d2...0c  .github/workflows/classroom.yml
    ...

Paths are relative to the release root. ``grade verify`` checks what will run:

- **the installed grader** (wherever ``import grader`` finds it: a wheel in site-packages or
  an editable checkout) against every ``grader/`` entry: the code, the course file
  ``grader/course.yaml`` and the quiz keys ``grader/quizzes/*.yaml``;
- **this repository's own** ``grader/`` **copy**, when the folder verified (``root``) holds
  one and it is not the same files as the installed grader (``python -m grader`` run from
  the repository imports that copy, not the installed one);
- ``solutions/`` (the timed runs measure against it) in the repository and beside the
  installed grader: checked against the manifest when the release has it, every file
  reported as ``added`` when the release has none;
- every other entry (tests, workflow files, ``.ci/``) against the repository;
- **bytecode**: every file in a ``__pycache__`` of the grader copies and of ``solutions/``,
  and any ``.pyc`` beside them. Python runs a ``.pyc`` instead of its source when the
  header matches (the source's mtime and size, or its hash, or an unchecked hash), so a
  header proves nothing: each one is unmarshalled (never run) and compared with the code
  compiled from the source next to it. Bytecode that was not compiled from its source, has
  no source, or is for another Python is reported;
- **start-up files** of this Python (when the installed grader is checked): ``.pth`` files,
  ``sitecustomize`` and ``usercustomize`` in the site-packages folders. Python runs them
  before the grader starts. dlgrade's own (the editable install's ``.pth``, as its RECORD
  lists it) is expected; one that another installed package's RECORD lists with the same
  hash is a note; any other, or one that differs from its RECORD, is a problem. Nothing is
  removed: verify only reads.

Problems (:class:`Problem`, ``kind``):

- ``edited``: the file's hash differs from the manifest;
- ``missing``: the manifest lists it, the disk does not have it;
- ``added``: a file in a grader copy, or in a folder of the repository the manifest
  covers (``tests/``, ``.github/workflows/``, ...), that the manifest does not list;
- ``bytecode``: a ``.pyc`` that does not come from its source (see above);
- ``startup``: a ``.pth``/``sitecustomize``/``usercustomize`` that is not dlgrade's own and
  no installed package accounts for;
- ``environment``: ``DLGRADE_QUIZ_DIR`` or ``GRADE_SOLUTIONS`` sends the grader to quiz keys
  or reference solutions outside the release;
- ``manifest``: there is no manifest, or the manifest itself is not the published one
  (``expect_sha256``).

For the release step (``grade release``)::

    from grader.verify import write_manifest, verify
    path = write_manifest(root, ["grader", "tests", ".github/workflows", ".ci"])
    problems = verify(class_repo_root)       # [] when everything matches

The manifest proves nothing against someone who can also rewrite the manifest: publish
its own hash (printed by ``grade verify --write-manifest``) with the release, and check it
with ``grade verify --expect-sha256 HASH``. Nor does it hold against someone who can write
to the machine that grades (the teacher's): they can change Python itself, or any package
the grader imports. See docs/security.md.
"""
from __future__ import annotations

import base64
import hashlib
import os
import sys
from dataclasses import dataclass, field

GRADER_DIR = os.path.dirname(os.path.abspath(__file__))
MANIFEST_NAME = "MANIFEST.sha256"
MANIFEST_PATH = os.path.join(GRADER_DIR, MANIFEST_NAME)
DEFAULT_PATHS = ("grader", "solutions", "tests", ".github/workflows", ".ci")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".git", ".grade", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
_SKIP_NAMES = {".DS_Store", MANIFEST_NAME}
# What the grader reads from the environment (grader/quiz/model.py, grader/timing/check.py).
QUIZ_DIR_ENV = "DLGRADE_QUIZ_DIR"
SOLUTIONS_ENV = "GRADE_SOLUTIONS"
_STARTUP_MODULES = {"sitecustomize", "usercustomize"}
_OWN_DISTRIBUTION = "dlgrade"

PLACES = {
    "grader": "the installed grader",
    "repository grader": "this repository's grader/",
    "repository": "this repository",
    "installed solutions": "the solutions beside the installed grader",
    "site-packages": "a start-up file of this Python",
    "environment": "the environment",
}


@dataclass(frozen=True)
class Problem:
    kind: str  # "edited", "missing", "added", "bytecode", "startup", "environment", "manifest"
    path: str  # relative to the release root ("grader/course.yaml"); a start-up file's full path
    where: str  # a key of PLACES, or "manifest"
    detail: str = ""

    def __str__(self) -> str:
        place = PLACES.get(self.where, self.where)
        text = {"edited": f"{self.path} was edited ({place})",
                "missing": f"{self.path} is missing ({place})",
                "added": f"{self.path} is not part of the release ({place})",
                "bytecode": f"{self.path} ({place})",
                "startup": f"{self.path} ({place})"}.get(self.kind, self.detail)
        if self.kind not in ("manifest", "environment") and self.detail:
            text += f": {self.detail}"
        return text


@dataclass
class Verification:
    """What :func:`examine` found: the problems, and what was checked (for people)."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[tuple[str, str]] = field(default_factory=list)  # (what, how it stands)
    notes: list[str] = field(default_factory=list)  # findings that are not problems


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_under(base: str, rel: str):
    """Relative paths (with '/') of the release's files under ``base/rel``, caches skipped."""
    start = os.path.join(base, rel)
    if os.path.isfile(start):
        yield rel.replace(os.sep, "/")
        return
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name in _SKIP_NAMES or name.endswith(_SKIP_SUFFIXES):
                continue
            yield os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/")


def write_manifest(root: str, paths=DEFAULT_PATHS, output: str | None = None) -> str:
    """Hash every file under ``paths`` (relative to ``root``) into a manifest; its path.

    By default the manifest goes to ``root/grader/MANIFEST.sha256``, inside the package,
    so it ships with the wheel (pyproject's package-data lists it). Paths that do not
    exist are left out (a class release has no ``solutions/``).
    """
    root = os.path.abspath(root)
    entries = {}
    for rel in paths:
        if os.path.exists(os.path.join(root, rel)):
            for path in _files_under(root, rel):
                entries[path] = sha256_of(os.path.join(root, path))
    output = output or os.path.join(root, "grader", MANIFEST_NAME)
    try:
        from importlib.metadata import version

        release = f"dlgrade {version('dlgrade')}"
    except Exception:  # noqa: BLE001 - not installed: still a valid manifest
        release = "dlgrade"
    covered = [rel.replace(os.sep, "/").strip("/") for rel in paths if os.path.exists(os.path.join(root, rel))]
    lines = [f"# {release} release manifest (sha256sum -c compatible from the release root)",
             f"# paths: {' '.join(covered)}"]
    lines += [f"{digest}  {path}" for path, digest in sorted(entries.items())]
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, output)
    return output


def read_manifest(path: str, covered: list | None = None) -> dict[str, str]:
    """``{relative path: sha256}``; raises ValueError naming the line of a malformed entry.

    ``covered``, if given, receives the folders the manifest was made from (its ``# paths:``).
    """
    entries = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# paths:") and covered is not None:
                covered.extend(p for p in line[len("# paths:"):].split() if ".." not in p.split("/"))
            if not line.strip() or line.startswith("#"):
                continue
            digest, sep, rel = line.partition("  ")
            if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or \
                    not rel or rel.startswith("/") or ".." in rel.split("/"):
                raise ValueError(f"{path}, line {number}: not a 'sha256  path' entry")
            entries[rel] = digest
    return entries


# ----------------------------------------------------------------------------- bytecode


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def bytecode_problem(pyc: str, source: str, optimize: int = 0) -> str | None:
    """Why the bytecode file ``pyc`` is not ``source`` compiled, or None when it is.

    The header is not trusted (a poisoned file can carry the source's mtime and size):
    the code object is unmarshalled (marshal builds it, nothing runs it) and compared with
    the code compiled from ``source`` now, as ``py_compile`` and the import system compile
    it. Code objects compare their instructions, constants (nested code included), names
    and line tables; not the file name, which depends on where it was compiled.
    """
    import importlib.util
    import marshal

    shown = os.path.basename(source)
    try:
        data = _read(pyc)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return "not bytecode of this Python (its header is not this Python's); delete it"
    try:
        src = _read(source)
        st = os.stat(source)
    except OSError:
        return f"bytecode whose source {shown} is missing; delete it"
    flags = int.from_bytes(data[4:8], "little")
    if flags & 0b1:  # hash-based: an unchecked one is always loaded
        loaded = not flags & 0b10 or data[8:16] == importlib.util.source_hash(src)
    else:
        loaded = (data[8:12] == (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                  and data[12:16] == (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
    try:
        code = marshal.loads(data[16:])
        fresh = compile(src, source, "exec", dont_inherit=True, optimize=optimize)
    except Exception:  # noqa: BLE001 - unreadable bytecode, or a source that does not compile
        code = fresh = None
    if code is not None and code == fresh:
        return None
    if loaded:
        return (f"Python runs this bytecode instead of {shown}, and it was not compiled from {shown}: "
                f"a planted .pyc")
    return f"stale bytecode, not compiled from {shown} as it is now (Python does not load it today); delete it"


def _pyc_name(name: str) -> tuple[str, str, int] | None:
    """``("grading", "cpython-311", 0)`` for ``grading.cpython-311.pyc``; None if not that form."""
    if not name.endswith(".pyc"):
        return None
    parts = name[:-4].split(".")
    if len(parts) == 2:
        return parts[0], parts[1], 0
    if len(parts) == 3 and parts[2] in ("opt-1", "opt-2"):
        return parts[0], parts[1], int(parts[2][-1])
    return None


def scan_bytecode(base: str, rel_base: str) -> list[tuple[str, str]]:
    """``(relative path, why)`` for each bytecode file under the folder ``base`` that does not
    come from its source; ``rel_base`` names ``base`` in the paths ("grader", "solutions").

    Every file in a ``__pycache__`` is looked at, and every ``.pyc``/``.pyo`` outside one
    (Python imports a lone ``name.pyc`` as the module ``name``). When this Python reads
    bytecode from ``sys.pycache_prefix`` (``PYTHONPYCACHEPREFIX``), the mirror of ``base``
    there is looked at as well.
    """
    tag = sys.implementation.cache_tag
    found = []

    def rel(path: str) -> str:
        return f"{rel_base}/{os.path.relpath(path, base).replace(os.sep, '/')}"

    def check_cache_entry(path: str, source_dir: str, shown: str) -> None:
        parsed = _pyc_name(os.path.basename(path))
        if parsed is None:
            found.append((shown, "not a file Python's bytecode cache writes; delete it"))
            return
        stem, pyc_tag, optimize = parsed
        source = os.path.join(source_dir, stem + ".py")
        if pyc_tag != tag:
            found.append((shown, f"bytecode for another Python ({pyc_tag}), which would run it; this one "
                                 f"({tag}) cannot check it; delete it"))
            return
        if not os.path.isfile(source):
            found.append((shown, f"bytecode whose source {stem}.py is not there; delete it"))
            return
        why = bytecode_problem(path, source, optimize)
        if why:
            found.append((shown, why))

    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in (".git", ".pytest_cache", ".hypothesis"))
        in_cache = os.path.basename(folder) == "__pycache__"
        for name in sorted(files):
            path = os.path.join(folder, name)
            if in_cache:
                check_cache_entry(path, os.path.dirname(folder), rel(path))
            elif name.endswith((".pyc", ".pyo")):
                found.append((rel(path), "bytecode outside __pycache__: Python imports it as a module when no "
                                         ".py of that name is beside it; delete it"))
    prefix = getattr(sys, "pycache_prefix", None)
    if prefix:
        mirror = os.path.join(prefix, os.path.abspath(base).lstrip(os.sep))
        for folder, dirs, files in os.walk(mirror):
            source_dir = os.path.join(os.sep, os.path.relpath(folder, prefix))
            for name in sorted(files):
                path = os.path.join(folder, name)
                check_cache_entry(path, source_dir, f"{rel(os.path.join(source_dir, name))} (in {prefix})")
    return found


# ----------------------------------------------------------------------------- start-up files


def site_folders() -> list[str]:
    """The site-packages folders whose ``.pth`` files this Python reads at start-up."""
    import site

    folders = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [f for f in dict.fromkeys(os.path.abspath(f) for f in folders) if os.path.isdir(f)]


def _startup_files(folders: list[str], search_path: bool) -> list[str]:
    found = []
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith(".pth") or name.split(".")[0] in _STARTUP_MODULES:
                found.append(os.path.join(folder, name))
    if search_path:  # sitecustomize/usercustomize are imported from anywhere on sys.path
        import importlib.util

        for module in sorted(_STARTUP_MODULES):
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            where = spec and (spec.origin if spec.origin not in (None, "built-in", "frozen") else None)
            if where and not any(_same(where, f) for f in found):
                found.append(where)
    return found


def _record_owners(folders: list[str], wanted: list[str]) -> dict[str, tuple[str, str, bool]]:
    """``{real path: (distribution, version, hash matches)}`` for the ``wanted`` files that an
    installed distribution's RECORD lists."""
    from importlib.metadata import distributions

    real = {os.path.realpath(p): p for p in wanted}
    names = {os.path.basename(p) for p in wanted}
    owners = {}
    for dist in distributions(path=folders):
        try:
            files = dist.files or []
        except Exception:  # noqa: BLE001 - a broken RECORD accounts for nothing
            continue
        for entry in files:
            if entry.name not in names:
                continue
            path = os.path.realpath(str(dist.locate_file(entry)))
            if path not in real or path in owners:
                continue
            matches = False
            if entry.hash is not None and entry.hash.mode == "sha256":
                try:
                    digest = base64.urlsafe_b64encode(hashlib.sha256(_read(path)).digest()).rstrip(b"=").decode()
                    matches = digest == entry.hash.value
                except OSError:
                    pass
            name = dist.metadata["Name"] or "?"
            owners[path] = (name, dist.version, matches)
    return owners


def check_startup_files(folders: list[str], search_path: bool = False) -> tuple[list[Problem], list[str]]:
    """Problems and notes about the start-up files (``.pth``, ``sitecustomize``,
    ``usercustomize``) in ``folders``; only reads."""
    import sysconfig

    files = _startup_files(folders, search_path)
    owners = _record_owners(folders, files) if files else {}
    stdlib = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    problems, notes = [], []
    for path in files:
        owner = owners.get(os.path.realpath(path))
        if owner is None and os.path.dirname(os.path.realpath(path)) in stdlib:
            # Part of Python's own installation (Debian and Ubuntu ship a sitecustomize there),
            # which verify cannot vouch for either way: shown, not judged.
            notes.append(f"{path}: runs at every start of Python; part of this Python's installation "
                         f"(its standard library folder)")
        elif owner is None:
            problems.append(Problem("startup", path, "site-packages",
                                    "no installed package accounts for it, and Python runs it (or adds the "
                                    "folders it names to the import path) before the grader starts"))
        elif not owner[2]:
            problems.append(Problem("startup", path, "site-packages",
                                    f"it differs from the file {owner[0]} {owner[1]} installed (its RECORD)"))
        elif owner[0].lower().replace("_", "-") != _OWN_DISTRIBUTION:
            notes.append(f"{path}: runs at every start of Python; installed by {owner[0]} {owner[1]} "
                         f"(its RECORD lists it, unchanged)")
    return problems, notes


# ----------------------------------------------------------------------------- verify


def examine(root: str = ".", manifest: str | None = None, grader_dir: str | None = None,
            expect_sha256: str | None = None, site_dirs=None) -> Verification:
    """Check what will run against the manifest; see the module's docstring.

    ``grader_dir`` is the installed grader (default: the one this Python imports).
    ``site_dirs`` are the site-packages folders whose start-up files to check; by default
    this Python's when the installed grader is the one this Python imports (``grader_dir``
    not given), and none when another folder is named. The environment
    (``DLGRADE_QUIZ_DIR``, ``GRADE_SOLUTIONS``) is checked in that case only, too.
    """
    here = grader_dir is None
    grader_dir = os.path.abspath(grader_dir or GRADER_DIR)
    manifest = manifest or os.path.join(grader_dir, MANIFEST_NAME)
    root = os.path.abspath(root)
    result = Verification()
    problems = result.problems
    if not os.path.isfile(manifest):
        problems.append(Problem("manifest", manifest, "manifest",
                                f"there is no release manifest at {manifest} (a development checkout?)"))
        return result
    if expect_sha256 and sha256_of(manifest) != expect_sha256.strip().lower():
        problems.append(Problem("manifest", manifest, "manifest",
                                f"the manifest {manifest} is not the published one (its sha256 is "
                                f"{sha256_of(manifest)})"))
        return result
    covered: list[str] = []
    try:
        entries = read_manifest(manifest, covered)
    except (OSError, ValueError) as exc:
        problems.append(Problem("manifest", manifest, "manifest", str(exc)))
        return result

    # The copies of each top folder that will run, and where each one is.
    repo_grader = os.path.join(root, "grader")
    copies = {"grader": [(grader_dir, "grader")]}
    if os.path.isdir(repo_grader) and _same(repo_grader, grader_dir):
        result.checked.append(("the installed grader", f"{grader_dir}: this repository's grader/, the same "
                                                       f"files (an editable install or a checkout)"))
    else:
        result.checked.append(("the installed grader", grader_dir))
        if os.path.isdir(repo_grader):
            copies["grader"].append((repo_grader, "repository grader"))
            result.checked.append(("this repository's grader/", f"{repo_grader}: a separate copy, checked "
                                   f"as well (python -m grader started in this folder runs it)"))
    result.checked.append(("course file and quiz keys", "grader/course.yaml, grader/quizzes/ in each grader copy"))
    repo_solutions = os.path.join(root, "solutions")
    beside = (os.environ.get(SOLUTIONS_ENV) if here else None) or \
        os.path.join(os.path.dirname(grader_dir), "solutions")
    copies["solutions"] = [(base, where) for base, where in ((repo_solutions, "repository"),
                                                            (beside, "installed solutions"))
                           if os.path.isdir(base)]
    if len(copies["solutions"]) == 2 and _same(beside, repo_solutions):
        copies["solutions"].pop()
    if not copies["solutions"]:  # none at all: the release's (if it has any) are missing here
        copies["solutions"] = [(repo_solutions, "repository")]
    if "solutions" in covered or any(rel.startswith("solutions/") for rel in entries):
        result.checked.append(("solutions/", "in the release: checked wherever present"))
    elif any(os.path.isdir(base) for base, _ in copies["solutions"]):
        result.checked.append(("solutions/", "present, but the release has none: every file is reported"))

    def locate(rel: str) -> list[tuple[str, str]]:
        top, _, rest = rel.partition("/")
        parts = rest.split("/") if rest else []
        if top in copies:
            return [(os.path.join(base, *parts), where) for base, where in copies[top]]
        return [(os.path.join(root, *rel.split("/")), "repository")]

    for rel, digest in sorted(entries.items()):
        for path, where in locate(rel):
            if not os.path.isfile(path):
                problems.append(Problem("missing", rel, where))
                continue
            try:
                if sha256_of(path) != digest:
                    problems.append(Problem("edited", rel, where))
            except OSError as exc:
                problems.append(Problem("missing", rel, where, f"unreadable ({exc.strerror})"))
    # Files nobody released: anywhere in the grader copies and solutions/, and in the
    # repository's folders that the manifest covers (a new workflow or test changes what CI runs).
    roots = set(covered) or {rel.split("/")[0] for rel in entries}
    roots |= {"grader", "solutions"}
    for folder in sorted(roots):
        for base, where in locate(folder):
            if not os.path.isdir(base):
                continue
            for found in _files_under(base, "."):
                rel = f"{folder}/{found[2:] if found.startswith('./') else found}"
                if rel not in entries:
                    problems.append(Problem("added", rel, where))
    # A grader copy may carry its own manifest: it must be the one checked against.
    for base, where in copies["grader"]:
        own = os.path.join(base, MANIFEST_NAME)
        if os.path.isfile(own) and not _same(own, manifest) and sha256_of(own) != sha256_of(manifest):
            problems.append(Problem("edited", f"grader/{MANIFEST_NAME}", where,
                                    f"not the manifest checked against ({manifest})"))
    # Bytecode: what Python would run in place of the sources just checked.
    scanned = 0
    for folder in ("grader", "solutions"):
        for base, where in copies[folder]:
            if os.path.isdir(base):
                scanned += 1
                problems += [Problem("bytecode", rel, where, why) for rel, why in scan_bytecode(base, folder)]
    result.checked.append(("bytecode", f"every __pycache__ entry and .pyc in {scanned} folder(s), compared "
                                       f"with its source compiled"))
    if here:
        quiz_dir = os.environ.get(QUIZ_DIR_ENV)
        if quiz_dir and not _same(quiz_dir, os.path.join(grader_dir, "quizzes")):
            problems.append(Problem("environment", QUIZ_DIR_ENV, "environment",
                                    f"{QUIZ_DIR_ENV}={quiz_dir}: the quizzes and their keys are read from "
                                    f"there, not from the released grader/quizzes/"))
        solutions_env = os.environ.get(SOLUTIONS_ENV)
        if solutions_env and not ("solutions" in covered and _same(solutions_env, repo_solutions)):
            problems.append(Problem("environment", SOLUTIONS_ENV, "environment",
                                    f"{SOLUTIONS_ENV}={solutions_env}: the timed runs measure against that "
                                    f"folder instead of the release's solutions/"))
    folders = site_folders() if site_dirs is None and here else list(site_dirs or [])
    if folders:
        startup_problems, notes = check_startup_files(folders, search_path=site_dirs is None)
        problems += startup_problems
        result.notes += notes
        result.checked.append(("start-up files", f".pth, sitecustomize, usercustomize in {', '.join(folders)}"))
    return result


def verify(root: str = ".", manifest: str | None = None, grader_dir: str | None = None,
           expect_sha256: str | None = None, site_dirs=None) -> list[Problem]:
    """The problems :func:`examine` finds: ``[]`` when what will run is the release."""
    return examine(root, manifest, grader_dir, expect_sha256, site_dirs).problems


# ----------------------------------------------------------------------------- grade verify


def _command():
    import click

    @click.command("verify")
    @click.option("--root", default=".", metavar="DIR", show_default=True,
                  help="The class (or course) repository whose grader/ copy, solutions/, tests and workflow "
                       "files to check.")
    @click.option("--manifest", metavar="FILE", default=None,
                  help=f"The manifest to check against (default: the installed grader's {MANIFEST_NAME}).")
    @click.option("--expect-sha256", "expect", metavar="HASH", default=None,
                  help="The manifest's own sha256, as published with the release.")
    @click.option("--write-manifest", "write", is_flag=True,
                  help="Release step: hash the grader, solutions/, tests and workflows under --root into grader/"
                       f"{MANIFEST_NAME}.")
    def verify_command(root, manifest, expect, write):
        """Check what will run against the release's hash manifest.

        The installed grader and this repository's grader/ copy (course file and quiz keys
        included), solutions/, tests and workflows, every bytecode file of the grader, and
        this Python's start-up files (.pth, sitecustomize). Only reads; removes nothing.

        \b
        grade verify                      what will run here, against the installed grader's manifest
        grade verify --expect-sha256 H    ... and the manifest is the one published with the release
        grade verify --write-manifest     (release) write grader/MANIFEST.sha256 from --root
        """
        if write:
            if not os.path.isdir(os.path.join(root, "grader")):
                click.echo(click.style("error: ", fg="red", bold=True) + f"--write-manifest: {root} has no "
                           f"grader/ folder; run it from the root of the course repository.", err=True)
                sys.exit(2)
            path = write_manifest(root)
            click.echo(f"wrote {path} ({len(read_manifest(path))} files)\nits sha256 (publish it with the "
                       f"release): {sha256_of(path)}")
            return
        if not os.path.isdir(root):
            click.echo(click.style("error: ", fg="red", bold=True) + f"--root {root}: no such folder.", err=True)
            sys.exit(2)
        found = examine(root, manifest=manifest, expect_sha256=expect)
        problems = found.problems
        if problems and problems[0].kind == "manifest" and len(problems) == 1:
            click.echo(click.style("error: ", fg="red", bold=True) + f"{problems[0].detail}. A release "
                       f"carries grader/{MANIFEST_NAME}; a checkout makes one with grade verify "
                       f"--write-manifest.", err=True)
            sys.exit(2)
        used = manifest or MANIFEST_PATH
        click.echo(f"Checked against {used} (sha256 {sha256_of(used)[:16]}…):")
        for what, how in found.checked:
            click.echo(f"  {what}: {how}")
        for note in found.notes:
            click.echo(f"  note: {note}")
        if not problems:
            click.echo(click.style("✓ ", fg="green") + f"the grader and the course files match the release "
                       f"manifest ({len(read_manifest(used))} files), and no bytecode or start-up file "
                       f"stands in for them")
            return
        click.echo(click.style(f"✗ {len(problems)} finding(s): what would run is not the release:", fg="red",
                               bold=True))
        for problem in problems:
            click.echo(f"  {problem}")
        click.echo("Grades from this copy do not count: restore the files (git checkout, or reinstall the "
                   "pinned grader), delete the bytecode named above (or every __pycache__ folder of the "
                   "grader), remove start-up files you did not install, and run grade verify again.")
        sys.exit(1)

    return verify_command


verify_command = _command()
