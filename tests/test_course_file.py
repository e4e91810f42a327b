"""A malformed course file is refused with one error naming the file, the line and the field.

Each case changes one thing in a small valid course file (written here, so the tests do
not depend on the real course's contents) and checks the :class:`YamlError`'s fields and
its text, ``<file>, line <n>, field '<field>': <problem>``.
"""
import textwrap

import pytest

from grader.course import load_course
from grader.yamlfile import YamlError

BASE = textwrap.dedent("""\
    version: 1
    defaults:
      seed: 0
      examples: 5
      rtol: 1.0e-9
      atol: 1.0e-12
      limits:
        call_timeout: 10
    exercises:
      - name: vectors
        title: Vectors
        framework: numpy
        functions:
          - name: dot
            params: [a, b]
            hints: [Pair up the entries.]
            checks:
              - {id: agrees_with_numpy, title: agrees with NumPy, points: 3}
              - id: symmetric
                points: 1
                rtol: 1.0e-8
""")


def write(tmp_path, old: str, new: str):
    assert BASE.count(old) == 1, f"{old!r} must appear once in the base course"
    path = tmp_path / "course.yaml"
    text = BASE.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, at: str) -> int:
    assert text.count(at) >= 1, at
    return 1 + text[: text.index(at)].count("\n")


def test_the_base_course_is_valid(tmp_path):
    path, _ = write(tmp_path, "seed: 0", "seed: 0")
    course = load_course(str(path))
    assert course.names() == ["vectors"]
    (dot,) = course.get("vectors").functions
    assert [c.id for c in dot.checks] == ["agrees_with_numpy", "symmetric"]
    assert dot.checks[1].tolerance.rtol == 1e-8 and dot.checks[0].tolerance.rtol == 1e-9
    assert dot.checks[1].title == "symmetric" and dot.checks[0].examples == 5


def test_the_real_course_is_valid():
    course = load_course()
    assert course.names()[:3] == ["vectors", "derivatives", "losses"]


