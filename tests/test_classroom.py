"""Class releases, grading at a git ref, compare, batch grading, shards and merge.

The release tests build a real class repository in a temporary folder and run the
grader there in real processes, as a learner would. The batch tests grade real
submissions (right, not started, broken, hanging, hostile) with short timeouts; the
resume, shard and merge tests replace the per-submission grading with a fast fake so
they test the bookkeeping, not the grader again.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.classroom import batch
from grader.cli import main
from helpers import EXERCISES, ROOT, SOLUTIONS, course

PYTHON = sys.executable


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def grade_process(*args, cwd, timeout=240):
    """``python -m grader ARGS`` in ``cwd``: the grader that ships in that folder, as learners run it."""
    return subprocess.run([PYTHON, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def invoke(args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        with runner.isolated_filesystem():
            return runner.invoke(main, args)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, args)
    finally:
        os.chdir(old)


# ----------------------------------------------------------------------------- release

@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "class-repo"
    result = invoke(["release", str(out), "--course", str(ROOT)])
    assert result.exit_code == 0, result.output
    return out


def tree(repo, ref):
    return set(git("ls-tree", "-r", "--name-only", ref, cwd=repo).split())


def solution_only_lines(name: str) -> list[str]:
    """Lines of a solution module that its stub does not contain, even inside its docstrings."""
    stub = (EXERCISES / name).read_text(encoding="utf-8")
    return [line.strip() for line in (SOLUTIONS / name).read_text(encoding="utf-8").splitlines()
            if line.strip() not in stub and len(line.strip()) > 12 and not line.strip().startswith("#")]


def test_release_main_has_stubs_grader_readme_workflow_and_no_answers(release_dir):
    files = tree(release_dir, "main")
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=release_dir).strip() == "main"
    stubs = sorted(p.name for p in EXERCISES.glob("*.py"))
    assert {f"exercises/{n}" for n in stubs} <= files
    for name in stubs:
        assert git("show", f"main:exercises/{name}", cwd=release_dir) == (EXERCISES / name).read_text(encoding="utf-8")
    assert {"pyproject.toml", "README.md", ".github/workflows/classroom.yml", "grader/cli.py",
            "grader/course.yaml", "grader/templates/classroom.yml"} <= files
    assert not any(f.startswith(("solutions/", "tests/")) for f in files)
    assert not any(f.startswith("exercises/quizzes/") and f.endswith((".yaml", ".yml")) for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    # No answer reaches main: no file is a copy of a reference file, and outside the grader
    # (whose checks need their own oracles) no line of a solution that its stub lacks appears.
    contents = {f: git("show", f"main:{f}", cwd=release_dir) for f in files}
    references = [p.read_text(encoding="utf-8") for p in [*SOLUTIONS.glob("*.py"), *SOLUTIONS.glob("quizzes/*.yaml")]]
    assert not [f for f, text in contents.items() if text in references]
    learner_text = "\n".join(text for f, text in contents.items() if not f.startswith("grader/"))
    leaked = [line for p in SOLUTIONS.glob("*.py") for line in solution_only_lines(p.name) if line in learner_text]
    assert not leaked, leaked[:5]
    # The learner README: how to work, and honest about which grade counts.
    readme = git("show", "main:README.md", cwd=release_dir)
    assert "grade list" in readme and "grade --ref solutions" in readme
    assert "pinned" in readme and "grade batch" in readme
    assert "$exercise_table" not in readme and "`vectors`" in readme
    assert "classroom-resources/autograding-grading-reporter" in git(
        "show", "main:.github/workflows/classroom.yml", cwd=release_dir)


def test_release_ships_a_manifest_that_grade_verify_checks(release_dir, tmp_path):
    from grader.verify import verify

    assert "grader/MANIFEST.sha256" in tree(release_dir, "main")
    copy = tmp_path / "learner-repo"
    git("clone", "-q", "--branch", "main", str(release_dir), str(copy), cwd=tmp_path)
    manifest = copy / "grader" / "MANIFEST.sha256"
    # The release as it is: nothing edited, in the grader or in the class repository.
    assert verify(str(copy), manifest=str(manifest), grader_dir=str(copy / "grader")) == []
    # A learner who edits the workflow (to fake a grade) is reported by name.
    workflow = copy / ".github" / "workflows" / "classroom.yml"
    workflow.write_text(workflow.read_text(encoding="utf-8") + "# always pass\n", encoding="utf-8")
    problems = verify(str(copy), manifest=str(manifest), grader_dir=str(copy / "grader"))
    assert [(p.kind, p.path) for p in problems] == [("edited", ".github/workflows/classroom.yml")]


def test_release_solutions_branch_has_the_solved_modules_and_quiz_answers(release_dir):
    files = tree(release_dir, "solutions")
    for path in SOLUTIONS.glob("*.py"):
        assert git("show", f"solutions:exercises/{path.name}", cwd=release_dir) == path.read_text(encoding="utf-8")
    for path in (SOLUTIONS / "quizzes").glob("*.yaml"):
        assert f"exercises/quizzes/{path.name}" in files
    assert not any(f.startswith("solutions/") for f in files)
    assert tree(release_dir, "main") <= files


def test_release_leaves_the_authors_own_quiz_answers_out_of_main(tmp_path):
    course_copy = tmp_path / "course"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("exercises", "solutions", "grader"):
        shutil.copytree(ROOT / part, course_copy / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", course_copy / "pyproject.toml")
    planted = course_copy / "exercises" / "quizzes" / "calculus.yaml"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text("student: author\nanswers:\n  power_rule: 12\n", encoding="utf-8")
    out = tmp_path / "class"
    result = invoke(["release", str(out), "--course", str(course_copy)])
    assert result.exit_code == 0, result.output
    assert "exercises/quizzes/calculus.yaml" not in tree(out, "main")
    assert git("show", "solutions:exercises/quizzes/calculus.yaml", cwd=out) == \
        (SOLUTIONS / "quizzes" / "calculus.yaml").read_text(encoding="utf-8")


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = invoke(["release", str(tmp_path / "busy"), "--course", str(ROOT)])
    assert result.exit_code == 2 and "not an empty folder" in result.output
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]
    result = invoke(["release", str(tmp_path / "x"), "--course", str(tmp_path)])
    assert result.exit_code == 2 and "does not look like the course repository" in result.output


def test_grade_runs_in_the_release_and_scores_full_marks_at_the_solutions_branch(release_dir):
    first_quiz = sorted(p.stem for p in (SOLUTIONS / "quizzes").glob("*.yaml"))[:1]
    stubs = grade_process("vectors", "--no-progress", "-j", "2", cwd=release_dir)
    assert stubs.returncode == 1, stubs.stdout + stubs.stderr
    assert "not started" in stubs.stdout and "Traceback" not in stubs.stderr

    before = {p: p.read_bytes() for p in (release_dir / "exercises").glob("*.py")}
    solved = grade_process("--ref", "solutions", "vectors", "losses", *first_quiz, "--format", "json",
                           "--no-progress", "-j", "2", cwd=release_dir)
    assert solved.returncode == 0, solved.stdout[-2000:] + solved.stderr
    doc = json.loads(solved.stdout)
    assert [e["name"] for e in doc["exercises"]] == ["vectors", "losses", *first_quiz]
    assert doc["score"] == doc["max_score"] > 0
    assert all(e["status"] == "passed" for e in doc["exercises"])
    # The working tree, the index and HEAD are as they were.
    assert {p: p.read_bytes() for p in (release_dir / "exercises").glob("*.py")} == before
    assert git("status", "--porcelain", "--untracked-files=no", cwd=release_dir) == ""
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=release_dir).strip() == "main"


def test_ref_errors_are_one_paragraph_with_exit_code_2(release_dir, tmp_path):
    unknown = invoke(["run", "--ref", "nope", "vectors"], cwd=release_dir)
    assert unknown.exit_code == 2
    assert "no branch, tag or commit called 'nope'" in unknown.output and "main, solutions" in unknown.output
    outside = invoke(["run", "--ref", "solutions", "vectors"], cwd=tmp_path)
    assert outside.exit_code == 2 and "not inside a git repository" in outside.output
    assert "Traceback" not in unknown.output + outside.output


# ----------------------------------------------------------------------------- compare

def test_compare_shows_the_first_disagreements_side_by_side(release_dir, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    text = (SOLUTIONS / "vectors.py").read_text(encoding="utf-8")
    text += textwrap.dedent("""

        def dot(a, b):  # off by one as soon as the vectors have three entries
            return float((a * b).sum()) + (1.0 if len(a) >= 3 else 0.0)


        def matmul(A, B):
            raise NotImplementedError
        """)
    (mine / "vectors.py").write_text(text, encoding="utf-8")
    result = invoke(["compare", "vectors", "--ref", "solutions", "--source", str(mine)], cwd=release_dir)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "✓ cross: agrees on all" in out
    assert "· matmul: not started" in out
    assert "✗ dot:" in out and "the smallest input found:" in out
    lines = out.splitlines()
    at = lines.index("  the smallest input found:")
    call, header, row = lines[at + 1:at + 4]
    assert call.strip().startswith("dot(a=[") and call.count(",") >= 5  # three entries each at least
    assert header.split("│")[0].strip() == "yours" and header.split("│")[1].strip() == "solutions"
    yours, theirs = (float(x) for x in row.split("│"))
    assert yours == theirs + 1.0
    # Identical modules agree everywhere.
    (mine / "vectors.py").write_text((SOLUTIONS / "vectors.py").read_text(encoding="utf-8"), encoding="utf-8")
    same = invoke(["compare", "vectors", "--source", str(mine)], cwd=release_dir)
    assert same.exit_code == 0, same.output
    assert same.output.count("agrees on all") == 3


# ----------------------------------------------------------------------------- batch (real grading)

def make_class(root: Path) -> Path:
    """Learner folders laid out like class repositories, one of each kind."""
    module(root, "alice", (SOLUTIONS / "vectors.py").read_text(encoding="utf-8"))  # right
    module(root, "bob", (EXERCISES / "vectors.py").read_text(encoding="utf-8"))  # not started
    module(root, "carol", "def dot(a, b)\n    return 0\n")  # a syntax error
    # mallory ships a fake grader next to her stubs: the batch must never run it.
    module(root, "mallory", (EXERCISES / "vectors.py").read_text(encoding="utf-8"))
    fake = root / "mallory" / "grader"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        'import json\nprint(json.dumps({"score": 999, "max_score": 23, "exercises": [{"name": "vectors", '
        '"score": 999, "max_score": 23, "status": "passed", "checks": []}]}))\n')
    # frank's code is right, but his quiz answers file cannot be read: only the quiz scores 0.
    module(root, "frank", (SOLUTIONS / "vectors.py").read_text(encoding="utf-8"))
    (root / "frank" / "exercises" / "quizzes").mkdir()
    (root / "frank" / "exercises" / "quizzes" / "setting_up.yaml").write_text("student: frank\nanswers: [oops\n")
    (root / "eve").mkdir()  # no exercises folder at all
    (root / ".git").mkdir()  # not a learner
    return root


def module(root: Path, learner: str, text: str) -> None:
    folder = root / learner / "exercises"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vectors.py").write_text(textwrap.dedent(text), encoding="utf-8")


def add_hanging_learner(root: Path) -> None:
    """dave's functions never return (tests/test_hostile_batch.py checks that nothing of a
    timed-out or interrupted submission is left running)."""
    module(root, "dave", """
        import time

        def dot(a, b):
            time.sleep(120)

        def cross(a, b):
            time.sleep(120)

        def matmul(A, B):
            time.sleep(120)
        """)


def read_csv(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade a class; then a late, hanging submission arrives and the batch is run again.

    The first run has a generous timeout (a loaded machine must not time out a right
    answer); the second grades only the newcomer, under a short one.
    """
    tmp = tmp_path_factory.mktemp("batch")
    make_class(tmp / "class")
    out = tmp / "grades" / "gradebook.csv"
    args = ["batch", str(tmp / "class"), "vectors", "setting_up", "--out", str(out), "--no-progress", "--no-timing",
            "--allow-weak-sandbox"]
    first = invoke([*args, "--timeout", "300", "--jobs", "3"])
    add_hanging_learner(tmp / "class")
    second = invoke([*args, "--timeout", "6"])
    return tmp, out, first, second


