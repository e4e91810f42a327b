#!/usr/bin/env python3
"""The untouched stubs against ``python -c "import torch"``: how long ``grade`` takes to say "not started".

A learner's first ``grade`` runs on the stubs as shipped, every function still raising
``NotImplementedError``. Each side runs as a fresh process (wall seconds, start to exit):

- ``python3 -m grader run --source COPY --format json --no-progress``: ``grade`` as a
  learner types it (timed runs on, which time nothing here), on a copy of ``exercises/``
  (``grade`` saves its progress beside the modules it grades);
- ``python3 -c "import torch"``: what any torch program pays before it does anything.

A run counts only if every code exercise was graded and found not started (exit 1, score 0).
The goal: at most 1.5× the import of torch (the warm grader imports torch once per run,
in its zygote, while the grader gets going; the grader's own process never imports it here,
since a check asks torch for nothing before the learner's first answer, and a stub's first
answer is "not started": tests/test_torch_import.py holds that).

Usage::

    python3 benchmarks/stubs.py              # 3 interleaved pairs; writes benchmarks/stubs.json
    python3 benchmarks/stubs.py --dry-run
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ratio  # noqa: E402  (benchmarks/ratio.py)

HERE = ratio.HERE
ROOT = HERE.parent
GOAL = 1.5
EXERCISES = ratio.house().EXERCISES


def grade_command(source: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "run", "--source", str(source), "--format", "json", "--no-progress"]


def torch_command() -> list[str]:
    return [sys.executable, "-c", "import torch"]


def not_started(stdout: bytes) -> tuple[bool, str]:
    """Every code exercise of the course graded and found not started; nothing scored."""
    try:
        doc = json.loads(stdout.decode("utf-8"))
        code = [e for e in doc["exercises"] if any(c["kind"] == "correctness" for c in e["checks"])]
        ok = len(code) == len(EXERCISES) and all(e["status"] == "not_started" for e in code) and doc["score"] == 0
        return ok, "" if ok else f"not every exercise not started: {[(e['name'], e['status']) for e in code]}"
    except (ValueError, KeyError, TypeError) as exc:
        return False, f"no JSON report ({type(exc).__name__}: {exc})"


def run_grade(source: Path, env: dict) -> dict:
    """One timed grade of the stubs: valid when it exits 1 with everything not started."""
    return ratio.timed(grade_command(source), cwd=ROOT, env=env, judge=lambda proc: not_started(proc.stdout),
                       expect_exit=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade on the stubs against import torch, as a ratio.")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "stubs.json"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.dry_run:
        print(" ".join(grade_command(Path("COPY_OF_exercises"))))
        print(" ".join(torch_command()))
        return 0
    started = time.monotonic()
    copy = Path(tempfile.mkdtemp(prefix="dlgrade-stubs-bench-")) / "exercises"
    shutil.copytree(ROOT / "exercises", copy, ignore=shutil.ignore_patterns(".grade", "__pycache__"))
    env = ratio.house().run_env()
    try:
        runs, order = ratio.interleaved(("grade", lambda: run_grade(copy, env)),
                                        ("import torch", lambda: ratio.timed(torch_command(), cwd=ROOT, env=env)),
                                        args.pairs)
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    summary = ratio.summarize(runs, "grade", "import torch", GOAL)
    doc = ratio.document("grade on the untouched stubs over python -c 'import torch'",
                         "python3 -m grader run --source COPY_OF_exercises --format json --no-progress  vs  "
                         "python3 -c 'import torch'", runs, order, summary, started)
    ratio.write(doc, args.out)
    print(ratio.line(doc, "Untouched stubs vs import torch"))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
