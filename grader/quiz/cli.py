"""``grade quiz``: list the quizzes, take one in the terminal, review it, check the files.

    grade quiz                  the quizzes, with progress
    grade quiz NAME             ask the questions not answered yet, saving each answer
    grade quiz NAME --retry     ...and the ones answered wrongly
    grade quiz NAME --review    every answered question with its verdict and explanation
    grade quiz NAME --reveal Q  after 3 wrong tries at question Q: its worked answer (Q then scores 0)
    grade quiz --check          validate every quiz file (and the reference answers)
    grade quiz --seal           write the answer keys from solutions/quizzes (quiz authors)

Exit codes: 0 the quiz is fully right (or the listing/check is fine), 1 not yet,
2 usage or set-up error (a broken quiz or answers file).
"""
from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
import textwrap

import click

from ..gate import Snapshot
from ..results import PASSED, STATUS_LABELS, Report
from ..yamlfile import YamlError
from . import (QuizSetupError, get_answers, get_quiz, grade_quiz, quiz_names, resolve_student, student_as_set,
               student_label)
from .answers import _dump, answers_path, write_answers
from .model import (INDEX_FILE, MATRIX, MULTIPLE, NUMERIC, SINGLE, TEXT, TRUE_FALSE, TYPE_LABELS,
                    VECTOR, Question, Quiz, quiz_dir, read_quiz)

DEFAULT_SOURCE = "exercises"
REFERENCE_SOURCE = "solutions"
# Wrong answers to one question (given in grade quiz) before --reveal shows its worked answer.
REVEAL_AFTER = 3


@click.command("quiz")
@click.argument("name", required=False)
@click.option("--source", metavar="DIR",
              help="Folder whose quizzes/ holds the answers (default: ./exercises; "
                   "with --check and --seal: ./solutions, the reference answers).")
@click.option("--student", metavar="ID",
              help="Whose numbers the parameterised questions use (default: the id saved in the "
                   "answers file, else git config user.email).")
@click.option("--retry", is_flag=True, help="Also ask again the questions answered wrongly.")
@click.option("--review", is_flag=True, help="Show each answered question with its verdict and explanation.")
@click.option("--reveal", "reveal", metavar="QUESTION", default=None,
              help=f"After {REVEAL_AFTER} wrong tries at QUESTION (its number or id): show its worked answer. "
                   f"A revealed question scores 0 points, and reports say it was revealed.")
@click.option("--check", is_flag=True, help="Validate the quiz files and the reference answers (exit 2 on a problem).")
@click.option("--seal", is_flag=True, help="Quiz authors: write each quiz's answer key from the reference answers.")
def quiz(name, source, student, retry, review, check, seal, reveal=None):
    """Take the quizzes: `grade quiz` lists them, `grade quiz NAME` asks the questions.

    \b
    Choices are answered by number (1 3 for several), numbers as 2.5, -3, 1/4 or 37%,
    vectors as 1, 2, 3 and matrices as 1 2; 3 4. While answering, type ? for a hint,
    s to skip a question and q to stop: every answer is saved as you give it, in
    exercises/quizzes/NAME.yaml (which you may also edit by hand).
    """
    if sum([retry, review, check, seal, reveal is not None]) > 1:
        raise click.UsageError("use only one of --retry, --review, --reveal, --check and --seal.")
    if check:
        sys.exit(check_quizzes(name, source))
    if seal:
        sys.exit(seal_quizzes(name, source))
    names = quiz_names()
    if name is not None and name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise click.UsageError(f"there is no quiz '{name}'.{hint} The quizzes: {', '.join(names)}.")
    source_dir = _source(source)
    if name is None and (retry or review or reveal is not None):
        raise click.UsageError("--retry, --review and --reveal need a quiz name: grade quiz NAME --retry.")
    from ..context import open_submission

    with open_submission(source_dir) as snap:  # answers read from the grader's private copy
        if name is None:
            code = list_quizzes(names, source_dir, student, snap=snap)
        elif review:
            code = review_quiz(get_quiz(name), source_dir, student, snap=snap)
        elif reveal is not None:
            code = reveal_answer(get_quiz(name), reveal, source_dir, student, snap=snap)
        else:
            code = take_quiz(get_quiz(name), source_dir, student, retry, snap=snap)
    sys.exit(code)