def test_batch_grades_every_kind_of_submission(graded_class):
    tmp, out, first, second = graded_class
    assert first.exit_code == 0, first.output
    assert "graded 6 submissions" in first.output and "0 timed out" in first.output
    rows = {r["learner"]: r for r in read_csv(out)}
    assert list(read_csv(out)[0]) == ["learner", "total", "max", "vectors", "setting_up", "status", "message"]
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "eve", "frank", "mallory"]
    quiz_max = int(rows["alice"]["max"]) - 23
    assert quiz_max > 0
    assert (rows["alice"]["total"], rows["alice"]["vectors"], rows["alice"]["setting_up"], rows["alice"]["status"]) == \
        ("23", "23", "0", "graded")
    for learner in ("bob", "carol", "mallory"):
        assert (rows[learner]["total"], rows[learner]["status"]) == ("0", "graded"), learner
    assert rows["eve"]["status"] == "error" and "no exercises folder" in rows["eve"]["message"]
    assert (rows["frank"]["vectors"], rows["frank"]["setting_up"], rows["frank"]["status"]) == ("23", "0", "graded")
    assert "setting_up" in rows["frank"]["message"] and "is not valid YAML" in rows["frank"]["message"]

    twin = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert twin["exercises"] == ["vectors", "setting_up"] and twin["max"] == 23 + quiz_max
    by_name = {r["learner"]: r for r in twin["learners"]}
    assert by_name["alice"]["report"]["score"] == 23
    assert by_name["bob"]["statuses"] == {"vectors": "not_started", "setting_up": "not_started"}
    assert by_name["carol"]["statuses"]["vectors"] == "error"
    assert by_name["mallory"]["report"]["score"] == 0  # her own grader/ was never run
    assert twin["sandbox"] in ("namespaces", "uid", "none")
    assert {r["sandbox"] for r in twin["learners"]} == {twin["sandbox"]}
    # One record per learner, named by a readable slug and a hash of the folder's name.
    records = sorted(p.name for p in (out.parent / ".grade-batch" / "gradebook").glob("*.json"))
    assert records == sorted(f"{batch.record_key(n.encode())}.json" for n in rows)
    assert all(name.startswith(learner + "-") for name, learner in zip(records, sorted(rows)))


