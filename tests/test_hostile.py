"""Hostile submissions: the grader cannot be fooled, broken or left with stray processes.

Every case of ``tests/hostile/cases.py`` is graded together with another exercise (the
reference ``losses.mse``), with short limits so the whole file stays fast. For each: the
attacked check fails with the expected message (or the exercise is flagged, or nothing
changes at all), the other exercise scores full marks, the run ends in bounded time, no
process of the submission is left running, and files outside its working folder are
untouched. The few cases that attack the grader's own process or output go through the
real ``grade`` command in a subprocess.
"""
from __future__ import annotations

import dataclasses
import json
import os
import py_compile
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.course import FunctionSpec
from grader.grading import grade
from grader.results import ExerciseResult
from grader.runner import sandbox
from helpers import EXERCISES, ROOT, SOLUTIONS, course_with, find_check, summary
from hostile.cases import CASES, Hostile

HOSTILE = Path(__file__).resolve().parent / "hostile"
OTHER, OTHER_FUNCTION, OTHER_CHECKS = "losses", "mse", ["worked_example", "agrees_with_numpy"]
EXAMPLES = 10  # hypothesis examples per attacked check: one failing example is enough
DOT_ONLY = ("agrees_with_numpy",)
CANARY_TEXT = '{"score": 1, "max_score": 100, "exercises": []}\n'
SECRET = "hostile-test-secret-9f2c"
TIME_LIMIT = 60.0  # seconds for one case, on a loaded 2-core machine


# ----------------------------------------------------------------------------- building


class Built:
    def __init__(self, case: Hostile, tmp_path: Path):
        self.case = case
        self.marker = str(random.SystemRandom().randrange(10 ** 8, 10 ** 9))
        self.canary = tmp_path / "report" / "report.json"
        self.canary.parent.mkdir()
        self.canary.write_text(CANARY_TEXT)
        (self.canary.parent / "progress.json").write_text(CANARY_TEXT)
        self.folder = tmp_path / "submission"
        self.folder.mkdir()
        hostile = (HOSTILE / f"{case.id}.py").read_text(encoding="utf-8")
        for key, value in (("__REPO__", str(ROOT)), ("__CANARY__", str(self.canary)), ("__MARKER__", self.marker)):
            hostile = hostile.replace(key, value)
        base = (SOLUTIONS / f"{case.exercise}.py").read_text(encoding="utf-8")
        (self.folder / f"{case.exercise}.py").write_text(f"{base}\n\n# --- hostile: {case.id}\n{hostile}",
                                                         encoding="utf-8")
        shutil.copy(SOLUTIONS / f"{OTHER}.py", self.folder / f"{OTHER}.py")
        for name in case.companions:
            source = HOSTILE / "companions" / (name[:-1] if name.endswith(".pyc") else name)
            if name.endswith(".pyc"):
                py_compile.compile(str(source), cfile=str(self.folder / name), doraise=True)
            else:
                shutil.copy(source, self.folder / name)

    def leftovers(self) -> list[str]:
        """Live processes whose command line carries this case's marker."""
        found = []
        for pid in sandbox._pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            status = sandbox._status(pid)
            if self.marker in cmd and status and status["state"] not in "ZX":
                found.append(f"{pid}: {cmd}")
        return found


def case_course(case: Hostile):
    """The course cut down to the attacked checks and one other exercise's two checks."""
    checks = {(OTHER, OTHER_FUNCTION): OTHER_CHECKS}
    if case.checks:
        checks[(case.exercise, case.function)] = list(case.checks)
    for function in case.also:
        checks[(case.exercise, function)] = ["agrees_with_numpy"]
    course = course_with([case.exercise, OTHER], limits={case.exercise: case.limits} if case.limits else None,
                         functions={case.exercise: [case.function, *case.also], OTHER: [OTHER_FUNCTION]},
                         checks=checks)
    untimed = {"timing": []} if "timing" in {f.name for f in dataclasses.fields(FunctionSpec)} else {}
    course.exercises = [dataclasses.replace(e, functions=[
        dataclasses.replace(f, checks=[dataclasses.replace(c, examples=min(c.examples, EXAMPLES))
                                       for c in f.checks if c.kind == "correctness"],
                            **(untimed if e.name == OTHER else {}))
        for f in e.functions]) for e in course.exercises]
    return course


def grade_in_process(built: Built):
    case = built.case
    report = grade(case_course(case), [case.exercise, OTHER], str(built.folder), seed=0, jobs=1)
    return {e.name: e for e in report.exercises}


