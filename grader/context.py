"""What every ``grade`` subcommand shares: the course, the submission, the seed, set-up errors.

The subcommands live in their own modules (``grade quiz`` in grader/quiz/cli.py, ``grade
watch`` in grader/watch.py, the classroom commands in grader/classroom/commands.py, ...)
and take everything they share from here; :mod:`grader.cli` only assembles them into the
``grade`` group. So no module imports ``grader.cli`` (``tests/test_structure.py`` checks
it), and this module imports none of the subcommands.

- the course: :func:`get_course` (the packaged course, or the course folder of ``grade
  --course DIR`` / ``$GRADE_COURSE``), :func:`use_course`, :func:`all_names`,
  :func:`resolve_names`;
- the submission: :func:`default_source`, :func:`resolve_source`, :func:`open_submission`
  (the gate's private snapshot, with the reference solutions off limits meanwhile),
  :func:`explain_refusals`;
- the seed: :func:`secret_seed_option`, :func:`resolve_seed`, :func:`secret_file_off_limits`;
- messages: :func:`fail_setup` (one paragraph, exit code 2) and :func:`warn`.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import sys

import click

from . import gate
from .course import COURSE_ENV, Course, CourseFolder, course_folder, load_course
from .yamlfile import YamlError

DEFAULT_SOURCE = "exercises"


def fail_setup(message: str) -> None:
    """A set-up error: one paragraph on stderr, exit code 2."""
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(2)


def warn(lines) -> None:
    """Warnings on stderr, one line each (stdout may be a JSON report)."""
    for line in lines:
        click.echo(click.style("warning: ", fg="yellow", bold=True) + line, err=True)


# ----------------------------------------------------------------------------- the course


def active_folder() -> CourseFolder:
    """Where the course being graded keeps its parts; a broken ``--course`` is a set-up error."""
    try:
        return course_folder()
    except YamlError as e:
        fail_setup(f"the course folder cannot be used: {e}")


def get_course() -> Course:
    """The course being graded: the course folder of ``--course``/``$GRADE_COURSE``, else the
    packaged course. A broken course file is a set-up error naming file, line and field."""
    folder = active_folder()
    try:
        return load_course() if folder.packaged else load_course(folder.course_file)
    except YamlError as e:
        fail_setup(f"the course file is broken: {e}")


@contextlib.contextmanager
def use_course(path: str | None):
    """Grade the course folder ``path`` meanwhile (``grade --course DIR``); None changes nothing.

    The folder goes into ``$GRADE_COURSE``, so the worker processes and ``grade`` processes
    a command starts (``grade batch``) grade the same course. The folder only chooses what
    is graded (course file, checks, solutions, quizzes): the sandbox and the gate are the
    grader's, and a course folder has no setting that changes them.
    """
    if path is None:
        yield
        return
    with _environment(COURSE_ENV, os.path.abspath(path)):
        active_folder()  # no course.yaml there: one paragraph, exit code 2
        yield


def all_names(course: Course) -> list[str]:
    """Code exercises, then quizzes: the order of every report."""
    from .quiz import quiz_names

    return course.names() + [q for q in quiz_names() if q not in course.names()]


def resolve_names(course: Course, names: tuple[str, ...], *, commands: bool = False) -> list[str]:
    """Check exercise names; unknown ones are a usage error with a 'did you mean'.

    ``commands``: the names came right after ``grade`` (``grade vector``), where a mistyped
    command (``grade lsit``) lands too: the first name is then matched against the
    commands as well, and they are listed with the exercises and quizzes."""
    valid = all_names(course)
    for i, name in enumerate(names):
        if name not in valid:
            choices = {"exercises": course.names(), "quizzes": [q for q in valid if q not in course.names()]}
            as_command = commands and i == 0
            if as_command:
                choices["commands"] = visible_commands()
            raise unknown_name(name, choices, "exercise or command" if as_command else "exercise or quiz")
    return [n for n in valid if n in names] if names else valid


class UnknownName(click.UsageError):
    """A name that is not an exercise, a quiz or a command: one paragraph on stderr with the
    closest name and the choices, exit code 2 (no usage block: the name is the whole problem)."""

    exit_code = 2

    def show(self, file=None):
        click.echo(click.style("error: ", fg="red", bold=True) + self.format_message(), err=True)


def unknown_name(name: str, choices: dict[str, list[str]], what: str = "exercise") -> UnknownName:
    """``No exercise or command named 'vector'. Did you mean 'vectors'?``, then each group of
    ``choices`` on its own lines (wrapped to the terminal)."""
    from .format import wrap

    everything = [n for group in choices.values() for n in group]
    close = difflib.get_close_matches(name, everything, n=1)
    lines = [f"No {what} named '{name}'." + (f" Did you mean '{close[0]}'?" if close else "")]
    lines += [wrap(f"{label}: {', '.join(group)}", 2, hanging=4) for label, group in choices.items() if group]
    return UnknownName("\n".join(lines))


def visible_commands() -> list[str]:
    """The subcommands ``grade --help`` lists (from the running command group; none outside one)."""
    ctx = click.get_current_context(silent=True)
    group = ctx.find_root().command if ctx is not None else None
    commands = getattr(group, "commands", {}) or {}
    return sorted(n for n, c in commands.items() if not getattr(c, "hidden", False))


# ----------------------------------------------------------------------------- the submission


def default_source() -> str:
    """The folder graded without ``--source``: ``./exercises``, or a course folder's ``exercises/``
    (shown relative to the current folder when it is below it)."""
    folder = active_folder()
    if folder.packaged:
        return DEFAULT_SOURCE
    relative = os.path.relpath(folder.exercises)
    return folder.exercises if relative.startswith(os.pardir) else relative


def resolve_source(source: str | None) -> str:
    path = source or default_source()
    if not os.path.isdir(path):
        if source is None:
            if not active_folder().packaged:
                fail_setup(f"the course folder has no exercises/ folder ({path}): build the stubs with "
                           f"grade author build, or point grade at your modules with --source DIR.")
            fail_setup(f"there is no '{DEFAULT_SOURCE}' folder in {os.getcwd()}. Run grade from the "
                       f"course folder, or point it at your modules with --source DIR.")
        fail_setup(f"--source {source}: no such folder.")
    return path


@contextlib.contextmanager
def off_limits(path: str | None):
    """Add ``path`` to the runner's forbidden folders (inherited by worker processes) meanwhile."""
    name = "GRADE_FORBIDDEN_DIRS"  # grader.runner.sandbox.FORBIDDEN_ENV
    before = os.environ.get(name)
    with _environment(name, os.pathsep.join(p for p in (before, path) if p) if path else None):
        yield


