"""``grade init DIR``: the exercise stubs for someone who installed the package from a wheel,
and the one paragraph ``grade`` says on Windows.

The stubs are not a copy: the wheel ships ``exercises/`` itself as the data package
``dlgrade_stubs`` (pyproject.toml maps ``dlgrade_stubs`` to ``exercises``), and in a
checkout they are read from ``exercises/`` beside ``grader/``. ``grade init DIR`` writes
them to ``DIR/exercises/`` (the folder plain ``grade`` grades when run in ``DIR``), with the
quizzes' answers folder, and never overwrites a file unless ``--force``.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys

import click

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS_PACKAGE = "dlgrade_stubs"
_SKIP_DIRS = {"__pycache__", ".grade", ".hypothesis", ".pytest_cache"}

WINDOWS_MESSAGE = (
    "grade does not run on Windows itself: it runs your code in a separate, locked-down process "
    "with POSIX tools Windows lacks (fcntl, resource limits, fork). Use WSL, the Windows Subsystem "
    "for Linux: run `wsl --install` in PowerShell once, open the Ubuntu terminal it adds, clone or "
    "copy the course there and run `bash scripts/install.sh` and `grade` in it (VS Code's WSL "
    "extension edits those files from Windows)."
)


def on_windows() -> bool:
    return sys.platform == "win32"


def stubs_dir() -> str | None:
    """The folder the stubs come from: the installed ``dlgrade_stubs``, else ``exercises/``
    beside ``grader/`` (a checkout); None when neither is there."""
    try:
        spec = importlib.util.find_spec(STUBS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in list(getattr(spec, "submodule_search_locations", None) or []) + [os.path.join(ROOT, "exercises")]:
        if os.path.isfile(os.path.join(folder, "vectors.py")):
            return folder
    return None


def stub_files(source: str) -> list[str]:
    """The files to write, relative to ``source``, sorted (no caches, no compiled files)."""
    out = []
    for here, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")) or name == "__init__.py":
                continue
            out.append(os.path.relpath(os.path.join(here, name), source))
    return sorted(out)


def _fail(message: str) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(2)


@click.command("init")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--force", is_flag=True, help="Overwrite stubs that are already there (your answers in them are lost).")
def init_command(directory, force):
    """Write the exercise stubs to DIR/exercises (after installing from a wheel).

    Then run grade in DIR. Existing files are never overwritten unless --force.
    """
    source = stubs_dir()
    if source is None:
        _fail("the exercise stubs are not part of this installation (no dlgrade_stubs package and no "
              "exercises/ folder beside grader/). Reinstall the package from its wheel or clone the course.")
    if os.path.exists(directory) and not os.path.isdir(directory):
        _fail(f"{directory} is a file, not a folder: give grade init a folder to write the exercises into.")
    target = os.path.join(directory, "exercises")
    files = stub_files(source)
    there = [rel for rel in files if os.path.lexists(os.path.join(target, rel))]
    if there and not force:
        shown = ", ".join(os.path.join(target, rel) for rel in there[:3]) + (
            f" and {len(there) - 3} more" if len(there) > 3 else "")
        _fail(f"{shown} already exist{'s' if len(there) == 1 else ''}, and grade init never overwrites your "
              f"work: pick another folder, or run grade init --force {directory} to replace them with fresh "
              f"stubs (what you wrote in them is lost).")
    try:
        for rel in files:
            destination = os.path.join(target, rel)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            if os.path.lexists(destination) and (os.path.islink(destination) or not os.path.isfile(destination)):
                _fail(f"{destination} is not a regular file; move it away and run grade init again.")
            shutil.copyfile(os.path.join(source, rel), destination)
    except OSError as e:
        _fail(f"could not write the stubs to {target}: {e.strerror or e}.")
    click.echo(f"Wrote {len(files)} files to {target}. Next: cd {directory} && grade")