def test_a_hanging_submission_times_out(graded_class):
    _, out, _, second = graded_class
    assert second.exit_code == 0, second.output
    assert "graded 2 submissions " in second.output and "1 timed out" in second.output
    assert "5 already graded, kept" in second.output  # eve (no exercises folder) is tried again
    dave = {r["learner"]: r for r in read_csv(out)}["dave"]
    assert (dave["status"], dave["total"]) == ("timeout", "0") and "6 s" in dave["message"]


def test_batch_rerun_skips_learners_already_graded(graded_class):
    tmp, out, _, _ = graded_class
    records = out.parent / ".grade-batch" / "gradebook"
    stamps = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    before = out.read_text(encoding="utf-8")
    result = invoke(["batch", str(tmp / "class"), "vectors", "setting_up", "--out", str(out), "--timeout", "3",
                     "--no-progress", "--no-timing", "--allow-weak-sandbox"])
    assert result.exit_code == 0, result.output
    assert "graded 1 submission " in result.output and "6 already graded, kept" in result.output
    after = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    eve = f"{batch.record_key(b'eve')}.json"
    assert {k: v for k, v in after.items() if k != eve} == {k: v for k, v in stamps.items() if k != eve}
    assert after[eve] != stamps[eve]  # a submission that could not be graded is tried again
    assert out.read_text(encoding="utf-8") == before


