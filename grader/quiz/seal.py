"""``grade quiz --seal``: write each quiz file's answer key from the reference answers.

For the people who write quizzes. It reads ``solutions/quizzes/<quiz>.yaml`` (plain
reference answers, never shipped to a class), and replaces the block at the end of
``grader/quizzes/<quiz>.yaml`` that starts at ``salt:`` with the salted digests of those
answers. The salt is kept when there is one, so re-sealing an unchanged quiz changes
nothing. Questions with a generator need no key: the grader computes their answers.
"""
from __future__ import annotations

import os
import secrets
import tempfile

from ..yamlfile import Node, YamlError, load
from .answers import answers_path, read_answers
from .hashing import digest, normalise_text
from .model import MULTIPLE, Question, load_quiz, quiz_path, read_quiz

MARKER = "# --- answer key"


def split_key_block(path: str, text: str) -> tuple[str, str | None]:
    """The quiz file without its key block, and the salt found there (if any)."""
    root = load(path, text)
    if not isinstance(root, Node):
        raise YamlError(path, None, None, "must be a mapping with 'title' and 'questions'")
    lines = text.splitlines(keepends=True)
    key_lines = [root.line_of(k) for k in ("salt", "key") if k in root]
    if not key_lines:
        return text.rstrip("\n") + "\n", None
    first = min(key_lines)
    later = [k for k in root if k not in ("salt", "key") and root.line_of(k) > first]
    if later:
        raise YamlError(path, root.line_of(later[0]), later[0],
                        "comes after the answer key: salt and key must end the quiz file")
    cut = first - 1
    while cut > 0 and (lines[cut - 1].startswith("#") or not lines[cut - 1].strip()):
        cut -= 1  # the key block's comment lines go too
    salt = root.get("salt")
    return "".join(lines[:cut]).rstrip("\n") + "\n", salt if isinstance(salt, str) and salt else None


def key_for(q: Question, reference, also: list) -> list[str]:
    """The digests of a question's reference answer (and its also-accepted forms)."""
    if q.type == MULTIPLE:
        chosen = set(q.interpret(reference))
        return [digest(q.salt, q.id, f"{normalise_text(c)}={int(i in chosen)}")
                for i, c in enumerate(q.choices, 1)]
    digests = []
    for value in [reference, *also]:
        h = q.hash_of(q.interpret(value))
        if h is None:
            raise ValueError(f"{value!r} does not have the form its pattern asks for")
        if h not in digests:
            digests.append(h)
    return digests


def seal(name: str, reference_dir: str, directory: str | None = None) -> int:
    """Rewrite the key of one quiz; return how many questions have a key."""
    path = quiz_path(name, directory)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    body, salt = split_key_block(path, text)
    salt = salt or secrets.token_hex(8)
    quiz, problems = read_quiz(path, name, text=body + f"salt: {salt}\n", check_key=False)
    if problems:
        raise problems[0]
    ref_path = answers_path(reference_dir, name)
    if not os.path.exists(ref_path):
        raise YamlError(ref_path, None, None, f"is missing: it must hold the reference answers of '{name}'")
    reference = read_answers(ref_path, quiz)
    entries = []
    for q in quiz.questions:
        if q.parameterised:
            continue
        given = reference.answers.get(q.id)
        if given is None:
            raise YamlError(ref_path, None, q.id, f"has no reference answer for question '{q.id}'")
        try:
            digests = key_for(q, given.value, reference.also_accept.get(q.id, []))
        except ValueError as e:
            raise YamlError(ref_path, given.line, q.id, f"the reference answer cannot be used: {e}") from None
        entries.append((q.id, digests[0] if len(digests) == 1 and q.type != MULTIPLE else digests))
    block = [
        "",
        f"{MARKER} " + "-" * 60,
        f"# Written by `grade quiz --seal` from the reference answers ({name}.yaml in the solutions):",
        "# salted SHA-256 digests of the normalised answers, never the answers themselves",
        "# (docs/learners.md, Quizzes says what that does and does not protect). Do not edit by hand.",
        f"salt: {salt}",
        "key:" if entries else "key: {}",
    ]
    for qid, d in entries:
        block.append(f"  {qid}: " + (d if isinstance(d, str) else "[" + ", ".join(d) + "]"))
    new_text = body + "\n".join(block) + "\n"
    if new_text != text:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    load_quiz(name, directory)  # the sealed file must load cleanly
    return len(entries)