def _source(source: str | None) -> str:
    from ..context import resolve_source

    return resolve_source(source)


def _answers(quiz: Quiz, source_dir: str, snap: Snapshot | None):
    """The learner's answers: from the snapshot when there is one, named by ``source_dir``."""
    if snap is None:
        return get_answers(quiz, source_dir)
    return get_answers(quiz, snap.root, display_source=source_dir)


def _width() -> int:
    return max(40, min(shutil.get_terminal_size((88, 24)).columns, 96) - 2)


def render(text: str, indent: int = 2) -> str:
    """Wrap paragraphs to the terminal; lines that start with spaces (code, tables) stay as
    they are."""
    pad = " " * indent
    out, para = [], []

    def flush():
        if para:
            out.append(textwrap.fill(" ".join(para), width=_width(), initial_indent=pad,
                                     subsequent_indent=pad, break_long_words=False,
                                     break_on_hyphens=False))
            para.clear()

    for line in text.rstrip().splitlines():
        if not line.strip():
            flush()
            out.append("")
        elif line[:1].isspace():
            flush()
            out.append(pad + line.rstrip())
        else:
            para.append(line.strip())
    flush()
    return "\n".join(out)


def _choices(q: Question) -> str:
    lines = []
    for i, c in enumerate(q.choices, 1):
        lines.append(textwrap.fill(c, width=_width(), initial_indent=f"    {i}) ",
                                   subsequent_indent="       ", break_long_words=False))
    return "\n".join(lines)


def _fmt(x: float) -> str:
    from ..format import points

    return points(x)


# --- listing ----------------------------------------------------------------------------

def list_quizzes(names: list[str], source_dir: str, student: str | None, *, snap: Snapshot | None = None) -> int:
    rows = []
    for n in names:
        quiz = get_quiz(n)
        answers = _answers(quiz, source_dir, snap)
        result = grade_quiz(quiz, answers, resolve_student(student, answers))
        answered = sum(1 for c in result.checks if not c.not_started)
        rows.append((n, quiz, result, answered))
    width = max([len("quiz"), *(len(n) for n in names)]) + 2  # a course may have no quizzes
    click.echo(click.style(f"{'#':>2}  {'quiz':<{width}}{'answered':>9}{'points':>10}   {'status':<13} title",
                           bold=True))
    for i, (n, quiz, result, answered) in enumerate(rows, 1):
        text, colour = _progress_label(result, answered, len(quiz.questions))
        label = click.style(f"{text:<13}", fg=colour)
        click.echo(f"{i:>2}  {n:<{width}}{f'{answered}/{len(quiz.questions)}':>9}"
                   f"{f'{_fmt(result.score)}/{_fmt(result.max_score)}':>10}   {label} {quiz.title}")
    total = sum(r[2].score for r in rows), sum(r[2].max_score for r in rows)
    click.echo(click.style(f"{'':>2}  {'total':<{width}}{'':>9}{f'{_fmt(total[0])}/{_fmt(total[1])}':>10}",
                           bold=True))
    _warn_strays(names, source_dir)
    todo = next((r for r in rows if r[3] < len(r[1].questions)), None)
    wrong = next((r for r in rows if r[2].status != PASSED), None)
    click.echo("")
    if todo:
        click.echo(click.style("next up: ", bold=True) + f"grade quiz {todo[0]}")
    elif wrong:
        click.echo(click.style("next up: ", bold=True) + f"grade quiz {wrong[0]} --retry "
                   f"(every question is answered; some answers are not right yet)")
    else:
        click.echo(click.style("Every quiz is answered and right. Well done!", fg="green", bold=True))
    return 0


def _progress_label(result, answered: int, total: int) -> tuple[str, str]:
    if answered == 0:
        return STATUS_LABELS["not_started"], "yellow"
    if answered < total:
        return "in progress", "cyan"
    if result.status == PASSED:
        return STATUS_LABELS[PASSED], "green"
    wrong = sum(1 for c in result.checks if not c.passed)
    return f"{wrong} not right", "red"