# ----------------------------------------------------------------------------- batch bookkeeping (fake grading)

def fake_grades(calls, stop_after=None):
    """A stand-in for grading one submission: the score is the length of the learner's name."""
    def grade_submission(learner, folder, names, **_):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(learner)
        exercises = [{"name": n, "score": len(learner), "max_score": 23, "status": "failed", "checks": []}
                     for n in names]
        return {"learner": learner, "status": "graded", "message": "",
                "report": {"score": len(learner) * len(names), "max_score": 23 * len(names),
                           "exercises": exercises}}
    return grade_submission


@pytest.fixture
def roster(tmp_path):
    root = tmp_path / "class"
    for name in ("ann", "ben", "cy", "dora", "ed"):
        (root / name / "exercises").mkdir(parents=True)
    return root


def test_an_interrupted_batch_loses_nothing_and_resumes(roster, tmp_path, monkeypatch):
    out = str(tmp_path / "gb.csv")
    calls = []
    monkeypatch.setattr(batch, "grade_submission", fake_grades(calls, stop_after=2))
    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(str(roster), out, ["vectors"], course(), jobs=1, allow_weak_sandbox=True)
    assert calls == ["ann", "ben"]
    assert [r["learner"] for r in read_csv(out)] == ["ann", "ben"]  # saved as they finished
    twin = json.loads(Path(out).with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["learner"] for r in twin["learners"]] == ["ann", "ben"]
    assert sorted(os.listdir(batch.state_dir(out))) == sorted(f"{batch.record_key(n)}.json" for n in (b"ann", b"ben"))

    resumed = []
    monkeypatch.setattr(batch, "grade_submission", fake_grades(resumed))
    summary = batch.run_batch(str(roster), out, ["vectors"], course(), jobs=2, allow_weak_sandbox=True)
    assert sorted(resumed) == ["cy", "dora", "ed"] and summary["skipped"] == 2
    assert [(r["learner"], r["total"]) for r in read_csv(out)] == [
        ("ann", "3"), ("ben", "3"), ("cy", "2"), ("dora", "4"), ("ed", "2")]

    again = []
    monkeypatch.setattr(batch, "grade_submission", fake_grades(again))
    batch.run_batch(str(roster), out, ["vectors"], course(), jobs=2, force=True, allow_weak_sandbox=True)
    assert sorted(again) == ["ann", "ben", "cy", "dora", "ed"]
    # Other exercises mean other records: nothing is reused across them.
    other = []
    monkeypatch.setattr(batch, "grade_submission", fake_grades(other))
    batch.run_batch(str(roster), out, ["vectors", "losses"], course(), jobs=2, allow_weak_sandbox=True)
    assert len(other) == 5
    assert list(read_csv(out)[0])[3:5] == ["vectors", "losses"]


