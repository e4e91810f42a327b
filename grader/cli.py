"""The ``grade`` command.

``grade [EXERCISE...]`` grades (the default subcommand, ``run``); ``grade list`` shows the
course. Exit codes: 0 every check passed, 1 some check failed, 2 usage or set-up error.
"""
from __future__ import annotations

import difflib
import os
import sys

import click

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
    """


@main.command("run", hidden=True)
@click.argument("exercises", nargs=-1)
@click.option("--source", "source", metavar="DIR", help="Folder with the modules to grade (default: ./exercises).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format; json prints exactly one JSON document on stdout.")
@click.option("--seed", type=int, default=None, help="Change the generated examples (default: the course's seed).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of CPU cores).")
@click.option("--verbose", "-v", is_flag=True, help="Show the failing checks of every exercise.")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Show progress while grading (default: when stderr is a terminal).")
@click.option("--student", metavar="ID", default=None,
              help="Whose quiz numbers to use (default: git config user.email).")
def run(exercises, source, fmt, seed, jobs, verbose, show_progress, student):
    """Grade exercises (all of them by default)."""
    from .grading import grade
    from .reporters import FORMATS

    course = get_course()
    names = resolve_names(course, exercises)
    source_dir = resolve_source(source)
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    jobs = jobs or os.cpu_count() or 1
    report = grade(course, [n for n in names if n in course.names()], source_dir,
                   course.seed if seed is None else seed, jobs=jobs,
                   progress=_progress_line if show_progress else None)
    quizzes = [n for n in names if n not in course.names()]
    if quizzes:
        from .quiz import grade_quizzes

        report.exercises.extend(grade_quizzes(quizzes, source_dir, student))
    progress_state.save(source_dir, report)
    click.echo(FORMATS[fmt](report, source=source or DEFAULT_SOURCE, verbose=verbose))
    sys.exit(0 if report.all_passed else 1)


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
    course = get_course()
    saved = progress_state.load(source or DEFAULT_SOURCE)
    width = max(len(e.name) for e in course.exercises) + 2
    click.echo(click.style(f"{'#':>2}  {'exercise':<{width}}{'points':>8}   {'status':<14} title", bold=True))
    next_shown = False
    for i, e in enumerate(course.exercises, 1):
        state = saved.get(e.name, {})
        status = state.get("status")
        label = STATUS_LABELS.get(status, "not graded yet")
        if status is not None:
            points = f"{_fmt(state.get('score', 0))}/{_fmt(e.max_score)}"
        else:
            points = f"{_fmt(e.max_score)}"
        marker = ""
        if status != "passed" and not next_shown:
            marker, next_shown = "  ← next up", True
        click.echo(f"{i:>2}  {e.name:<{width}}{points:>8}   {label:<14} {e.title}{marker}")


def _fmt(x) -> str:
    x = float(x)
    return str(int(x)) if x == int(x) else f"{x:g}"


if __name__ == "__main__":  # pragma: no cover
    main()
