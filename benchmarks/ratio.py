"""What the ratio benchmarks share: interleaved pairs, medians, one JSON document, one line.

Each ratio benchmark (``vs_otter.py``, ``stubs.py``, ``watch.py``) times two things on the same
machine in one run: the grader's figure and a baseline. After one untimed warm-up of each,
every pair runs both back to back, the order swapped from one pair to the next, so that a
burst of load on a shared machine hits both alike. The ratio is the grader's median over
the baseline's median (the per-pair median ratio is given too), against a goal.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import subprocess
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent


def house():
    """benchmarks/run.py, for its helpers (the machine description, the environment)."""
    spec = importlib.util.spec_from_file_location("dlgrade_benchmarks_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(argv: list[str], *, cwd, env: dict | None = None, judge=None, expect_exit: int = 0) -> dict:
    """Run ``argv`` once, timed, and return its run record: seconds, exit code, valid, and why not.

    ``judge(proc) -> (ok, why)`` reads the finished process (stdout and stderr captured); the
    run is valid when it is ok and the exit code is ``expect_exit``.
    """
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    ok, why = judge(proc) if judge is not None else (True, "")
    record = {"seconds": round(seconds, 4), "exit_code": proc.returncode, "valid": ok and proc.returncode == expect_exit}
    if not record["valid"]:
        record["why"] = why or f"exit {proc.returncode}: {proc.stderr[-300:].decode('utf-8', 'replace')}"
    return record


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def interleaved(first: tuple[str, Callable[[], dict]], second: tuple[str, Callable[[], dict]],
                pairs: int) -> tuple[dict[str, list[dict]], list[list[str]]]:
    """Run each measurement once untimed, then ``pairs`` pairs, the order swapped each time.

    A measurement returns a dict with at least ``seconds`` and ``valid``.
    """
    names = {first[0]: first[1], second[0]: second[1]}
    for name, measure in names.items():
        warm = measure()
        log(f"warm-up {name:<10} {warm['seconds']:7.3f} s{'' if warm['valid'] else ' (not valid: ' + warm.get('why', '') + ')'}")
    order = [[first[0], second[0]] if i % 2 == 0 else [second[0], first[0]] for i in range(pairs)]
    runs: dict[str, list[dict]] = {first[0]: [], second[0]: []}
    for i, pair in enumerate(order, 1):
        for name in pair:
            run = names[name]()
            runs[name].append(run)
            log(f"pair {i}/{pairs} {name:<10} {run['seconds']:7.3f} s{'' if run['valid'] else ' (not valid: ' + run.get('why', '') + ')'}")
    return runs, order


def summarize(runs: dict[str, list[dict]], mine: str, baseline: str, goal: float) -> dict:
    """Medians, the ratio of the medians (``mine`` over ``baseline``), the per-pair median."""
    medians = {}
    for name in (mine, baseline):
        seconds = [r["seconds"] for r in runs[name]]
        medians[name] = round(statistics.median(seconds), 4) if seconds else None
    valid = all(r["valid"] for name in (mine, baseline) for r in runs[name]) and all(medians.values())
    ratio = round(medians[mine] / medians[baseline], 3) if valid else None
    pairs = [a["seconds"] / b["seconds"] for a, b in zip(runs[mine], runs[baseline]) if b["seconds"]]
    return {"mine": mine, "baseline": baseline, "median_s": medians, "ratio": ratio,
            "paired_ratio": round(statistics.median(pairs), 3) if pairs else None,
            "goal": goal, "valid": valid, "met": bool(valid and ratio is not None and ratio <= goal)}


def document(what: str, command: str, runs: dict, order: list, summary: dict, started: float, **more) -> dict:
    return {"what": what, "command": command, "machine": house().machine(), "pairs": len(order),
            "order": order, "wall_s": round(time.monotonic() - started, 1), "runs": runs,
            "summary": summary, **more}


def write(doc: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {path} ({doc['wall_s']:.0f} s)")


def line(doc: dict, label: str) -> str:
    """One Markdown line: both medians, the ratio and the goal (or why it is not measured)."""
    s = doc["summary"]
    a, b = s["median_s"][s["mine"]], s["median_s"][s["baseline"]]
    if not s["valid"]:
        why = sorted({r.get("why", "") for name in (s["mine"], s["baseline"]) for r in doc["runs"][name]
                      if not r["valid"]})
        return f"{label}: not measured ({'; '.join(why) or 'no runs'}). Goal ≤ {s['goal']:g}×."
    m = doc["machine"]
    verdict = "met" if s["met"] else "missed"
    return (f"{label}: {s['mine']} {a:.2f} s, {s['baseline']} {b:.2f} s, medians of {doc['pairs']} interleaved "
            f"pairs on {m.get('nproc', '?')} × {m.get('cpu') or 'CPU'}: **{s['ratio']:.2f}×** (per-pair median "
            f"{s['paired_ratio']:.2f}×; goal ≤ {s['goal']:g}×: {verdict}).")
