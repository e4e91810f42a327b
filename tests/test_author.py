"""Authoring tools: the solution markers, ``grade author build``, ``grade new`` and ``grade --course``.

The markers and the build are tested on small modules in ``tmp_path``; ``grade new`` and
``grade --course`` through the real command (CliRunner), grading a fresh course folder.
"""
from __future__ import annotations

import ast
import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import context
from grader.author.build import differences, write_stubs
from grader.author.markers import MarkerError, build_stub
from grader.cli import main
from grader.course import COURSE_ENV, course_folder, load_course
from grader.runner.sandbox import forbidden_roots


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SOLUTION = dedent('''
    """A module."""
    import numpy as np


    def double(x):
        """Twice x.

        ### BEGIN SOLUTION: a line in a docstring is text, not a marker
        """
        ### BEGIN SOLUTION: double is not written yet: multiply by 2
        y = np.asarray(x, dtype=float)
        return 2 * y
        ### END SOLUTION


    class Box:
        def __init__(self):
            super().__init__()
            ### BEGIN SOLUTION: say "hello" \\ then stop
            self.x = 1
            ### END SOLUTION

        def size(self):
            ### BEGIN SOLUTION
            return self.x
            ### END SOLUTION
''')


# ----------------------------------------------------------------------------- markers


def test_a_region_becomes_one_raise_at_its_indentation_and_everything_else_is_kept():
    stub = build_stub(SOLUTION, "box.py")
    assert stub == dedent('''
        """A module."""
        import numpy as np


        def double(x):
            """Twice x.

            ### BEGIN SOLUTION: a line in a docstring is text, not a marker
            """
            raise NotImplementedError("double is not written yet: multiply by 2")


        class Box:
            def __init__(self):
                super().__init__()
                raise NotImplementedError("say \\"hello\\" \\\\ then stop")

            def size(self):
                raise NotImplementedError()
    ''')
    raised = [n.exc for n in ast.walk(ast.parse(stub)) if isinstance(n, ast.Raise)]
    messages = [n.args[0].value if n.args else None for n in raised]
    assert messages == ["double is not written yet: multiply by 2", 'say "hello" \\ then stop', None]


def test_line_endings_are_kept():
    crlf = SOLUTION.replace("\n", "\r\n")
    assert build_stub(crlf) == build_stub(SOLUTION).replace("\n", "\r\n")


@pytest.mark.parametrize("source, line, words", [
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n", 3,
     "cannot nest"),
    ("def f():\n    ### BEGIN SOLUTION: x\n    return 1\n", 2, "has no ### END SOLUTION"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without a ### BEGIN SOLUTION"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n### END SOLUTION\n", 4, "indented differently"),
    ("def f(x):\n    ### BEGIN SOLUTION\n    if x:\n    ### END SOLUTION\n        return 1\n", None,
     "not valid Python"),
])
def test_broken_markers_name_the_file_and_line(source, line, words):
    with pytest.raises(MarkerError) as caught:
        build_stub(source, "f.py")
    assert caught.value.line == line and words in str(caught.value)
    assert str(caught.value).startswith("f.py, line " if line else "f.py: ")


# ----------------------------------------------------------------------------- the build


def course_dir(tmp_path: Path, solutions: dict[str, str], stubs: dict[str, str] | None = None) -> Path:
    for folder, files in (("solutions", solutions), ("exercises", stubs or {})):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_differences_name_stale_missing_and_orphan_stubs(tmp_path):
    root = course_dir(tmp_path, {"a.py": SOLUTION, "b.py": SOLUTION, "c.py": SOLUTION},
                      {"a.py": build_stub(SOLUTION), "b.py": "# edited by hand\n", "x.py": "pass\n"})
    found = differences(str(root / "solutions"), str(root / "exercises"))
    assert [(d.kind, Path(d.stub).name) for d in found] == [("differs", "b.py"), ("missing", "c.py"),
                                                            ("orphan", "x.py")]
    assert "b.py is not what grade author build writes from" in found[0].sentence()


