#!/usr/bin/env python3
"""Peak memory of grading the whole course, with timing: what a Gradescope container must hold.

Runs ``python3 -m grader run --source solutions --format json --no-progress`` (every code
exercise, timed runs included) and samples, every ``--interval`` seconds, the memory of the
grader's whole process tree (the grader, its worker processes, the learner processes and
their sandboxes), found through /proc:

- ``rss``: the sum of every process's resident set (VmRSS). It counts a page shared by two
  processes twice, so it is an upper bound;
- ``pss``: the sum of proportional set sizes (/proc/PID/smaps_rollup, a shared page split
  between its users), close to what a memory cgroup charges; where a process's smaps cannot
  be read (another user's), its RSS stands in.

Where the command runs in a memory cgroup of its own (``--cgroup DIR`` with a v2
``memory.peak`` or v1 ``memory.max_usage_in_bytes``), that peak is recorded as well.

Gradescope's default container has 768 MB; the goal is a peak under 700 MiB.

Usage::

    python3 benchmarks/memory.py                      # writes benchmarks/memory.json
    python3 benchmarks/memory.py --jobs 4 --out /tmp/m.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MIB = 700
MIB = 1024 * 1024


def children_map() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(root: int) -> list[int]:
    tree, found, todo = children_map(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _field(path: str, name: str) -> int | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError):
        return None
    return None


def sample(root: int) -> tuple[int, int, int, dict]:
    """(rss sum, pss sum, processes, {name: rss}) of root's tree, in bytes."""
    rss_total = pss_total = n = 0
    names: dict[str, int] = {}
    for pid in descendants(root):
        rss = _field(f"/proc/{pid}/status", "VmRSS")
        if rss is None:  # gone, or a kernel thread
            continue
        pss = _field(f"/proc/{pid}/smaps_rollup", "Pss")
        rss_total += rss
        pss_total += pss if pss is not None else rss
        n += 1
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        key = " ".join(cmd.split()[:3])[:80]
        names[key] = names.get(key, 0) + rss
    return rss_total, pss_total, n, names


def cgroup_peak(folder: str | None) -> int | None:
    if not folder:
        return None
    for name in ("memory.peak", "memory.max_usage_in_bytes"):
        try:
            with open(os.path.join(folder, name), encoding="ascii") as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return None


def measure(command: list[str], interval: float, cgroup: str | None) -> dict:
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = {"rss": 0, "pss": 0, "processes": 0, "at_s": 0.0, "by_process": {}}
    most_processes = 0
    while proc.poll() is None:
        rss, pss, n, names = sample(proc.pid)
        most_processes = max(most_processes, n)
        if pss > peak["pss"]:
            peak.update(pss=pss, rss=rss, processes=n, at_s=round(time.monotonic() - started, 2),
                        by_process={k: round(v / MIB, 1) for k, v in sorted(names.items(), key=lambda kv: -kv[1])})
        peak["rss_max"] = max(peak.get("rss_max", 0), rss)
        time.sleep(interval)
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    try:
        score = json.loads(out)
        score = {"score": score.get("score"), "max_score": score.get("max_score")}
    except ValueError:
        score = {"stderr_tail": err.decode(errors="replace")[-2000:]}
    return {
        "command": command,
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "peak_pss_mib": round(peak["pss"] / MIB, 1),
        "peak_rss_sum_mib": round(peak.get("rss_max", 0) / MIB, 1),
        "peak_at_s": peak["at_s"],
        "processes_at_peak": peak["processes"],
        "most_processes": most_processes,
        "rss_by_process_at_peak_mib": peak["by_process"],
        "cgroup_peak_mib": (lambda b: None if b is None else round(b / MIB, 1))(cgroup_peak(cgroup)),
        **score,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "memory.json"))
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for grade (default: grade's own)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between samples")
    parser.add_argument("--cgroup", default=None, help="a memory cgroup folder the command runs in alone")
    args = parser.parse_args()
    command = [sys.executable, "-m", "grader", "run", "--source", "solutions", "--format", "json", "--no-progress"]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    from grader.cpus import usable_cpus  # noqa: E402 (the benchmark runs from the repository root)

    result = measure(command, args.interval, args.cgroup)
    result["goal_mib"] = GOAL_MIB
    result["within_goal"] = max(result["peak_pss_mib"], result["cgroup_peak_mib"] or 0) <= GOAL_MIB
    result["machine"] = {"cpu_count": os.cpu_count(), "usable_cpus": usable_cpus(), "python": platform.python_version(),
                         "sandbox": os.environ.get("GRADE_SANDBOX", "auto")}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"peak {result['peak_pss_mib']} MiB PSS ({result['peak_rss_sum_mib']} MiB summed RSS), "
          f"{result['processes_at_peak']} processes at the peak, {result['seconds']} s, exit {result['exit_code']} "
          f"-> {args.out}")
    return 0 if result["within_goal"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
