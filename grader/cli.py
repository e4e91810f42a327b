"""The ``grade`` command.

``grade [EXERCISE...]`` grades (the default subcommand, ``run``); ``grade list`` shows the
course. Exit codes: 0 every check passed, 1 some check failed, 2 usage or set-up error.
"""
from __future__ import annotations

import contextlib
import difflib
import os
import sys

import click

from . import gate
from . import progress as progress_state
from .course import Course, load_course
from .results import STATUS_LABELS
from .yamlfile import YamlError

DEFAULT_SOURCE = "exercises"


class DefaultGroup(click.Group):
    """A group whose default subcommand is ``run``: ``grade vectors`` means ``grade run vectors``."""

    default_command = "run"

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("grade", "[EXERCISE]... [OPTIONS] | grade COMMAND [ARGS]...")

    def invoke(self, ctx):
        # A bug in the grader itself is reported in one paragraph, not as a traceback a
        # learner could mistake for their own error (GRADE_DEBUG=1 shows the traceback).
        from .stubs import WINDOWS_MESSAGE, on_windows

        if on_windows():  # the sandbox needs fcntl, resource, fork: one paragraph, not a traceback
            fail_setup(WINDOWS_MESSAGE)
        from .runner.isolation import SandboxUnavailable

        end_on_sigterm()
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except gate.GateError as refused:  # the submission folder cannot be read at all
            fail_setup(str(refused))
        except SandboxUnavailable as unavailable:  # GRADE_SANDBOX asks for what this machine lacks
            fail_setup(str(unavailable))
        except BrokenPipeError:
            # The reader went away (grade list | head): not a bug. Python's documented way out:
            # point stdout at /dev/null so the interpreter's final flush cannot fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            if os.environ.get("GRADE_DEBUG"):
                raise
            fail_setup(f"the grader itself failed ({type(exc).__name__}: {exc}). This is a bug in the "
                       f"grader, not in your code: please report it with the command you ran "
                       f"(GRADE_DEBUG=1 shows the details).")


def end_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled, ``kill``) unwinds like Ctrl-C: every learner process is
    closed on the way out, its namespace, control group and files with it (exit 143)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def fail_setup(message: str) -> None:
    """A set-up error: one paragraph on stderr, exit code 2."""
    click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)
    sys.exit(2)


def get_course() -> Course:
    try:
        return load_course()
    except YamlError as e:
        fail_setup(f"the course file is broken: {e}")


def all_names(course: Course) -> list[str]:
    """Code exercises, then quizzes: the order of every report."""
    from .quiz import quiz_names

    return course.names() + [q for q in quiz_names() if q not in course.names()]


def resolve_names(course: Course, names: tuple[str, ...]) -> list[str]:
    """Check exercise names; unknown ones are a usage error with a 'did you mean'."""
    valid = all_names(course)
    for name in names:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise click.UsageError(f"unknown exercise '{name}'.{hint} Valid names: {', '.join(valid)}.")
    return [n for n in valid if n in names] if names else valid


def resolve_source(source: str | None) -> str:
    path = source or DEFAULT_SOURCE
    if not os.path.isdir(path):
        if source is None:
            fail_setup(f"there is no '{DEFAULT_SOURCE}' folder in {os.getcwd()}. Run grade from the "
                       f"course folder, or point it at your modules with --source DIR.")
        fail_setup(f"--source {source}: no such folder.")
    return path


def warn(lines) -> None:
    """Warnings on stderr, one line each (stdout may be a JSON report)."""
    for line in lines:
        click.echo(click.style("warning: ", fg="yellow", bold=True) + line, err=True)


def secret_seed_option(command):
    """``--secret-seed-file FILE`` of ``grade run`` (grader/seeds.py; bench and batch declare
    the same option, with :func:`resolve_seed` behind all three)."""
    return click.option(
        "--secret-seed-file", "secret_seed_file", metavar="FILE", default=None,
        help="Official grades: derive every generated input from the secret in FILE, so no one can "
             "precompute them (default: $GRADE_SECRET_SEED if set, else the course's public seed). "
             "See the README's section on secret seeds.")(command)


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


