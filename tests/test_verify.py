"""`grade verify`: what will run (the installed grader, the repository's grader copy, solutions,
bytecode, start-up files) against a release manifest; the pinned class workflow; batch children
that read no bytecode."""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import marshal
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader.cli import main
from grader.verify import Problem, examine, read_manifest, sha256_of, verify, write_manifest

ROOT = Path(__file__).resolve().parent.parent
TAG = sys.implementation.cache_tag
GRADING = "def score(passed, total):\n    return passed / total * 62 if passed == total else 0.0\n"


def release(tmp_path: Path) -> Path:
    """A small release tree: a grader package, tests and a workflow, with its manifest.

    The grader's bytecode cache is there, as Python writes it: it is not part of the
    manifest, and bytecode compiled from its source is fine.
    """
    root = tmp_path / "release"
    (root / "grader" / "runner").mkdir(parents=True)
    (root / "grader" / "__init__.py").write_text("")
    (root / "grader" / "course.yaml").write_text("version: 1\n")
    (root / "grader" / "grading.py").write_text(GRADING)
    (root / "grader" / "runner" / "sandbox.py").write_text("LIMIT = 10\n")
    for source in ("grading.py", "runner/sandbox.py"):
        path = root / "grader" / source
        py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)), doraise=True)
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
    assert set(entries) == {"grader/__init__.py", "grader/course.yaml", "grader/grading.py",
                            "grader/runner/sandbox.py", "tests/test_course.py",
                            ".github/workflows/classroom.yml"}  # no caches, no exercises, not itself
    assert (root / "grader" / "__pycache__" / f"grading.{TAG}.pyc").is_file()
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
        # The bytecode of the deleted module stays behind: not part of the release either.
        ("bytecode", f"grader/runner/__pycache__/sandbox.{TAG}.pyc", "grader"),
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


# ----------------------------------------------------------------------------- bytecode


