#!/usr/bin/env python3
"""A ``grade watch`` regrade after a save, against the cold ``grade`` of the same exercise.

``grade watch`` keeps one grader process for the session: its zygotes (NumPy imported
once, in the sandbox) and the examples of every check stay warm. This measures, on the
Python-loop answer to ``vectors`` of ``benchmarks/vs_otter.py``:

- *regrade*: inside one watch session (``grader.watch.Watcher``, driven by this script in
  a process of its own, as ``grade watch --no-timing`` runs it), the seconds from a save
  (the module rewritten with a new comment) to the result, the folder snapshotted, graded
  and the progress saved: ``Watcher.grade_one``, what a save triggers;
- *cold*: ``python3 -m grader run vectors --source DIR --no-timing --format json
  --no-progress``, a fresh process, start to exit (the examples kept on disk, as after any
  earlier ``grade``).

Timed runs are off on both sides (``--no-timing``): they time the learner's code against
the reference and take the same seconds warm or cold. A run counts only if it scored
every point. The goal: a regrade in at most a quarter of the cold grade (0.25×).

Usage::

    python3 benchmarks/watch.py              # 5 interleaved pairs; writes benchmarks/watch.json
    python3 benchmarks/watch.py --dry-run
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_otter  # noqa: E402  (the same Python-loop answer)
import ratio  # noqa: E402  (benchmarks/ratio.py)

HERE = ratio.HERE
ROOT = HERE.parent
GOAL = 0.25

# The watch session: one line on stdin per save; one JSON line back per regrade.
SESSION = r'''
import json, os, sys, time
from grader.course import load_course
from grader.watch import Watcher

source = sys.argv[1]
watcher = Watcher(load_course(), source, timing=False, echo=lambda *a, **k: None, start="vectors")
module = os.path.join(source, "vectors.py")
text = open(module, encoding="utf-8").read()
print(json.dumps({"ready": True}), flush=True)
for n, _ in enumerate(sys.stdin):
    with open(module, "w", encoding="utf-8") as f:   # the learner saves
        f.write(text + f"\n# save {n}\n")
    started = time.perf_counter()
    result = watcher.grade_one("vectors", "vectors.py saved")
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "score": result.score if result else None,
                      "max_score": result.max_score if result else None}), flush=True)
'''


def cold_command(source: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "run", "vectors", "--source", str(source), "--no-timing",
            "--format", "json", "--no-progress"]


class Session:
    """One watch session in a process of its own, regrading on request."""

    def __init__(self, source: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-c", SESSION, str(source)], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError("the watch session did not start")

    def regrade(self) -> dict:
        self.proc.stdin.write("save\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        ok = reply["score"] is not None and reply["score"] == reply["max_score"]
        return {"seconds": round(reply["seconds"], 4), "valid": ok,
                **({"why": f"scored {reply['score']}/{reply['max_score']}"} if not ok else {})}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def run_cold(source: Path, env: dict) -> dict:
    return ratio.timed(cold_command(source), cwd=ROOT, env=env, judge=lambda proc: vs_otter.grade_ok(proc.stdout))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="a grade watch regrade against a cold grade, as a ratio.")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "watch.json"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.dry_run:
        print(" ".join(cold_command(Path("DIR"))))
        print("grader.watch.Watcher(course, DIR, timing=False).grade_one('vectors', ...)  # after each save")
        return 0
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="dlgrade-watch-bench-"))
    watched, graded = base / "watched", base / "graded"
    for folder in (watched, graded):
        folder.mkdir()
        (folder / "vectors.py").write_text(vs_otter.LOOP_ANSWER, encoding="utf-8")
    env = ratio.house().run_env()
    env["GRADE_CACHE_DIR"] = str(base / "cache")
    session = Session(watched, env)
    try:
        runs, order = ratio.interleaved(("regrade", session.regrade), ("cold grade", lambda: run_cold(graded, env)),
                                        args.pairs)
    finally:
        session.close()
        shutil.rmtree(base, ignore_errors=True)
    summary = ratio.summarize(runs, "regrade", "cold grade", GOAL)
    doc = ratio.document("a grade watch regrade of vectors (Python-loop answer) after a save, over its cold grade",
                         "Watcher(...).grade_one('vectors') in a warm session  vs  python3 -m grader run vectors "
                         "--source DIR --no-timing --format json --no-progress", runs, order, summary, started)
    ratio.write(doc, args.out)
    print(ratio.line(doc, "Watch regrade vs cold grade"))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