@contextlib.contextmanager
def off_limits(path: str | None):
    """Add ``path`` to the runner's forbidden folders (inherited by worker processes) meanwhile."""
    name = "GRADE_FORBIDDEN_DIRS"  # grader.runner.sandbox.FORBIDDEN_ENV
    before = os.environ.get(name)
    if path:
        os.environ[name] = os.pathsep.join(p for p in (before, path) if p)
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
        with _solutions_beside(source_dir):
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


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlgrade", prog_name="grade")
def main():
    """Grade the deep-learning exercises and quizzes.

    \b
    grade                      grade everything in ./exercises
    grade vectors losses       grade only these exercises
    grade --source solutions   grade the modules in another folder
    grade --format json        one JSON document on stdout (for CI)
    grade list                 the exercises in order, with points and status
    grade --no-timing          skip the timed runs (correct but far too slow?)
    grade bench                only the timed runs, as a table
    grade watch                grade the current exercise on every save
    grade hint vectors         the next hint for the first failing function
    grade vectors --replay     rerun the last failing example, with your prints
    grade plot mlp --out m.png a picture of your code beside the reference
    grade init DIR             write the exercise stubs to DIR/exercises
    """


@main.command("run", hidden=True)
@click.argument("exercises", nargs=-1)
@click.option("--source", "source", metavar="DIR", help="Folder with the modules to grade (default: ./exercises).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "junit", "gradescope", "github"]),
              default="table", show_default=True,
              help="Output format; json prints exactly one JSON document on stdout. junit, gradescope "
                   "and github are for CI (see the README's Classrooms section).")
@click.option("--output", "-o", "output", metavar="FILE", default=None,
              help="Write the report to FILE (all at once: an interrupted run leaves no half report).")
@click.option("--ref", "ref", metavar="REF", default=None,
              help="Grade the exercises as they are at a git branch, tag or commit (e.g. solutions), "
                   "leaving your files untouched.")
@click.option("--seed", type=int, default=None, help="Change the generated examples (default: the course's seed).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the CPUs this process may use: affinity and cgroup quota).")
@click.option("--verbose", "-v", is_flag=True, help="Show the failing checks of every exercise.")
@click.option("--replay", is_flag=True,
              help="Rerun the last failing example of EXERCISE once, showing what your code printed.")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Show progress while grading (default: when stderr is a terminal).")
@click.option("--student", metavar="ID", default=None,
              help="Whose quiz numbers to use (default: git config user.email).")
@click.option("--timing/--no-timing", "timing", default=True,
              help="Time correct functions against the reference solution (default: on; "
                   "--no-timing skips the timed runs for fast iteration; see the README's Timed runs section).")
@click.option("--examples", type=click.IntRange(1, 100000), default=None, metavar="N",
              help="Try N generated examples in every check instead of the course's numbers "
                   "(fewer: faster but less thorough; used by benchmarks/run.py).")
@secret_seed_option
def run(exercises, source, fmt, output, ref, seed, jobs, verbose, show_progress, student, replay=False,
        timing=True, examples=None, secret_seed_file=None):
    """Grade exercises (all of them by default)."""
    from time import monotonic

    from .grading import grade
    from .reporters import FORMATS

    started = monotonic()

    course = get_course()
    if examples is not None:
        course = course.with_examples(examples)
    names = resolve_names(course, exercises)
    if ref is not None:
        from .classroom.gitref import source_at_ref_or_fail

        source_dir = source_at_ref_or_fail(ref, source or DEFAULT_SOURCE)
    else:
        source_dir = resolve_source(source)
    if replay:  # grade EXERCISE --replay: grader/replay.py
        from .replay import replay_command

        sys.exit(replay_command(course, exercises, source_dir))
    run_seed = resolve_seed(course, seed, secret_seed_file)  # a broken secret: one paragraph, exit 2
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if jobs is None:
        from .cpus import usable_cpus

        jobs = usable_cpus()
    from .runner.sandbox import sandbox_mode

    sandbox_mode()  # GRADE_SANDBOX asking for what this machine lacks: one paragraph, exit 2
    with open_submission(source_dir) as snap, secret_file_off_limits(secret_seed_file):
        # grade the private copy, name the learner's folder
        report = grade(course, [n for n in names if n in course.names()], snap.root, run_seed, jobs=jobs,
                       progress=_progress_line if show_progress else None, timing=timing,
                       display_source=source_dir)
        quizzes = [n for n in names if n not in course.names()]
        if quizzes:
            report.exercises.extend(_grade_quizzes(quizzes, snap.root, student, source_dir, fmt))
        explain_refusals(report, snap, course)
        if ref is None:
            progress_state.save(source_dir, report, files_dir=snap.root)
    from .atomic import emit

    emit(FORMATS[fmt](report, source=source or DEFAULT_SOURCE, verbose=verbose, course=course,
                      elapsed=monotonic() - started), output, fmt)
    sys.exit(0 if report.all_passed else 1)


# Reports that CI systems read: always written, so a broken quiz costs that quiz alone.
_ALWAYS_WRITTEN = ("github", "gradescope", "junit")


