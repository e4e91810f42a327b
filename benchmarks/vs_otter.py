#!/usr/bin/env python3
"""One NumPy exercise against otter-grader: ``grade vectors`` over ``otter run`` on the same file.

The submission is a Python-loop answer to ``vectors`` (``dot``, ``cross`` and ``matmul`` with
plain loops: correct, as slow as a beginner writes it), written by this script. Both sides
grade that same file, each as a fresh process (wall seconds from start to exit):

- ``python3 -m grader run vectors --source DIR --no-timing --format json --no-progress``:
  every check of the course (hundreds of generated examples, with the examples of this seed
  kept from the warm-up run, as they are for a learner who grades again);
- ``otter run -a autograder.zip -o OUT --no-logo vectors.py``: otter-grader's own local run
  (it executes the file in a Jupyter kernel and runs the tests) with the usual fixed
  OK-format doctest cases, 15 of them (5 per function: a worked example, small and edge
  cases), in an ``autograder.zip`` made once by ``otter generate`` (untimed).

otter-grader lives in an environment of its own, never the project's: ``--otter-venv``
(default ``/tmp/otter-venv``), made by ``--install``::

    python3 benchmarks/vs_otter.py --install    # python3 -m venv /tmp/otter-venv; pip install
                                                # otter-grader ipykernel numpy; a python3 kernel
    python3 benchmarks/vs_otter.py              # 3 interleaved pairs; writes benchmarks/vs_otter.json
    python3 benchmarks/vs_otter.py --dry-run    # the commands, nothing run

A run counts only if it graded the file in full: ``grade`` exits 0 with every point, and
otter's ``results.json`` gives every test its points. The goal: ``grade`` in at most a third
of otter's time (0.33×). The first ``grade`` with no kept examples (a fresh cache folder) is
measured once too, and reported beside the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import pprint
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ratio  # noqa: E402  (benchmarks/ratio.py)

HERE = ratio.HERE
ROOT = HERE.parent
GOAL = 0.33
OTTER_PACKAGES = ["otter-grader", "ipykernel", "numpy"]

LOOP_ANSWER = '''"""vectors, answered with plain Python loops (a correct, beginner's answer)."""
import numpy as np


def dot(a, b):
    total = 0.0
    for i in range(len(a)):
        total += float(a[i]) * float(b[i])
    return total


def cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1],
                     a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]], dtype=float)


def matmul(A, B):
    m, k = A.shape
    p = B.shape[1]
    out = np.zeros((m, p))
    for i in range(m):
        for j in range(p):
            total = 0.0
            for t in range(k):
                total += float(A[i, t]) * float(B[t, j])
            out[i, j] = total
    return out