def test_the_build_writes_only_what_changes_and_nothing_when_a_marker_is_broken(tmp_path):
    root = course_dir(tmp_path, {"a.py": SOLUTION, "b.py": SOLUTION}, {"a.py": build_stub(SOLUTION)})
    before = (root / "exercises" / "a.py").stat().st_mtime_ns
    assert [Path(p).name for p in write_stubs(str(root / "solutions"), str(root / "exercises"))] == ["b.py"]
    assert (root / "exercises" / "a.py").stat().st_mtime_ns == before
    assert differences(str(root / "solutions"), str(root / "exercises")) == []
    (root / "solutions" / "c.py").write_text("def f():\n    return 1\n")  # no marker: its stub would leak it
    (root / "solutions" / "a.py").write_text(SOLUTION.replace("return 2 * y", "return 3 * y"))
    with pytest.raises(MarkerError, match="c.py: has no ### BEGIN SOLUTION marker"):
        write_stubs(str(root / "solutions"), str(root / "exercises"))
    assert (root / "exercises" / "a.py").read_text() == build_stub(SOLUTION)
    assert not (root / "exercises" / "c.py").exists()


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_author_build_check_exits_1_naming_the_stale_stub_then_build_fixes_it(tmp_path):
    root = course_dir(tmp_path / "course", {"a.py": SOLUTION}, {"a.py": "# old\n"})
    (root / "course.yaml").write_text("exercises: []\n")
    stale = invoke("author", "build", "--check", "--course", root)
    assert stale.exit_code == 1, stale.output
    assert f"{root / 'exercises' / 'a.py'} is not what grade author build writes" in stale.output
    built = invoke("author", "build", "--course", root)
    assert built.exit_code == 0 and "1 stub changed" in built.output
    assert invoke("author", "build", "--check", "--course", root).exit_code == 0
    (root / "solutions" / "a.py").write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    broken = invoke("author", "build", "--course", root)
    assert broken.exit_code == 2 and "a.py, line 2: this ### BEGIN SOLUTION has no ### END SOLUTION" in broken.stderr


# ----------------------------------------------------------------------------- grade new, grade --course


@pytest.fixture
def no_course_env(monkeypatch):
    monkeypatch.delenv(COURSE_ENV, raising=False)
    monkeypatch.delenv("DLGRADE_QUIZ_DIR", raising=False)
    monkeypatch.delenv("GRADE_SOLUTIONS", raising=False)


def grade_json(root: Path, *args, source: Path | None = None):
    extra = ["--source", source] if source else []
    result = invoke("--course", root, *args, *extra, "--format", "json", "--no-timing", "--no-progress", "-j", "1")
    return result, json.loads(result.stdout)


def test_grade_new_scaffolds_an_exercise_that_grades_at_once(tmp_path, no_course_env):
    root = tmp_path / "my course"
    made = invoke("new", "softplus", "--course", root, "--function", "softplus", "--function", "relu6")
    assert made.exit_code == 0, made.output
    for part in ("solutions", "exercises", "checks"):
        assert (root / part / "softplus.py").is_file()
    assert differences(str(root / "solutions"), str(root / "exercises")) == []
    course = load_course(str(root / "course.yaml"))
    assert course.names() == ["softplus"] and [f.name for f in course.get("softplus").functions] == ["softplus", "relu6"]
    assert course.get("softplus").checks_dir == str(root / "checks")
    solved, doc = grade_json(root, source=root / "solutions")
    assert solved.exit_code == 0 and doc["score"] == doc["max_score"] > 0, solved.output
    assert [e["name"] for e in doc["exercises"]] == ["softplus"]  # no quizzes/: none of the grader's own
    stub, doc = grade_json(root)  # without --source: the course folder's exercises/
    assert stub.exit_code == 1 and [e["status"] for e in doc["exercises"]] == ["not_started"]
    # A second exercise goes at the end of the same course file; nothing is ever overwritten.
    assert invoke("new", "swish", "--course", root).exit_code == 0
    assert load_course(str(root / "course.yaml")).names() == ["softplus", "swish"]
    again = invoke("new", "softplus", "--course", root)
    assert again.exit_code == 2 and "already has an exercise 'softplus'" in again.stderr


