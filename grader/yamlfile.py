"""Read YAML with line numbers, so every error can name the file, line and field."""
from __future__ import annotations

import yaml


# libyaml's parser when PyYAML was built with it: several times faster, with the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def load(path: str, text: str | None = None):
    """Parse ``path`` into Node/Seq/scalars; raise YamlError on malformed YAML."""
    if text is None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise YamlError(path, None, None, f"cannot be read ({e.strerror})") from None
        except UnicodeDecodeError:
            raise YamlError(path, None, None, "is not UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        # An unclosed quote or bracket is found only at the end of the file: point at where it opened.
        at_end = "end of stream" in str(e.problem or "")
        mark = (e.context_mark if at_end and e.context_mark else None) or e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(path, line, None, f"is not valid YAML ({e.problem or e.context})") from None
    except yaml.YAMLError as e:
        raise YamlError(path, None, None, f"is not valid YAML ({e})") from None
    if root is None:
        return None
    return _convert(root, path)


def _convert(node, path):
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Node()
        out.path, out.line, out.key_lines = path, line, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(path, key_node.start_mark.line + 1, None, "a key must be a plain value")
            key = _scalar(key_node, path)
            if key in out:
                raise YamlError(path, key_node.start_mark.line + 1, str(key), "appears twice")
            out[key] = _convert(value_node, path)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = Seq(_convert(v, path) for v in node.value)
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
