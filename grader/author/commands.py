"""``grade author build`` and ``grade new``: the commands of grader/author/.

Both work on the course being graded: the course folder of ``grade --course DIR`` (or
``$GRADE_COURSE``), or, without one, the packaged course in this checkout (``solutions/``
and ``exercises/`` beside ``grader/``). Set-up problems are one paragraph, exit code 2.
"""
from __future__ import annotations

import os

import click

from ..context import active_folder, fail_setup
from .markers import MarkerError


def _course_option(command):
    return click.option("--course", "course_dir", metavar="DIR", default=None,
                        help="The course folder (default: grade --course DIR, $GRADE_COURSE, "
                             "else the course in this checkout).")(command)


def _folder(course_dir: str | None):
    from ..course import course_folder
    from ..yamlfile import YamlError

    if course_dir is None:
        return active_folder()
    try:
        return course_folder(course_dir)
    except YamlError as e:
        fail_setup(f"the course folder cannot be used: {e}")


@click.group("author")
def author_command():
    """Tools for course authors (docs/authoring.md).

    \b
    grade author build          write exercises/ from the solutions' markers
    grade author build --check  only say which stubs differ (exit 1), as CI does
    """


@author_command.command("build")
@_course_option
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 and name every stub that is not what the build writes.")
def build_command(course_dir, check):
    """Write the stubs in exercises/ from the solutions in solutions/.

    In each solution module, every answer sits between ### BEGIN SOLUTION: <message> and
    ### END SOLUTION; its stub is the same module with each of those regions replaced by
    raise NotImplementedError("<message>"). Only stubs that change are written.
    """
    from .build import differences, solution_modules, write_stubs

    folder = _folder(course_dir)
    if not solution_modules(folder.solutions):
        fail_setup(f"there are no solution modules in {folder.solutions} to build stubs from.")
    try:
        if check:
            found = differences(folder.solutions, folder.exercises)
            for d in found:
                click.echo(d.sentence())
            if found:
                click.echo(f"{len(found)} stub{'s' * (len(found) != 1)} out of date: run grade author build"
                           f"{'' if course_dir is None else f' --course {course_dir}'}.")
                raise SystemExit(1)
            click.echo(f"The stubs in {folder.exercises} are what the build writes.")
            return
        written = write_stubs(folder.solutions, folder.exercises)
    except MarkerError as e:
        fail_setup(str(e))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(written) or 'No'} stub{'s' * (len(written) != 1)} changed in {folder.exercises}.")


@click.command("new")
@click.argument("exercise")
@_course_option
@click.option("--function", "functions", metavar="NAME", multiple=True,
              help="A function the learner writes (repeat for several; default: the exercise's name).")
@click.option("--title", default=None, help="How the exercise reads in reports (default: from its name).")
def new_command(exercise, course_dir, functions, title):
    """Start EXERCISE in a course folder: its solution (with markers), the stub built from
    it, a checks module and its entry in course.yaml. It grades at once: the solution
    scores full marks, the stub not started. A new folder becomes a new course.
    """
    from .new import NewExerciseError, new_exercise

    if course_dir is None:
        folder = active_folder()
        if folder.packaged:
            fail_setup("grade new writes into a course folder, never into the grader's own course: give one "
                       "with --course DIR (a folder that does not exist yet becomes a new course).")
        course_dir = folder.root
    try:
        written = new_exercise(course_dir, exercise, list(functions) or None, title)
    except (NewExerciseError, MarkerError) as e:
        fail_setup(str(e))
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    shown = os.path.relpath(course_dir)
    click.echo(f"\nNext: write the answer in solutions/{exercise}.py and the checks in checks/{exercise}.py, "
               f"then\n  grade author build --course {shown}\n  grade --course {shown} {exercise} --source "
               f"{os.path.join(shown, 'solutions')}   # full marks\n  grade --course {shown} {exercise}"
               f"              # the stub: not started")
