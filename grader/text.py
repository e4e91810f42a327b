"""Make learner-controlled text safe to show: in a terminal, a JSON or XML report, a CSV cell.

Anything that came from a submission (an exception message, what the code printed, a file
or folder name, a value's repr) passes through :func:`clean` before it reaches a report, so
a report is always produced and always readable:

- lone surrogates (``"\\udcff"``, which cannot be encoded as UTF-8) become ``\\udcff`` as text;
- control characters (an ANSI escape, a NUL, a backspace) become ``\\x1b``-style escapes,
  except newline and tab, which messages use;
- the result is at most ``limit`` characters (cut with ``…``).

File names may be any bytes on Linux: :func:`show_name` turns one (``bytes`` or a ``str``
holding surrogate escapes from ``os.fsdecode``) into printable text.
"""
from __future__ import annotations

import os
import re

DEFAULT_LIMIT = 4000

# C0 and C1 controls but \t and \n, DEL, lone surrogates, and the Unicode line/paragraph
# separators and bidi overrides (which reorder what a reader sees).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` as printable, encodable text of at most ``limit`` characters."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - a learner object whose __str__ fails
            text = "<unprintable>"
    if type(text) is not str:  # a str subclass may lie about itself
        text = str.__str__(text)
    if len(text) > limit * 2:  # don't scan megabytes just to throw them away
        text = text[: limit * 2]
    text = _UNSAFE.sub(_escape, text)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def show_name(name, limit: int = 200) -> str:
    """A file or folder name (any bytes) as printable text: ``b"caf\\xe9"`` -> ``caf\\xe9``."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    if not isinstance(name, str):
        name = os.fspath(name)
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
    # Undecodable bytes arrive as surrogate escapes (U+DC80..U+DCFF): show them as \xNN.
    name = re.sub("[\udc80-\udcff]", lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", name)
    return clean(name, limit)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def spreadsheet_cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs: ``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``.

    OWASP's advice for CSV injection: a cell that starts with a formula character is
    prefixed with a single quote. Numbers are written by the caller as numbers, not here.
    """
    text = clean(text, 1000).replace("\n", " ")
    return "'" + text if text.startswith(_FORMULA_START) else text


__all__ = ["clean", "show_name", "spreadsheet_cell", "DEFAULT_LIMIT"]
