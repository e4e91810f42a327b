"""The shared harness of the project's own tests: build a submission, grade it, read verdicts.

A *submission* is a folder of learner modules named like the exercises
(``vectors.py``, ...), exactly what ``grade --source DIR`` grades. The tests build
them in ``tmp_path`` from the reference solutions with one function replaced::

    folder = submission(tmp_path, "vectors", replace={"dot": "def dot(a, b):\\n    return a * b\\n"})
    result = grade_exercise(folder, "vectors")
    assert failing(result) >= {("dot", "returns_float")}

Grading runs in-process through :func:`grader.grading.grade` with ``jobs=1`` (the
learner code still runs in its own child process, as in real use), so a test sees the
same verdicts as ``grade``.
"""
from __future__ import annotations

import dataclasses
import functools
import shutil
import textwrap
import time
from pathlib import Path

from grader.course import Course, Exercise, load_course
from grader.grading import grade
from grader.results import CheckResult, ExerciseResult, Report
from grader.runner.sandbox import Limits

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


def pristine_stubs() -> Path:
    """The stubs exactly as ``grade author build`` writes them from ``solutions/``, in a folder
    of their own (removed when the tests end), with the quizzes' README beside them.

    The tests never read the learner's working ``exercises/``: a learner halfway through the
    course runs the test command and gets green tests. That the committed ``exercises/`` is
    this same build is tests/test_stubs_match_solutions.py's business.
    """
    import atexit
    import tempfile

    from grader.author.build import write_stubs

    parent = Path(tempfile.mkdtemp(prefix="dlgrade-pristine-stubs-"))
    atexit.register(shutil.rmtree, parent, ignore_errors=True)
    folder = parent / "exercises"
    write_stubs(str(SOLUTIONS), str(folder))
    readme = ROOT / "exercises" / "quizzes" / "README.md"
    if readme.is_file():
        (folder / "quizzes").mkdir()
        shutil.copy(readme, folder / "quizzes" / "README.md")
    return folder


EXERCISES = pristine_stubs()  # the stubs as built, never the learner's exercises/
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
PART1 = ["vectors", "derivatives", "losses"]


@functools.lru_cache(maxsize=None)
def course() -> Course:
    return load_course()


def exercise(name: str) -> Exercise:
    return course().get(name)


# ----------------------------------------------------------------------------- building submissions


def submission(folder: Path, name: str, source: str | None = None, *,
               replace: dict[str, str] | None = None, drop: tuple[str, ...] = (),
               base: Path = SOLUTIONS) -> Path:
    """Write ``folder/<name>.py`` and return ``folder``.

    - ``source``: the whole module text (dedented).
    - otherwise the module is ``base/<name>.py`` (the solution) followed by ``replace``'s
      redefinitions (a later ``def`` wins in Python), and without the functions in ``drop``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if source is None:
        text = (Path(base) / f"{name}.py").read_text(encoding="utf-8")
        for fn in drop:
            text = _without_function(text, fn)
        for fn, code in (replace or {}).items():
            code = textwrap.dedent(code).strip("\n")
            assert f"def {fn}(" in code, f"the replacement for {fn} must define {fn}"
            text += f"\n\n# --- planted by the tests\n{code}\n"
    else:
        text = textwrap.dedent(source).lstrip("\n")
    (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return folder


def copy_modules(folder: Path, names=PART1, base: Path = SOLUTIONS) -> Path:
    """Copy ``base/<name>.py`` for every name into ``folder`` (the exercises left intact)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(Path(base) / f"{name}.py", folder / f"{name}.py")
    return folder