def test_shards_are_disjoint_and_merge_into_the_whole_class(roster, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(batch, "grade_submission", fake_grades(calls))
    whole = tmp_path / "whole.csv"
    assert invoke(["batch", str(roster), "vectors", "--out", str(whole), "--no-progress", "--allow-weak-sandbox"]).exit_code == 0
    slices = []
    for k in (1, 2, 3):
        path = tmp_path / f"gradebook-{k}.csv"
        result = invoke(["batch", str(roster), "vectors", "--shard", f"{k}/3", "--out", str(path), "--no-progress", "--allow-weak-sandbox"])
        assert result.exit_code == 0, result.output
        slices.append([r["learner"] for r in read_csv(path)])
    assert slices == [["ann", "dora"], ["ben", "ed"], ["cy"]]  # sorted names, i % 3 == k - 1

    merged = tmp_path / "merged.csv"
    result = invoke(["merge", *(str(tmp_path / f"gradebook-{k}.json") for k in (1, 2, 3)), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    assert merged.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    whole_doc = json.loads(whole.with_suffix(".json").read_text())
    merged_doc = json.loads(merged.with_suffix(".json").read_text())
    assert merged_doc["learners"] == whole_doc["learners"]

    overlap = invoke(["merge", str(tmp_path / "gradebook-1.json"), str(whole.with_suffix(".json")),
                      "--out", str(tmp_path / "x.csv")])
    assert overlap.exit_code == 0  # the same records twice are not a conflict
    changed = json.loads((tmp_path / "gradebook-1.json").read_text())
    changed["learners"][0]["total"] = 99
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    conflict = invoke(["merge", str(tmp_path / "changed.json"), str(whole.with_suffix(".json")),
                       "--out", str(tmp_path / "y.csv")])
    assert conflict.exit_code == 2 and "ann is in both" in conflict.output
    assert not (tmp_path / "y.csv").exists()


def test_batch_usage_errors_exit_2(roster, tmp_path):
    for args, text in ((["--shard", "4/3"], "--shard 4/3"), (["--shard", "x"], "K/N"),
                       (["--out", str(tmp_path / "g.json")], "name the CSV gradebook")):
        argv = ["batch", str(roster), "--out", str(tmp_path / "g.csv"), *args, "--no-progress"]
        result = invoke(argv)
        assert result.exit_code == 2 and text in result.output, result.output
    missing = invoke(["batch", str(tmp_path / "nobody"), "--out", str(tmp_path / "g.csv")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    unknown = invoke(["batch", str(roster), "vectorz", "--out", str(tmp_path / "g.csv")])
    assert unknown.exit_code == 2 and "Did you mean 'vectors'" in unknown.output
    assert batch.shard_of(list("edcba"), (2, 2)) == ["b", "d"]


# ----------------------------------------------------------------------------- workflow templates

def template(name):
    import yaml

    with open(ROOT / "grader" / "templates" / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_class_workflow_hands_the_github_result_to_the_classroom_reporter():
    flow = template("classroom.yml")
    assert flow["name"] == "Autograding Tests"
    job = flow["jobs"]["run-autograding-tests"]
    assert "name" not in job  # its check run is then named run-autograding-tests, which the reporter updates
    steps = {s.get("id") or s.get("name"): s for s in job["steps"]}
    grade_step = steps["dlgrade"]
    assert "grade --format github" in grade_step["run"] and grade_step["continue-on-error"] is True
    reporter = next(s for s in job["steps"] if "autograding-grading-reporter" in s.get("uses", ""))
    assert reporter["with"]["runners"] == "dlgrade"
    assert reporter["env"]["DLGRADE_RESULTS"] == "${{ steps.dlgrade.outputs.result }}"
    assert flow["permissions"]["checks"] == "write"


def test_the_teacher_workflow_shards_the_class_and_merges_the_slices():
    flow = template("teacher-batch.yml")
    shards = flow["jobs"]["grade"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(flow["env"]["SHARDS"]) + 1))
    grade_runs = " ".join(s.get("run", "") for s in flow["jobs"]["grade"]["steps"])
    assert "grade batch submissions" in grade_runs and "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in grade_runs
    merge_runs = " ".join(s.get("run", "") for s in flow["jobs"]["merge"]["steps"])
    assert "grade merge gradebook-*.json --out gradebook.csv" in merge_runs
    assert flow["jobs"]["merge"]["needs"] == "grade"
    learner = template("self-learner.yml")
    assert "grade --format junit --output grade-report.xml" in " ".join(
        s.get("run", "") for s in learner["jobs"]["grade"]["steps"])
