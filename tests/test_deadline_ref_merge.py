"""``grade batch --before``, ``--ref`` in a clone, and ``grade merge`` of re-grades.

Real, small git repositories are made in ``tmp_path`` with commits dated through
``GIT_COMMITTER_DATE``. The deadline tests replace the grade process (``_grade_run``) with
a stand-in that reads what it was given, so they test which tree is graded; one test runs
the real grader end to end.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from grader.classroom import batch, gitref
from grader.classroom.merge import merge, verdict
from helpers import SOLUTIONS, course
from test_classroom import fake_grades, invoke, read_csv

DEADLINE = "2026-12-01T23:59:59+01:00"  # 22:59:59 UTC
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "Learner",
           "GIT_AUTHOR_EMAIL": "learner@example.com", "GIT_COMMITTER_NAME": "Learner",
           "GIT_COMMITTER_EMAIL": "learner@example.com"}


def git(*args, cwd, date=None):
    env = {**os.environ, **GIT_ENV}
    if date:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = date
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git("init", "--quiet", "-b", "main", cwd=path)
    return path


def commit(path: Path, files: dict, date: str) -> str:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=path)
    git("commit", "--quiet", "-m", f"work of {date}", cwd=path, date=date)
    return git("rev-parse", "HEAD", cwd=path).strip()


# ----------------------------------------------------------------------------- --before

@pytest.fixture
def deadline_class(tmp_path):
    """ann: one commit before the deadline, one after; ben: only after; cy: not a repository;
    dan: before the deadline, but no exercises folder then."""
    root = tmp_path / "class"
    ann = repo(root / "ann")
    on_time = commit(ann, {"exercises/vectors.py": "# on time\n"}, "2026-12-01T22:00:00+00:00")
    late = commit(ann, {"exercises/vectors.py": "# late\n"}, "2026-12-01T23:30:00+00:00")
    hook = ann / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path / 'hook-ran'}\n")
    hook.chmod(0o755)
    ben = repo(root / "ben")
    commit(ben, {"exercises/vectors.py": "# late\n"}, "2026-12-02T08:00:00+00:00")
    (root / "cy" / "exercises").mkdir(parents=True)
    (root / "cy" / "exercises" / "vectors.py").write_text("# as it is\n")
    dan = repo(root / "dan")
    commit(dan, {"notes.txt": "todo\n"}, "2026-11-20T10:00:00Z")
    return root, {"on_time": on_time, "late": late}


def reading_grade_run(seen):
    """A stand-in for one grade process: it reads vectors.py from the source it is given."""
    def _grade_run(names, source, **_):
        text = (Path(source) / "vectors.py").read_text()
        mode = stat.S_IMODE(os.stat(Path(source).parent).st_mode)
        seen.append((source, text, mode))
        exercises = [{"name": n, "score": 1, "max_score": 1, "status": "passed", "checks": []} for n in names]
        return batch.GRADED, {"score": len(names), "max_score": len(names), "exercises": exercises}, "", 0
    return _grade_run


def test_parse_deadline():
    assert batch.deadline_text(batch.parse_deadline(DEADLINE)) == "2026-12-01T22:59:59Z"
    assert batch.deadline_text(batch.parse_deadline("2026-12-01T10:00:00Z")) == "2026-12-01T10:00:00Z"
    assert batch.deadline_text(batch.parse_deadline("2026-12-01 10:00")) == "2026-12-01T10:00:00Z"  # UTC
    assert batch.deadline_text(batch.parse_deadline("2026-12-01")) == "2026-12-01T00:00:00Z"
    assert batch.parse_deadline(None) is None
    with pytest.raises(batch.BatchError, match="ISO 8601"):
        batch.parse_deadline("next friday")


def test_the_last_commit_before_the_deadline_is_graded(deadline_class, monkeypatch, tmp_path):
    root, commits = deadline_class
    seen = []
    monkeypatch.setattr(batch, "_grade_run", reading_grade_run(seen))
    before = batch.parse_deadline(DEADLINE)
    record = batch.grade_submission("ann", str(root / "ann"), ["vectors"], timeout=60, seed=None, before=before)
    assert record["status"] == batch.GRADED
    assert record["commit"] == commits["on_time"]
    assert record["committed"].startswith("2026-12-01T22:00:00")
    assert f"graded commit {commits['on_time'][:12]}" in record["message"]
    [(source, text, mode)] = seen
    assert text == "# on time\n" and mode == 0o700  # a private export, not the working tree
    assert not os.path.exists(source)  # removed afterwards
    assert (root / "ann" / "exercises" / "vectors.py").read_text() == "# late\n"  # working tree untouched
    assert git("status", "--porcelain", cwd=root / "ann") == ""
    assert not (tmp_path / "hook-ran").exists()

    # A deadline after the last commit grades it; one before the first leaves nothing to grade.
    later = batch.grade_submission("ann", str(root / "ann"), ["vectors"], timeout=60, seed=None,
                                   before=batch.parse_deadline("2026-12-02"))
    assert later["commit"] == commits["late"] and seen[-1][1] == "# late\n"
    none = batch.grade_submission("ben", str(root / "ben"), ["vectors"], timeout=60, seed=None, before=before)
    assert none["status"] == batch.ERROR and none["report"] is None
    assert "no commit at or before the deadline 2026-12-01T22:59:59Z" in none["message"]

    plain = batch.grade_submission("cy", str(root / "cy"), ["vectors"], timeout=60, seed=None, before=before)
    assert plain["status"] == batch.GRADED and "commit" not in plain
    assert "not a git repository: graded as the folder is now" in plain["message"]
    assert seen[-1][1] == "# as it is\n"

    empty = batch.grade_submission("dan", str(root / "dan"), ["vectors"], timeout=60, seed=None, before=before)
    assert empty["status"] == batch.ERROR and "no exercises folder in commit" in empty["message"]


def test_a_folder_inside_a_repository_is_not_taken_for_it(tmp_path, monkeypatch):
    """cy's folder sits inside the teacher's repository: it is still "not a git repository"."""
    outer = repo(tmp_path / "course")
    commit(outer, {"class/cy/exercises/vectors.py": "# committed by the teacher\n"}, "2026-11-01T00:00:00Z")
    (outer / "class" / "cy" / "exercises" / "vectors.py").write_text("# as it is\n")
    seen = []
    monkeypatch.setattr(batch, "_grade_run", reading_grade_run(seen))
    record = batch.grade_submission("cy", str(outer / "class" / "cy"), ["vectors"], timeout=60, seed=None,
                                    before=batch.parse_deadline(DEADLINE))
    assert "not a git repository" in record["message"] and seen[-1][1] == "# as it is\n"


def test_batch_before_records_the_commit_and_the_deadline(deadline_class, monkeypatch, tmp_path):
    root, commits = deadline_class
    seen = []
    monkeypatch.setattr(batch, "_grade_run", reading_grade_run(seen))
    out = tmp_path / "gb.csv"
    result = invoke(["batch", str(root), "vectors", "--out", str(out), "--before", DEADLINE, "--no-progress",
                     "--allow-weak-sandbox"])
    assert result.exit_code == 0, result.output
    assert "deadline: 2026-12-01T22:59:59Z" in result.output
    rows = {r["learner"]: r for r in read_csv(out)}
    assert (rows["ann"]["status"], rows["ben"]["status"], rows["cy"]["status"]) == ("graded", "error", "graded")
    assert commits["on_time"][:12] in rows["ann"]["message"]
    doc = json.loads(out.with_suffix(".json").read_text())
    ann = next(r for r in doc["learners"] if r["learner"] == "ann")
    assert ann["commit"] == commits["on_time"] and ann["config"]["before"] == "2026-12-01T22:59:59Z"

    # Another deadline is another grading: nothing is reused.
    seen.clear()
    again = invoke(["batch", str(root), "vectors", "--out", str(out), "--before", "2026-12-03", "--no-progress",
                    "--allow-weak-sandbox"])
    assert again.exit_code == 0, again.output
    assert "already graded" not in again.output
    assert {r["learner"]: r["status"] for r in read_csv(out)}["ben"] == "graded"

    bad = invoke(["batch", str(root), "vectors", "--out", str(out), "--before", "soon", "--no-progress",
                  "--allow-weak-sandbox"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output and "Traceback" not in bad.output


def test_batch_before_grades_the_commit_for_real(tmp_path):
    """End to end: the solved module was committed before the deadline, the stub after it."""
    root = tmp_path / "class"
    ann = repo(root / "ann")
    solved = (SOLUTIONS / "vectors.py").read_text(encoding="utf-8")
    commit(ann, {"exercises/vectors.py": solved}, "2026-11-30T12:00:00Z")
    commit(ann, {"exercises/vectors.py": "def dot(a, b):\n    raise NotImplementedError\n"}, "2026-12-02T12:00:00Z")
    out = tmp_path / "gb.csv"
    args = ["batch", str(root), "vectors", "--no-progress", "--no-timing", "--allow-weak-sandbox",
            "--timeout", "300", "--jobs", "1"]
    result = invoke([*args, "--out", str(out), "--before", DEADLINE])
    assert result.exit_code == 0, result.output
    row = read_csv(out)[0]
    assert (row["status"], row["total"]) == ("graded", row["max"]) and int(row["max"]) > 0, row
    now = invoke([*args, "--out", str(tmp_path / "now.csv")])
    assert now.exit_code == 0, now.output
    assert read_csv(tmp_path / "now.csv")[0]["total"] == "0"


# ----------------------------------------------------------------------------- --ref in a clone

@pytest.fixture
def clone(tmp_path):
    origin = repo(tmp_path / "origin")
    commit(origin, {"exercises/vectors.py": "# stub\n"}, "2026-11-01T00:00:00Z")
    git("checkout", "--quiet", "-b", "solutions", cwd=origin)
    commit(origin, {"exercises/vectors.py": "# solved\n"}, "2026-11-02T00:00:00Z")
    git("checkout", "--quiet", "main", cwd=origin)
    git("clone", "--quiet", str(origin), str(tmp_path / "clone"), cwd=tmp_path)
    assert "solutions" not in git("branch", cwd=tmp_path / "clone")
    return tmp_path / "clone"


def test_ref_falls_back_to_origin_in_a_clone_and_says_so(clone, tmp_path):
    notes = []
    dest = tmp_path / "out"
    dest.mkdir()
    folder = gitref.extract("solutions", str(clone / "exercises"), str(dest), on_note=notes.append)
    assert (Path(folder) / "vectors.py").read_text() == "# solved\n"
    assert len(notes) == 1 and "origin/solutions is used" in notes[0] and "\n" not in notes[0]
    # A local branch of that name wins, without a word.
    git("branch", "solutions", "origin/solutions", cwd=clone)
    notes.clear()
    gitref.extract("solutions", str(clone / "exercises"), str(tmp_path / "out2"), on_note=notes.append)
    assert notes == []


def test_ref_in_a_clone_through_the_cli(clone):
    @click.command()
    def show():
        folder = gitref.source_at_ref_or_fail("solutions", "exercises")
        click.echo((Path(folder) / "vectors.py").read_text().strip())

    old = os.getcwd()
    os.chdir(clone)
    try:
        result = CliRunner().invoke(show, [])
        unknown = CliRunner().invoke(click.command()(lambda: gitref.source_at_ref_or_fail("nope", "exercises")), [])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert "# solved" in result.output and "origin/solutions is used" in result.output
    assert unknown.exit_code == 2 and "Remote branches: origin/main, origin/solutions" in unknown.output


# ----------------------------------------------------------------------------- merge of re-grades

def test_merge_ignores_wall_clock_fields_but_not_verdicts(tmp_path, monkeypatch):
    root = tmp_path / "class"
    for name in ("ann", "ben"):
        (root / name / "exercises").mkdir(parents=True)

    def timed_grades(seconds, timing_message="1.1x the reference", passed=True):
        plain = fake_grades([])

        def grade_submission(learner, folder, names, **kw):
            record = plain(learner, folder, names, **kw)
            record["seconds"] = seconds
            for e in record["report"]["exercises"]:
                e["checks"] = [{"name": "timed", "function": "dot", "kind": "timing", "passed": passed,
                                "score": 1 if passed else 0, "max_score": 1, "message": timing_message,
                                "seconds": seconds}]
            return record
        return grade_submission

    books = []
    for k, grades in enumerate((timed_grades(1.25), timed_grades(3.5, "1.3x the reference"),
                                timed_grades(2.0, passed=False))):
        monkeypatch.setattr(batch, "grade_submission", grades)
        out = tmp_path / f"gb-{k}.csv"
        batch.run_batch(str(root), str(out), ["vectors"], course(), allow_weak_sandbox=True)
        books.append(str(out.with_suffix(".json")))

    summary = merge(books[:2], str(tmp_path / "merged.csv"))  # the same class graded twice: no conflict
    assert summary["learners"] == 2
    assert [r["learner"] for r in read_csv(tmp_path / "merged.csv")] == ["ann", "ben"]
    result = invoke(["merge", books[0], books[2], "--out", str(tmp_path / "conflict.csv")])
    assert result.exit_code == 2 and "ann is in both" in result.output
    assert verdict({"seconds": 1, "score": 2, "checks": [{"kind": "timing", "message": "x", "passed": True}]}) == \
        {"score": 2, "checks": [{"kind": "timing", "passed": True}]}
    assert verdict({"kind": "correctness", "message": "x"}) == {"kind": "correctness", "message": "x"}


# ----------------------------------------------------------------------------- workflows

def test_workflows_install_cpu_torch_keep_no_token_and_join_what_finished():
    from test_classroom import template

    cpu = "--index-url https://download.pytorch.org/whl/cpu"
    for name, job in (("classroom.yml", "run-autograding-tests"), ("self-learner.yml", "grade"),
                      ("teacher-batch.yml", "grade")):
        steps = template(name)["jobs"][job]["steps"]
        runs = " ".join(s.get("run", "") for s in steps)
        assert cpu in runs, name
        # torch from the CPU index is the first install: nothing before it can pull the CUDA build
        first = next(line for line in runs.splitlines() if "pip install" in line)
        assert cpu in first and "torch" in first, name
        python = next(s for s in steps if "setup-python" in s.get("uses", ""))
        assert python["with"]["cache"] == "pip", name

    flow = template("teacher-batch.yml")
    assert "deadline" in flow["on"]["workflow_dispatch"]["inputs"]
    grade_steps = flow["jobs"]["grade"]["steps"]
    fetch = next(s for s in grade_steps if s.get("name") == "Fetch the submissions")
    assert "x-access-token:${GH_TOKEN}@" not in fetch["run"] and "https://github.com/${ORG}/${repo}" in fetch["run"]
    assert "GIT_CONFIG_VALUE_0=" in fetch["run"] and "core.hooksPath=/dev/null" in fetch["run"]
    assert "--depth" not in fetch["run"]  # --before needs the history
    assert all(s["with"]["persist-credentials"] is False for s in grade_steps if "checkout" in s.get("uses", ""))
    grade = next(s for s in grade_steps if "grade batch" in s.get("run", ""))
    assert grade["env"]["DEADLINE"] == "${{ github.event.inputs.deadline }}" and '--before "$DEADLINE"' in grade["run"]
    upload = next(s for s in grade_steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "${{ !cancelled() }}"
    merge_job = flow["jobs"]["merge"]
    assert merge_job["if"] == "${{ !cancelled() }}" and merge_job["needs"] == "grade"


def test_the_teacher_workflow_clone_leaves_no_token_on_disk(tmp_path):
    """The fetch step's way of passing the header (GIT_CONFIG_* in the clone's environment)
    writes nothing of it into the clone's .git/config."""
    origin = repo(tmp_path / "origin")
    commit(origin, {"exercises/vectors.py": "# x\n"}, "2026-11-01T00:00:00Z")
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": "http.https://github.com/.extraheader",
           "GIT_CONFIG_VALUE_0": "AUTHORIZATION: basic c2VjcmV0LXRva2Vu"}
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=always", "clone", "--quiet",
                    str(origin), str(tmp_path / "clone")], env=env, check=True, capture_output=True)
    config = (tmp_path / "clone" / ".git" / "config").read_text()
    assert "c2VjcmV0LXRva2Vu" not in config and "extraheader" not in config


