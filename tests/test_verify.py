"""`grade verify`: the installed grader and a class repository against a release manifest."""
from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from grader.cli import main
from grader.verify import Problem, read_manifest, sha256_of, verify, write_manifest

ROOT = Path(__file__).resolve().parent.parent


def release(tmp_path: Path) -> Path:
    """A small release tree: a grader package, tests and a workflow, with its manifest."""
    root = tmp_path / "release"
    (root / "grader" / "runner").mkdir(parents=True)
    (root / "grader" / "course.yaml").write_text("version: 1\n")
    (root / "grader" / "runner" / "sandbox.py").write_text("LIMIT = 10\n")
    (root / "grader" / "__pycache__").mkdir()
    (root / "grader" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    (root / "tests").mkdir()
    (root / "tests" / "test_course.py").write_text("def test_ok():\n    pass\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "classroom.yml").write_text("on: push\n")
    (root / "exercises").mkdir()
    (root / "exercises" / "vectors.py").write_text("def dot(a, b): ...\n")
    write_manifest(str(root))
    return root


def check(root: Path) -> list[Problem]:
    return verify(str(root), grader_dir=str(root / "grader"))


def test_a_fresh_release_verifies_clean(tmp_path):
    root = release(tmp_path)
    manifest = root / "grader" / "MANIFEST.sha256"
    entries = read_manifest(str(manifest))
    assert set(entries) == {"grader/course.yaml", "grader/runner/sandbox.py", "tests/test_course.py",
                            ".github/workflows/classroom.yml"}  # no caches, no exercises, not itself
    assert check(root) == []
    # The learner's own work is not part of the release: editing it is fine.
    (root / "exercises" / "vectors.py").write_text("def dot(a, b): return 1.0\n")
    assert check(root) == []


def test_edited_missing_and_added_files_are_reported(tmp_path):
    root = release(tmp_path)
    (root / "grader" / "course.yaml").write_text("version: 1\npoints: 1000\n")
    (root / "grader" / "runner" / "sandbox.py").unlink()
    (root / "grader" / "runner" / "sitecustomize.py").write_text("import os\n")
    (root / "tests" / "test_course.py").write_text("def test_ok():\n    assert True  # edited\n")
    (root / ".github" / "workflows" / "extra.yml").write_text("on: push\n")
    problems = {(p.kind, p.path, p.where) for p in check(root)}
    assert problems == {
        ("edited", "grader/course.yaml", "grader"),
        ("missing", "grader/runner/sandbox.py", "grader"),
        ("added", "grader/runner/sitecustomize.py", "grader"),
        ("edited", "tests/test_course.py", "repository"),
        ("added", ".github/workflows/extra.yml", "repository"),
    }
    assert "grader/course.yaml was edited (the installed grader)" in {str(p) for p in check(root)}


def test_the_manifest_itself_is_checked(tmp_path):
    root = release(tmp_path)
    manifest = root / "grader" / "MANIFEST.sha256"
    published = sha256_of(str(manifest))
    assert verify(str(root), grader_dir=str(root / "grader"), expect_sha256=published) == []
    # Someone edits a file *and* rewrites the manifest to match: the published hash catches it.
    (root / "grader" / "course.yaml").write_text("version: 1\npoints: 1000\n")
    write_manifest(str(root))
    assert check(root) == []
    (problem,) = verify(str(root), grader_dir=str(root / "grader"), expect_sha256=published)
    assert problem.kind == "manifest" and "not the published one" in problem.detail
    # A malformed manifest names its line.
    manifest.write_text("# header\nnot-a-hash  grader/course.yaml\n")
    (problem,) = check(root)
    assert problem.kind == "manifest" and "line 2" in problem.detail


def test_grade_verify_command(tmp_path):
    root = release(tmp_path)
    runner = CliRunner()
    manifest = str(root / "grader" / "MANIFEST.sha256")
    ok = runner.invoke(main, ["verify", "--root", str(root), "--manifest", manifest])
    # The installed grader (this checkout) is not the tiny release: its files are reported.
    assert ok.exit_code == 1 and "is not part of the release (the installed grader)" in ok.output
    missing = runner.invoke(main, ["verify", "--root", str(root), "--manifest", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no release manifest" in missing.output
    assert "Traceback" not in missing.output


def test_write_manifest_command_covers_this_repository(tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__", "MANIFEST*"))
    shutil.copytree(ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    result = CliRunner().invoke(main, ["verify", "--write-manifest", "--root", str(copy)])
    assert result.exit_code == 0, result.output
    manifest = copy / "grader" / "MANIFEST.sha256"
    assert sha256_of(str(manifest)) in result.output
    entries = read_manifest(str(manifest))
    assert "grader/course.yaml" in entries and "grader/runner/sandbox.py" in entries
    assert "tests/test_verify.py" in entries
    assert verify(str(copy), manifest=str(manifest), grader_dir=str(copy / "grader")) == []
