"""Quiz files (``grader/quizzes/<name>.yaml``) read into Quiz and Question objects.

A quiz file has a ``title``, an optional ``intro``, a list of ``questions`` and, at the
end, the answer key that ``grade quiz --seal`` writes: a ``salt`` and a ``key`` mapping
each question id to the salted digests of its accepted answers (see hashing.py and
docs/learners.md, Quizzes). Every problem is reported with file, line and field.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..yamlfile import Node, Seq, YamlError, load
from . import generators as gen
from .hashing import (digest, extract, is_digest, normalise_text, parse_number,
                      round_canonical, close_enough)

QUIZ_DIR_ENV = "DLGRADE_QUIZ_DIR"
PACKAGE_QUIZ_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "quizzes")
INDEX_FILE = "index.yaml"

SINGLE, MULTIPLE, TRUE_FALSE = "single_choice", "multiple_choice", "true_false"
NUMERIC, VECTOR, MATRIX, TEXT = "numeric", "vector", "matrix", "text"
TYPES = (SINGLE, MULTIPLE, TRUE_FALSE, NUMERIC, VECTOR, MATRIX, TEXT)
TYPE_LABELS = {SINGLE: "single choice", MULTIPLE: "multiple choice (all that apply)",
               TRUE_FALSE: "true or false", NUMERIC: "a number", VECTOR: "a vector",
               MATRIX: "a matrix", TEXT: "a short text"}
NUMBERS = (NUMERIC, VECTOR, MATRIX)

_COMMON = {"id", "type", "points", "prompt", "explanation", "hints", "title"}
_NUMBER_FIELDS = {"generator", "output", "draw", "rtol", "atol", "sig_figs", "decimals"}
_FIELDS = {SINGLE: {"choices"}, MULTIPLE: {"choices"}, TRUE_FALSE: set(),
           NUMERIC: _NUMBER_FIELDS, VECTOR: _NUMBER_FIELDS, MATRIX: _NUMBER_FIELDS,
           TEXT: {"pattern"}}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_CHOICES = 9
CHECK_STUDENT = "quiz-check"


def quiz_dir() -> str:
    """Where the quiz files are: $DLGRADE_QUIZ_DIR, else the course's: a course folder's
    ``quizzes/`` (``grade --course DIR``), or the ones shipped with the grader."""
    if os.environ.get(QUIZ_DIR_ENV):
        return os.environ[QUIZ_DIR_ENV]
    from ..course import course_folder

    return course_folder().quizzes


@dataclass
class Verdict:
    """How an answer scored: ``fraction`` of the points, ``passed`` when fully right.

    ``problem`` says why an answer could not be read (it then scores 0).
    """

    fraction: float
    passed: bool
    problem: str | None = None


@dataclass
class Question:
    quiz: str
    id: str
    type: str
    points: float
    prompt: str
    explanation: str
    path: str
    line: int | None
    title: str = ""
    hints: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)
    generator: str | None = None
    output: str = "answer"
    draw: str = ""
    rtol: float | None = None
    atol: float | None = None
    sig_figs: int | None = None
    decimals: int | None = None
    pattern: str | None = None
    salt: str = ""
    key: list[str] = field(default_factory=list)

    @property
    def parameterised(self) -> bool:
        return self.generator is not None

    @property
    def label(self) -> str:
        return self.title or self.id.replace("_", " ")

    # --- parameterised questions ---------------------------------------------------

    def drawn(self, student: str) -> gen.Drawn:
        return gen.drawn(student, self.quiz, self.draw or self.id, self.generator)

    def fill(self, text: str, student: str) -> str:
        """Put the learner's numbers into a prompt, explanation or hint."""
        if not self.parameterised:
            return text
        params = self.drawn(student).params
        return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)

    def expected(self, student: str):
        return self.drawn(student).answers[self.output]

    # --- reading an answer ---------------------------------------------------------

    def interpret(self, value):
        """A stored or typed answer as a Python value of this question's type.

        Raises ValueError with a sentence a learner can act on.
        """
        if self.type == SINGLE:
            return self._choice_number(value)
        if self.type == MULTIPLE:
            if isinstance(value, str):
                parts = [p for p in re.split(r"[,\s]+", value.strip().strip("[]()")) if p]
            elif isinstance(value, list):
                parts = value
            else:
                parts = [value]
            return sorted({self._choice_number(p) for p in parts})
        if self.type == TRUE_FALSE:
            if isinstance(value, bool):
                return value
            text = normalise_text(value)
            if text in ("true", "t", "yes", "y"):
                return True
            if text in ("false", "f", "no", "n"):
                return False
            raise ValueError(f"'{value}' is neither true nor false (write true or false)")
        if self.type == NUMERIC:
            return parse_number(value)
        if self.type == VECTOR:
            rows = parse_rows(value)
            if len(rows) != 1:
                raise ValueError("it should be one list of numbers, like [1, 2, 3]")
            return rows[0]
        if self.type == MATRIX:
            rows = parse_rows(value)
            if len({len(r) for r in rows}) != 1:
                raise ValueError("its rows have different lengths")
            return rows
        if isinstance(value, bool):  # YAML reads an unquoted yes/no/true as a boolean
            value = "true" if value else "false"
        if isinstance(value, (list, dict)) or value is None:
            raise ValueError("it should be a short text")
        text = normalise_text(value)
        if not text:
            raise ValueError("it is empty")
        return text

    def _choice_number(self, value) -> int:
        n = len(self.choices)
        if isinstance(value, bool):
            raise ValueError(f"pick a choice by its number, 1 to {n}")
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            k = int(value)
            if not 1 <= k <= n:
                raise ValueError(f"there is no choice {k}: the choices are numbered 1 to {n}")
            return k
        if isinstance(value, str):
            text = normalise_text(value)
            for i, c in enumerate(self.choices, 1):
                if normalise_text(c) == text:
                    return i
        raise ValueError(f"'{value}' is not one of the choices: give its number, 1 to {n}")

    # --- marking -------------------------------------------------------------------

    def mark(self, value, student: str) -> Verdict:
        """Score an answer (as stored in an answers file)."""
        try:
            v = self.interpret(value)
        except ValueError as e:
            return Verdict(0.0, False, str(e))
        if self.type == MULTIPLE:
            right = {i for i in range(1, len(self.choices) + 1) if self.choice_is_right(i)}
            chosen = set(v)
            good, bad = len(chosen & right), len(chosen - right)
            fraction = max(0.0, (good - bad) / len(right)) if right else 0.0
            return Verdict(fraction, chosen == right)
        if self.parameterised:
            ok = self._close(v, self.expected(student))
            if ok is None:
                return Verdict(0.0, False, self._shape_problem(v, self.expected(student)))
            return Verdict(float(ok), ok)
        ok = self.hash_of(v) in self.key
        return Verdict(float(ok), ok)

    def choice_is_right(self, i: int) -> bool:
        return digest(self.salt, self.id, f"{normalise_text(self.choices[i - 1])}=1") == self.key[i - 1]

    def canonical(self, v) -> str | None:
        """The text that is hashed for an interpreted answer (None: cannot be right)."""
        if self.type == SINGLE:
            return normalise_text(self.choices[v - 1])
        if self.type == TRUE_FALSE:
            return "true" if v else "false"
        if self.type == NUMERIC:
            return self._round(v)
        if self.type == VECTOR:
            return f"{len(v)}:" + ",".join(self._round(x) for x in v)
        if self.type == MATRIX:
            return f"{len(v)}x{len(v[0])}:" + ";".join(",".join(self._round(x) for x in r) for r in v)
        if self.type == TEXT:
            return extract(v, self.pattern)
        raise ValueError(self.type)

    def hash_of(self, v) -> str | None:
        text = self.canonical(v)
        return None if text is None else digest(self.salt, self.id, text)

    def _round(self, x: float) -> str:
        return round_canonical(x, sig_figs=self.sig_figs, decimals=self.decimals)

    def _close(self, got, exact) -> bool | None:
        tol = dict(rtol=self.rtol, atol=self.atol, sig_figs=self.sig_figs, decimals=self.decimals)
        if self.type == NUMERIC:
            return close_enough(got, exact, **tol)
        if self.type == VECTOR:
            if len(got) != len(exact):
                return None
            return all(close_enough(g, e, **tol) for g, e in zip(got, exact))
        if len(got) != len(exact) or len(got[0]) != len(exact[0]):
            return None
        return all(close_enough(g, e, **tol) for gr, er in zip(got, exact) for g, e in zip(gr, er))

    def _shape_problem(self, got, exact) -> str:
        if self.type == VECTOR:
            return f"the answer has {len(exact)} entries, yours has {len(got)}"
        return (f"the answer is a {len(exact)}×{len(exact[0])} matrix, "
                f"yours is {len(got)}×{len(got[0])}")

    def form_hint(self) -> str:
        """How to type an answer to this question."""
        n = len(self.choices)
        return {
            SINGLE: f"the number of your choice (1-{n})",
            MULTIPLE: "the numbers of every choice you pick, e.g. 1 3",
            TRUE_FALSE: "t (true) or f (false)",
            NUMERIC: "a number, e.g. 2.5, -3 or 1/4",
            VECTOR: "numbers separated by commas, e.g. 1, 2, 3",
            MATRIX: "rows separated by ;, e.g. 1 2; 3 4",
            TEXT: "a word or a few",
        }[self.type]


