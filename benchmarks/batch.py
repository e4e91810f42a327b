#!/usr/bin/env python3
"""``grade batch`` of a class with the warm grader's zygotes shared, against every learner process cold.

``grade batch`` starts one ``grade run`` process per learner. Each used to start its own
zygotes, paying NumPy's and torch's import again for every learner; now the batch starts
them once and every grade run forks its learner processes through them
(``grader/classroom/batch.py``, ``SharedZygotes``). This measures a class of ``--copies``
learners (4 by default), each a copy of ``solutions/``, graded on the exercises given
(``vectors`` and ``backprop`` by default: one NumPy, one torch), without timed runs:

- *warm*: ``python3 -m grader batch CLASS EXERCISES --out FRESH.csv --no-timing --no-progress``;
- *cold*: the same command with ``GRADE_WARM=0`` (every learner process started cold, as
  bubblewrap's new program);
- or, with ``--baseline per-run``, *per-run*: the same batch with the handover turned off
  (``SharedZygotes.handover`` patched to hand nothing over), so that each grade run starts
  zygotes of its own, as before the batch shared them.

Each run's record also counts, from ``$GRADE_WARM_LOG``, the zygotes started
(``zygote_starts``: one per framework for the shared batch, that many per learner for
*per-run*, none cold) and the learner processes they forked (``warm_forks``).

Each run writes a fresh gradebook (nothing is skipped) and counts only if every learner
was graded with every point. The goal: the warm batch takes less time than the cold one
(a ratio below 1.0); the figure says how much of a batch the imports were.

Usage::

    python3 benchmarks/batch.py              # 3 interleaved pairs; writes benchmarks/batch.json
    python3 benchmarks/batch.py --copies 8 --exercises vectors backprop mlp
    python3 benchmarks/batch.py --dry-run
"""
from __future__ import annotations

import argparse
import csv
import itertools
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
GOAL = 1.0
# grade batch with nothing handed over: each grade run starts its own zygotes (--baseline per-run).
PER_RUN = ("import sys; from grader.classroom import batch; batch.SharedZygotes.handover = lambda self: ('', ()); "
           "from grader.cli import main; main(sys.argv[1:], prog_name='grade')")


def batch_command(root: Path, exercises: list[str], out: Path, per_run: bool = False) -> list[str]:
    start = [sys.executable, "-c", PER_RUN] if per_run else [sys.executable, "-m", "grader"]
    return [*start, "batch", str(root), *exercises, "--out", str(out), "--no-timing", "--no-progress"]


def make_class(base: Path, copies: int) -> Path:
    """``copies`` learner folders, each with ``exercises/`` a copy of the solutions."""
    root = base / "class"
    for i in range(copies):
        shutil.copytree(ROOT / "solutions", root / f"learner{i + 1}" / "exercises",
                        ignore=shutil.ignore_patterns("quizzes", "__pycache__"))
    return root


def everyone_full(out: Path, copies: int) -> tuple[bool, str]:
    try:
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
    except OSError as exc:
        return False, f"no gradebook ({exc})"
    ok = len(rows) == copies and all(r["status"] == "graded" and r["total"] == r["max"] != "0" for r in rows)
    return ok, "" if ok else f"not every learner scored full: {[(r['learner'], r['total'], r['max']) for r in rows]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade batch with shared zygotes against GRADE_WARM=0, as a ratio.")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4, help="learners in the class (copies of solutions/)")
    parser.add_argument("--exercises", nargs="+", default=["vectors", "backprop"])
    parser.add_argument("--baseline", choices=["cold", "per-run"], default="cold",
                        help="GRADE_WARM=0 (cold), or zygotes of each grade run's own (per-run)")
    parser.add_argument("--out", default=str(HERE / "batch.json"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    per_run = args.baseline == "per-run"
    if args.dry_run:
        print(" ".join(batch_command(Path("CLASS"), args.exercises, Path("FRESH.csv"))))
        print(("" if per_run else "GRADE_WARM=0 ")
              + " ".join(batch_command(Path("CLASS"), args.exercises, Path("FRESH.csv"), per_run)))
        return 0
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="dlgrade-batch-bench-"))
    root = make_class(base, args.copies)
    counter = itertools.count()
    warm_env = ratio.house().run_env()
    warm_env.pop("GRADE_WARM", None)
    baseline_env = warm_env if per_run else {**warm_env, "GRADE_WARM": "0"}
    baseline = "per-run batch" if per_run else "cold batch"

    def run(env: dict, per_run_zygotes: bool = False) -> dict:
        n = next(counter)
        out = base / "gradebooks" / f"run{n}.csv"  # fresh: no learner skipped
        log = base / f"warm{n}.log"  # a line per zygote start and per warm fork (grader/runner/warm.py)
        record = ratio.timed(batch_command(root, args.exercises, out, per_run_zygotes), cwd=ROOT,
                             env={**env, "GRADE_WARM_LOG": str(log)},
                             judge=lambda proc: everyone_full(out, args.copies))
        lines = log.read_text().splitlines() if log.exists() else []
        record["zygote_starts"] = sum('"start"' in line for line in lines)
        record["warm_forks"] = sum('"fork"' in line for line in lines)
        return record

    try:
        runs, order = ratio.interleaved(("warm batch", lambda: run(warm_env)),
                                        (baseline, lambda: run(baseline_env, per_run)), args.pairs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    summary = ratio.summarize(runs, "warm batch", baseline, GOAL)
    exercises = " ".join(args.exercises)
    against = "zygotes of each grade run's own" if per_run else "GRADE_WARM=0"
    doc = ratio.document(f"grade batch of {args.copies} copies of the solutions ({exercises}, no timed runs), "
                         f"zygotes shared by the batch, over {against}",
                         f"python3 -m grader batch CLASS {exercises} --out FRESH.csv --no-timing --no-progress  vs  "
                         f"the same with {against}", runs, order, summary, started,
                         copies=args.copies, exercises=args.exercises, baseline=args.baseline)
    ratio.write(doc, args.out)
    print(ratio.line(doc, f"Batch of {args.copies} ({exercises}): shared zygotes vs {args.baseline}"))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