def _without_function(text: str, fn: str) -> str:
    """Remove the top-level ``def fn`` (signature, docstring and body) from module text."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {fn}("))
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t)"):
        end += 1
    return "".join(lines[:start] + lines[end:])


# ----------------------------------------------------------------------------- grading


def course_with(names, *, limits: dict | None = None, functions: dict | None = None,
                checks: dict | None = None) -> Course:
    """The real course, with some exercises changed for a test.

    ``limits``: ``{exercise: Limits-or-dict of fields}``; ``functions``: ``{exercise:
    [function, ...]}`` keeps only those functions; ``checks``: ``{(exercise, function):
    [check id, ...]}`` keeps only those checks.
    """
    base = course()
    exercises = []
    for e in base.exercises:
        if e.name in (limits or {}):
            new = limits[e.name]
            e = dataclasses.replace(e, limits=new if isinstance(new, Limits) else
                                    dataclasses.replace(e.limits, **new))
        if e.name in (functions or {}):
            e = dataclasses.replace(e, functions=[f for f in e.functions if f.name in functions[e.name]])
        if checks:
            e = dataclasses.replace(e, functions=[
                dataclasses.replace(f, checks=[c for c in f.checks if c.id in checks[(e.name, f.name)]])
                if (e.name, f.name) in checks else f for f in e.functions])
        exercises.append(e)
    return dataclasses.replace(base, exercises=exercises)


def small_course(checks_per_function: int = 1) -> Course:
    """The real course with only the first checks of every Part-1 function: for tests of the
    plumbing around grading (the CLI, reports), where every check would only cost time."""
    keep = {(e.name, f.name): [c.id for c in f.checks[:checks_per_function]]
            for e in course().exercises if e.name in PART1 for f in e.functions}
    return course_with(PART1, checks=keep)


def grade_folder(folder: Path, names=PART1, *, seed: int = 0, **changes) -> Report:
    """Grade ``names`` from ``folder`` in-process (``jobs=1``), as ``grade --source`` would."""
    c = course_with(names, **changes) if changes else course()
    return grade(c, list(names), str(folder), seed=seed, jobs=1)


def grade_exercise(folder: Path, name: str, *, seed: int = 0, **changes) -> ExerciseResult:
    """Grade one exercise from ``folder``; its :class:`ExerciseResult`."""
    report = grade_folder(folder, [name], seed=seed, **changes)
    (result,) = report.exercises
    assert result.name == name
    return result


# ----------------------------------------------------------------------------- reading verdicts


def check_id(result: ExerciseResult, check: CheckResult) -> str:
    """The course-file id of a reported check (reports show titles; ids are stable)."""
    for spec in exercise(result.name).checks():
        if spec.function == check.function and spec.title == check.name:
            return spec.id
    raise KeyError(f"{result.name}: no check titled {check.name!r} for {check.function}")


def find_check(result: ExerciseResult, function: str, id_or_title: str) -> CheckResult:
    """The result of one check, named by its id (``agrees_with_numpy``) or its title."""
    found = [c for c in result.checks if c.function == function
             and (c.name == id_or_title or check_id(result, c) == id_or_title)]
    if not found:
        known = [f"{c.function}.{check_id(result, c)}" for c in result.checks]
        raise KeyError(f"{result.name} has no check {function}.{id_or_title}; it has {known}")
    (check,) = found
    return check


def failing(result: ExerciseResult) -> set[tuple[str, str]]:
    """``{(function, check id)}`` of every check that did not pass."""
    return {(c.function, check_id(result, c)) for c in result.checks if not c.passed}


def summary(result: ExerciseResult) -> str:
    """Every failing check with its message: what an assertion shows when it fails."""
    lines = [f"{result.name}: status {result.status}, {result.score}/{result.max_score}"]
    for c in result.checks:
        if not c.passed:
            lines.append(f"  ✗ {c.function}.{check_id(result, c)}: {c.message}")
    return "\n".join(lines)


def assert_full_marks(result: ExerciseResult) -> None:
    assert result.status == "passed" and result.score == result.max_score > 0, summary(result)


class SentInputs:
    """Records the arguments the grader sends to the learner's ``function`` (in-process grading).

    Use with pytest's ``monkeypatch``: ``sent = SentInputs.install(monkeypatch, "dot")``,
    grade with ``jobs=1``, then read ``sent.calls`` (each a list of arguments as lists).
    """

    def __init__(self, function: str):
        self.function = function
        self.calls: list = []

    @classmethod
    def install(cls, monkeypatch, function: str) -> "SentInputs":
        from grader.runner.sandbox import LearnerProcess

        recorder = cls(function)
        original = LearnerProcess.call

        def call(self, fn, args=(), *rest, **kwargs):
            if fn == function:
                recorder.calls.append([a.tolist() if hasattr(a, "tolist") else a for a in args])
            return original(self, fn, args, *rest, **kwargs)

        monkeypatch.setattr(LearnerProcess, "call", call)
        return recorder

    def take(self) -> list:
        calls, self.calls = self.calls, []
        return calls


# ----------------------------------------------------------------------------- processes


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def wait_until(condition, seconds=5.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()