@contextlib.contextmanager
def _environment(name: str, value: str | None):
    """``$name`` set to ``value`` meanwhile (None leaves it as it is), then as it was."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@contextlib.contextmanager
def open_submission(source_dir: str, *, warnings=warn):
    """The grader's private snapshot of ``source_dir`` (grader/gate.py), for one command.

    Every command that reads a submission grades, lints, times and reads quiz answers from
    ``snapshot.root`` only, and names ``source_dir`` in what it prints. Refused files go to
    ``warnings`` (stderr by default); a folder that cannot be read at all raises GateError,
    which the ``grade`` group turns into a one-paragraph error with exit code 2.
    """
    snap = gate.snapshot(source_dir)
    try:
        warnings(snap.warnings())
        with _solutions_beside(source_dir), _course_folder_off_limits():
            yield snap
    finally:
        snap.close()


def _solutions_beside(source_dir: str):
    """Keep ``solutions/`` beside the learner's folder off limits to learner code.

    The runner forbids the solutions beside the *graded* folder; graded from a snapshot in
    a temporary folder, that would be a different place, so the learner's is added to the
    runner's list of forbidden folders meanwhile.
    """
    return off_limits(os.path.join(os.path.dirname(os.path.realpath(source_dir)), "solutions"))


def _course_folder_off_limits():
    """Keep a course folder (its solutions, checks and quiz keys) off limits to learner code.

    The runner already keeps the packaged course's away (grader/ and solutions/ beside it);
    a course folder can be anywhere, so the whole folder is added. The graded folder stays
    readable to its own code even inside it (the most specific folder decides).
    """
    folder = active_folder()
    return off_limits(None if folder.packaged else os.path.realpath(folder.root))


def explain_refusals(report, snap: gate.Snapshot, course: Course) -> None:
    """Say in the report itself why an exercise whose module (or quiz answers) the gate
    refused scored nothing, instead of "was not found" (a JSON report has no stderr)."""
    for result in report.exercises:
        if result.name in course.names():
            refusal = snap.refusal_of(course.get(result.name).module_file)
            consequence = "nothing in this exercise could be graded"
        else:
            refusal = snap.refusal_of("quizzes") or snap.refusal_of(f"quizzes/{result.name}.yaml")
            consequence = "no answer of this quiz was read"
        if refusal is None:
            continue
        message = snap.sentence(refusal).rstrip(".") + f"; {consequence}."
        result.message = message
        for check in result.checks:
            if not check.passed:
                check.message = message


# ----------------------------------------------------------------------------- the seed


def secret_seed_option(command):
    """``--secret-seed-file FILE`` of ``grade run`` (grader/seeds.py; bench and batch declare
    the same option, with :func:`resolve_seed` behind all three)."""
    return click.option(
        "--secret-seed-file", "secret_seed_file", metavar="FILE", default=None,
        help="Official grades: derive every generated input from the secret in FILE, so no one can "
             "precompute them (default: $GRADE_SECRET_SEED if set, else the course's public seed). "
             "See docs/teachers.md, Secret seeds for official grades.")(command)


def resolve_seed(course: Course, seed: int | None, secret_seed_file: str | None):
    """The run's :class:`~grader.seeds.Seed`; a secret that cannot be used is a set-up error."""
    from .seeds import SecretSeedError, resolve

    try:
        return resolve(course.seed if seed is None else seed, secret_seed_file, warn=warn)
    except SecretSeedError as e:
        fail_setup(str(e))


def secret_file_off_limits(secret_seed_file: str | None):
    """While grading, learner code may not read the secret seed file (the runner's tripwire
    flags a read as it flags reading the solutions; see grader/runner/guard.py)."""
    return off_limits(os.path.realpath(secret_seed_file) if secret_seed_file else None)
