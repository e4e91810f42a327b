#!/usr/bin/env python3
"""What the namespace sandbox costs: the whole course graded in namespaces against today's mode.

Grades the whole course on the reference solutions, without timed runs, as a fresh
``grade`` process each time (wall seconds from start to exit)::

    python3 -m grader run --source solutions --no-timing --format json --no-progress

once with ``GRADE_SANDBOX=namespaces`` (bubblewrap) and once in today's mode for
comparison (``GRADE_SANDBOX=uid`` when run as root, else ``none``; ``--baseline`` picks
another), in interleaved pairs: after one untimed warm-up run of each, every pair runs
both modes back to back, the order swapped from one pair to the next, so that a burst of
load on a shared machine hits both alike. It reports the median of each mode, the ratio
of the medians and the median of the per-pair ratios, against the goal: namespaces cost
at most 1.1× today's mode.

Each run's JSON report is read back: the run counts only if it exited 0 (the solutions
score full marks) and its report's ``sandbox`` is the mode asked for, so a run that fell
back to a weaker mode cannot pass for a fast sandbox.

Usage::

    python3 benchmarks/sandbox.py                  # 3 pairs; writes benchmarks/sandbox.json
    python3 benchmarks/sandbox.py --pairs 5 --baseline none
    python3 benchmarks/sandbox.py --dry-run        # the commands and environments, nothing run

It prints one Markdown line (the README's) on stdout; progress goes to stderr.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _house():
    """benchmarks/run.py, for its helpers (the machine description, the environment)."""
    spec = importlib.util.spec_from_file_location("dlgrade_benchmarks_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


house = _house()
ROOT = house.ROOT
GOAL = 1.1  # namespaces may cost at most 10 % over today's mode
MODE = "namespaces"
GRADE_ARGS = ["run", "--source", "solutions", "--no-timing", "--format", "json", "--no-progress"]


def command() -> list[str]:
    return [sys.executable, "-m", "grader", *GRADE_ARGS]


def default_baseline() -> str:
    """Today's mode: a fresh uid per learner process as root, else none."""
    return "uid" if hasattr(os, "geteuid") and os.geteuid() == 0 else "none"


def environment(mode: str) -> dict:
    env = house.run_env()  # may write bytecode, as a learner's shell does
    env["GRADE_SANDBOX"] = mode
    env.pop("GITHUB_OUTPUT", None)
    return env


def parse_report(stdout: bytes) -> dict:
    """What one run's JSON report says: ``sandbox``, ``score``, ``max_score`` (or ``error``)."""
    try:
        doc = json.loads(stdout.decode("utf-8"))
        return {"sandbox": str(doc["sandbox"]), "score": doc["score"], "max_score": doc["max_score"]}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        text = stdout[:200].decode("utf-8", "replace")
        return {"error": f"no JSON report ({type(exc).__name__}: {exc}); stdout began {text!r}"}