def plant_pyc(source: Path, poisoned_source: str) -> Path:
    """Compile ``poisoned_source`` into ``source``'s cache file, with the header of the real
    source (its mtime and size), as py_compile writes one: Python then prefers it."""
    st = source.stat()
    code = compile(poisoned_source, str(source), "exec", dont_inherit=True)
    header = (importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
              + (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little"))
    pyc = Path(importlib.util.cache_from_source(str(source)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(header + marshal.dumps(code))
    return pyc


def test_a_planted_pyc_with_the_sources_mtime_and_size_is_reported(tmp_path):
    root = release(tmp_path)
    grading = root / "grader" / "grading.py"
    before = grading.read_bytes()
    plant_pyc(grading, "def score(passed, total):\n    return 62.0\n")
    assert grading.read_bytes() == before and check(root) != []
    # The attack is real: Python runs the planted bytecode, not the untouched source.
    ran = subprocess.run([sys.executable, "-c", "from grader.grading import score; print(score(0, 21))"],
                         cwd=root, capture_output=True, text=True, timeout=60)
    assert ran.stdout.strip() == "62.0", ran.stderr
    (problem,) = check(root)
    assert (problem.kind, problem.path, problem.where) == ("bytecode", f"grader/__pycache__/grading.{TAG}.pyc",
                                                           "grader")
    assert "Python runs this bytecode instead of grading.py" in str(problem)
    # Unchecked hash-based bytecode is loaded whatever the source says: reported the same way.
    pyc = Path(importlib.util.cache_from_source(str(grading)))
    body = pyc.read_bytes()[16:]
    pyc.write_bytes(importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + b"\0" * 8 + body)
    assert "instead of grading.py" in check(root)[0].detail
    # Bytecode compiled from the source (hash-based, checked) is fine; stale, lone, orphaned,
    # foreign or malformed bytecode is reported.
    py_compile.compile(str(grading), cfile=str(pyc), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert check(root) == []
    cache = root / "grader" / "__pycache__"
    (cache / f"gone.{TAG}.pyc").write_bytes(pyc.read_bytes())
    (cache / "grading.cpython-30.pyc").write_bytes(b"old")
    (cache / "notes.txt").write_text("x")
    (root / "grader" / "helper.pyc").write_bytes(pyc.read_bytes())
    grading.write_text(GRADING + "EDITED_AFTER_COMPILING = True\n")
    found = {p.path: p.detail for p in check(root) if p.kind == "bytecode"}
    assert set(found) == {f"grader/__pycache__/grading.{TAG}.pyc", f"grader/__pycache__/gone.{TAG}.pyc",
                          "grader/__pycache__/grading.cpython-30.pyc", "grader/__pycache__/notes.txt",
                          "grader/helper.pyc"}
    assert "stale" in found[f"grader/__pycache__/grading.{TAG}.pyc"]
    assert "outside __pycache__" in found["grader/helper.pyc"]
    assert "another Python" in found["grader/__pycache__/grading.cpython-30.pyc"]


# ----------------------------------------------------------------------------- solutions/


def test_an_edited_solutions_file_is_reported(tmp_path):
    root = release(tmp_path)
    (root / "solutions").mkdir()
    (root / "solutions" / "vectors.py").write_text("def dot(a, b):\n    return sum(x * y for x, y in zip(a, b))\n")
    # A release without solutions/ in its manifest: every file there is reported.
    assert {(p.kind, p.path) for p in check(root)} == {("added", "solutions/vectors.py")}
    write_manifest(str(root))  # the course's manifest has them (write_manifest's default paths)
    assert "solutions/vectors.py" in read_manifest(str(root / "grader" / "MANIFEST.sha256"))
    assert check(root) == []
    # A slower reference makes slow code pass the timed runs: reported, as is its bytecode.
    (root / "solutions" / "vectors.py").write_text("def dot(a, b):\n    import time; time.sleep(1)\n    return 0\n")
    (root / "solutions" / "extra.py").write_text("")
    plant_pyc(root / "solutions" / "extra.py", "X = 1\n")
    assert {(p.kind, p.path, p.where) for p in check(root)} == {
        ("edited", "solutions/vectors.py", "repository"),
        ("added", "solutions/extra.py", "repository"),
        ("bytecode", f"solutions/__pycache__/extra.{TAG}.pyc", "repository"),
    }


# ----------------------------------------------------------------------------- start-up files


def record_line(folder: Path, name: str) -> str:
    data = (folder / name).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def fake_distribution(site: Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(record_line(site, f) for f in files) + f"{info.name}/RECORD,,\n")


def test_an_added_pth_or_sitecustomize_is_reported(tmp_path):
    root = release(tmp_path)
    site = tmp_path / "site-packages"  # a stand-in: nothing is written to the real one
    site.mkdir()
    (site / "__editable__.dlgrade-0.1.0.pth").write_text("import __editable___dlgrade_0_1_0_finder\n")
    fake_distribution(site, "dlgrade", "0.1.0", ["__editable__.dlgrade-0.1.0.pth"])
    (site / "distutils-precedence.pth").write_text("import os\n")
    fake_distribution(site, "setuptools", "69.0", ["distutils-precedence.pth"])
    found = examine(str(root), grader_dir=str(root / "grader"), site_dirs=[str(site)])
    # dlgrade's own editable install is expected; another package's, as installed, is a note.
    assert found.problems == []
    assert len(found.notes) == 1 and "installed by setuptools 69.0" in found.notes[0]
    assert any(what == "start-up files" for what, _ in found.checked)
    # An added .pth, a sitecustomize, and a package's .pth edited after it was installed.
    (site / "zz_grades.pth").write_text("import grader_patch\n")
    (site / "sitecustomize.py").write_text("import builtins\n")
    (site / "distutils-precedence.pth").write_text("import os; import grader_patch\n")
    problems = verify(str(root), grader_dir=str(root / "grader"), site_dirs=[str(site)])
    found = {(p.kind, os.path.basename(p.path)): p.detail for p in problems}
    assert set(found) == {("startup", "zz_grades.pth"), ("startup", "sitecustomize.py"),
                          ("startup", "distutils-precedence.pth")}
    assert "no installed package accounts for it" in found[("startup", "zz_grades.pth")]
    assert "differs from the file setuptools 69.0 installed" in found[("startup", "distutils-precedence.pth")]
    assert all(p.where == "site-packages" for p in problems)
    assert (site / "zz_grades.pth").exists() and (site / "sitecustomize.py").exists()  # reported, not removed
    # Checking another folder's grader leaves this Python's site-packages alone.
    assert verify(str(root), grader_dir=str(root / "grader")) == []


# ----------------------------------------------------------------------------- two copies


def test_the_repository_copy_and_the_installed_copy_are_both_checked(tmp_path):
    root = release(tmp_path)
    installed = tmp_path / "site-packages" / "grader"
    shutil.copytree(root / "grader", installed)
    manifest = str(installed / "MANIFEST.sha256")
    found = examine(str(root), manifest=manifest, grader_dir=str(installed))
    assert found.problems == []
    repository_copy = dict(found.checked)["this repository's grader/"]
    assert "a separate copy, checked as well (python -m grader started in this folder runs it)" in repository_copy
    # A learner edits the repository's copy; the installed one is untouched: it says which.
    (root / "grader" / "course.yaml").write_text("version: 1\npoints: 1000\n")
    plant_pyc(root / "grader" / "grading.py", "def score(passed, total):\n    return 62.0\n")
    (installed / "runner" / "sandbox.py").write_text("LIMIT = 10 ** 9\n")
    problems = verify(str(root), manifest=manifest, grader_dir=str(installed))
    assert {(p.kind, p.path, p.where) for p in problems} == {
        ("edited", "grader/course.yaml", "repository grader"),
        ("bytecode", f"grader/__pycache__/grading.{TAG}.pyc", "repository grader"),
        ("edited", "grader/runner/sandbox.py", "grader"),
        ("bytecode", f"grader/runner/__pycache__/sandbox.{TAG}.pyc", "grader"),  # stale now
    }
    assert "grader/course.yaml was edited (this repository's grader/)" in {str(p) for p in problems}
    assert "grader/runner/sandbox.py was edited (the installed grader)" in {str(p) for p in problems}
    # A copy that carries another manifest than the one checked against is reported too.
    write_manifest(str(root))
    assert ("edited", "grader/MANIFEST.sha256", "repository grader") in {
        (p.kind, p.path, p.where) for p in verify(str(root), manifest=manifest, grader_dir=str(installed))}
    # The same folder (an editable install run in its checkout) is checked once, and said so.
    same = examine(str(root), grader_dir=str(root / "grader"))
    assert "the same files" in dict(same.checked)["the installed grader"]
    assert "this repository's grader/" not in dict(same.checked)


# ----------------------------------------------------------------------------- official runs


def test_batch_children_read_no_bytecode(tmp_path, monkeypatch):
    from grader.classroom.batch import _child_env

    # Whatever the teacher's shell says, a grade process reads bytecode only from the batch's
    # own fresh, private folder (written there once per batch, never beside a source).
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "cache"))
    env = _child_env(str(tmp_path))
    prefix = env["PYTHONPYCACHEPREFIX"]
    assert prefix != str(tmp_path / "cache") and os.stat(prefix).st_mode & 0o777 == 0o700
    assert "PYTHONDONTWRITEBYTECODE" not in env
    # End to end: a copy of the grader with a planted __init__ bytecode, started as batch
    # starts a grade process (python -m grader, from an empty folder, this environment).
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    init = copy / "grader" / "__init__.py"
    plant_pyc(init, init.read_text(encoding="utf-8") + "\nprint('PLANTED'); raise SystemExit(0)\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    command = [sys.executable, "-m", "grader", "--help"]

    def run(environment):
        return subprocess.run(command, cwd=empty, env={**environment, "PYTHONPATH": str(copy)},
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    plain = run({k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"})
    assert plain.stdout.strip() == "PLANTED"  # without it, the planted bytecode runs
    official = run(env)
    assert official.returncode == 0, official.stderr
    assert "PLANTED" not in official.stdout and "Usage" in official.stdout
    assert [p.name for p in (copy / "grader").rglob("*.pyc")] == [f"__init__.{TAG}.pyc"]  # none written
    assert list(Path(prefix).rglob("*.pyc")), "the batch's own folder keeps what it compiled"
    flags = subprocess.run([sys.executable, "-c", "import sys; print(sys.pycache_prefix)"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert flags.stdout.split() == [prefix]


# ----------------------------------------------------------------------------- the class workflow


def test_the_class_workflow_installs_the_pinned_grader_and_runs_it_outside_the_repository():
    from grader.classroom.release import ReleaseError, check_pin, workflow_text

    template = yaml.safe_load(workflow_text(None))
    pin = "dlgrade @ git+https://github.com/course-org/class-template@v1.0"
    flow = yaml.safe_load(workflow_text(pin))
    assert flow["env"]["DLGRADE_PIN"] == pin and template["env"]["DLGRADE_PIN"].startswith("REPLACE-ME")
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert '"$DLGRADE_PIN"' in install["run"] and "REPLACE-ME" in install["run"]  # a placeholder stops it
    assert install["working-directory"] == "${{ runner.temp }}"
    runs = " ".join(s.get("run", "") for s in steps)
    assert 'pip install --quiet ".' not in runs and "pip install -e" not in runs  # never the repository's grader/
    grade = next(s for s in steps if s.get("id") == "dlgrade")
    assert grade["working-directory"] == "${{ runner.temp }}"
    assert '--source "$GITHUB_WORKSPACE/exercises"' in grade["run"]
    assert grade["env"]["PYTHONDONTWRITEBYTECODE"] == "1"
    assert grade["env"]["PYTHONPYCACHEPREFIX"].startswith("/dev/null/")
    # A pin with quotes is written as a valid YAML string; one that would inject is refused.
    assert yaml.safe_load(workflow_text('dlgrade @ https://x/y.whl#"a"'))["env"]["DLGRADE_PIN"] == \
        'dlgrade @ https://x/y.whl#"a"'
    for bad in ("", "x\ny", "dlgrade @ ${{ secrets.TOKEN }}", "REPLACE-ME: x"):
        with pytest.raises(ReleaseError):
            check_pin(bad)