# (test id, old text, new text, where the error is (text on its line), field, problem)
CASES = [
    ("unknown-check-field", "    points: 1\n", "    points: 1\n            colour: red\n",
     "colour: red", "colour", "is not a known field here"),
    ("unknown-exercise-field", "    title: Vectors\n", "    title: Vectors\n    difficulty: hard\n",
     "difficulty: hard", "difficulty", "is not a known field here"),
    ("unknown-function-field", "    params: [a, b]\n", "    params: [a, b]\n        returns: float\n",
     "returns: float", "returns", "is not a known field here"),
    ("unknown-top-level-field", "version: 1\n", "version: 1\ncolour: blue\n",
     "colour: blue", "colour", "is not a known field here"),
    ("unknown-limit", "    call_timeout: 10\n", "    call_timeout: 10\n    gpu_seconds: 5\n",
     "gpu_seconds: 5", "gpu_seconds", "is not a known field here"),
    ("check-id-that-does-not-exist", "- id: symmetric", "- id: symmetrical",
     "- id: symmetrical", "id", "grader/checks/vectors.py has no check 'symmetrical' for dot"),
    ("duplicate-check-id", "- id: symmetric", "- id: agrees_with_numpy",
     "- id: agrees_with_numpy", "id", "check 'agrees_with_numpy' appears twice for dot"),
    ("duplicate-key", "    points: 1\n", "    points: 1\n            points: 2\n",
     "points: 2", "points", "appears twice"),
    ("points-not-a-number", "    points: 1\n", "    points: one\n",
     "points: one", "points", "must be a number"),
    ("negative-points", "    points: 1\n", "    points: -1\n",
     "points: -1", "points", "must be a number of points, 0 or more"),
    ("examples-not-whole", "  examples: 5\n", "  examples: 2.5\n",
     "examples: 2.5", "examples", "must be a whole number"),
    ("tolerance-not-a-number", "rtol: 1.0e-8", "rtol: tight",
     "rtol: tight", "rtol", "must be a number"),
    ("params-not-a-list", "params: [a, b]", "params: a b",
     "params: a b", "params", "must be a list"),
    ("hints-not-a-list", "hints: [Pair up the entries.]", "hints: Pair up the entries.",
     "hints: Pair up", "hints", "must be a list"),
    ("title-not-text", "title: Vectors", "title: [Vectors]",
     "title: [Vectors]", "title", "must be text"),
    ("unknown-framework", "framework: numpy", "framework: jax",
     "framework: jax", "framework", "must be one of numpy, torch"),
    ("unknown-kind", "    points: 1\n", "    points: 1\n            kind: style\n",
     "kind: style", "kind", "must be one of correctness"),
    ("unknown-visibility", "    points: 1\n", "    points: 1\n            visibility: secret\n",
     "visibility: secret", "visibility", "must be one of visible"),
    ("timeout-not-a-number", "call_timeout: 10", "call_timeout: soon",
     "call_timeout: soon", "call_timeout", "must be a number"),
    ("no-check-module", "  - name: vectors", "  - name: calculus",
     "- name: calculus", "name", "there is no check module grader/checks/calculus.py"),
    ("check-id-missing", "- id: symmetric\n", "- title: symmetric\n",
     "- title: symmetric", "id", "is missing"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_course_names_file_line_and_field(case, tmp_path):
    _, old, new, at, field, problem = case
    path, text = write(tmp_path, old, new)
    with pytest.raises(YamlError) as caught:
        load_course(str(path))
    error = caught.value
    line = line_of(text, at)
    assert (error.path, error.line, error.field) == (str(path), line, field), str(error)
    assert str(error).startswith(f"{path}, line {line}, field '{field}': ")
    assert problem in str(error)


def test_duplicate_exercise(tmp_path):
    tail = BASE[BASE.index("  - name: vectors"):]
    path = tmp_path / "course.yaml"
    text = BASE + tail
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        load_course(str(path))
    second = text.index("  - name: vectors", text.index("  - name: vectors") + 1)
    assert caught.value.field == "name" and caught.value.line == 1 + text[:second].count("\n")
    assert "exercise 'vectors' is defined twice" in str(caught.value)


@pytest.mark.parametrize("old, new, at", [
    ("params: [a, b]", "params: [a, b", "hints:"),  # an unclosed list: YAML notices on the next line
    ("    title: Vectors\n", "    title: Vectors\n\ttabbed: yes\n", "\ttabbed"),
], ids=["unclosed-bracket", "tab-indent"])
def test_invalid_yaml_names_file_and_line(old, new, at, tmp_path):
    path, text = write(tmp_path, old, new)
    with pytest.raises(YamlError) as caught:
        load_course(str(path))
    error = caught.value
    assert error.path == str(path) and "is not valid YAML" in str(error)
    assert error.line is not None and abs(error.line - line_of(text, at)) <= 2, str(error)
    assert str(error).startswith(f"{path}, line {error.line}: ")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(YamlError, match="cannot be read"):
        load_course(str(tmp_path / "nowhere.yaml"))
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(YamlError, match="must be a mapping") as caught:
        load_course(str(empty))
    assert caught.value.path == str(empty)


@pytest.mark.parametrize("old, new, at, field", [
    ("- id: symmetric\n            points: 1\n            rtol: 1.0e-8\n", "- symmetric\n",
     "- symmetric", "checks"),
    ("exercises:\n", "exercises:\n  - vectors\n", "- vectors", "exercises"),
], ids=["check-not-a-mapping", "exercise-not-a-mapping"])
def test_entry_that_is_not_a_mapping_names_file_and_line(old, new, at, field, tmp_path):
    path, text = write(tmp_path, old, new)
    with pytest.raises(YamlError) as caught:
        load_course(str(path))
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), line_of(text, at), field), str(error)


def test_unclosed_quote_names_the_line_where_it_opens(tmp_path):
    path, text = write(tmp_path, "title: Vectors", "title: 'Vectors")
    with pytest.raises(YamlError) as caught:
        load_course(str(path))
    assert caught.value.line == line_of(text, "title: 'Vectors"), str(caught.value)

