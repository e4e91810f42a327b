"""``grade new EXERCISE``: start an exercise in a course folder, ready to grade at once.

It writes four things, and refuses (naming the file) when any of them is already there:

- ``solutions/<exercise>.py``: a module with one function per ``--function`` (default: the
  exercise's name), each answer between the solution markers, with a placeholder answer
  (the identity) to replace;
- ``exercises/<exercise>.py``: the stub built from it (:mod:`grader.author.build`);
- ``checks/<exercise>.py``: a checks module on the public API (:mod:`grader.authoring`),
  one check per function that compares the learner with a reference written in the check;
- the exercise's entry at the end of ``course.yaml`` (a new course folder gets a fresh
  course file).

The result grades as it stands: the solution scores full marks, the stub *not started*.
Then the author writes the real answer, docstring and checks (docs/authoring.md).
"""
from __future__ import annotations

import keyword
import os
import re

from ..atomic import write_atomic
from ..course import COURSE_FILE_NAME, load_course
from ..yamlfile import YamlError
from .build import stub_for

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

NEW_COURSE = """\
# A course folder for grade --course DIR: its exercises in order, each exercise's functions
# (with their parameter names) and the checks that count. docs/authoring.md explains every
# field; grade new EXERCISE --course DIR adds an exercise.
defaults:
  seed: 0          # the public seed: the same submission always meets the same examples
  examples: 25     # generated examples per check, unless a check says otherwise
  rtol: 1.0e-9
  atol: 1.0e-12
exercises:
"""

SOLUTION = '''\
"""{title}.

Write each function below, then run ``grade {exercise}`` to check your work.
"""
import numpy as np
{functions}'''

SOLUTION_FUNCTION = '''

def {function}(x):
    """Return x as a float array (replace this with what {function} should compute).

    Args:
        x: a NumPy array of any shape.

    Returns:
        A float array shaped like x.

    Your task: say here, in the learner's terms, what to write.
    """
    ### BEGIN SOLUTION: {function} is not written yet
    return np.asarray(x, dtype=float)
    ### END SOLUTION
'''

CHECKS = '''\
"""Checks of ``{exercise}``: each function against a reference computed here, in the grader."""
import numpy as np

from grader.authoring import Registry, expect_close, expect_inputs_unchanged, strategies as S

checks = Registry("{exercise}")
{functions}'''

CHECKS_FUNCTION = '''

# ----------------------------------------------------------------------------- {function}

@checks.add("{function}", "agrees_with_reference", S.arrays())
def _(learner, tol, x):
    expected = np.asarray(x, dtype=float)  # the reference: replace it with what {function} computes
    expect_close(learner.{function}(x), expected, tol, learner=learner)


@checks.add("{function}", "leaves_input_unchanged", S.arrays())
def _(learner, tol, x):
    expect_inputs_unchanged(learner, "{function}", (x,))
'''

COURSE_ENTRY = '''\
  - name: {exercise}
    title: {title}
    framework: numpy
    functions:
{functions}'''

COURSE_FUNCTION = '''\
      - name: {function}
        params: [x]
        hints:
          - "A first hint about {function}, in the learner's terms."
        checks:
          - {{id: agrees_with_reference, title: agrees with the reference, points: 2,
             hint: "Say what the right answer looks like, never the answer itself."}}
          - {{id: leaves_input_unchanged, title: leaves its input unchanged, points: 1, examples: 10}}
'''


class NewExerciseError(Exception):
    """The exercise cannot be started; the message says why (exit code 2)."""


def check_name(name: str, what: str) -> None:
    if not NAME.match(name) or keyword.iskeyword(name):
        raise NewExerciseError(f"{name!r} cannot be the name of {what}: use lower case letters, digits and _ "
                               f"(a Python name, since it becomes {name}.py), starting with a letter.")


def planned_files(root: str, exercise: str) -> dict[str, str]:
    return {"solution": os.path.join(root, "solutions", f"{exercise}.py"),
            "stub": os.path.join(root, "exercises", f"{exercise}.py"),
            "checks": os.path.join(root, "checks", f"{exercise}.py")}