# The real `grade` command (click, the JSON reporter, exit codes) on the cut-down course.
CLI = f"""
import sys
sys.path[:0] = [{str(ROOT / "tests")!r}]
import grader.cli, grader.context, test_hostile
from hostile.cases import CASES
wanted = sys.argv.pop(1)
case = next(c for c in CASES if c.id == wanted)
grader.context.load_course = lambda: test_hostile.case_course(case)
grader.cli.main()
"""


def grade_cli(built: Built):
    env = dict(os.environ, HOSTILE_SECRET=SECRET)
    proc = subprocess.run([sys.executable, "-c", CLI, built.case.id, "run", built.case.exercise, OTHER,
                           "--source", str(built.folder), "--format", "json", "--no-progress", "-j", "1",
                           "--timing" if built.case.timing else "--no-timing"],
                          capture_output=True, text=True, env=env, cwd=str(built.folder.parent), timeout=300)
    assert proc.returncode in (0, 1), f"grade crashed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    try:
        report = json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout
    except ValueError:
        raise AssertionError(f"stdout is not one JSON document:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    return report, proc


# ----------------------------------------------------------------------------- verdicts


def assert_verdict(case: Hostile, result: ExerciseResult):
    text = summary(result)
    if case.verdict == "unchanged":
        assert result.status == "passed" and result.score == result.max_score, text
        return
    failed = [c for c in result.checks if not c.passed]
    if case.verdict in ("error", "flagged"):
        assert failed and len(failed) == len(result.checks) and result.score == 0, text
        assert {c.function for c in result.checks} == {case.function, *case.also}, text
        if case.verdict == "error":
            assert result.status == "error", text
        for check in failed:
            assert any(m in check.message for m in case.messages), text
    else:
        assert case.verdict == "fail"
        for check_id in case.checks:
            check = find_check(result, case.function, check_id)
            assert not check.passed, f"{case.id}: {check_id} passed\n{text}"
            assert any(m in check.message for m in case.messages), f"{case.id}: {check_id}\n{text}"
    for check in failed:
        assert "Traceback" not in check.message, text


def assert_cli_verdict(case: Hostile, report: dict):
    exercises = {e["name"]: e for e in report["exercises"]}
    attacked, other = exercises[case.exercise], exercises[OTHER]
    assert other["status"] == "passed" and other["score"] == other["max_score"]
    # Timing checks wait for correctness and say so; the verdict is read from correctness checks.
    correctness = [c for c in attacked["checks"] if c["kind"] == "correctness"]
    mine = [c for c in correctness if c["function"] == case.function]
    if case.verdict == "unchanged":
        assert attacked["status"] == "passed" and attacked["score"] == attacked["max_score"], attacked
    elif case.verdict == "slow":
        timed = [c for c in attacked["checks"] if c["kind"] == "timing" and c["function"] == case.function]
        assert mine and all(c["passed"] for c in mine), mine
        assert timed and not any(c["passed"] for c in timed), timed
        assert all(any(m in c["name"] + c["message"] for m in case.messages) for c in timed), timed
    elif case.verdict in ("flagged", "error"):
        assert attacked["score"] == 0 and all(not c["passed"] for c in attacked["checks"]), attacked
        assert all(any(m in c["message"] for m in case.messages) for c in correctness), attacked
    else:
        failing = [c for c in mine if not c["passed"]]
        assert failing and all(any(m in c["message"] for m in case.messages) for c in failing), mine


# ----------------------------------------------------------------------------- the suite


def test_there_are_enough_hostile_submissions():
    files = {p.stem for p in HOSTILE.glob("*.py")} - {"cases", "__init__"}
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 25
    assert files == set(ids), f"files without a case: {files - set(ids)}; cases without a file: {set(ids) - files}"
    assert {c.category for c in CASES} >= {"ending", "patching", "fake values", "resources", "output", "peeking",
                                           "autograd", "clocks", "walls"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_submission(case: Hostile, tmp_path):
    if case.id == "fork_bomb" and os.geteuid() == 0 and sandbox.sandbox_mode() == "none":
        pytest.skip("as root without a user of its own, nothing would limit a fork bomb")
    mode = sandbox.sandbox_mode()
    if case.needs == "isolation" and mode == "none" or case.needs == "namespaces" and mode != "namespaces":
        pytest.skip(f"this defence needs {case.needs}; learner code runs under sandbox mode {mode} here")
    if case.needs == "cgroup" and not cgroup_available():
        pytest.skip("this machine lets the grader make no control group (docs/security.md: per-process limits hold)")
    case = case.under(mode)
    built = Built(case, tmp_path)
    started = time.monotonic()
    if case.cli:
        report, proc = grade_cli(built)
        assert_cli_verdict(case, report)
    else:
        results = grade_in_process(built)
        assert_verdict(case, results[case.exercise])
        other = results[OTHER]
        assert other.status == "passed" and other.score == other.max_score, summary(other)
    assert time.monotonic() - started < TIME_LIMIT
    assert not built.leftovers(), f"left behind: {built.leftovers()}"
    assert built.canary.read_text() == CANARY_TEXT
    assert (built.canary.parent / "progress.json").read_text() == CANARY_TEXT
    assert not os.path.exists(f"/tmp/{built.marker}.fill")
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        assert not os.path.exists(f"{folder}/{built.marker}.left"), f"a file was left in {folder}"


def cgroup_available() -> bool:
    from grader.runner import cgroup

    group = cgroup.create(64, 8)
    if group is None:
        return False
    group.remove()
    return True


@pytest.mark.parametrize("case_id", ["daemon_process", "os_exit_in_function"])
def test_nothing_is_left_behind_without_a_sandbox(case_id, tmp_path, monkeypatch):
    """Without namespaces or a user of its own (an ordinary user without bubblewrap), the
    child is a subreaper and the grader stops and kills its whole tree (and anything
    carrying its token) at close instead. Forced here with GRADE_SANDBOX=none."""
    monkeypatch.setenv("GRADE_SANDBOX", "none")
    assert sandbox.sandbox_mode() == "none"
    case = next(c for c in CASES if c.id == case_id)
    built = Built(case, tmp_path)
    results = grade_in_process(built)
    assert_verdict(case, results[case.exercise])
    assert results[OTHER].status == "passed"
    assert not built.leftovers(), f"left behind: {built.leftovers()}"


def test_a_classmates_submission_is_off_limits_in_a_batch(tmp_path, monkeypatch):
    """A batch run lists the folder of all submissions in GRADE_FORBIDDEN_DIRS: each
    submission may read its own folder only, so copying a classmate's module is caught."""
    batch = tmp_path / "batch"
    for student in ("alice", "bob"):
        (batch / student).mkdir(parents=True)
        shutil.copy(SOLUTIONS / f"{OTHER}.py", batch / student / f"{OTHER}.py")
    shutil.copy(SOLUTIONS / "vectors.py", batch / "bob" / "vectors.py")
    (batch / "alice" / "vectors.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('bobs', {str(batch / 'bob' / 'vectors.py')!r})\n"
        "bobs = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(bobs)\n"
        "dot, cross, matmul = bobs.dot, bobs.cross, bobs.matmul\n")
    monkeypatch.setenv(sandbox.FORBIDDEN_ENV, str(batch))
    case = Hostile("batch", "peeking", "vectors", "dot", DOT_ONLY, "flagged", "reference solution")
    for student, verdict in (("alice", "flagged"), ("bob", "unchanged")):
        report = grade(case_course(case), ["vectors", OTHER], str(batch / student), seed=0, jobs=1)
        results = {e.name: e for e in report.exercises}
        assert_verdict(dataclasses.replace(case, verdict=verdict), results["vectors"])
        assert results[OTHER].status == "passed", summary(results[OTHER])


def test_the_autograd_reader_accepts_hand_written_gradients_and_names_what_it_finds(tmp_path):
    from grader.runner.lint import autograd_uses

    for folder in (SOLUTIONS, EXERCISES):  # docstrings that talk about autograd are fine
        assert not autograd_uses(str(folder / "backprop.py"), str(folder)), folder
    (tmp_path / "helper.py").write_text("import torch\ndef g(t):\n    return torch.autograd.grad(t, [])\n")
    (tmp_path / "backprop.py").write_text(
        '"""Docstring: no .backward() here."""\n'
        "import torch\nimport helper\n\n"
        "def relu_backward(dy, x):\n    return dy * (x > 0)\n\n"
        "def linear_backward(dy, x, W):\n    x.requires_grad_(True)\n    return _inner(dy)\n\n"
        "def _inner(dy):\n    return getattr(torch, 'auto' + 'grad')\n")
    found = autograd_uses(str(tmp_path / "backprop.py"), str(tmp_path))
    assert any("helper.py, line 3" in f for f in found.module)  # a helper beside it counts everywhere
    linear = found.for_function("linear_backward")
    assert any("requires_grad_" in f and "backprop.py, line 9" in f for f in linear)
    assert any("computed at run time" in f for f in linear)  # reached through _inner
    assert not any("backprop.py" in f for f in found.for_function("relu_backward"))