@dataclass
class Quiz:
    name: str
    title: str
    path: str
    questions: list[Question]
    intro: str = ""
    salt: str = ""

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def get(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def ids(self) -> list[str]:
        return [q.id for q in self.questions]


# --- numbers in rows ------------------------------------------------------------------

def parse_rows(value) -> list[list[float]]:
    """[1, 2, 3], "1, 2, 3", "1 2; 3 4", [[1, 2], [3, 4]] or "[[1, 2], [3, 4]]" as rows."""
    if isinstance(value, list):
        if value and all(isinstance(r, list) for r in value):
            rows = value
        elif any(isinstance(r, list) for r in value):
            raise ValueError("mix of numbers and lists: write a list of rows, like [[1, 2], [3, 4]]")
        else:
            rows = [value]
        out = [[parse_number(x) for x in r] for r in rows]
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("it is empty")
        pieces = re.split(r";|\]\s*,?\s*\[", text)
        out = []
        for piece in pieces:
            items = [p for p in re.split(r"[,\s]+", piece.strip().strip("[]()")) if p]
            out.append([parse_number(p) for p in items])
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out = [[parse_number(value)]]
    else:
        raise ValueError("it should be numbers, like [1, 2, 3]")
    if not out or any(not r for r in out):
        raise ValueError("a row is empty")
    return out


# --- loading ------------------------------------------------------------------------

def load_index(directory: str | None = None) -> list[str]:
    """The quiz names, in course order, from ``index.yaml``. A course folder without
    ``quizzes/index.yaml`` has no quizzes."""
    course_default = directory is None and not os.environ.get(QUIZ_DIR_ENV)
    directory = directory or quiz_dir()
    path = os.path.join(directory, INDEX_FILE)
    if course_default and directory != PACKAGE_QUIZ_DIR and not os.path.exists(path):
        return []
    root = load(path)
    if not isinstance(root, Node) or "quizzes" not in root:
        raise YamlError(path, getattr(root, "line", None), "quizzes", "must list the quiz names")
    names = root["quizzes"]
    if not isinstance(names, Seq) or not all(isinstance(n, str) for n in names):
        raise YamlError(path, root.line_of("quizzes"), "quizzes", "must be a list of quiz names")
    seen = set()
    for n in names:
        if not _ID.match(n):
            raise YamlError(path, root.line_of("quizzes"), "quizzes",
                            f"'{n}' is not a valid quiz name (lower case, digits and _)")
        if n in seen:
            raise YamlError(path, root.line_of("quizzes"), "quizzes", f"'{n}' is listed twice")
        seen.add(n)
    return list(names)


def quiz_path(name: str, directory: str | None = None) -> str:
    return os.path.join(directory or quiz_dir(), f"{name}.yaml")


def load_quiz(name: str, directory: str | None = None) -> Quiz:
    """Read one quiz; raise the first problem as a YamlError."""
    quiz, problems = read_quiz(quiz_path(name, directory), name)
    if problems:
        raise problems[0]
    return quiz


def read_quiz(path: str, name: str, text: str | None = None,
              check_key: bool = True) -> tuple[Quiz | None, list[YamlError]]:
    """Read and validate a quiz file, collecting every problem found.

    ``check_key=False`` skips the answer key (``grade quiz --seal`` is about to write it).
    """
    try:
        root = load(path, text)
    except YamlError as e:
        return None, [e]
    problems: list[YamlError] = []
    if not isinstance(root, Node):
        return None, [YamlError(path, getattr(root, "line", None), None,
                                "must be a mapping with 'title' and 'questions'")]
    for key in root:
        if key not in ("title", "intro", "questions", "salt", "key"):
            problems.append(root.error(key, "unknown field (a quiz has title, intro, questions, salt, key)"))
    title = _text(root, "title", problems, required=True)
    intro = _text(root, "intro", problems)
    salt = root.get("salt", "")
    if not isinstance(salt, str):
        problems.append(root.error("salt", "must be text"))
        salt = ""
    key = root.get("key", Node())
    if key is None:
        key = Node()
    if not isinstance(key, Node):
        problems.append(root.error("key", "must map each question id to its answer digests"))
        key = Node()
    qnodes = root.get("questions")
    if not isinstance(qnodes, Seq) or not qnodes:
        problems.append(YamlError(path, root.line_of("questions"), "questions",
                                  "must be a non-empty list of questions"))
        qnodes = Seq()
    questions: list[Question] = []
    seen: dict[str, int | None] = {}
    for i, node in enumerate(qnodes, 1):
        if not isinstance(node, Node):
            problems.append(YamlError(path, root.line_of("questions"), "questions",
                                      f"question {i} must be a mapping (id, type, points, prompt, ...)"))
            continue
        q = _question(node, name, salt, key, problems, check_key)
        if q is None:
            continue
        if q.id in seen:
            problems.append(YamlError(path, node.line_of("id"), "id",
                                      f"duplicate question id '{q.id}' (first used on line {seen[q.id]})"))
            continue
        seen[q.id] = node.line_of("id")
        questions.append(q)
    for qid in key if check_key else ():
        if qid not in seen:
            problems.append(key.error(qid, f"the key names a question '{qid}' that this quiz does not have"))
    if check_key and any(not q.parameterised for q in questions) and not salt:
        problems.append(YamlError(path, root.line, "salt",
                                  "is missing: run grade quiz --seal to write the answer key"))
    quiz = Quiz(name=name, title=title or name, intro=intro, path=path, questions=questions, salt=salt)
    return quiz, problems


def _text(node: Node, key: str, problems: list, required: bool = False) -> str:
    value = node.get(key)
    if value is None:
        if required:
            problems.append(YamlError(node.path, node.line, key, "is missing"))
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(node.error(key, "must be non-empty text"))
        return ""
    return value.strip()


def _question(node: Node, quiz: str, salt: str, key: Node, problems: list,
              check_key: bool = True) -> Question | None:
    before = len(problems)

    def bad(fieldname, problem):
        problems.append(node.error(fieldname, problem))

    qid = node.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        bad("id", "each question needs an id: lower case letters, digits and _ (e.g. dot_product)")
        return None
    qtype = node.get("type")
    if qtype not in TYPES:
        bad("type", f"unknown question type {qtype!r} in question '{qid}' (types: {', '.join(TYPES)})")
        return None
    for k in node:
        if k not in _COMMON | _FIELDS[qtype]:
            allowed = ", ".join(sorted(_COMMON | _FIELDS[qtype]))
            bad(k, f"unknown field for a {qtype} question '{qid}' (allowed: {allowed})")
    points = node.get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        bad("points", f"question '{qid}' needs points: a positive number")
        points = 1
    prompt = _text(node, "prompt", problems, required=True)
    explanation = _text(node, "explanation", problems, required=True)
    title = node.get("title") or ""
    if not isinstance(title, str):
        bad("title", "must be text")
        title = ""
    hints = node.get("hints") or []
    if isinstance(hints, str):
        hints = [hints]
    if not isinstance(hints, list) or not all(isinstance(h, str) and h.strip() for h in hints):
        bad("hints", "must be a list of texts" + _mapping_tip(hints))
        hints = []
    q = Question(quiz=quiz, id=qid, type=qtype, points=float(points), prompt=prompt,
                 explanation=explanation, path=node.path, line=node.line, title=title.strip(),
                 hints=[h.strip() for h in hints], salt=salt, draw=qid)

    if qtype in (SINGLE, MULTIPLE):
        choices = node.get("choices")
        if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES or not all(
                isinstance(c, (str, int, float)) and not isinstance(c, bool) and str(c).strip() for c in choices):
            bad("choices", f"a {qtype} question needs 2 to {MAX_CHOICES} choices, each a non-empty text"
                           + _mapping_tip(choices))
        else:
            q.choices = [str(c).strip() for c in choices]
            normal = [normalise_text(c) for c in q.choices]
            dupes = sorted({c for c in normal if normal.count(c) > 1})
            if dupes:
                bad("choices", f"two choices read the same: '{dupes[0]}'")
    if qtype in NUMBERS:
        _number_fields(node, q, bad)
    if qtype == TEXT and node.get("pattern") is not None:
        pattern = node.get("pattern")
        try:
            if not isinstance(pattern, str):
                raise re.error("not text")
            re.compile(pattern)
            q.pattern = pattern
        except re.error as e:
            bad("pattern", f"is not a valid regular expression ({e})")

    # the answer key
    entry = key.get(qid)
    if not check_key:
        pass
    elif q.parameterised:
        if entry is not None:
            problems.append(key.error(qid, f"question '{qid}' is computed by its generator: "
                                           f"it must not have a key"))
    elif len(problems) == before:
        _check_key(q, key, entry, problems)
    if len(problems) == before and q.parameterised:
        _check_placeholders(node, q, problems)
    return q


def _mapping_tip(items) -> str:
    if isinstance(items, list) and any(isinstance(i, dict) for i in items):
        return (" (one of them reads as 'key: value' because it contains ': '; put that text "
                "in quotes)")
    return ""


def _number_fields(node: Node, q: Question, bad) -> None:
    for name in ("rtol", "atol"):
        v = node.get(name)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                bad(name, "must be a number ≥ 0")
            else:
                setattr(q, name, float(v))
    for name in ("sig_figs", "decimals"):
        v = node.get(name)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or not (0 if name == "decimals" else 1) <= v <= 15:
                bad(name, "must be a whole number (sig_figs 1-15, decimals 0-15)")
            else:
                setattr(q, name, v)
    name = node.get("generator")
    if name is None:
        for f in ("output", "draw", "rtol", "atol"):
            if node.get(f) is not None:
                bad(f, f"only a question with a generator can have {f}: a fixed answer is "
                       f"compared through its digest, after rounding (give sig_figs or decimals)")
        if (q.sig_figs is None) == (q.decimals is None):
            bad("sig_figs", f"question '{q.id}' has a fixed numeric answer: give exactly one of "
                            f"sig_figs or decimals (how the answer is rounded before it is hashed)")
        return
    if name not in gen.GENERATORS:
        known = ", ".join(sorted(gen.GENERATORS))
        bad("generator", f"unknown generator '{name}' (generators in grader/quiz/generators.py: {known})")
        return
    g = gen.GENERATORS[name]
    q.generator = name
    output = node.get("output")
    if output is None:
        if len(g.outputs) != 1:
            bad("output", f"generator '{name}' has several answers; pick one with output: "
                          f"({', '.join(g.outputs)})")
            return
        output = next(iter(g.outputs))
    if output not in g.outputs:
        bad("output", f"generator '{name}' has no output '{output}' (it has {', '.join(g.outputs)})")
        return
    q.output = output
    if g.outputs[output] != q.type:
        bad("type", f"generator '{name}' output '{output}' is a {g.outputs[output]}, "
                    f"but question '{q.id}' is a {q.type} question")
    draw = node.get("draw")
    if draw is not None:
        if not isinstance(draw, str) or not _ID.match(draw):
            bad("draw", "must be a name (questions with the same draw share their numbers)")
        else:
            q.draw = draw


def _check_key(q: Question, key: Node, entry, problems: list) -> None:
    where = key if q.id in key else None

    def bad(problem):
        if where is None:
            problems.append(YamlError(q.path, q.line, "key", f"question '{q.id}' {problem}"))
        else:
            problems.append(key.error(q.id, problem))

    if entry is None:
        bad("has no answer key: add its reference answer to solutions/quizzes and run grade quiz --seal")
        return
    digests = [entry] if isinstance(entry, str) else entry
    if not isinstance(digests, list) or not digests or not all(is_digest(d) for d in digests):
        bad("must be a digest (32 hex digits) or a list of them")
        return
    q.key = list(digests)
    if q.type == MULTIPLE:
        if len(digests) != len(q.choices):
            bad(f"needs one digest per choice ({len(q.choices)}), it has {len(digests)}")
            return
        for i, c in enumerate(q.choices):
            text = normalise_text(c)
            if digests[i] not in (digest(q.salt, q.id, f"{text}=1"), digest(q.salt, q.id, f"{text}=0")):
                bad(f"the digest for choice {i + 1} does not belong to its text (was the choice "
                    f"edited?): run grade quiz --seal again")
                return
        if not any(q.choice_is_right(i) for i in range(1, len(q.choices) + 1)):
            bad("marks no choice as right")
    elif q.type == SINGLE:
        valid = {digest(q.salt, q.id, normalise_text(c)) for c in q.choices}
        if not set(digests) <= valid:
            bad("does not match any of its choices (was a choice edited?): run grade quiz --seal again")
    elif q.type == TRUE_FALSE:
        valid = {digest(q.salt, q.id, "true"), digest(q.salt, q.id, "false")}
        if not set(digests) <= valid:
            bad("is neither true nor false: run grade quiz --seal again")


def _check_placeholders(node: Node, q: Question, problems: list) -> None:
    params = q.drawn(CHECK_STUDENT).params
    for name in ("prompt", "explanation"):
        for m in _PLACEHOLDER.finditer(getattr(q, name)):
            if m.group(1) not in params:
                problems.append(node.error(name, f"{{{m.group(1)}}} is not a value of generator "
                                                 f"'{q.generator}' (it has {', '.join(sorted(params))})"))
    for h in q.hints:
        for m in _PLACEHOLDER.finditer(h):
            if m.group(1) not in params:
                problems.append(node.error("hints", f"{{{m.group(1)}}} is not a value of generator "
                                                    f"'{q.generator}'"))
