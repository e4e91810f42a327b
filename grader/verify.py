"""``grade verify``: is this the grader and course that were released, untouched?

A release ships a hash manifest, ``grader/MANIFEST.sha256``, in ``sha256sum`` format::

    # dlgrade 0.1.0 release manifest (sha256sum -c compatible from the release root)
    3f5c...e1  grader/course.yaml
    9ab0...77  grader/runner/sandbox.py
    51d2...0c  .github/workflows/classroom.yml
    ...

Paths are relative to the release root. Entries under ``grader/`` are checked against the
grader that is *installed* (wherever ``import grader`` finds it: a wheel in site-packages
or an editable checkout); every other entry (tests, workflow files, ``.ci/run``) is checked
against the class repository being verified (the current folder by default). Problems:

- ``edited``: the file's hash differs from the manifest;
- ``missing``: the manifest lists it, the disk does not have it;
- ``added``: a file in the installed grader, or in a folder of the repository the manifest
  covers (``tests/``, ``.github/workflows/``, ...), that the manifest does not list;
- ``manifest``: there is no manifest, or the manifest itself is not the published one
  (``expect_sha256``).

For the release step (``grade release``)::

    from grader.verify import write_manifest, verify
    path = write_manifest(root, ["grader", "tests", ".github/workflows", ".ci"])
    problems = verify(class_repo_root)       # [] when everything matches

The manifest proves nothing against someone who can also rewrite the manifest: publish
its own hash (printed by ``grade verify --write-manifest``) with the release, and check it
with ``grade verify --expect-sha256 HASH``. See SECURITY.md.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

GRADER_DIR = os.path.dirname(os.path.abspath(__file__))
MANIFEST_NAME = "MANIFEST.sha256"
MANIFEST_PATH = os.path.join(GRADER_DIR, MANIFEST_NAME)
DEFAULT_PATHS = ("grader", "tests", ".github/workflows", ".ci")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".git", ".grade", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
_SKIP_NAMES = {".DS_Store", MANIFEST_NAME}


@dataclass(frozen=True)
class Problem:
    kind: str  # "edited", "missing", "added", "manifest"
    path: str  # relative to the release root (e.g. "grader/course.yaml", "tests/test_cli.py")
    where: str  # "grader" (the installed grader), "repository" (the class repository) or "manifest"
    detail: str = ""

    def __str__(self) -> str:
        place = {"grader": "the installed grader", "repository": "this repository"}.get(self.where, self.where)
        text = {"edited": f"{self.path} was edited ({place})",
                "missing": f"{self.path} is missing ({place})",
                "added": f"{self.path} is not part of the release ({place})"}.get(self.kind, self.detail)
        if self.kind != "manifest" and self.detail:
            text += f": {self.detail}"
        return text


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
    so it ships with the wheel (pyproject's package-data lists it).
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


def verify(root: str = ".", manifest: str | None = None, grader_dir: str | None = None,
           expect_sha256: str | None = None) -> list[Problem]:
    """Compare the installed grader and the repository at ``root`` with the manifest."""
    grader_dir = os.path.abspath(grader_dir or GRADER_DIR)
    manifest = manifest or os.path.join(grader_dir, MANIFEST_NAME)
    root = os.path.abspath(root)
    if not os.path.isfile(manifest):
        return [Problem("manifest", manifest, "manifest",
                        f"there is no release manifest at {manifest} (a development checkout?)")]
    if expect_sha256 and sha256_of(manifest) != expect_sha256.strip().lower():
        return [Problem("manifest", manifest, "manifest",
                        f"the manifest {manifest} is not the published one (its sha256 is {sha256_of(manifest)})")]
    covered: list[str] = []
    try:
        entries = read_manifest(manifest, covered)
    except (OSError, ValueError) as exc:
        return [Problem("manifest", manifest, "manifest", str(exc))]
    problems = []

    def locate(rel: str) -> tuple[str, str]:
        if rel == "grader" or rel.startswith("grader/"):
            return os.path.join(grader_dir, *rel.split("/")[1:]), "grader"
        return os.path.join(root, *rel.split("/")), "repository"

    for rel, digest in sorted(entries.items()):
        path, where = locate(rel)
        if not os.path.isfile(path):
            problems.append(Problem("missing", rel, where))
            continue
        try:
            if sha256_of(path) != digest:
                problems.append(Problem("edited", rel, where))
        except OSError as exc:
            problems.append(Problem("missing", rel, where, f"unreadable ({exc.strerror})"))
    # Files nobody released: anywhere in the installed grader, and in the repository's
    # folders that the manifest covers (a new workflow or test changes what CI runs).
    roots = set(covered) or {rel.split("/")[0] for rel in entries}
    roots.add("grader")
    for folder in sorted(roots):
        base, where = locate(folder)
        if not os.path.isdir(base):
            continue
        for found in _files_under(base, "."):
            rel = f"{folder}/{found[2:] if found.startswith('./') else found}"
            if rel not in entries:
                problems.append(Problem("added", rel, where))
    return problems


# ----------------------------------------------------------------------------- grade verify


def _command():
    import sys

    import click

    @click.command("verify")
    @click.option("--root", default=".", metavar="DIR", show_default=True,
                  help="The class repository whose tests and workflow files to check.")
    @click.option("--manifest", metavar="FILE", default=None,
                  help=f"The manifest to check against (default: the installed grader's {MANIFEST_NAME}).")
    @click.option("--expect-sha256", "expect", metavar="HASH", default=None,
                  help="The manifest's own sha256, as published with the release.")
    @click.option("--write-manifest", "write", is_flag=True,
                  help="Release step: hash the grader, tests and workflows under --root into grader/"
                       f"{MANIFEST_NAME}.")
    def verify_command(root, manifest, expect, write):
        """Check the grader and course files against the release's hash manifest.

        \b
        grade verify                      the installed grader + this repository's tests/workflows
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
        problems = verify(root, manifest=manifest, expect_sha256=expect)
        if problems and problems[0].kind == "manifest" and len(problems) == 1:
            click.echo(click.style("error: ", fg="red", bold=True) + f"{problems[0].detail}. A release "
                       f"carries grader/{MANIFEST_NAME}; a checkout makes one with grade verify "
                       f"--write-manifest.", err=True)
            sys.exit(2)
        used = manifest or MANIFEST_PATH
        if not problems:
            click.echo(click.style("✓ ", fg="green") + f"the grader and the course files match the release "
                       f"manifest ({len(read_manifest(used))} files; manifest sha256 {sha256_of(used)[:16]}…)")
            return
        click.echo(click.style(f"✗ {len(problems)} file(s) differ from the release:", fg="red", bold=True))
        for problem in problems:
            click.echo(f"  {problem}")
        click.echo("Grades from this copy do not count: restore the files (git checkout, or reinstall the "
                   "pinned grader) and run grade verify again.")
        sys.exit(1)

    return verify_command


verify_command = _command()