def run_once(mode: str) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(command(), cwd=ROOT, env=environment(mode), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    run = {"seconds": round(seconds, 4), "exit_code": proc.returncode, **parse_report(proc.stdout)}
    if proc.returncode != 0 or run.get("sandbox") != mode:
        run["stderr_tail"] = proc.stderr[-600:].decode("utf-8", "replace")
    return run


def valid(run: dict, mode: str) -> bool:
    return run.get("exit_code") == 0 and run.get("sandbox") == mode and "error" not in run


def summarize(runs: dict[str, list[dict]], baseline: str) -> dict:
    """Medians of each mode, the ratio of the medians and the median of the per-pair ratios.

    ``runs`` maps each mode to its runs in pair order (pair i = ``runs[MODE][i]`` and
    ``runs[baseline][i]``).
    """
    modes = {}
    for mode in (MODE, baseline):
        seconds = [r["seconds"] for r in runs[mode]]
        modes[mode] = {"runs": runs[mode], "seconds": seconds,
                       "median_s": round(statistics.median(seconds), 4) if seconds else None,
                       "all_valid": bool(seconds) and all(valid(r, mode) for r in runs[mode])}
    a, b = modes[MODE]["median_s"], modes[baseline]["median_s"]
    ratio = round(a / b, 3) if a and b else None
    pairs = [x["seconds"] / y["seconds"] for x, y in zip(runs[MODE], runs[baseline]) if y["seconds"]]
    paired = round(statistics.median(pairs), 3) if pairs else None
    ok = modes[MODE]["all_valid"] and modes[baseline]["all_valid"]
    return {"mode": MODE, "baseline": baseline, "modes": modes, "ratio": ratio,
            "paired_ratio": paired, "goal": GOAL, "valid": ok,
            "met": bool(ok and ratio is not None and ratio <= GOAL)}


def markdown(doc: dict) -> str:
    """One line for the README: both medians, the ratio and the goal."""
    s = doc["summary"]
    a, b = s["modes"][s["mode"]], s["modes"][s["baseline"]]
    if not s["valid"] or s["ratio"] is None:
        why = "; ".join(sorted({f"{mode}: " + (r.get("error") or f"exit {r.get('exit_code')}, report says "
                                                 f"sandbox {r.get('sandbox')!r}")
                                for mode in (s["mode"], s["baseline"]) for r in s["modes"][mode]["runs"]
                                if not valid(r, mode)}) or {"no runs"})
        return (f"Sandbox cost: not measured: some runs did not grade in the mode asked for ({why}). "
                f"Goal: `{s['mode']}` at most {GOAL:g}× `{s['baseline']}`.")
    m = doc["machine"]
    verdict = "met" if s["met"] else "missed"
    return (f"Sandbox cost, whole course (`grade run --source solutions --no-timing`), medians of "
            f"{doc['pairs']} interleaved pairs on {m['nproc']} × {m['cpu'] or 'CPU'}: "
            f"`{s['mode']}` {a['median_s']:.2f} s, `{s['baseline']}` {b['median_s']:.2f} s: "
            f"**{s['ratio']:.2f}×** (per-pair median {s['paired_ratio']:.2f}×; goal ≤ {GOAL:g}×: {verdict}).")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="What the namespace sandbox costs, as a ratio.")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs of runs (default 3)")
    parser.add_argument("--baseline", choices=("uid", "none"), default=default_baseline(),
                        help="the mode to compare with (default: uid as root, else none)")
    parser.add_argument("--out", default=str(HERE / "sandbox.json"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands and environments, run nothing")
    args = parser.parse_args(argv)
    order = [(MODE, args.baseline) if i % 2 == 0 else (args.baseline, MODE) for i in range(args.pairs)]
    if args.dry_run:
        print(f"cd {ROOT}")
        for mode in (MODE, args.baseline):
            print(f"GRADE_SANDBOX={mode} {' '.join(command())}   # warm-up, untimed")
        for i, pair in enumerate(order, 1):
            for mode in pair:
                print(f"GRADE_SANDBOX={mode} {' '.join(command())}   # pair {i}")
        return 0
    started = time.monotonic()
    machine = house.machine()
    for mode in (MODE, args.baseline):  # bytecode written, OS cache filled, bubblewrap probed
        warm = run_once(mode)
        print(f"warm-up {mode:<10} {warm['seconds']:7.2f} s (exit {warm['exit_code']}, "
              f"sandbox {warm.get('sandbox')})", file=sys.stderr)
    runs: dict[str, list[dict]] = {MODE: [], args.baseline: []}
    for i, pair in enumerate(order, 1):
        for mode in pair:
            run = run_once(mode)
            runs[mode].append(run)
            print(f"pair {i}/{args.pairs} {mode:<10} {run['seconds']:7.2f} s (exit {run['exit_code']}, "
                  f"sandbox {run.get('sandbox')})", file=sys.stderr)
    doc = {"machine": machine, "command": " ".join(["python3", "-m", "grader", *GRADE_ARGS]),
           "pairs": args.pairs, "order": [list(p) for p in order],
           "wall_s": round(time.monotonic() - started, 1),
           "notes": "wall seconds of whole grade processes (stdout parsed, stderr kept on failure); one "
                    "untimed warm-up run of each mode, then interleaved pairs with the order swapped "
                    "every pair; a run counts only if it exited 0 and its report names the mode asked for",
           "summary": summarize(runs, args.baseline)}
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({doc['wall_s']:.0f} s)", file=sys.stderr)
    print(markdown(doc))
    return 0 if doc["summary"]["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
