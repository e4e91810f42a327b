#!/usr/bin/env python3
"""Prove that timing verdicts do not flip on a noisy machine.

While another process keeps every core busy (a busy loop per core), this script times,
``--runs`` times each (20 by default), with the same seed every time, as a fresh
``grade bench`` would:

- the reference solutions against themselves, every timed function of the course (each
  must pass every time: a solution is about 1× itself), and
- a Python-loop ``dot`` (the solution with ``dot`` rewritten as a ``for`` loop) against the
  reference (it must fail every time),

and reports, per function, how many runs gave each verdict, the spread of the measured
median ratios, and the rounds each verdict took. The verdict must be the same in every
run. Usage::

    python scripts/timing_stability.py                 # 20 runs each, under load
    python scripts/timing_stability.py --runs 5 --no-load
    python scripts/timing_stability.py --json benchmarks/timing_stability.json

Exit code 0 when every function got one verdict in all runs (and the expected one).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course import load_course  # noqa: E402
from grader.timing.check import solutions_dir, time_exercise  # noqa: E402

LOOP_DOT = '''

def dot(a, b):
    """The dot product as a Python loop: correct, and far too slow on 10⁶ floats."""
    total = 0.0
    for i in range(len(a)):
        total += a[i] * b[i]
    return total
'''

BURNER = r'''
import os, sys
n = int(sys.argv[1])
for _ in range(n - 1):
    if os.fork() == 0:
        break
x = 0
while True:
    x += 1
'''


def start_load(cores: int) -> subprocess.Popen:
    """One process (forking one busy loop per core) in its own process group."""
    return subprocess.Popen([sys.executable, "-c", BURNER, str(cores)], start_new_session=True)


def stop_load(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def machine() -> dict:
    """The benchmark's description of the machine (benchmarks/run.py), plus whether CUDA is there."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from run import machine as describe

    info = describe()
    try:
        import torch

        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        info["cuda"] = False
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: the course's seed")
    parser.add_argument("--no-load", action="store_true", help="do not start the busy-loop process")
    parser.add_argument("--load-cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the figures here")
    parser.add_argument("--exercises", nargs="*", default=None, help="limit the solutions' runs to these")
    args = parser.parse_args(argv)

    course = load_course()
    seed = course.seed if args.seed is None else args.seed
    timed = [e for e in course.exercises if e.timing_specs() and (not args.exercises or e.name in args.exercises)]
    work = Path(tempfile.mkdtemp(prefix="timing-stability-"))
    loop_dir = work / "loop"
    loop_dir.mkdir()
    shutil.copy(Path(solutions_dir()) / "vectors.py", loop_dir / "vectors.py")
    with open(loop_dir / "vectors.py", "a", encoding="utf-8") as f:
        f.write(LOOP_DOT)
    vectors = course.get("vectors")
    dot_spec = [s for s in vectors.timing_specs() if s.function == "dot"]

    subjects = [("solution", e, e.timing_specs(), solutions_dir(), ("pass", "undecided")) for e in timed]
    subjects.append(("loop dot", vectors, dot_spec, str(loop_dir), ("fail",)))
    rows: dict[tuple, list] = collections.defaultdict(list)
    load = None if args.no_load else start_load(args.load_cores)
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for who, exercise, specs, folder, _ in subjects:
                t0 = time.monotonic()
                measured = time_exercise(exercise, specs, folder, seed)
                wall = time.monotonic() - t0
                for (function, _), ms in measured.items():
                    for m in ms:
                        rows[(who, exercise.name, function, m.device)].append(
                            {"run": run, "outcome": m.outcome, "ratio": m.ratio, "low": m.low, "high": m.high,
                             "rounds": m.rounds, "learner_s": m.learner_s, "reference_s": m.reference_s,
                             "seconds": m.seconds, "exercise_wall_s": wall})
            done = ", ".join(f"{k[0]} {k[2]}={v[-1]['outcome']}" for k, v in rows.items() if k[0] == "loop dot")
            print(f"run {run}/{args.runs} done after {time.monotonic() - started:.0f} s ({done})", file=sys.stderr)
    finally:
        if load is not None:
            stop_load(load)
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    expected = {(who, e.name): ok for who, e, _, _, ok in subjects}
    table, all_ok = [], True
    for key, runs in rows.items():
        who, ex, function, device = key
        outcomes = collections.Counter(r["outcome"] for r in runs)
        ratios = [r["ratio"] for r in runs if r["ratio"] is not None]
        rounds = [r["rounds"] for r in runs]
        verdicts = {"pass" if o in ("pass", "undecided") else o for o in outcomes}
        skipped = outcomes.keys() == {"skipped"}
        stable = len(verdicts) == 1 and (skipped or set(outcomes) <= set(expected[(who, ex)]))
        all_ok &= stable
        table.append({
            "subject": who, "function": f"{ex}.{function}", "device": device, "runs": len(runs),
            "outcomes": dict(outcomes), "stable": stable,
            "ratio_min": min(ratios, default=None), "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_max": max(ratios, default=None),
            "rounds_min": min(rounds), "rounds_median": statistics.median(rounds), "rounds_max": max(rounds),
            "seconds_median": statistics.median(r["seconds"] for r in runs),
        })
    doc = {"runs": args.runs, "seed": seed, "load": not args.no_load, "load_cores": args.load_cores,
           "loadavg_before": load_before, "loadavg_after": load_after,
           "wall_s": round(time.monotonic() - started, 1), "machine": machine(), "rows": table}
    print(markdown(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0 if all_ok else 1


def markdown(doc: dict) -> str:
    def r(x):
        return "—" if x is None else (f"{x:.0f}×" if x >= 10 else f"{x:.2f}×")

    m = doc["machine"]
    lines = [f"{doc['runs']} runs each, seed {doc['seed']}, "
             + (f"{doc['load_cores']} busy-loop processes running throughout" if doc["load"] else "no extra load")
             + f" (load average {doc['loadavg_before'][0]:.1f} → {doc['loadavg_after'][0]:.1f}); "
             f"{m['nproc']} × {m['cpu']}, Python {m['python']}, NumPy {m['numpy']}, torch {m.get('torch')}; "
             f"{doc['wall_s']:.0f} s in all.", "",
             "| subject | function | device | verdicts | median ratio (min – median – max over runs) | rounds (min – median – max) | s per timed run |",
             "|---|---|---|---|---|---|---|"]
    for row in doc["rows"]:
        verdicts = ", ".join(f"{k} {v}/{row['runs']}" for k, v in row["outcomes"].items())
        lines.append(f"| {row['subject']} | {row['function']} | {row['device']} | {verdicts} | "
                     f"{r(row['ratio_min'])} – {r(row['ratio_median'])} – {r(row['ratio_max'])} | "
                     f"{row['rounds_min']} – {row['rounds_median']:g} – {row['rounds_max']} | "
                     f"{row['seconds_median']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
