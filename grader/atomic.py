"""Write files so that a reader never sees half of one: a temp file in the same folder, then a rename.

``os.replace`` within one folder is atomic on POSIX and Windows: the target either keeps its
old content or has the whole new one. An exception (or Ctrl-C) while writing removes the
temp file and leaves the target as it was.
"""
from __future__ import annotations

import json
import os
import tempfile


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        try:  # mkstemp makes the file private; give it the mode a plain open() would
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: str, data) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def emit(text: str, output: str | None, fmt: str) -> None:
    """Print a report, or write it to ``output`` (atomically).

    With ``--output``, the GitHub format still prints its ``Points X/Y`` summary, since CI
    logs are where people look for it.
    """
    import click

    if output is None:
        click.echo(text)
        return
    text = click.unstyle(text)  # colours are for terminals (the table format has them)
    write_atomic(output, text if text.endswith("\n") else text + "\n")
    if fmt == "github":
        click.echo(text)
