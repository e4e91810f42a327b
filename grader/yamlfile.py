"""Read YAML with line numbers, so every error can name the file, line and field.

Every file is read with bounds, since some come from a submission (quiz answers):

- ``max_bytes``: a file larger than this is refused before it is parsed (1 MB by default;
  a course author's file may pass more);
- ``max_depth``: lists and mappings nested deeper than this are refused (a parser and the
  conversion below recurse once per level);
- ``aliases``: with ``aliases=False`` (every reader of a learner's file) an anchor or alias
  (``&x`` / ``*x``) is refused at its line, before anything is built, so a 636-byte
  "billion laughs" file fails at once instead of expanding without end. Course files may
  use aliases (course.yaml shares training options that way), but however they are
  shared, no file expands to more than ``MAX_NODES`` values.
"""
from __future__ import annotations

import yaml


# libyaml's parser when PyYAML was built with it: several times faster, with the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000  # values after aliases are expanded; the course file has a few thousand
NO_ALIASES = "uses YAML anchors/aliases (& and *), which answers files may not use"


class YamlError(Exception):
    """A problem in a YAML file, located: ``course.yaml, line 12, field 'points': ...``."""

    def __init__(self, path: str, line: int | None, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = path, line, field, problem
        where = str(path)
        if line:
            where += f", line {line}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class Node(dict):
    """A YAML mapping that remembers where it and each of its keys stand."""

    path: str = ""
    line: int | None = None
    key_lines: dict

    def line_of(self, key) -> int | None:
        return self.key_lines.get(key, self.line)

    def error(self, key, problem: str) -> YamlError:
        return YamlError(self.path, self.line_of(key), key, problem)


class Seq(list):
    """A YAML list that remembers where it and each of its items stand."""

    path: str = ""
    line: int | None = None
    item_lines: list

    def error(self, index: int, field: str, problem: str) -> YamlError:
        lines = getattr(self, "item_lines", [])
        return YamlError(self.path, lines[index] if index < len(lines) else self.line, field, problem)


def load(path: str, text: str | None = None, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
         aliases: bool = True):
    """Parse ``path`` (or ``text``, naming ``path`` in errors) into Node/Seq/scalars.

    Raises YamlError on malformed YAML and on a file past the bounds in the module
    docstring; ``aliases=False`` for anything a learner wrote.
    """
    if text is None:
        text = _read(path, max_bytes)
    elif len(text) > max_bytes:
        raise YamlError(path, None, None, f"is larger than {_size(max_bytes)}, the most grade reads")
    try:
        _check_events(text, path, max_depth, aliases)
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        if "nesting depth" in str(e.problem or ""):  # newer PyYAML stops deep nesting itself
            mark = e.problem_mark or e.context_mark
            raise YamlError(path, mark.line + 1 if mark else None, None,
                            f"nests lists and mappings more than {max_depth} levels deep") from None
        # An unclosed quote or bracket is found only at the end of the file: point at where it opened.
        at_end = "end of stream" in str(e.problem or "")
        mark = (e.context_mark if at_end and e.context_mark else None) or e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(path, line, None, f"is not valid YAML ({e.problem or e.context})") from None
    except yaml.YAMLError as e:
        raise YamlError(path, None, None, f"is not valid YAML ({e})") from None
    if root is None:
        return None
    return _convert(root, path, [MAX_NODES])


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MB" if n % (1 << 20) == 0 else f"{n} bytes"


def _read(path: str, max_bytes: int) -> str:
    """The file's text, read no further than one byte past ``max_bytes``."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise YamlError(path, None, None, f"cannot be read ({e.strerror})") from None
    if len(data) > max_bytes:
        raise YamlError(path, None, None, f"is larger than {_size(max_bytes)}, the most grade reads")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlError(path, None, None, "is not UTF-8 text") from None


def _check_events(text: str, path: str, max_depth: int, aliases: bool) -> None:
    """Refuse anchors/aliases (unless allowed) and deep nesting from the parser's events,
    before any node is built: the parser keeps its own stack, so this pass cannot recurse."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if not aliases and (isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)):
            raise YamlError(path, event.start_mark.line + 1, None, NO_ALIASES)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise YamlError(path, event.start_mark.line + 1, None,
                                f"nests lists and mappings more than {max_depth} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _convert(node, path, budget: list):
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:  # aliases of aliases: a few lines that would expand without end
        raise YamlError(path, line, None, f"expands to more than {MAX_NODES} values (through its "
                                          f"aliases, & and *); share less, or write the values out")
    if isinstance(node, yaml.MappingNode):
        out = Node()
        out.path, out.line, out.key_lines = path, line, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(path, key_node.start_mark.line + 1, None, "a key must be a plain value")
            key = _scalar(key_node, path)
            if key in out:
                raise YamlError(path, key_node.start_mark.line + 1, str(key), "appears twice")
            out[key] = _convert(value_node, path, budget)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = Seq(_convert(v, path, budget) for v in node.value)
        out.path, out.line = path, line
        out.item_lines = [v.start_mark.line + 1 for v in node.value]
        return out
    return _scalar(node, path)


def _scalar(node, path):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        raise YamlError(path, node.start_mark.line + 1, None, f"bad value ({e})") from None
    finally:
        loader.dispose()
