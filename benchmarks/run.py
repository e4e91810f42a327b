#!/usr/bin/env python3
"""Benchmark the grader as whole commands: medians of several runs, as JSON and a table.

Measures, each as a fresh ``grade`` process (wall time from start to exit):

- a baseline in the same run: ``python -c "import numpy"`` (every figure is also given as a
  multiple of it, so machines can be compared) and ``python -c "import torch"``;
- grading one NumPy exercise (``vectors``) and one PyTorch exercise (``backprop``), without
  timed runs;
- the whole course (the seven code exercises) without and with timed runs, and
  ``grade bench`` (the timed runs alone);
- cold and warm: *cold* is the first run after deleting the grader's ``__pycache__``
  folders (Python must compile the grader again; the OS file cache stays warm, which a
  script cannot portably clear); *warm* is the median of runs after one untimed warm-up run.
  Commands run without ``PYTHONDONTWRITEBYTECODE`` (as in a learner's shell), so warm runs
  use the compiled files;
- every exercise on its own (``--no-timing``);
- every command runs ``--runs`` times round-robin (run 1 of each, then run 2 of each, ...),
  after one untimed warm-up run of each, so that a burst of load on a shared machine hits
  every figure alike;
- how grading time grows with hypothesis examples (``grade --examples N``), for one NumPy
  and one PyTorch exercise.

Usage::

    python benchmarks/run.py                    # everything, 3 runs of every command, round-robin
    python benchmarks/run.py --quick            # 1 run of each, fewer example counts
    python benchmarks/run.py --out benchmarks/results.json --markdown

The JSON (``benchmarks/results.json``) holds every run's seconds, the medians, the exit
codes, the commands and the machine (nproc, CPU model, Python/NumPy/torch versions).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ["vectors", "derivatives", "losses", "gradient_descent", "activations", "backprop", "mlp"]


def grade_cmd() -> list[str]:
    exe = shutil.which("grade")
    return [exe] if exe else [sys.executable, "-m", "grader"]


def clear_pycache() -> int:
    """Delete the grader's compiled files (only __pycache__ folders under grader/)."""
    n = 0
    for path in (ROOT / "grader").rglob("__pycache__"):
        shutil.rmtree(path, ignore_errors=True)
        n += 1
    return n