def test_grade_new_refuses_what_it_cannot_do_cleanly(tmp_path, no_course_env):
    packaged = invoke("new", "softplus")
    assert packaged.exit_code == 2 and "never into the grader's own course" in packaged.stderr
    bad = invoke("new", "Soft-plus", "--course", tmp_path / "c")
    assert bad.exit_code == 2 and "cannot be the name of an exercise" in bad.stderr
    root = tmp_path / "odd"
    root.mkdir()
    (root / "course.yaml").write_text("exercises: []\ndefaults: {seed: 1}\n")
    odd = invoke("new", "softplus", "--course", root)
    assert odd.exit_code == 2 and "'exercises:' must be the last top-level field" in odd.stderr
    assert sorted(p.name for p in root.iterdir()) == ["course.yaml"]  # nothing half written
    (tmp_path / "taken" / "checks").mkdir(parents=True)
    (tmp_path / "taken" / "checks" / "softplus.py").write_text("# mine\n")
    taken = invoke("new", "softplus", "--course", tmp_path / "taken")
    assert taken.exit_code == 2 and "softplus.py already exists" in taken.stderr
    assert (tmp_path / "taken" / "checks" / "softplus.py").read_text() == "# mine\n"


def test_course_option_env_and_equals_form_pick_the_same_course(tmp_path, no_course_env, monkeypatch):
    root = tmp_path / "c"
    assert invoke("new", "softplus", "--course", root).exit_code == 0
    monkeypatch.chdir(tmp_path)
    for args, env in ((["--course", root, "list"], None), ([f"--course={root}", "list"], None),
                      (["list"], {COURSE_ENV: str(root)})):
        listed = invoke(*args, env=env)
        assert listed.exit_code == 0 and "softplus" in listed.output and "vectors" not in listed.output, args
    assert os.environ.get(COURSE_ENV) is None  # --course leaves the environment as it found it
    missing = invoke("--course", tmp_path / "nowhere", "list")
    assert missing.exit_code == 2 and "the course folder cannot be used" in missing.stderr
    assert "Traceback" not in missing.output
    bare = invoke("--course")
    assert bare.exit_code == 2 and "requires an argument" in bare.output


def test_a_course_folder_is_off_limits_to_learner_code_while_grading(tmp_path, no_course_env, monkeypatch):
    root = tmp_path / "c"
    assert invoke("new", "softplus", "--course", root).exit_code == 0
    monkeypatch.delenv("GRADE_FORBIDDEN_DIRS", raising=False)
    learner = tmp_path / "learner"
    learner.mkdir()
    with context.use_course(str(root)), context.open_submission(str(learner)) as snap:
        roots, readable = forbidden_roots(snap.root)
        assert os.path.realpath(root) in roots  # solutions/, checks/ and quizzes/ inside it
    with context.use_course(str(root)), context.open_submission(str(root / "exercises")) as snap:
        assert os.path.realpath(root) in forbidden_roots(snap.root)[0]
    assert "GRADE_FORBIDDEN_DIRS" not in os.environ
    # End to end: a module that runs the course's own solution file scores nothing.
    (learner / "softplus.py").write_text(f"exec(open({str(root / 'solutions' / 'softplus.py')!r}).read())\n")
    result, doc = grade_json(root, source=learner)
    assert doc["score"] == 0 and result.exit_code == 1, result.output


def test_course_folder_parts_and_packaged_checks_for_exercises_it_reuses(tmp_path, no_course_env):
    root = tmp_path / "c"
    assert invoke("new", "softplus", "--course", root).exit_code == 0
    text = (root / "course.yaml").read_text()
    vectors = load_course().get("vectors")
    (root / "course.yaml").write_text(text.replace("exercises:\n", "exercises:\n  - name: vectors\n    functions:\n"
                                                   "      - name: dot\n        params: [a, b]\n        checks:\n"
                                                   "          - {id: agrees_with_numpy, points: 1}\n", 1))
    course = load_course(str(root / "course.yaml"))
    assert course.names() == ["vectors", "softplus"]
    assert course.get("vectors").checks_dir is None  # no checks/vectors.py here: the grader's own
    assert course.get("vectors").registry() is vectors.registry()
    folder = course_folder(str(root))
    assert (folder.solutions, folder.exercises, folder.quizzes) == tuple(
        str(root / p) for p in ("solutions", "exercises", "quizzes"))
    assert not folder.packaged and course_folder().packaged
