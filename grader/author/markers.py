"""The solution markers: one annotated source gives both the solution and the stub.

In a solution module, each answer sits between two comment lines at the same indentation::

    def dot(a, b):
        \"\"\"... the docstring the learner reads ...\"\"\"
        ### BEGIN SOLUTION: dot is not written yet: add up a[i] * b[i]
        return float(np.dot(a, b))
        ### END SOLUTION

The stub is the module with every marked region, markers included, replaced by one line at
the markers' indentation::

        raise NotImplementedError("dot is not written yet: add up a[i] * b[i]")

The text after ``BEGIN SOLUTION:`` is the stub's message (what the learner sees until they
write the function; without one the stub raises a bare ``NotImplementedError()``).
Everything outside the regions is copied byte for byte: docstrings, imports, signatures,
blank lines, line endings. Markers are Python comments, found with :mod:`tokenize`, so a
line in a docstring that reads like a marker is text, not a marker. A region may hold any
statements, including a whole ``for`` loop, but not half of a block: the stub must parse.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_BEGIN = re.compile(r"^### BEGIN SOLUTION(?::\s*(?P<message>.*?))?\s*$")
_END = re.compile(r"^### END SOLUTION\s*$")


class MarkerError(ValueError):
    """A solution module whose markers cannot give a stub: ``path, line N: problem``."""

    def __init__(self, path: str, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


def _python_string(text: str) -> str:
    """``text`` as a double-quoted Python string literal (the stubs' house style)."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{body}"'


def _marker_comments(source: str, path: str) -> dict[int, str]:
    """Line number (1-based) -> the marker comment on it, for comments alone on their line."""
    found = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise MarkerError(path, getattr(e, "lineno", None), f"cannot be read as Python ({e})") from None
    lines = source.splitlines()
    for tok in tokens:
        if tok.type != tokenize.COMMENT or not tok.string.startswith("### "):
            continue
        row, col = tok.start
        if lines[row - 1][:col].strip():  # code before the comment: not a marker line
            continue
        if _BEGIN.match(tok.string) or _END.match(tok.string):
            found[row] = tok.string
    return found


def count_regions(source: str, path: str = "<solution>") -> int:
    """How many marked regions ``source`` has (0 for a module without markers)."""
    return sum(1 for text in _marker_comments(source, path).values() if _BEGIN.match(text))


def build_stub(source: str, path: str = "<solution>") -> str:
    """The stub for a solution module's text; raise MarkerError naming the file and line.

    Every marked region becomes ``raise NotImplementedError(<message>)`` at the marker's
    indentation; every other line is kept exactly as it is (with its own line ending).
    """
    markers = _marker_comments(source, path)
    out: list[str] = []
    open_at: tuple[int, str, str] | None = None  # (line, indentation, message) of the open region
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        marker = markers.get(number)
        if marker is None:
            if open_at is None:
                out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        begin = _BEGIN.match(marker)
        if begin:
            if open_at is not None:
                raise MarkerError(path, number, f"a second {BEGIN} before the {END} of the one on line "
                                                f"{open_at[0]}: regions cannot nest")
            open_at = (number, indent, begin.group("message") or "")
            continue
        if open_at is None:
            raise MarkerError(path, number, f"{END} without a {BEGIN} above it")
        start, begin_indent, message = open_at
        if indent != begin_indent:
            raise MarkerError(path, number, f"{END} is indented differently from the {BEGIN} on line "
                                            f"{start}: both markers go at the indentation of the code "
                                            f"they enclose")
        ending = line[len(line.rstrip("\r\n")):] or "\n"
        argument = _python_string(message) if message else ""
        out.append(f"{begin_indent}raise NotImplementedError({argument}){ending}")
        open_at = None
    if open_at is not None:
        raise MarkerError(path, open_at[0], f"this {BEGIN} has no {END} below it")
    stub = "".join(out)
    try:
        ast.parse(stub, filename=path)
    except SyntaxError as e:
        raise MarkerError(path, None, f"the stub built from it is not valid Python ({e.msg} at line "
                                      f"{e.lineno} of the stub): a region must enclose whole statements, "
                                      f"such as a function's whole body after its docstring") from None
    return stub
