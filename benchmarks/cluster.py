#!/usr/bin/env python3
"""Submissions per minute: grade batch's local pool against a Dask LocalCluster of the same size.

Makes a class of ``--learners`` copies of the reference solution of ``--exercises``
(default: 6 learners, vectors) in a temporary folder and grades it, without timed runs,
as a fresh ``grade batch`` process each time::

    python3 -m grader batch CLASS vectors --out GB.csv --jobs 2 --no-timing --no-progress --force
    python3 -m grader batch CLASS vectors --out GB.csv --jobs 2 --no-timing --no-progress --force --cluster local

interleaved (pool, then cluster; ``--runs`` pairs, the order swapped from one pair to the
next). Two figures per run: the batch's own rate (the "N per minute" it prints, from the
first submission sent to the last saved: the cluster's start-up left out) and the wall
clock of the whole command (Python, the cluster's start-up and shut-down included). Each
run counts only if it exits 0 and every learner scores full marks. Writes
benchmarks/cluster.json and prints one Markdown line; progress goes to stderr.

Usage::

    python3 benchmarks/cluster.py                       # 1 pair, 6 learners, --jobs 2
    python3 benchmarks/cluster.py --learners 12 --runs 3 --exercises vectors losses
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_class(folder: Path, learners: int, exercises: list[str]) -> None:
    for i in range(learners):
        target = folder / f"learner{i:03d}" / "exercises"
        target.mkdir(parents=True)
        for name in exercises:
            shutil.copy(ROOT / "solutions" / f"{name}.py", target / f"{name}.py")


def run_once(kind: str, klass: Path, out: Path, exercises: list[str], jobs: int, learners: int) -> dict:
    command = [sys.executable, "-m", "grader", "batch", str(klass), *exercises, "--out", str(out), "--jobs",
               str(jobs), "--no-timing", "--no-progress", "--force"]
    if kind == "cluster":
        command += ["--cluster", "local"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    with open(out, encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    if len(table) != learners or any(r["total"] != r["max"] or r["status"] != "graded" for r in table):
        raise SystemExit(f"{kind} run did not grade every learner in full:\n{done.stdout}")
    m = re.search(r"graded (\d+) submissions? in ([\d.]+) s", done.stdout)
    seconds = float(m.group(2))
    return {"kind": kind, "batch_seconds": seconds, "wall_seconds": round(wall, 2),
            "per_minute_batch": round(learners / seconds * 60, 2), "per_minute_wall": round(learners / wall * 60, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="interleaved pairs (pool, cluster)")
    parser.add_argument("--exercises", nargs="+", default=["vectors"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "cluster.json"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        make_class(tmp / "class", args.learners, args.exercises)
        runs = []
        for i in range(args.runs):
            order = ["pool", "cluster"] if i % 2 == 0 else ["cluster", "pool"]
            for kind in order:
                print(f"pair {i + 1}: {kind}...", file=sys.stderr)
                result = run_once(kind, tmp / "class", tmp / f"{kind}.csv", args.exercises, args.jobs, args.learners)
                print(f"  {result}", file=sys.stderr)
                runs.append(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(kind, field):
        return statistics.median(r[field] for r in runs if r["kind"] == kind)

    summary = {kind: {"per_minute_batch": med(kind, "per_minute_batch"), "per_minute_wall": med(kind, "per_minute_wall"),
                      "seconds_per_submission_per_worker": round(med(kind, "batch_seconds") * args.jobs / args.learners, 2)}
               for kind in ("pool", "cluster")}
    ratio_batch = round(summary["cluster"]["per_minute_batch"] / summary["pool"]["per_minute_batch"], 3)
    ratio_wall = round(summary["cluster"]["per_minute_wall"] / summary["pool"]["per_minute_wall"], 3)
    try:
        import torch

        torch_version = torch.__version__
    except Exception:  # noqa: BLE001
        torch_version = None
    try:
        import distributed

        dask_version = distributed.__version__
    except Exception:  # noqa: BLE001
        dask_version = None
    document = {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "torch": torch_version, "distributed": dask_version, "loadavg_at_start": list(os.getloadavg())},
        "command": f"grade batch CLASS {' '.join(args.exercises)} --out GB.csv --jobs {args.jobs} --no-timing "
                   f"--no-progress --force [--cluster local]",
        "learners": args.learners, "jobs": args.jobs, "exercises": args.exercises, "runs": runs,
        "summary": summary, "ratio_cluster_over_pool_batch": ratio_batch, "ratio_cluster_over_pool_wall": ratio_wall,
    }
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"| {args.learners} × {'+'.join(args.exercises)}, --jobs {args.jobs}, --no-timing | "
          f"{summary['pool']['per_minute_batch']} | {summary['cluster']['per_minute_batch']} | {ratio_batch} | "
          f"{summary['pool']['per_minute_wall']} | {summary['cluster']['per_minute_wall']} | {ratio_wall} |")


if __name__ == "__main__":
    main()