def _grade_quizzes(quizzes, root, student, source_dir, fmt):
    """The quizzes' results. A malformed answers file stops ``grade`` (exit 2, one
    paragraph) for a person at a terminal; in the formats CI systems read it scores that
    quiz 0 with the reason as its message (also said on stderr), and the report is written."""
    from .quiz import grade_quizzes

    keep_going = fmt in _ALWAYS_WRITTEN
    results = grade_quizzes(quizzes, root, student, display_source=source_dir, keep_going=keep_going)
    for r in results:
        if keep_going and r.message:
            click.echo(click.style("error: ", fg="red", bold=True) + f"quiz {r.name}: {r.message}", err=True)
    return results


def _progress_line(name: str, done: int, total: int) -> None:
    bar_width = 20
    filled = int(bar_width * done / total) if total else bar_width
    bar = "█" * filled + "░" * (bar_width - filled)
    text = f"\rgrading {bar} {done}/{total} {name}"
    click.echo(f"{text:<70}", err=True, nl=False)
    if done == total:
        click.echo("\r" + " " * 70 + "\r", err=True, nl=False)


def _timed_points(exercise) -> float:
    """What the timed runs of ``exercise`` are worth here: nothing for those this machine
    cannot time (no reference solutions, CUDA-only without CUDA), as in a graded report."""
    from .timing.check import unmeasurable_specs

    specs = exercise.timing_specs()
    unmeasurable = unmeasurable_specs(exercise, specs, None)
    return sum(t.points for t in specs if t not in unmeasurable)


@main.command("list")
@click.option("--source", "source", metavar="DIR", help="Folder whose last results to show (default: ./exercises).")
def list_exercises(source):
    """List the exercises in order, with points and the status of the last run."""
    course = get_course()
    saved = progress_state.load(source or DEFAULT_SOURCE)
    width = max(len(n) for n in all_names(course)) + 2
    click.echo(click.style(f"{'#':>2}  {'exercise':<{width}}{'points':>8}   {'status':<14} title", bold=True))
    next_shown = False
    for i, e in enumerate(course.exercises, 1):
        state = saved.get(e.name, {})
        status = state.get("status")
        label = STATUS_LABELS.get(status, "not graded yet")
        if status is not None:
            points = f"{_fmt(state.get('score', 0))}/{_fmt(state.get('max_score', e.max_score))}"
        else:  # with the timed runs (grade --no-timing leaves them out)
            points = f"{_fmt(e.max_score + _timed_points(e))}"
        marker = ""
        if status != "passed" and not next_shown:
            marker, next_shown = "  ← next up", True
        click.echo(f"{i:>2}  {e.name:<{width}}{points:>8}   {label:<14} {e.title}{marker}")
    from .quiz import get_quiz, quiz_names

    for i, name in enumerate(quiz_names(), len(course.exercises) + 1):
        quiz = get_quiz(name)
        state = saved.get(name, {})
        status = state.get("status")
        label = STATUS_LABELS.get(status, "not graded yet")
        points = (f"{_fmt(state.get('score', 0))}/{_fmt(quiz.max_score)}" if status is not None
                  else _fmt(quiz.max_score))
        marker = ""
        if status != "passed" and not next_shown:
            marker, next_shown = "  ← next up", True
        click.echo(f"{i:>2}  {name:<{width}}{points:>8}   {label:<14} quiz: {quiz.title}{marker}")


def _fmt(x) -> str:
    x = float(x)
    return str(int(x)) if x == int(x) else f"{x:g}"


from .timing.bench import bench as bench_command  # noqa: E402  (grade bench: grader/timing/bench.py)

main.add_command(bench_command)
from .quiz.cli import quiz as quiz_command  # noqa: E402  (grade quiz: grader/quiz/cli.py)

main.add_command(quiz_command)

from .classroom.commands import register as _register_classroom  # noqa: E402  (release, compare, batch, merge)

_register_classroom(main)

from .hints import hint_command  # noqa: E402  (grade hint: grader/hints.py)
from .plots import plot_command  # noqa: E402  (grade plot: grader/plots.py)
from .watch import watch_command  # noqa: E402  (grade watch: grader/watch.py)

main.add_command(hint_command)
main.add_command(watch_command)
main.add_command(plot_command)

from .verify import verify_command  # noqa: E402  (grade verify: grader/verify.py)

main.add_command(verify_command)

from .stubs import init_command  # noqa: E402  (grade init: grader/stubs.py)

main.add_command(init_command)


if __name__ == "__main__":  # pragma: no cover
    main()