def _warn_strays(names: list[str], source_dir: str) -> None:
    folder = os.path.join(source_dir, "quizzes")
    try:
        files = sorted(os.listdir(folder))
    except OSError:
        return
    for f in files:
        stem, ext = os.path.splitext(f)
        if ext in (".yaml", ".yml") and stem not in names and not f.startswith("."):
            close = difflib.get_close_matches(stem, names, n=1)
            hint = f" (did you mean {close[0]}.yaml?)" if close else ""
            click.echo(click.style("note: ", fg="yellow", bold=True) +
                       f"{os.path.join(folder, f)} is not read: there is no quiz '{stem}'{hint}", err=True)


# --- taking a quiz ----------------------------------------------------------------------

class _Stop(Exception):
    pass


def take_quiz(quiz: Quiz, source_dir: str, student_opt: str | None, retry: bool, *,
              snap: Snapshot | None = None) -> int:
    path = answers_path(source_dir, quiz.name)
    refused = snap and (snap.refusal_of("quizzes") or snap.refusal_of(f"quizzes/{quiz.name}.yaml"))
    if refused:  # saving would write through a link, wherever it points
        raise QuizSetupError(f"{snap.sentence(refused)} grade quiz saves answers only in a real file in a "
                             f"real quizzes folder: replace the link with one and run grade quiz again.")
    af = _answers(quiz, source_dir, snap)  # exits 2 on a broken file, which stays untouched
    student = resolve_student(student_opt, af)
    parameterised = any(q.parameterised for q in quiz.questions)
    if parameterised and af.student and student != af.student:
        click.echo(click.style("note: ", fg="yellow", bold=True) +
                   f"{path} was started as '{af.student_as_set or af.student}'; the numbers are now drawn for "
                   f"'{student_as_set(student_opt, af) or student}', so numbered answers given before may no "
                   f"longer fit.", err=True)
    answers = {qid: a.value for qid, a in af.answers.items()}
    keep_student = _student_to_keep(quiz, student_opt, af, student)

    def save():
        try:
            write_answers(path, quiz, keep_student, answers, af.also_accept, af.revealed)
        except OSError as e:
            raise QuizSetupError(f"{path}: your answer could not be saved ({e.strerror or e}); the "
                                 f"answers saved before are unchanged.") from None

    todo = [q for q in quiz.questions
            if q.id not in answers or (retry and not q.mark(answers[q.id], student).passed)]
    click.echo(click.style(quiz.title, bold=True) +
               f"  ({quiz.name}: {len(quiz.questions)} questions, {_fmt(quiz.max_score)} points)")
    if quiz.intro and len(todo) == len(quiz.questions):
        click.echo(render(quiz.intro))
    if not todo:
        result = grade_quiz(quiz, af, student)
        click.echo(f"Every question is answered: {_fmt(result.score)}/{_fmt(result.max_score)} points.")
        if result.status != PASSED:
            click.echo(f"To answer the wrong ones again: grade quiz {quiz.name} --retry")
        click.echo(f"To read the explanations again: grade quiz {quiz.name} --review")
        return 0 if result.status == PASSED else 1
    if not os.path.exists(path):
        save()  # a file listing every question, so it can also be filled in by hand
    intro = (f"{len(todo)} to answer. Type ? for a hint, s to skip a question, q to stop; "
             f"each answer is saved in {path} as you give it.")
    if parameterised:
        intro += f" Questions marked * use numbers drawn for {student_label(student_opt, af, quiz.name)}."
    click.echo(render(intro, 0))
    position = {q.id: i for i, q in enumerate(quiz.questions, 1)}

    def wrong(q: Question) -> None:  # a wrong try, counted towards --reveal
        tries = record_wrong_try(source_dir, quiz.name, q.id)
        if tries >= REVEAL_AFTER and q.id not in af.revealed:
            click.echo(render(f"That was wrong try {tries} at this question: grade quiz {quiz.name} --reveal "
                              f"{q.id} shows its worked answer (the question then scores 0).", 4))

    try:
        for q in todo:
            _ask(quiz, q, position[q.id], student, answers, save, on_wrong=wrong,
                 revealed=q.id in af.revealed)
    except (_Stop, click.Abort, EOFError, KeyboardInterrupt):
        click.echo("")
        click.echo(render(f"Stopped. The answers you gave are saved in {path}; "
                          f"grade quiz {quiz.name} carries on where you left off.", 0))
    result = grade_quiz(quiz, get_answers(quiz, source_dir), student)
    _save_progress(source_dir, result)
    answered = sum(1 for c in result.checks if not c.not_started)
    click.echo("")
    click.echo(click.style(f"{quiz.name}: {_fmt(result.score)}/{_fmt(result.max_score)} points", bold=True) +
               f", {answered} of {len(quiz.questions)} questions answered.")
    wrong = [c for c in result.checks if not c.passed and not c.not_started]
    if answered < len(quiz.questions):
        click.echo(f"To carry on: grade quiz {quiz.name}")
    if wrong:
        click.echo(f"To answer the {len(wrong)} not-quite-right one{'s' * (len(wrong) != 1)} again: "
                   f"grade quiz {quiz.name} --retry")
    return 0 if result.status == PASSED else 1


