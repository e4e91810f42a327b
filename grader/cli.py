"""The ``grade`` command: the group that assembles every subcommand.

``grade [EXERCISE...]`` grades (the default subcommand, ``run``); ``grade list`` shows the
course. Exit codes: 0 every check passed, 1 some check failed, 2 usage or set-up error.

The other subcommands live in their own modules and share what they need through
:mod:`grader.context`; nothing imports this module but ``grader.__main__`` (and the tests).
``grade --course DIR ...`` (or ``$GRADE_COURSE``) grades a course folder instead of the
packaged course (grader/course.py).
"""
from __future__ import annotations

import os
import sys

import click

from . import gate
from . import progress as progress_state
# Also grader.cli's names for what moved to grader.context (tests and scripts reach them here).
from .context import (DEFAULT_SOURCE, all_names, default_source, explain_refusals, fail_setup,  # noqa: F401
                      get_course, off_limits, open_submission, resolve_names, resolve_seed, resolve_source,
                      secret_file_off_limits, secret_seed_option, use_course, warn)
from .results import STATUS_LABELS


class DefaultGroup(click.Group):
    """A group whose default subcommand is ``run``: ``grade vectors`` means ``grade run vectors``."""

    default_command = "run"
    group_options = ("--course",)  # options of the group itself, each with one value

    def parse_args(self, ctx, args):
        first = 0  # the first argument after the group's own options (grade --course DIR vectors)
        while first < len(args):
            if args[first] in self.group_options:
                first += 2
            elif args[first].startswith(tuple(f"{o}=" for o in self.group_options)):
                first += 1
            else:
                break
        if first > len(args):  # grade --course (no DIR): click says the option needs a value
            return super().parse_args(ctx, args)
        rest = args[first:]
        if not rest or (rest[0] not in self.commands and rest[0] not in ("--help", "-h", "--version")):
            args = [*args[:first], self.default_command, *rest]
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


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlgrade", prog_name="grade")
@click.option("--course", "course_dir", metavar="DIR", default=None,
              help="Grade the course folder DIR (its course.yaml, checks/, solutions/, exercises/ and "
                   "quizzes/) instead of the course that comes with the grader (default: $GRADE_COURSE).")
@click.pass_context
def main(ctx, course_dir):
    """Grade the deep-learning exercises and quizzes.

    \b
    grade                      grade everything in ./exercises
    grade run --help           every option of grading (grade NAME is grade run NAME)
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
    grade --course DIR         grade a course folder (course.yaml, checks/, ...)
    grade new EXERCISE         start a new exercise: solution, stub, checks, course entry
    grade author build         write the stubs in exercises/ from solutions/
    """
    ctx.with_resource(use_course(course_dir))


@main.command("run")
@click.argument("exercises", nargs=-1)
@click.option("--source", "source", metavar="DIR", help="Folder with the modules to grade (default: ./exercises).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "junit", "gradescope", "github"]),
              default="table", show_default=True,
              help="Output format; json prints exactly one JSON document on stdout. junit, gradescope "
                   "and github are for CI (see docs/teachers.md).")
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
                   "--no-timing skips the timed runs for fast iteration; see docs/timing.md).")
@click.option("--examples", type=click.IntRange(1, 100000), default=None, metavar="N",
              help="Try N generated examples in every check instead of the course's numbers "
                   "(fewer: faster but less thorough; used by benchmarks/run.py).")
@secret_seed_option
def run(exercises, source, fmt, output, ref, seed, jobs, verbose, show_progress, student, replay=False,
        timing=True, examples=None, secret_seed_file=None):
    """Grade exercises and quizzes (the default command).

    grade vectors means grade run vectors. Without EXERCISES: every exercise and quiz, in
    course order.
    """
    from time import monotonic

    from .grading import grade
    from .reporters import FORMATS
    from .runner import warm

    started = monotonic()
    warm.adopt()  # grade batch's zygotes, when it started this run (first: their sockets then close on exec)

    course = get_course()
    if examples is not None:
        course = course.with_examples(examples)
    names = resolve_names(course, exercises, commands=True)
    if ref is not None:
        from .classroom.gitref import source_at_ref_or_fail

        source_dir = source_at_ref_or_fail(ref, source or default_source())
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
            progress_state.save(source_dir, report, files_dir=snap.root, course=course)
    from .atomic import emit

    emit(FORMATS[fmt](report, source=source or default_source(), verbose=verbose, course=course,
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


@main.command("list")
@click.option("--source", "source", metavar="DIR", help="Folder whose last results to show (default: ./exercises).")
def list_exercises(source):
    """List the exercises in order, with points and the status of the last run."""
    from .format import columns, points, wrap
    from .quiz import get_quiz, quiz_names
    from .reporters.table import status_text

    course = get_course()
    saved = progress_state.load(source or default_source())
    quizzes = [(name, get_quiz(name)) for name in quiz_names()]
    width = max(len(n) for n in all_names(course)) + 2
    shown = {progress_state.shown_state(saved.get(n, {})) for n in all_names(course)}
    status_width = max(len(f"· {STATUS_LABELS.get(s, 'not graded yet')}") for s in shown) + 2
    title_at = 2 + 2 + width + 10 + 3 + status_width
    next_shown, untimed, scored, top = False, False, 0.0, 0.0

    def row(number, name, state, shown_points, title):
        nonlocal next_shown
        marker = ""
        if not progress_state.is_correct(state) and not next_shown:
            marker, next_shown = "  ← next up", True
        room = columns() - title_at - len(marker)  # a title too long for the terminal is cut, not wrapped
        if len(title) > room >= 12:
            title = title[: room - 1].rstrip(" ,:;") + "…"
        shown = progress_state.shown_state(state)
        label = status_text(shown, width=status_width) if shown in STATUS_LABELS else \
            f"{'not graded yet':<{status_width}}"
        click.echo(f"{number:>2}  {name:<{width}}{shown_points:>10}   {label}{title}{marker}")

    for heading, items in (("exercise", list(enumerate(course.exercises, 1))),
                           ("quiz", list(enumerate(quizzes, len(course.exercises) + 1)))):
        if heading == "quiz":
            click.echo("")
        click.echo(click.style(f"{'#':>2}  {heading:<{width}}{'points':>10}   {'status':<{status_width}}title",
                               bold=True))
        for i, item in items:
            if heading == "exercise":
                name, title, full = item.name, item.title, progress_state.full_max_score(item)
            else:
                name, title, full = item[0], item[1].title, item[1].max_score
            state = saved.get(name, {})
            score = state.get("score", 0) if isinstance(state.get("score", 0), (int, float)) else 0
            top += full
            if progress_state.shown_state(state) is None:  # with the timed runs (the one scale)
                shown_points = points(full)
            else:
                scored += min(float(score), full)
                star = "*" if state.get("untimed") else ""
                untimed = untimed or bool(star)
                shown_points = f"{points(min(float(score), full))}/{points(full)}{star}"
            row(i, name, state, shown_points, title)
    click.echo(click.style(f"{'':>2}  {'total':<{width}}{f'{points(scored)}/{points(top)}':>10}", bold=True))
    if untimed:
        click.echo(wrap("* graded without the timed runs (grade --no-timing, grade watch --no-timing or a "
                        "hint): their points are not earned yet. grade NAME times them.", 0, hanging=2))


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

from .author.commands import author_command, new_command  # noqa: E402  (grade author, grade new: grader/author/)

main.add_command(author_command)
main.add_command(new_command)


if __name__ == "__main__":  # pragma: no cover
    main()
