"""A learner's answers file: ``<source>/quizzes/<quiz>.yaml``.

::

    student: ada@example.com      # whose numbers the parameterised questions use
    answers:
      gpu_strength: 2             # single choice: the choice's number
      supervised_methods: [1, 3]  # multiple choice: the numbers picked
      dot_product: -7             # a number (2.5, 1/4 and 37% work too)
      cross_product: [1, -2, 3]   # a vector; a matrix is a list of rows
      gan_judge: discriminator    # a short text
      relu_range:                 # empty: not answered yet
    revealed: [dot_product]       # answers grade quiz --reveal showed: these score 0

``grade quiz`` rewrites the whole file on every answer (a temporary file, then
``os.replace``, so a crash never leaves half a file); it refuses to touch a file it
cannot read, so answers already saved there are never lost. An answers file is read
through the submission gate (:mod:`grader.gate`): a regular file of at most
``MAX_ANSWERS_BYTES``, and YAML without anchors or aliases. The reference answers in
``solutions/quizzes/`` use the same format, with ``also_accept`` listing further accepted
forms of a text or number answer (read only by ``grade quiz --seal``).

``student`` is kept as the learner wrote it (``Ada@Example.com``, ``S-1042``) and shown
that way; the numbers are drawn from its normalised form (lower case, single spaces), so
``Ada@Example.com`` and ``ada@example.com`` get the same numbers. ``revealed`` lists the
questions whose worked answer ``grade quiz NAME --reveal QUESTION`` showed: each scores 0
points from then on, and every report says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml

from .. import gate
from ..atomic import write_atomic
from ..yamlfile import Node, YamlError, load
from .model import MATRIX, MULTIPLE, NUMERIC, SINGLE, TEXT, TRUE_FALSE, VECTOR, Quiz

_TOP = ("student", "answers", "also_accept", "revealed")
MAX_ANSWERS_BYTES = 1 << 20


@dataclass
class Answer:
    value: object
    line: int | None


@dataclass
class AnswersFile:
    path: str
    exists: bool = False
    student: str | None = None  # normalised: what the numbers are drawn from
    answers: dict[str, Answer] = field(default_factory=dict)
    also_accept: dict[str, list] = field(default_factory=dict)
    student_as_set: str | None = None  # as the learner wrote it: what is shown
    revealed: list[str] = field(default_factory=list)  # questions whose answer --reveal showed


def answers_path(source_dir: str, quiz: str) -> str:
    return os.path.join(source_dir, "quizzes", f"{quiz}.yaml")


def read_answers(path: str, quiz: Quiz, *, shown_as: str | None = None) -> AnswersFile:
    """Read an answers file (a missing file has no answers); raise YamlError for a file
    that is not YAML, has unknown fields or names a question the quiz does not have.

    ``shown_as``: the path to name in messages and to save to, when ``path`` is the
    grader's private copy of the learner's file (see grader/gate.py).
    """
    shown = shown_as or path
    out = AnswersFile(shown)
    try:
        data = gate.read_file(path, max_bytes=MAX_ANSWERS_BYTES, shown_as=shown)  # GateError: exit 2
    except FileNotFoundError:
        return out
    except OSError as e:
        raise YamlError(shown, None, None, f"cannot be read ({e.strerror})") from None
    out.exists = True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlError(shown, None, None, "is not UTF-8 text") from None
    root = load(shown, text, max_bytes=MAX_ANSWERS_BYTES, aliases=False)
    if root is None:
        return out
    if not isinstance(root, Node):
        raise YamlError(shown, getattr(root, "line", None), None,
                        "must be a mapping with 'answers:' (see docs/learners.md, Quizzes)")
    for key in root:
        if key not in _TOP:
            if quiz.get(str(key)) is not None:
                raise root.error(key, f"'{key}' is a question: put it under 'answers:', indented")
            raise root.error(key, f"unknown field (an answers file has {', '.join(_TOP[:2])})")
    student = root.get("student")
    if student is not None:
        if not isinstance(student, (str, int)) or isinstance(student, bool) or not str(student).strip():
            raise root.error("student", "must be text (an e-mail address or a student id)")
        out.student = normalise_student(str(student))
        out.student_as_set = " ".join(str(student).split())
    revealed = root.get("revealed")
    if revealed is not None:
        ids = list(revealed) if isinstance(revealed, list) else [revealed]
        for qid in ids:
            if not isinstance(qid, str) or quiz.get(qid) is None:
                raise root.error("revealed", f"'{qid}' is not a question of the quiz '{quiz.name}' "
                                             f"(its questions: {', '.join(quiz.ids())})")
        out.revealed = sorted(set(ids), key=quiz.ids().index)
    for section in ("answers", "also_accept"):
        node = root.get(section)
        if node is None:
            continue
        if not isinstance(node, Node):
            raise root.error(section, "must map question ids to answers, one per line")
        for qid, value in node.items():
            if quiz.get(str(qid)) is None:
                raise node.error(qid, f"there is no question '{qid}' in the quiz '{quiz.name}' "
                                      f"(its questions: {', '.join(quiz.ids())})")
            if section == "answers":
                if value is not None and not (isinstance(value, str) and not value.strip()):
                    out.answers[str(qid)] = Answer(_plain(value), node.line_of(qid))
            else:
                out.also_accept[str(qid)] = _plain(value) if isinstance(value, list) else [_plain(value)]
    return out


def _plain(value):
    """Node/Seq -> dict/list, recursively (answers are compared as plain values)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def normalise_student(student: str) -> str:
    return " ".join(str(student).split()).lower()