def _header(quiz: Quiz, q: Question, number: int, student: str) -> None:
    star = "*" if q.parameterised else ""
    points = f"{_fmt(q.points)} point{'s' * (q.points != 1)}"
    title = f" {star}Question {number} of {len(quiz.questions)} · {points} · {TYPE_LABELS[q.type]} "
    click.echo("")
    click.echo(click.style("──" + title + "─" * max(4, _width() - len(title) - 2), bold=True))
    click.echo(render(q.fill(q.prompt, student)))
    if q.choices:
        click.echo(_choices(q))


def _ask(quiz: Quiz, q: Question, number: int, student: str, answers: dict, save, *,
         on_wrong=lambda q: None, revealed: bool = False) -> None:
    _header(quiz, q, number, student)
    hints = [q.fill(h, student) for h in q.hints]
    shown_hints = 0
    while True:
        raw = click.prompt(f"  answer ({q.form_hint()})", default="", show_default=False,
                           prompt_suffix=": ")
        text = raw.strip()
        command = text.lower()
        if command in ("q", "quit"):
            raise _Stop()
        if command in ("s", "skip"):
            click.echo("  Skipped: it stays unanswered for now.")
            return
        if command in ("?", "h", "hint"):
            if shown_hints < len(hints):
                click.echo(render(f"Hint: {hints[shown_hints]}", 4))
                shown_hints += 1
            else:
                click.echo("    No more hints for this one: the question has all you need.")
            continue
        if not text:
            click.echo(f"    Type {q.form_hint()}, or s to skip.")
            continue
        try:
            stored = stored_value(q, text)
        except ValueError as e:
            click.echo(click.style("    Could not read that: ", fg="yellow") + f"{e}. Try again.")
            continue
        answers[q.id] = stored
        save()
        verdict = q.mark(stored, student)
        if verdict.passed and revealed:
            click.echo(click.style("  ✓ Right (its answer was revealed, so it scores 0).", fg="green", bold=True))
        elif verdict.passed:
            click.echo(click.style(f"  ✓ Right! +{_fmt(q.points)}", fg="green", bold=True))
        elif verdict.fraction > 0:
            click.echo(click.style(f"  ◐ Partly right: {_fmt(verdict.fraction * q.points)} of "
                                   f"{_fmt(q.points)} points.", fg="yellow", bold=True))
        else:
            click.echo(click.style("  ✗ Not right.", fg="red", bold=True))
        click.echo(render(q.fill(q.explanation, student), 4))
        if not verdict.passed:
            on_wrong(q)
        return


_PLAIN_INT = re.compile(r"^[+-]?\d+$")
_PLAIN_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def stored_value(q: Question, text: str):
    """What is saved for a typed answer: the answer as given, in the file's form.

    Raises ValueError (with a sentence) for text that is not an answer of this type.
    """
    value = q.interpret(text)  # raises ValueError
    if q.type == SINGLE:
        return value
    if q.type == MULTIPLE:
        if not value:
            raise ValueError("pick at least one choice")
        return value
    if q.type == TRUE_FALSE:
        return value
    if q.type == NUMERIC:
        return _number_as_given(text, value)
    if q.type in (VECTOR, MATRIX):
        rows = [[_tidy(x) for x in r] for r in (value if q.type == MATRIX else [value])]
        return rows if q.type == MATRIX else rows[0]
    assert q.type == TEXT
    return " ".join(text.split())