'''

# The usual fixed cases, as a course using otter-grader writes them: 5 per function.
CASES = {
    "dot": [
        ("dot(np.array([1.0, -3.0, 5.0]), np.array([4.0, -2.0, -1.0]))", "5.0"),
        ("dot(np.array([2.0]), np.array([3.0]))", "6.0"),
        ("dot(np.zeros(4), np.ones(4))", "0.0"),
        ("isinstance(dot(np.ones(3), np.ones(3)), float)", "True"),
        ("round(dot(np.arange(5.0), np.arange(5.0)), 6)", "30.0"),
    ],
    "cross": [
        ("cross(np.array([1.0, -3.0, 5.0]), np.array([4.0, -2.0, -1.0])).tolist()", "[13.0, 21.0, 10.0]"),
        ("cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])).tolist()", "[0.0, 0.0, 1.0]"),
        ("cross(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])).tolist()", "[0.0, 0.0, 0.0]"),
        ("cross(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])).tolist()", "[0.0, 0.0, -1.0]"),
        ("cross(np.ones(3), np.arange(3.0)).shape", "(3,)"),
    ],
    "matmul": [
        ("matmul(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0], [6.0]])).tolist()", "[[17.0], [39.0]]"),
        ("matmul(np.eye(3), np.arange(9.0).reshape(3, 3)).tolist()",
         "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]"),
        ("matmul(np.ones((2, 3)), np.ones((3, 4))).shape", "(2, 4)"),
        ("matmul(np.array([[2.0]]), np.array([[3.0]])).tolist()", "[[6.0]]"),
        ("np.allclose(matmul(np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)), "
         "np.arange(6.0).reshape(2, 3) @ np.arange(6.0).reshape(3, 2))", "True"),
    ],
}


def otter_tests() -> dict[str, str]:
    """``{file name: OK-format test file}``, one per function, 5 doctest cases each."""
    files = {}
    for name, cases in CASES.items():
        test = {"name": name, "points": len(cases), "suites": [{
            "cases": [{"code": f">>> import numpy as np\n>>> {code}\n{want}", "hidden": False, "locked": False}
                      for code, want in cases],
            "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
        files[f"{name}.py"] = f"OK_FORMAT = True\n\ntest = {pprint.pformat(test, width=100)}\n"
    return files


def case_count() -> int:
    return sum(len(c) for c in CASES.values())


# ----------------------------------------------------------------------------- set-up


def install(venv: Path) -> None:
    """otter-grader in an environment of its own, with the Jupyter kernel it runs files in."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *OTTER_PACKAGES], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "ipykernel", "install", "--sys-prefix",
                    "--name", "python3"], check=True)


def workspace() -> Path:
    """The submission (in ``exercises/`` for grade, beside it for otter) and otter's tests."""
    ws = Path(tempfile.mkdtemp(prefix="dlgrade-otter-bench-"))
    (ws / "exercises").mkdir()
    (ws / "exercises" / "vectors.py").write_text(LOOP_ANSWER, encoding="utf-8")
    (ws / "vectors.py").write_text(LOOP_ANSWER, encoding="utf-8")
    (ws / "tests").mkdir()
    for name, text in otter_tests().items():
        (ws / "tests" / name).write_text(text, encoding="utf-8")
    (ws / "out").mkdir()
    return ws


def grade_command(ws: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "run", "vectors", "--source", str(ws / "exercises"), "--no-timing",
            "--format", "json", "--no-progress"]


def otter_command(venv: Path, ws: Path) -> list[str]:
    return [str(venv / "bin" / "otter"), "run", "-a", str(ws / "autograder.zip"), "-o", str(ws / "out"),
            "--no-logo", str(ws / "vectors.py")]


def generate(venv: Path, ws: Path) -> None:
    subprocess.run([str(venv / "bin" / "otter"), "generate", "-t", "tests", "-o", "autograder.zip",
                    "--no-requirements", "--no-environment", "--no-config"], cwd=ws, check=True,
                   stdout=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- one run each


def grade_ok(stdout: bytes) -> tuple[bool, str]:
    try:
        doc = json.loads(stdout.decode("utf-8"))
        ok = doc["score"] == doc["max_score"] and doc["max_score"] > 0
        return ok, "" if ok else f"grade scored {doc['score']}/{doc['max_score']}"
    except (ValueError, KeyError, TypeError) as exc:
        return False, f"no JSON report from grade ({type(exc).__name__})"


def otter_ok(results: Path) -> tuple[bool, str]:
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
        scored = [t for t in doc["tests"] if "score" in t]
        ok = bool(scored) and all(t["score"] == t["max_score"] for t in scored) and \
            sum(t["max_score"] for t in scored) == case_count()
        return ok, "" if ok else f"otter: {[(t.get('name'), t.get('score'), t.get('max_score')) for t in doc['tests']]}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no results.json from otter ({type(exc).__name__})"


def run_grade(ws: Path, env: dict) -> dict:
    return ratio.timed(grade_command(ws), cwd=ws, env=env, judge=lambda proc: grade_ok(proc.stdout))


def run_otter(venv: Path, ws: Path) -> dict:
    results = ws / "out" / "results.json"
    if results.exists():
        results.unlink()
    return ratio.timed(otter_command(venv, ws), cwd=ws, judge=lambda proc: otter_ok(results))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade vectors against otter run, as a ratio.")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--otter-venv", default="/tmp/otter-venv", help="otter-grader's own environment")
    parser.add_argument("--install", action="store_true", help="make --otter-venv first (PyPI)")
    parser.add_argument("--out", default=str(HERE / "vs_otter.json"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    venv = Path(args.otter_venv)
    if args.dry_run:
        ws = Path("WS")
        print(" ".join(grade_command(ws)))
        print(" ".join(otter_command(venv, ws)))
        print(f"# {case_count()} otter cases in {len(CASES)} test files; goal ≤ {GOAL}")
        return 0
    if args.install:
        install(venv)
    if not (venv / "bin" / "otter").exists():
        print(f"error: no otter in {venv}: run python3 benchmarks/vs_otter.py --install first", file=sys.stderr)
        return 2
    started = time.monotonic()
    ws = workspace()
    cache = Path(tempfile.mkdtemp(prefix="dlgrade-otter-cache-"))
    env = ratio.house().run_env()
    env["GRADE_CACHE_DIR"] = str(cache)  # this run's own: the first grade below keeps nothing yet
    try:
        generate(venv, ws)
        first = run_grade(ws, env)  # no examples kept yet: hypothesis draws them
        ratio.log(f"first grade, no kept examples: {first['seconds']:.3f} s")
        runs, order = ratio.interleaved(("grade", lambda: run_grade(ws, env)),
                                        ("otter", lambda: run_otter(venv, ws)), args.pairs)
        summary = ratio.summarize(runs, "grade", "otter", GOAL)
        doc = ratio.document(
            "one NumPy exercise (vectors, a Python-loop answer): grade over otter run on the same file",
            f"{' '.join(['python3', '-m', 'grader', *grade_command(Path('WS'))[3:]])}  vs  "
            f"otter run -a autograder.zip -o OUT --no-logo vectors.py ({case_count()} OK-format doctest cases)",
            runs, order, summary, started, first_grade_without_kept_examples=first,
            otter_version=_otter_version(venv))
    finally:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    ratio.write(doc, args.out)
    print(ratio.line(doc, "One NumPy exercise vs otter-grader"))
    return 0 if summary["valid"] else 1


def _otter_version(venv: Path) -> str | None:
    try:
        out = subprocess.run([str(venv / "bin" / "python"), "-c", "import otter; print(otter.__version__)"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        return out or None
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
