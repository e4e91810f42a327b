#!/usr/bin/env python3
"""As an ordinary user: ``grade`` on the untouched stubs, warm against cold, as a ratio.

A learner on a laptop, or a teacher's CI runner, is not root. Each side is ``grade`` on a
copy of ``exercises/`` as shipped (the same command and the same judge as ``stubs.py``:
every code exercise graded and found not started), run as that user:

- ``warm``: as a learner runs it, a zygote per framework forks each learner process
  (grader/runner/zygote.py, in the user's own user namespace);
- ``cold``: ``GRADE_WARM=0``, each learner process a new bubblewrap sandbox and Python,
  importing NumPy or PyTorch itself.

Run as root, both sides run as ``nobody`` (tests/ordinary_user.py: a private mount namespace
where this Python is reachable, then ``setpriv``). The goal: warm at most half of cold.

Usage::

    python3 benchmarks/stubs_user.py              # 3 interleaved pairs; writes benchmarks/stubs_user.json
    python3 benchmarks/stubs_user.py --dry-run
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ratio  # noqa: E402  (benchmarks/ratio.py)
import stubs  # noqa: E402  (benchmarks/stubs.py: the command and its judge)

HERE = ratio.HERE
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
import ordinary_user  # noqa: E402  (tests/ordinary_user.py)

GOAL = 0.5


def run_grade(prefix: list[str], source: Path, env: dict) -> dict:
    """One timed grade of the stubs as the ordinary user: valid when everything is not started."""
    return ratio.timed(prefix + stubs.grade_command(source), cwd=source.parent, env=env,
                       judge=lambda proc: stubs.not_started(proc.stdout), expect_exit=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade on the stubs as an ordinary user, warm against cold.")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "stubs_user.json"))
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--as-is", action="store_true",
                        help="run as this user, even root (root's zygote, for comparison)")
    args = parser.parse_args(argv)
    prefix, why = ([], "") if args.as_is else ordinary_user.command()
    if args.dry_run:
        command = " ".join(stubs.grade_command(Path("COPY_OF_exercises")))
        print(f"{command}\nGRADE_WARM=0 {command}\nas: {'nobody' if prefix else 'this user'} {why}")
        return 0
    if prefix is None:
        ratio.log(f"no ordinary user can run this Python here: {why}")
        return 1
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="dlgrade-stubs-user-bench-"))
    copy = home / "exercises"
    shutil.copytree(ROOT / "exercises", copy, ignore=shutil.ignore_patterns(".grade", "__pycache__"))
    if prefix:
        ordinary_user.give(home)
    env = ordinary_user.environment(home, HYPOTHESIS_STORAGE_DIRECTORY=str(home / "hypothesis"))
    try:
        runs, order = ratio.interleaved(("warm", lambda: run_grade(prefix, copy, env)),
                                        ("cold", lambda: run_grade(prefix, copy, {**env, "GRADE_WARM": "0"})),
                                        args.pairs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    summary = ratio.summarize(runs, "warm", "cold", GOAL)
    who = "nobody (from root)" if prefix else "root" if os.getuid() == 0 else f"uid {os.getuid()}"
    doc = ratio.document(f"grade on the untouched stubs as {who}: warm over cold (GRADE_WARM=0)",
                         "python3 -m grader run --source COPY_OF_exercises --format json --no-progress  vs  "
                         "the same with GRADE_WARM=0", runs, order, summary, started, user=who)
    ratio.write(doc, args.out)
    print(ratio.line(doc, f"Untouched stubs as {who}, warm vs cold"))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