def run_env() -> dict:
    """The caller's environment, but allowed to write bytecode (as a learner's shell is):
    with PYTHONDONTWRITEBYTECODE set every run would be cold."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=run_env())
    return time.perf_counter() - started, proc.returncode


class Job:
    def __init__(self, name: str, argv: list[str], *, cold: bool = False):
        self.name, self.argv, self.cold = name, argv, cold
        self.seconds: list[float] = []
        self.codes: list[int] = []

    def run(self) -> None:
        if self.cold:
            clear_pycache()
        s, code = run_once(self.argv)
        self.seconds.append(s)
        self.codes.append(code)

    def entry(self) -> dict:
        s = self.seconds
        return {"name": self.name,
                "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(self.argv)),
                "mode": "cold" if self.cold else "warm", "runs": [round(x, 4) for x in s],
                "median_s": round(statistics.median(s), 4), "min_s": round(min(s), 4),
                "max_s": round(max(s), 4), "exit_codes": sorted(set(self.codes))}


def measure_all(jobs: list[Job], runs: int) -> None:
    """Round-robin: run 1 of every job, then run 2 of every job, ... so that a burst of load
    on a shared machine hits every figure alike instead of all the runs of one."""
    for job in jobs:  # one untimed warm-up of each (bytecode written, OS cache filled)
        if not job.cold:
            run_once(job.argv)
    for r in range(runs):
        for job in jobs:
            job.run()
            print(f"run {r + 1}/{runs} {job.name:<36} {'cold' if job.cold else 'warm':<5} "
                  f"{job.seconds[-1]:7.2f} s (exit {job.codes[-1]})", file=sys.stderr)


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "torch", "hypothesis"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), **versions, "loadavg_at_start": os.getloadavg()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark grade as whole commands.")
    parser.add_argument("--runs", type=int, default=3, help="runs of every command (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 run of each command, fewer example counts")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--markdown", action="store_true", help="print the README table on stdout")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    g = grade_cmd()
    sol = ["--source", "solutions", "--no-progress"]
    started = time.monotonic()
    numpy_import = Job("baseline: python -c 'import numpy'", [sys.executable, "-c", "import numpy"])
    jobs = [
        numpy_import,
        Job("baseline: python -c 'import torch'", [sys.executable, "-c", "import torch"]),
        Job("one NumPy exercise (vectors)", g + ["vectors", *sol, "--no-timing"], cold=True),
        Job("one NumPy exercise (vectors)", g + ["vectors", *sol, "--no-timing"]),
        Job("Part 1 (vectors derivatives losses)", g + [*EXERCISES[:3], *sol, "--no-timing"], cold=True),
        Job("Part 1 (vectors derivatives losses)", g + [*EXERCISES[:3], *sol, "--no-timing"]),
        Job("one torch exercise (backprop)", g + ["backprop", *sol, "--no-timing"], cold=True),
        Job("one torch exercise (backprop)", g + ["backprop", *sol, "--no-timing"]),
        Job("whole course, no timing", g + [*EXERCISES, *sol, "--no-timing"], cold=True),
        Job("whole course, no timing", g + [*EXERCISES, *sol, "--no-timing"]),
        Job("whole course, with timing", g + [*EXERCISES, *sol], cold=True),
        Job("whole course, with timing", g + [*EXERCISES, *sol]),
        Job("timed runs only (grade bench)", g + ["bench", "--source", "solutions"]),
    ]
    jobs += [Job(f"exercise {ex}", g + [ex, *sol, "--no-timing"]) for ex in EXERCISES if ex != "vectors"]
    examples = {"vectors": (5, 10, 20, 50, 100) if not args.quick else (5, 20, 100),
                "backprop": (5, 15, 30, 60) if not args.quick else (5, 15, 60)}
    for ex, counts in examples.items():
        jobs += [Job(f"{ex} --examples {n}", g + [ex, *sol, "--no-timing", "--examples", str(n)]) for n in counts]
    measure_all(jobs, runs)
    results = [job.entry() for job in jobs]

    base = next(r for r in results if r["name"].startswith("baseline: python -c 'import numpy'"))["median_s"]
    single = next(r for r in results if r["name"] == "one NumPy exercise (vectors)" and r["mode"] == "warm")
    for r in results:
        r["x_numpy_import"] = round(r["median_s"] / base, 2)
        r["x_one_numpy_exercise"] = round(r["median_s"] / single["median_s"], 2)
    doc = {"machine": machine(), "grade": " ".join(g), "wall_s": round(time.monotonic() - started, 1),
           "runs": runs,
           "notes": "median wall seconds of whole commands (subprocess, stdout/stderr discarded), run "
                    "round-robin; cold = the run right after deleting grader/**/__pycache__; warm = with "
                    "the grader's bytecode in place, after one untimed warm-up run of each command",
           "results": results}
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({doc['wall_s']:.0f} s)", file=sys.stderr)
    if args.markdown:
        print(markdown(doc))
    return 0


def markdown(doc: dict) -> str:
    m = doc["machine"]
    lines = [f"Machine: {m['nproc']} × {m['cpu']}, Python {m['python']}, NumPy {m['numpy']}, torch {m['torch']}, "
             f"hypothesis {m['hypothesis']} (load average {m['loadavg_at_start'][0]:.1f} at the start). "
             f"Medians of {doc['runs']} runs of every command, taken round-robin.", "",
             "| what | command | mode | median | × `import numpy` | × one NumPy exercise |",
             "|---|---|---|---:|---:|---:|"]
    for r in doc["results"]:
        cmd = r["command"].replace("|", "\\|")
        if len(cmd) > 90:
            cmd = cmd.replace(" ".join(EXERCISES), "EXERCISES…")
        lines.append(f"| {r['name']} | `{cmd}` | {r['mode']} | {r['median_s']:.2f} s | {r['x_numpy_import']:.1f} | "
                     f"{r['x_one_numpy_exercise']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