def _number_as_given(text: str, value: float):
    s = text.strip()
    if _PLAIN_INT.match(s):
        return int(s)
    if _PLAIN_FLOAT.match(s):
        return float(s)
    return s  # 1/6, 37.5%, 676,888: kept as typed; read again when graded


def _tidy(x: float):
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


def _save_progress(source_dir: str, result) -> None:
    from .. import progress

    progress.save(source_dir, Report(exercises=[result]))


def _student_to_keep(quiz: Quiz, student_opt: str | None, af, student: str) -> str | None:
    """The ``student:`` to write in the answers file, as the learner set it: the one the
    numbers come from when the quiz draws numbers, else the one already there."""
    if any(q.parameterised for q in quiz.questions):
        return student_as_set(student_opt, af) or student
    return af.student_as_set or af.student


# --- wrong tries and --reveal -----------------------------------------------------------

def wrong_tries(source_dir: str, quiz_name: str) -> dict[str, int]:
    """``{question id: wrong answers given in grade quiz}``, from the learner's local state."""
    from .. import progress

    tries = progress.load_exercise(source_dir, quiz_name).get("tries")
    return {k: v for k, v in tries.items() if isinstance(v, int)} if isinstance(tries, dict) else {}


def record_wrong_try(source_dir: str, quiz_name: str, qid: str) -> int:
    """Count one more wrong try at ``qid``; the count now (kept in .grade/progress.json)."""
    from .. import progress

    counted = {}

    def add(entry):
        tries = entry.get("tries") if isinstance(entry.get("tries"), dict) else {}
        before = tries.get(qid) if isinstance(tries.get(qid), int) else 0
        tries[qid] = counted["n"] = before + 1
        entry["tries"] = tries

    progress.update_exercise(source_dir, quiz_name, add)
    return counted.get("n", 0)


