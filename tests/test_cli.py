"""The ``grade`` command: table and JSON output, exit codes, ``grade list``, ``--seed``.

Through click's CliRunner (fast, in-process) and through real subprocesses (``python -m
grader`` and the ``grade`` script), which also prove that nothing but the JSON document
reaches stdout: not the progress display, not the learner's prints.

The CliRunner tests grade with a small course (the real one, keeping only the first check
of every function; ``helpers.small_course``): they test the command around grading, and
tests/test_part1_*.py test the grading itself. The subprocesses use the real course.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from grader import cli, context
from grader.checks.vectors import checks as vectors_checks
from grader.course import load_course
from helpers import EXERCISES, PART1, SOLUTIONS, SentInputs, copy_modules, course, small_course, submission

STATUSES = {"passed", "failed", "not_started", "error"}
STATES = STATUSES | {"too_slow"}
KINDS = {"correctness", "timing", "quiz"}
TOP_KEYS = {"score": (int, float), "max_score": (int, float), "sandbox": str, "seed": str, "exercises": list}
EXERCISE_KEYS = {"name": str, "score": (int, float), "max_score": (int, float), "status": str, "state": str,
                 "functions": dict, "checks": list}
CHECK_KEYS = {"name": str, "function": str, "kind": str, "passed": bool, "score": (int, float),
              "max_score": (int, float), "message": str}


def assert_schema(doc) -> None:
    """The documented JSON schema of ``grade --format json`` (grader/results.py), key for key."""

    def keys(obj, spec, where):
        assert isinstance(obj, dict), where
        assert set(obj) == set(spec), f"{where}: keys {sorted(obj)} != {sorted(spec)}"
        for key, typ in spec.items():
            assert isinstance(obj[key], typ) and not (typ != bool and isinstance(obj[key], bool)), \
                f"{where}.{key} = {obj[key]!r}"

    keys(doc, TOP_KEYS, "report")
    assert doc["sandbox"] in ("namespaces", "uid", "none")
    assert doc["seed"] in ("public", "secret")
    for e in doc["exercises"]:
        keys(e, EXERCISE_KEYS, e.get("name"))
        assert e["status"] in STATUSES and e["state"] in STATES
        assert e["state"] == e["status"] or (e["state"], e["status"]) == ("too_slow", "failed")
        assert list(e["functions"]) == list(dict.fromkeys(c["function"] for c in e["checks"]))
        assert set(e["functions"].values()) <= STATES
        for c in e["checks"]:
            keys(c, CHECK_KEYS, f"{e['name']}.{c.get('name')}")
            assert c["kind"] in KINDS
            assert c["score"] == (c["max_score"] if c["passed"] else 0)
            assert c["passed"] or c["message"], "a failed check always says why"
        assert e["score"] == pytest.approx(sum(c["score"] for c in e["checks"]))
        assert e["max_score"] == pytest.approx(sum(c["max_score"] for c in e["checks"]))
        assert (e["status"] == "passed") == all(c["passed"] for c in e["checks"])
    assert doc["score"] == pytest.approx(sum(e["score"] for e in doc["exercises"]))
    assert doc["max_score"] == pytest.approx(sum(e["max_score"] for e in doc["exercises"]))


SMALL = small_course()


def part1_max(c=SMALL) -> int:
    return int(sum(c.get(n).max_score for n in PART1))


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run every command in an empty folder (grade keeps its .grade/ state in the cwd),
    with the small course."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(context, "load_course", lambda: SMALL)  # what every subcommand grades
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


# The timed runs (grade's default) are another feature with their own tests; here they
# would only add seconds, so every grading command leaves them out.
FAST = "--no-timing"


def listed_points(e) -> float:
    """What ``grade list`` shows before any run: the checks' points and the timed runs'."""
    return e.max_score + sum(t.points for t in getattr(e, "timing_specs", lambda: [])())


# ----------------------------------------------------------------------------- CliRunner


def test_solutions_table_passes_with_exit_code_0():
    result = invoke(FAST, "--source", SOLUTIONS, *PART1)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(r"exercise\s+checks\s+points\s+status$", lines[0])
    for line, name in zip(lines[1:4], PART1):
        e = SMALL.get(name)
        n = sum(1 for _ in e.checks())
        assert re.match(rf"{name}\s+{n}/{n}\s+{e.max_score:g}/{e.max_score:g}\s+✓ passed$", line), line
    assert re.match(rf"total\s+{part1_max()}/{part1_max()}$", lines[4])
    assert "Everything passes" in result.stdout and "next up" not in result.stdout


def test_stubs_are_not_started_with_next_up_and_exit_code_1(in_tmp):
    shutil.copytree(EXERCISES, in_tmp / "exercises")
    result = invoke(FAST, *PART1)  # ./exercises by default
    assert result.exit_code == 1
    for name in PART1:
        assert re.search(rf"^{name}\s+0/\d+\s+0/\d+\s+· not started$", result.stdout, re.M), result.stdout
    assert re.search(rf"^total\s+0/{part1_max()}$", result.stdout, re.M)
    assert "not started yet: dot, cross, matmul (still raising NotImplementedError)" in result.stdout
    assert "next up: vectors — edit exercises/vectors.py, then run: grade vectors" in result.stdout
    assert "Traceback" not in result.output and "error" not in result.output.lower().replace("notimplementederror", "")


def test_failing_exercise_shows_its_failing_checks_with_a_hint(in_tmp):
    source = in_tmp / "mine"
    copy_modules(source, ["derivatives", "losses"])
    submission(source, "vectors", replace={"dot": "def dot(a, b):\n    return float(np.sum(a + b))\n"})
    result = invoke(FAST, "--source", source, "vectors", "-j", 1)
    assert result.exit_code == 1
    assert re.search(r"^vectors\s+\d+/\d+\s+\d+/\d+\s+✗ failing$", result.stdout, re.M), result.stdout
    assert "vectors: " in result.stdout and "✗ dot: agrees with NumPy" in result.stdout
    assert "dot(a=[" in result.stdout and "Hint: Multiply matching entries" in result.stdout
    assert f"next up: vectors — edit {source}/vectors.py" in " ".join(result.stdout.split())  # wrapped


def test_json_is_one_document_in_the_documented_schema(in_tmp):
    source = in_tmp / "mine"
    submission(source, "vectors", replace={"dot": "def dot(a, b):\n    return 0.0\n"})  # failed
    copy_modules(source, ["derivatives"], base=EXERCISES)  # not started
    submission(source, "losses", source="def mse(y_true, y_pred)\n    return 0.0\n")  # error
    result = invoke(FAST, "--source", source, "--format", "json", "--progress", *PART1)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert_schema(doc)
    assert [e["name"] for e in doc["exercises"]] == PART1
    assert [e["status"] for e in doc["exercises"]] == ["failed", "not_started", "error"]
    vectors = SMALL.get("vectors")
    dot_points = sum(c.points for c in vectors.functions[0].checks)
    assert doc["max_score"] == part1_max() and doc["score"] == vectors.max_score - dot_points
    assert "losses.py has a SyntaxError (losses.py, line 1" in doc["exercises"][2]["checks"][0]["message"]
    assert "grading" in result.stderr  # the progress display went to stderr


def test_json_of_solutions_passes_with_exit_code_0():
    result = invoke(FAST, "--source", SOLUTIONS, "--format", "json", "vectors")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert_schema(doc)
    assert doc["score"] == doc["max_score"] == SMALL.get("vectors").max_score
    assert {c["kind"] for c in doc["exercises"][0]["checks"]} == {"correctness"}


def test_run_is_the_default_subcommand():
    shown = invoke("run", FAST, "--source", SOLUTIONS, "--format", "json", "-j", 1, "vectors")
    plain = invoke(FAST, "--source", SOLUTIONS, "--format", "json", "-j", 1, "vectors")
    assert shown.exit_code == plain.exit_code == 0
    assert json.loads(shown.stdout) == json.loads(plain.stdout)


@pytest.mark.parametrize("args, fragments", [
    (["vectorz"], ["No exercise or command named 'vectorz'. Did you mean 'vectors'?",
                   "exercises: vectors, derivatives, losses", "commands: ", " list,", " quiz,", " watch"]),
    (["vector"], ["No exercise or command named 'vector'. Did you mean 'vectors'?"]),
    (["lsit"], ["No exercise or command named 'lsit'. Did you mean 'list'?"]),
    (["losses", "derivative"], ["No exercise or quiz named 'derivative'. Did you mean 'derivatives'?"]),
    (["--format", "xml"], ["'xml' is not one of"]),
    (["--source", "no/such/folder"], ["--source no/such/folder: no such folder"]),
    ([], ["there is no 'exercises' folder in", "--source DIR"]),
], ids=["typo", "singular", "command", "second-name", "bad-format", "missing-source", "no-exercises-folder"])
def test_usage_and_setup_errors_exit_2(args, fragments):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    if "named" in fragments[0]:  # a name typo is one paragraph, not a usage block
        assert "grade run --help" not in result.stderr and "Usage:" not in result.stderr


def test_unknown_name_without_a_close_match_lists_the_valid_names():
    result = invoke("--source", SOLUTIONS, "zzzz")
    assert result.exit_code == 2
    assert "No exercise or command named 'zzzz'." in result.stderr and "Did you mean" not in result.stderr
    assert "exercises: " + ", ".join(SMALL.names()) in " ".join(result.stderr.split())


def test_run_is_listed_in_grade_help():
    """A typo used to print 'grade run --help', a command grade --help did not list."""
    shown = invoke("--help").stdout
    assert re.search(r"^\s+run\s+Grade exercises and quizzes", shown, re.M), shown
    assert "grade run --help" in shown


@pytest.mark.parametrize("command", [["--source", str(SOLUTIONS), "vectors"], ["list"]], ids=["run", "list"])
def test_broken_course_file_exits_2_naming_file_line_and_field(command, tmp_path, monkeypatch):
    text = open(course().path, encoding="utf-8").read()
    assert text.count("points: 3,") > 1
    broken = tmp_path / "course.yaml"
    broken.write_text(text.replace("points: 3,", "points: three,", 1), encoding="utf-8")
    line = 1 + text[: text.index("points: 3,")].count("\n")
    monkeypatch.setattr(context, "load_course", lambda: load_course(str(broken)))
    result = invoke(*command)
    assert result.exit_code == 2
    assert f"the course file is broken: {broken}, line {line}, field 'points'" in result.stderr, result.stderr
    assert result.stdout == "" and "Traceback" not in result.output


def test_list_shows_the_exercises_in_order_with_points_then_their_status(in_tmp, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # every title on its row
    before = invoke("list")
    assert before.exit_code == 0
    rows = before.stdout.splitlines()
    assert re.match(r"\s*#\s+exercise\s+points\s+status\s+title", rows[0])
    for i, name in enumerate(SMALL.names(), 1):
        e = SMALL.get(name)
        assert re.match(rf"\s*{i}\s+{name}\s+{listed_points(e):g}\s+not graded yet\s+{re.escape(e.title)}", rows[i]), rows[i]
    assert rows[1].endswith("← next up") and not rows[2].endswith("← next up")
    quizzes = rows.index("") + 1  # the quizzes: a table of their own, after the code exercises
    assert re.match(r"\s*#\s+quiz\s+points\s+status\s+title", rows[quizzes]), rows[quizzes]

    # One scale: graded without its timed runs, vectors still counts them in its total
    # (not earned yet, and said so), as grade and grade watch do.
    assert invoke(FAST, "--source", SOLUTIONS, "--format", "json", "vectors").exit_code == 0
    after = invoke("list", "--source", SOLUTIONS).stdout.splitlines()
    vectors = SMALL.get("vectors")
    assert re.match(rf"\s*1\s+vectors\s+{vectors.max_score:g}/{listed_points(vectors):g}\*\s+. passed\s",
                    after[1]), after[1]
    assert after[2].endswith("← next up")  # derivatives: the first not passed yet
    assert any(line.startswith("* graded without the timed runs") for line in after)


def test_list_shows_a_correct_but_slow_exercise_as_such_and_moves_next_up_on(in_tmp, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # every title on its row
    from grader import progress
    from grader.results import CheckResult, ExerciseResult, Report

    vectors = SMALL.get("vectors")
    checks = [CheckResult(s.title, s.function, "correctness", True, s.points) for s in vectors.checks()]
    timed = vectors.timing_specs()
    assert timed[0].function == "dot"
    checks += [CheckResult(t.title, t.function, "timing", i > 0, t.points, "" if i else
                           "dot: 250 times the reference (limit 10)", extra={"timing": [{"outcome": "fail"}]})
               for i, t in enumerate(timed)]  # dot is correct but too slow; the others are fast
    progress.save(str(SOLUTIONS), Report([ExerciseResult("vectors", checks)]), course=SMALL)
    rows = invoke("list", "--source", SOLUTIONS).stdout.splitlines()
    top = listed_points(vectors)
    assert re.match(rf"\s*1\s+vectors\s+{top - 1:g}/{top:g}\s+. correct but too slow\s", rows[1]), rows[1]
    assert "next up" not in rows[1] and rows[2].endswith("next up")


def test_seed_changes_the_examples(monkeypatch):
    sent = SentInputs.install(monkeypatch, "dot")

    def inputs(*seed):
        assert invoke(FAST, "--source", SOLUTIONS, "-j", 1, *seed, "vectors").exit_code == 0
        return sent.take()

    default = inputs()
    spec = SMALL.get("vectors").functions[0].checks[0]
    worked = vectors_checks.get("dot", spec.id).examples  # the docstring's worked example, tried last
    assert len(default) == spec.examples + len(worked)
    assert default == inputs("--seed", course().seed)
    assert default != inputs("--seed", 7)


# ----------------------------------------------------------------------------- real subprocesses


def run_grade(args, cwd, script=False):
    command = [shutil.which("grade")] if script else [sys.executable, "-m", "grader"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run(command + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_subprocess_json_stays_whole_when_submissions_misbehave(in_tmp):
    """Prints, an os._exit and a syntax error: stdout is still exactly one JSON document."""
    source = in_tmp / "mine"
    submission(source, "vectors", replace={"dot": """
        print("vectors is being imported " * 1000)

        def dot(a, b):
            print("{\\"not\\": \\"json\\"}", a, b)
            import sys
            print("to stderr", file=sys.stderr)
            return float(np.dot(a, b))
    """})
    submission(source, "derivatives", source="""
        import os

        print("leaving now")
        os._exit(0)
    """)
    submission(source, "losses", source="import numpy as np\n\ndef mse(y_true, y_pred):\n    return (\n")
    done = run_grade([FAST, "--source", source, "--format", "json", "--progress", *PART1], cwd=in_tmp)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert_schema(doc)
    assert [e["status"] for e in doc["exercises"]] == ["passed", "error", "error"]
    assert all("ended the Python process with exit code 0" in c["message"] for c in doc["exercises"][1]["checks"])
    assert "losses.py, line 4" in doc["exercises"][2]["checks"][0]["message"]
    # The learner's prints are captured (a message may quote them, inside the JSON).
    assert "Traceback" not in done.stderr and "is being imported" not in done.stderr


def test_subprocess_solutions_exit_0():
    done = run_grade([FAST, "--source", SOLUTIONS, "vectors"], cwd=os.getcwd())
    assert done.returncode == 0, done.stdout + done.stderr
    top = course().get("vectors").max_score
    assert "Everything passes" in done.stdout and f"{top:g}/{top:g}" in done.stdout
    assert done.stderr == ""  # no progress display when stderr is not a terminal


def test_subprocess_grade_script_on_stubs(in_tmp):
    if shutil.which("grade") is None:
        pytest.skip("the grade script is not installed (pip install -e .)")
    shutil.copytree(EXERCISES, in_tmp / "exercises")
    done = run_grade([FAST, *PART1], cwd=in_tmp, script=True)
    assert done.returncode == 1
    assert done.stdout.count("· not started") == 3 and "next up: vectors" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_subprocess_unknown_name_exits_2():
    done = run_grade(["--source", SOLUTIONS, "lossez"], cwd=os.getcwd())
    assert done.returncode == 2 and done.stdout == ""
    assert "Did you mean 'losses'?" in done.stderr and "Traceback" not in done.stderr


def test_a_bug_in_the_grader_is_one_paragraph_with_exit_code_2(monkeypatch):
    """A grader crash must not look like the learner's traceback; GRADE_DEBUG=1 shows it."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("grader.grading.grade", broken)
    monkeypatch.delenv("GRADE_DEBUG", raising=False)
    result = CliRunner().invoke(cli.main, ["--source", str(SOLUTIONS), "vectors", "--no-timing"])
    assert result.exit_code == 2
    assert "the grader itself failed (RuntimeError: boom)" in result.output
    assert "Traceback" not in result.output

    monkeypatch.setenv("GRADE_DEBUG", "1")
    result = CliRunner().invoke(cli.main, ["--source", str(SOLUTIONS), "vectors", "--no-timing"])
    assert isinstance(result.exception, RuntimeError)


def test_a_reader_that_goes_away_is_not_a_grader_bug(tmp_path):
    """``grade list | head -1``: the closed pipe ends grade quietly, without a traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "grader", "list"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader stops after the first line
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in stderr and "grader itself failed" not in stderr, stderr