def new_exercise(root: str, exercise: str, functions: list[str] | None = None, title: str | None = None) -> list[str]:
    """Scaffold ``exercise`` in the course folder ``root`` (made if missing); return the paths
    written. Nothing is left half done: the course file is checked before anything is kept."""
    functions = list(functions or [exercise])
    check_name(exercise, "an exercise")
    for f in functions:
        check_name(f, "a function")
    if len(set(functions)) != len(functions):
        raise NewExerciseError(f"a function is named twice: {', '.join(functions)}")
    title = title or exercise.replace("_", " ").capitalize()
    if '"' in title or "\n" in title or ":" in title:
        raise NewExerciseError("the title may not contain a colon, a double quote or a line break "
                               "(it goes into course.yaml as plain text).")
    root = os.path.abspath(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise NewExerciseError(f"{root} is a file, not a course folder.")
    course_file = os.path.join(root, COURSE_FILE_NAME)
    before = None
    if os.path.exists(course_file):
        with open(course_file, encoding="utf-8", newline="") as f:
            before = f.read()
        try:
            course = load_course(course_file)
        except YamlError as e:
            raise NewExerciseError(f"fix the course file first: {e}") from None
        if exercise in course.names():
            raise NewExerciseError(f"{course_file} already has an exercise {exercise!r}.")
    paths = planned_files(root, exercise)
    there = [p for p in paths.values() if os.path.exists(p)]
    if there:
        raise NewExerciseError(f"{', '.join(there)} already exist{'s' * (len(there) == 1)}: grade new never "
                               f"overwrites a file. Pick another name, or remove {'it' if len(there) == 1 else 'them'}.")
    entry = COURSE_ENTRY.format(exercise=exercise, title=title,
                                functions="".join(COURSE_FUNCTION.format(function=f) for f in functions))
    course_text = _with_entry(before, entry, course_file)

    written = []
    try:
        solution = SOLUTION.format(title=title, exercise=exercise,
                                   functions="".join(SOLUTION_FUNCTION.format(function=f) for f in functions))
        write_atomic(paths["solution"], solution)
        written.append(paths["solution"])
        write_atomic(paths["stub"], stub_for(paths["solution"]))
        written.append(paths["stub"])
        write_atomic(paths["checks"], CHECKS.format(exercise=exercise, functions="".join(
            CHECKS_FUNCTION.format(function=f) for f in functions)))
        written.append(paths["checks"])
        write_atomic(course_file, course_text)
        load_course(course_file)  # the new entry reads back, its checks found in checks/
    except BaseException:
        for path in written:
            os.unlink(path)
        if before is None:
            if os.path.exists(course_file):
                os.unlink(course_file)
        else:
            write_atomic(course_file, before)
        raise
    return [*written, course_file]


def _with_entry(text: str | None, entry: str, course_file: str) -> str:
    """The course file with ``entry`` added to its ``exercises:`` list, which must come last
    (so the entry can go at the end of the file, every comment kept)."""
    if text is None:
        return NEW_COURSE + entry
    lines = text.rstrip("\n").split("\n")
    tops = [i for i, line in enumerate(lines) if line and not line[0].isspace() and not line.startswith("#")]
    if not tops or not lines[tops[-1]].startswith("exercises:"):
        raise NewExerciseError(f"{course_file}: grade new adds the exercise at the end of the file, so "
                               f"'exercises:' must be the last top-level field. Move it there, or add this "
                               f"entry by hand:\n{entry}")
    last = lines[tops[-1]].split("#", 1)[0].strip()
    if last == "exercises: []":
        lines[tops[-1]] = "exercises:"
    elif last != "exercises:":
        raise NewExerciseError(f"{course_file}: the exercises are written in flow style ({last}); write them as "
                               f"a block list (one '- name:' per exercise), or add this entry by hand:\n{entry}")
    return "\n".join(lines) + "\n" + entry