def test_a_submitted_git_folder_runs_nothing_and_exports_no_links(tmp_path, monkeypatch):
    """A .git that came with a submission (a zip, not a clone): its config asks for a smudge
    filter, an fsmonitor and hooks; its commit has a link to the solutions. Nothing runs,
    and the link is not exported."""
    root = tmp_path / "class"
    eve = repo(root / "eve")
    marker = tmp_path / "ran"
    (eve / "exercises").mkdir()
    (eve / "exercises" / "solved.py").symlink_to(SOLUTIONS / "vectors.py")
    on_time = commit(eve, {"exercises/vectors.py": "# mine\n", ".gitattributes": "* filter=evil export-subst\n"},
                     "2026-11-30T00:00:00Z")
    with open(eve / ".git" / "config", "a") as f:
        f.write(f"[filter \"evil\"]\n\tsmudge = touch {marker}; cat\n\trequired = true\n"
                f"[core]\n\tfsmonitor = touch {marker}\n\thooksPath = {tmp_path}\n")
    (tmp_path / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (tmp_path / "post-checkout").chmod(0o755)
    seen = []

    def _grade_run(names, source, **_):
        seen.append(sorted(os.listdir(source)))
        seen.append((Path(source) / "vectors.py").read_text())
        return batch.GRADED, {"score": 0, "max_score": 1, "exercises": []}, "", 0
    monkeypatch.setattr(batch, "_grade_run", _grade_run)
    record = batch.grade_submission("eve", str(eve), ["vectors"], timeout=60, seed=None,
                                    before=batch.parse_deadline(DEADLINE))
    assert record["commit"] == on_time and record["status"] == batch.GRADED, record
    assert seen == [["vectors.py"], "# mine\n"]
    assert not marker.exists()

    empty = repo(root / "fay")
    record = batch.grade_submission("fay", str(empty), ["vectors"], timeout=60, seed=None,
                                    before=batch.parse_deadline(DEADLINE))
    assert record["status"] == batch.ERROR and "no commit at or before the deadline" in record["message"]