_FORM = {
    SINGLE: "single choice: the number of your choice",
    MULTIPLE: "all that apply: the numbers you pick, e.g. [1, 3]",
    TRUE_FALSE: "true or false",
    NUMERIC: "a number, e.g. 2.5, -3 or 1/4",
    VECTOR: "a vector, e.g. [1, 2, 3]",
    MATRIX: "a matrix as rows, e.g. [[1, 2], [3, 4]]",
    TEXT: "a short text",
}


def render_answers(quiz: Quiz, student: str | None, answers: dict, also_accept: dict | None = None,
                   revealed: list[str] | None = None) -> str:
    """The whole answers file: every question listed in quiz order, empty if unanswered."""
    lines = [
        f"# Your answers to the quiz '{quiz.name}': {quiz.title}.",
        f"# `grade quiz {quiz.name}` asks the questions and saves each answer here; you can also",
        "# write an answer by hand after its question's id (leave it empty: not answered yet).",
        "# grade quiz rewrites this file when it saves, so comments you add are not kept.",
    ]
    if student:
        lines.append(f"student: {_dump(student)}")
    lines.append("answers:")
    entries = []
    for q in quiz.questions:
        value = answers.get(q.id)
        text = f"  {q.id}:" + ("" if value is None else f" {_dump(value)}")
        comment = _FORM[q.type] + (f" (1-{len(q.choices)})" if q.type == SINGLE else "")
        if q.parameterised:
            comment += "; numbers drawn for you"
        entries.append((text, comment))
    width = min(max(len(t) for t, _ in entries) + 2, 48)
    for text, comment in entries:
        lines.append(f"{text:<{width}}# {comment}")
    if revealed:
        lines.append(f"revealed: {_dump(list(revealed))}  # answers shown by grade quiz --reveal: these score 0")
    if also_accept:
        lines.append("also_accept:")
        for qid, values in also_accept.items():
            lines.append(f"  {qid}: {_dump(values)}")
    return "\n".join(lines) + "\n"


def _dump(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[:-3].strip()
    return text


def write_answers(path: str, quiz: Quiz, student: str | None, answers: dict,
                  also_accept: dict | None = None, revealed: list[str] | None = None) -> None:
    """Replace the answers file atomically: a crash leaves the old file or the new one."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    write_atomic(path, render_answers(quiz, student, answers, also_accept, revealed))