def find_question(quiz: Quiz, which: str) -> tuple[int, Question]:
    """Question ``which`` (its number, 1 to n, or its id) and its number; a usage error otherwise."""
    text = str(which).strip()
    if text.isdigit() and 1 <= int(text) <= len(quiz.questions):
        return int(text), quiz.questions[int(text) - 1]
    for i, q in enumerate(quiz.questions, 1):
        if q.id == text:
            return i, q
    close = difflib.get_close_matches(text, quiz.ids(), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise click.UsageError(f"the quiz '{quiz.name}' has no question '{text}'.{hint} Give its number, 1 to "
                           f"{len(quiz.questions)}, or its id: {', '.join(quiz.ids())}.")


def worked_answer(q: Question, student: str) -> str | None:
    """The right answer, when the course files can tell it: the right choices (their answer
    key marks each choice), true or false, the learner's own drawn numbers. None for a fixed
    number or text, which the quiz file holds only as a salted fingerprint."""
    if q.type == SINGLE:
        right = [i for i in range(1, len(q.choices) + 1) if q.mark(i, student).passed]
        return "; ".join(f"{i}) {q.choices[i - 1]}" for i in right) or None
    if q.type == MULTIPLE:
        right = [i for i in range(1, len(q.choices) + 1) if q.choice_is_right(i)]
        return "; ".join(f"{i}) {q.choices[i - 1]}" for i in right) or None
    if q.type == TRUE_FALSE:
        return next((_dump(v) for v in (True, False) if q.mark(v, student).passed), None)
    if q.parameterised:
        return _dump(_plain_numbers(q.expected(student)))
    return None


def _plain_numbers(value):
    """A drawn answer as plain numbers (lists of floats, whole numbers as ints, 6 significant digits)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, float):
        value = float(f"{value:.6g}")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def reveal_answer(quiz: Quiz, which: str, source_dir: str, student_opt: str | None, *,
                  snap: Snapshot | None = None) -> int:
    """``grade quiz NAME --reveal QUESTION``: after :data:`REVEAL_AFTER` wrong tries, the worked
    answer, recorded in the answers file (the question then scores 0, and reports say it was
    revealed) and in the local state. Before that, how many tries remain (exit code 1). A
    question answered right already keeps its points: its explanation is shown, nothing is
    recorded."""
    from .. import progress

    number, q = find_question(quiz, which)
    path = answers_path(source_dir, quiz.name)
    af = _answers(quiz, source_dir, snap)
    student = resolve_student(student_opt, af)
    given = af.answers.get(q.id)
    revealed = q.id in af.revealed
    tries = wrong_tries(source_dir, quiz.name).get(q.id, 0)
    _header(quiz, q, number, student)
    if not revealed and given is not None and q.mark(given.value, student).passed:
        click.echo(click.style(f"  ✓ Your answer {_dump(given.value)} is right already", fg="green", bold=True)
                   + ": nothing to reveal, and it keeps its points. Its explanation:")
        click.echo(render(q.fill(q.explanation, student), 4))
        return 0
    if not revealed and tries < REVEAL_AFTER:
        left = REVEAL_AFTER - tries
        click.echo(render(f"Not yet: --reveal shows the worked answer after {REVEAL_AFTER} wrong tries at a question, "
                          f"and you have had {tries} at this one ({left} more to go). Answering it right is better "
                          f"still: grade quiz {quiz.name} --retry asks it again, and ? gives a hint. Only answers "
                          f"given in grade quiz count as tries.", 2))
        return 1
    if not revealed:
        refused = snap and (snap.refusal_of("quizzes") or snap.refusal_of(f"quizzes/{quiz.name}.yaml"))
        if refused:
            raise QuizSetupError(f"{snap.sentence(refused)} grade quiz records a revealed answer only in a real "
                                 f"file: replace the link with one and run grade quiz again.")
        answers = {qid: a.value for qid, a in af.answers.items()}
        try:
            write_answers(path, quiz, _student_to_keep(quiz, student_opt, af, student), answers, af.also_accept,
                          [*af.revealed, q.id])
        except OSError as e:
            raise QuizSetupError(f"{path}: the reveal could not be recorded ({e.strerror or e}), so nothing "
                                 f"is shown; the file is unchanged.") from None
        progress.update_exercise(source_dir, quiz.name, lambda entry: entry.update(
            revealed=sorted({*(entry.get("revealed") or []), q.id})))
    answer = worked_answer(q, student)
    click.echo("")
    if answer is not None:
        click.echo(click.style("  The answer: ", bold=True) + answer)
    else:
        click.echo(render("The quiz file keeps only a fingerprint of this answer, not the answer itself; the "
                          "worked explanation below leads to it.", 2))
    click.echo(render(q.fill(q.explanation, student), 4))
    click.echo("")
    click.echo(render(f"This question is marked revealed in {path} and in every report, and scores 0 points. "
                      f"You can still answer it (grade quiz {quiz.name} --retry), to check that you can do it "
                      f"yourself.", 0))
    return 0


# --- review -----------------------------------------------------------------------------

def review_quiz(quiz: Quiz, source_dir: str, student_opt: str | None, *, snap: Snapshot | None = None) -> int:
    af = _answers(quiz, source_dir, snap)
    student = resolve_student(student_opt, af)
    result = grade_quiz(quiz, af, student)
    click.echo(click.style(quiz.title, bold=True) + f"  ({quiz.name})")
    for i, (q, check) in enumerate(zip(quiz.questions, result.checks), 1):
        _header(quiz, q, i, student)
        given = af.answers.get(q.id)
        if q.id in af.revealed:
            click.echo(click.style(f"  ◌ revealed with --reveal (0/{_fmt(check.max_score)})", fg="yellow")
                       + (f"; your answer: {_dump(given.value)}" if given is not None else ""))
            click.echo(render(q.fill(q.explanation, student), 4))
            continue
        if given is None:
            click.echo(click.style("  · not answered yet", fg="yellow"))
            continue
        mark = ("✓", "green") if check.passed else (("◐", "yellow") if check.score > 0 else ("✗", "red"))
        click.echo(click.style(f"  {mark[0]} your answer: {_dump(given.value)} "
                               f"({_fmt(check.score)}/{_fmt(check.max_score)})", fg=mark[1]))
        click.echo(render(q.fill(q.explanation, student), 4))
    click.echo("")
    click.echo(click.style(f"{quiz.name}: {_fmt(result.score)}/{_fmt(result.max_score)} points", bold=True))
    return 0 if result.status == PASSED else 1


# --- checking and sealing (for teachers and quiz authors) -------------------------------

def check_quizzes(name: str | None, source: str | None) -> int:
    """Validate quiz files and the reference answers; print every problem; 0 or 2."""
    from ..course import load_course

    problems: list[str] = []
    directory = quiz_dir()
    try:
        names = quiz_names()
    except QuizSetupError as e:
        click.echo(click.style("error: ", fg="red", bold=True) + e.format_message(), err=True)
        return 2
    if name is not None and name not in names:
        raise click.UsageError(f"there is no quiz '{name}' (the quizzes: {', '.join(names)}).")
    try:
        exercises = set(load_course().names())
    except YamlError:
        exercises = set()
    for n in names:
        if n in exercises:
            problems.append(f"{os.path.join(directory, INDEX_FILE)}, field 'quizzes': the quiz '{n}' has the "
                            f"name of an exercise; pick another name")
    listed = set(names)
    for f in sorted(os.listdir(directory)):
        stem, ext = os.path.splitext(f)
        if ext == ".yaml" and f != INDEX_FILE and stem not in listed:
            problems.append(f"{os.path.join(directory, f)}: not listed in {INDEX_FILE}, so no one sees it")
    ref_dir = source or (REFERENCE_SOURCE if os.path.isdir(os.path.join(REFERENCE_SOURCE, "quizzes")) else None)
    quizzes, questions, generated = 0, 0, 0
    for n in [name] if name else names:
        path = os.path.join(directory, f"{n}.yaml")
        if not os.path.exists(path):
            problems.append(f"{path}: is missing (the quiz '{n}' is listed in {INDEX_FILE})")
            continue
        quiz, found = read_quiz(path, n)
        problems += [str(e) for e in found]
        if quiz is None or found:
            continue
        quizzes += 1
        questions += len(quiz.questions)
        generated += sum(q.parameterised for q in quiz.questions)
        if ref_dir:
            problems += _check_reference(quiz, ref_dir)
    for p in problems:
        click.echo(click.style("error: ", fg="red", bold=True) + p, err=True)
    checked = f"{quizzes} quiz file{'s' * (quizzes != 1)}, {questions} questions ({generated} parameterised)"
    if ref_dir:
        checked += f", reference answers in {os.path.join(ref_dir, 'quizzes')}"
    else:
        checked += " (no solutions/quizzes here: reference answers not checked)"
    if problems:
        click.echo(f"{len(problems)} problem{'s' * (len(problems) != 1)} in {checked}.", err=True)
        return 2
    click.echo(f"All fine: {checked}.")
    return 0


def _check_reference(quiz: Quiz, ref_dir: str) -> list[str]:
    path = answers_path(ref_dir, quiz.name)
    if not os.path.exists(path):
        return [f"{path}: is missing (the reference answers of '{quiz.name}')"]
    try:
        af = get_answers(quiz, ref_dir)
    except QuizSetupError as e:
        return [e.format_message()]
    student = resolve_student(None, af)
    result = grade_quiz(quiz, af, student)
    out = []
    for q, check in zip(quiz.questions, result.checks):
        given = af.answers.get(q.id)
        if given is None:
            out.append(f"{path}, field '{q.id}': no reference answer for this question")
        elif not check.passed:
            why = (f"it does not match the answer key in {quiz.path} (run grade quiz --seal)"
                   if not q.parameterised else f"it is not what generator '{q.generator}' computes for "
                                               f"student '{student}'")
            out.append(f"{path}, line {given.line}, field '{q.id}': the reference answer scores "
                       f"{_fmt(check.score)}/{_fmt(check.max_score)}: {why}")
    return out


def seal_quizzes(name: str | None, source: str | None) -> int:
    from .seal import seal

    ref_dir = source or REFERENCE_SOURCE
    names = [name] if name else quiz_names()
    for n in names:
        try:
            count = seal(n, ref_dir)
        except YamlError as e:
            raise QuizSetupError(str(e)) from None
        except OSError as e:
            raise QuizSetupError(f"{e.filename}: cannot be read or written ({e.strerror})") from None
        click.echo(f"sealed {n}: {count} answer key{'s' * (count != 1)} written")
    return 0
