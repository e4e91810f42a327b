"""Set-up on every common machine: scripts/install.sh's PEP 668 decision, ``grade init DIR``,
the message when torch is missing, and the one paragraph ``grade`` says on Windows."""
from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.stubs as stubs
from grader.cli import main
from grader.course import load_course
from grader.grading import import_error_text

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
INSTALL = ROOT / "scripts" / "install.sh"


# ----------------------------------------------------------------------------- install.sh

def decide(tmp_path, managed: bool, venv: str | None = None, python: str = sys.executable) -> str:
    stdlib = tmp_path / ("managed" if managed else "plain")
    stdlib.mkdir(exist_ok=True)
    if managed:
        (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use a venv\n")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(GRADE_INSTALL_DECIDE_ONLY="1", GRADE_INSTALL_STDLIB=str(stdlib), PYTHON=python)
    if venv:
        env["VIRTUAL_ENV"] = venv
    done = subprocess.run(["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(sys.prefix != sys.base_prefix, reason="the tests themselves run inside a virtual environment")
def test_install_uses_a_project_venv_only_where_the_python_is_externally_managed(tmp_path):
    assert decide(tmp_path, managed=True) == "venv"
    assert decide(tmp_path, managed=False) == "system"
    assert decide(tmp_path, managed=True, venv=str(tmp_path / "env")) == "system"  # an active venv is used


def test_install_script_makes_uses_and_explains_the_venv():
    text = INSTALL.read_text()
    assert 'EXTERNALLY-MANAGED' in text and 'sysconfig.get_path("stdlib")' in text
    assert '-m venv .venv' in text and 'PYTHON="$PWD/.venv/bin/python"' in text
    assert "source .venv/bin/activate" in text and "grade is installed in .venv" in text
    assert '"torch==2.13.0"' in text and 'if ! "$PYTHON" -c "import torch"' in text  # only when missing
    # The venv is made before torch and the package are installed into it.
    assert text.index('PYTHON="$PWD/.venv/bin/python"') < text.index('import torch" >/dev/null')
    assert subprocess.run(["bash", "-n", str(INSTALL)]).returncode == 0
    ignored = subprocess.run(["git", "check-ignore", "-q", ".venv/"], cwd=ROOT)
    assert ignored.returncode in (0, 128)  # 128: not a git checkout (a release copy)
    if ignored.returncode != 128:
        assert ignored.returncode == 0, ".venv/ must be git-ignored"


# ----------------------------------------------------------------------------- grade init

def _invoke(args):
    return CliRunner().invoke(main, args)


def test_grade_init_writes_stubs_identical_to_exercises(tmp_path):
    target = tmp_path / "course"
    result = _invoke(["init", str(target)])
    assert result.exit_code == 0, result.output
    written = target / "exercises"
    expected = stubs.stub_files(str(EXERCISES))
    assert {m.module_file for m in load_course().exercises} <= set(expected)
    assert "quizzes/README.md" in expected  # the quizzes' answers folder comes along
    assert stubs.stub_files(str(written)) == expected
    match, mismatch, errors = filecmp.cmpfiles(EXERCISES, written, expected, shallow=False)
    assert mismatch == [] and errors == [] and match == expected
    assert "cd " in result.output and "grade" in result.output


def test_grade_init_never_overwrites_without_force(tmp_path):
    target = tmp_path / "course"
    assert _invoke(["init", str(target)]).exit_code == 0
    mine = target / "exercises" / "vectors.py"
    mine.write_text("def dot(a, b):\n    return 42\n")
    result = _invoke(["init", str(target)])
    assert result.exit_code == 2
    assert "already exist" in result.stderr and "--force" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert mine.read_text() == "def dot(a, b):\n    return 42\n"
    result = _invoke(["init", "--force", str(target)])
    assert result.exit_code == 0
    assert mine.read_bytes() == (EXERCISES / "vectors.py").read_bytes()
    # A file where the folder should be: one paragraph, exit 2.
    (tmp_path / "afile").write_text("x")
    result = _invoke(["init", str(tmp_path / "afile")])
    assert result.exit_code == 2 and "is a file" in result.stderr


def test_the_wheel_ships_the_stubs_unchanged(tmp_path):
    """pyproject.toml maps dlgrade_stubs to exercises/: the wheel holds exactly those files."""
    pytest.importorskip("setuptools")
    import shutil

    tree = tmp_path / "tree"  # a copy, so the build leaves nothing (build/, egg-info) in the checkout
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".grade", ".hypothesis")
    for name in ("grader", "exercises"):
        shutil.copytree(ROOT / name, tree / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp_path), str(tree)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"could not build a wheel here: {done.stderr.strip()[-300:]}")
    wheel = next(tmp_path.glob("dlgrade-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        shipped = {n[len("dlgrade_stubs/"):]: z.read(n) for n in z.namelist() if n.startswith("dlgrade_stubs/")}
        entry = z.read(next(n for n in z.namelist() if n.endswith("entry_points.txt"))).decode()
    expected = stubs.stub_files(str(EXERCISES))
    assert sorted(shipped) == expected
    assert all(shipped[rel] == (EXERCISES / rel).read_bytes() for rel in expected)
    assert "grade = grader.__main__:entry" in entry


def test_stubs_dir_finds_the_installed_package_before_the_checkout(tmp_path, monkeypatch):
    package = tmp_path / "site" / "dlgrade_stubs"
    package.mkdir(parents=True)
    (package / "vectors.py").write_text("# stub\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "dlgrade_stubs", raising=False)
    import importlib

    importlib.invalidate_caches()
    assert Path(stubs.stubs_dir()) == package
    monkeypatch.setattr(stubs, "STUBS_PACKAGE", "no_such_package_here")
    assert Path(stubs.stubs_dir()) == EXERCISES


# ----------------------------------------------------------------------------- without torch

def test_a_torch_exercise_without_torch_says_how_to_install_it():
    course = load_course()
    torch_exercise = next(e for e in course.exercises if e.framework == "torch")
    numpy_exercise = next(e for e in course.exercises if e.framework != "torch")
    error = {"type": "ModuleNotFoundError", "message": "No module named 'torch'", "file": "/x/child.py",
             "line": 188}
    text = import_error_text(torch_exercise, f"/work/exercises/{torch_exercise.module_file}", error)
    assert "PyTorch" in text and "not installed" in text
    assert "bash scripts/install.sh" in text
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in text
    assert "child.py" not in text  # not the learner's line
    # Another missing module, or a NumPy exercise, keeps the usual message.
    other = import_error_text(torch_exercise, "m.py", {**error, "message": "No module named 'torchvision'"})
    assert "install.sh" not in other and "Only NumPy and PyTorch" in other
    numpy = import_error_text(numpy_exercise, "m.py", error)
    assert "install.sh" not in numpy


# ----------------------------------------------------------------------------- Windows

def test_on_windows_grade_says_to_use_wsl_in_one_paragraph(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "win32")
    for args in ([], ["list"], ["init", str(tmp_path / "c")]):
        result = _invoke(args)
        assert result.exit_code == 2, (args, result.output)
        assert "WSL" in result.stderr and "wsl --install" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "c").exists()


def test_the_entry_point_checks_before_importing_the_cli(tmp_path):
    """On Windows grader.cli cannot even be imported (fcntl): the entry point says so first."""
    code = ("import sys, builtins\n"
            "import click  # before faking the platform: click picks its Windows console code at import\n"
            "sys.platform = 'win32'\n"
            "real = builtins.__import__\n"
            "def no_fcntl(name, *a, **k):\n"
            "    if name == 'fcntl': raise ModuleNotFoundError(\"No module named 'fcntl'\")\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = no_fcntl\n"
            "sys.argv = ['grade']\n"
            "from grader.__main__ import entry\n"
            "entry()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "WSL" in done.stderr and "Traceback" not in done.stderr
