"""The last line of defence of every report: text that can always be written as UTF-8.

Learner-controlled text is cleaned where results are built (see grader/results.py and
grader/text.py), so what reaches a reporter is already safe. These helpers make sure that
a string which slipped past (a lone surrogate, a value JSON cannot hold) costs at most an
escape, never the whole report: a report is always produced.
"""
from __future__ import annotations

import json

from ..results import SANDBOX_NOTES, sandbox_name


def encodable(text: str) -> str:
    """``text`` as UTF-8 can write it: a lone surrogate left over becomes ``\\udcff`` as text."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dumps(data, **options) -> str:
    """``json.dumps`` that always gives one valid JSON document UTF-8 can write.

    Non-ASCII text stays readable (``ensure_ascii=False``); if some string still holds a
    lone surrogate, the document is written with ``\\uXXXX`` escapes instead. A value JSON
    has no type for becomes its ``str``.
    """
    options.setdefault("default", str)
    text = json.dumps(data, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, **options)


def isolation_line(mode: str, seed: str | None = None) -> str:
    """``Isolation: namespaces (bubblewrap) · seed: secret`` and the like, for text reports.

    ``seed`` is the report's kind of seed (``public`` or ``secret``, never the secret).
    """
    mode = sandbox_name(mode)
    line = f"Isolation: {mode} ({SANDBOX_NOTES[mode]})"
    return f"{line} · seed: {seed}" if seed else line


__all__ = ["encodable", "dumps", "isolation_line"]
