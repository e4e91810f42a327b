"""``grade batch DIR --out gradebook.csv``: grade a whole class into a gradebook.

Every sub-folder of DIR is one learner's repository, laid out like the class repository
(``DIR/<learner>/exercises/*.py``). Each is graded by its own ``python -m grader run
--source DIR/<learner>/exercises --format json`` process, started from an empty
temporary folder with the teacher's Python (so a ``grader/`` folder inside a submission
is never imported), under a wall-clock timeout; on timeout the process and everything it
started (learner processes included) are killed. A broken, hanging or hostile submission
therefore costs at most its own timeout and never another learner's grade.

Results are saved as each submission finishes: ``.grade-batch/<gradebook>/<learner>.json``
next to the gradebook, then the gradebook (CSV) and its JSON twin are rebuilt, each
written atomically. A rerun skips learners whose record is there and was made for the
same exercises and seed (``--force`` regrades them; those that could not be graded at
all are tried again), so an interrupted batch loses only the submissions that were being
graded. ``--shard K/N`` grades the K-th of N disjoint
slices of the sorted learner names (name i goes to slice i % N + 1); ``grade merge``
joins the slices' JSON gradebooks.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..results import _num
from ..atomic import write_atomic, write_json_atomic

GRADED, TIMEOUT, ERROR = "graded", "timeout", "error"
STATE_DIR = ".grade-batch"
VERSION = 1
TWIN_EVERY = 30.0  # seconds between rewrites of the JSON gradebook during a batch


class BatchError(Exception):
    """A set-up problem (no such folder, bad shard...): one paragraph, exit code 2."""


# ----------------------------------------------------------------------------- submissions and shards

def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise BatchError(f"--shard {text}: write K/N with 1 ≤ K ≤ N, e.g. --shard 2/4 for the second of "
                         f"four slices.")
    return int(m.group(1)), int(m.group(2))


def learners(root: str) -> list[str]:
    """The learner folders of ``root``, sorted (hidden folders are not learners)."""
    if not os.path.isdir(root):
        raise BatchError(f"{root}: no such folder. Give the folder that holds one sub-folder per learner.")
    return sorted(n for n in os.listdir(root)
                  if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))


def shard_of(names: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The K-th of N disjoint slices of the sorted names: name i goes to slice i % N + 1."""
    names = sorted(names)
    if shard is None:
        return names
    k, n = shard
    return [name for i, name in enumerate(names) if i % n == k - 1]


# ----------------------------------------------------------------------------- paths

def twin_paths(out: str) -> tuple[str, str]:
    """``(csv, json)`` paths of a gradebook named by ``--out``."""
    base, ext = os.path.splitext(os.path.abspath(out))
    if ext.lower() == ".json":
        raise BatchError(f"--out {out}: name the CSV gradebook (e.g. gradebook.csv); its JSON twin "
                         f"{os.path.basename(base)}.json is written next to it.")
    return base + (ext or ".csv"), base + ".json"


def state_dir(out: str) -> str:
    csv_path, _ = twin_paths(out)
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    return os.path.join(os.path.dirname(csv_path), STATE_DIR, stem)


def record_path(out: str, learner: str) -> str:
    return os.path.join(state_dir(out), f"{learner}.json")


# ----------------------------------------------------------------------------- grading one submission

def _proc_table() -> dict[int, list[tuple[int, int]]]:
    """``{ppid: [(pid, pgid)]}`` from /proc (empty where there is no /proc)."""
    table: dict[int, list[tuple[int, int]]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            table.setdefault(int(fields[1]), []).append((int(entry), int(fields[2])))
        except (OSError, IndexError, ValueError):
            continue
    return table


def kill_tree(pid: int) -> None:
    """Kill a grading process, its process group, and every process it started.

    The learner processes run in sessions of their own, so killing the grader's group is
    not enough: the grader's group is frozen first (so it starts nothing new), the tree
    of descendants is read from /proc, and each of their groups is killed.
    """
    own = os.getpgid(0)
    try:
        os.killpg(pid, signal.SIGSTOP)
    except (ProcessLookupError, PermissionError):
        pass
    table = _proc_table()
    seen, todo, groups = set(), [pid], set()
    while todo:
        p = todo.pop()
        for child, pgid in table.get(p, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
                groups.add(pgid)
    for pgid in groups - {own}:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in seen:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if pid != own:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


_running: dict[int, subprocess.Popen] = {}
_running_lock = threading.Lock()
_stopping = threading.Event()


def kill_running() -> None:
    """Kill every submission still being graded, and start no more (an interrupted batch)."""
    _stopping.set()
    with _running_lock:
        procs = list(_running.values())
    for proc in procs:
        if proc.poll() is None:
            kill_tree(proc.pid)


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _child_env(tmp: str) -> dict:
    env = dict(os.environ)
    # Everything the grader and the learner processes create in temp goes in the submission's
    # own folder, removed afterwards, even when a timeout left no time for them to clean up.
    env["TMPDIR"] = tmp
    env.pop("GITHUB_OUTPUT", None)
    # Quiz numbers come from the answers file's `student`, never from the teacher's git e-mail.
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _first_paragraph(text: str, limit: int = 400) -> str:
    text = " ".join(text.strip().split())
    text = re.sub(r"^error:\s*", "", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _grade_run(names: list[str], source: str, *, timeout: float, seed: int | None, jobs: int,
               options: tuple) -> tuple[str, dict | None, str, int]:
    """One ``grade run`` process: ``(status, report, message, exit code)``."""
    command = [sys.executable, "-m", "grader", "run", *names, "--source", source, "--format", "json",
               "--no-progress", "--jobs", str(max(1, jobs)), *options]
    if seed is not None:
        command += ["--seed", str(seed)]
    cwd = tempfile.mkdtemp(prefix="grade-batch-")
    tmp = os.path.join(cwd, "tmp")
    os.mkdir(tmp)
    try:
        with _running_lock:
            if _stopping.is_set():
                return ERROR, None, "the batch was interrupted before this submission was graded", -1
            proc = subprocess.Popen(command, cwd=cwd, env=_child_env(tmp), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            _running[proc.pid] = proc
        try:
            out, err = proc.communicate(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.communicate()
            return TIMEOUT, None, "", -1
        finally:
            with _running_lock:
                _running.pop(proc.pid, None)
    finally:
        _remove(cwd)
    text_err = err.decode("utf-8", "replace")
    if proc.returncode in (0, 1):
        try:
            report = json.loads(out.decode("utf-8"))
            if not isinstance(report, dict) or not isinstance(report.get("exercises"), list):
                raise ValueError("not a report")
        except ValueError:
            return ERROR, None, ("the grader's output could not be read: "
                                 + _first_paragraph(text_err or repr(out[:200]))), proc.returncode
        return GRADED, report, "", proc.returncode
    if proc.returncode == 2:
        return ERROR, None, _first_paragraph(text_err) or "the grader stopped with a set-up error", 2
    return ERROR, None, (f"the grader stopped with exit code {proc.returncode}: "
                         f"{_first_paragraph(text_err[-2000:])}"), proc.returncode


def grade_submission(learner: str, folder: str, names: list[str], *, timeout: float, seed: int | None,
                     jobs: int = 1, options: tuple = ()) -> dict:
    """Grade one learner's repository in a child ``grade`` process; a record for the gradebook.

    A set-up error that belongs to one part of a submission (a quiz answers file that cannot
    be read) must not cost the learner the rest: then each exercise and quiz is graded on
    its own, within what is left of the timeout, and the broken ones score 0.
    """
    started = time.monotonic()
    record = {"learner": learner, "status": ERROR, "message": "", "report": None}
    source = os.path.join(os.path.abspath(folder), "exercises")
    try:
        if not os.path.isdir(source):
            record["message"] = (f"no exercises folder in {folder}: a submission is laid out like the class "
                                 f"repository ({learner}/exercises/<exercise>.py)")
            return record
        run = dict(seed=seed, jobs=jobs, options=options)
        status, report, message, code = _grade_run(names, source, timeout=timeout, **run)
        if code == 2 and len(names) > 1:
            status, report, message = _grade_each(names, source, started + timeout, **run)
        if status == TIMEOUT:
            message = f"grading took longer than {timeout:g} s and was stopped (a hanging or very slow function?)"
        record.update(status=status, report=report, message=message)
        return record
    finally:
        record["seconds"] = round(time.monotonic() - started, 3)


def _grade_each(names, source, deadline, **run):
    exercises, problems = [], []
    for name in names:
        status, report, message, _ = _grade_run([name], source, timeout=deadline - time.monotonic(), **run)
        if status == TIMEOUT:
            return TIMEOUT, None, ""
        if report is not None:
            exercises += report["exercises"]
        else:
            problems.append(f"{name}: {message}")
    if not exercises:
        return ERROR, None, " ".join(problems)
    score = sum(e.get("score", 0) for e in exercises)
    maximum = sum(e.get("max_score", 0) for e in exercises)
    return GRADED, {"score": _num(score), "max_score": _num(maximum), "exercises": exercises}, " ".join(problems)


# ----------------------------------------------------------------------------- gradebooks

def max_scores(course, names: list[str], timing: bool = True) -> dict[str, float]:
    """What each exercise or quiz is worth, from the course file (timed runs included when
    ``timing``). The reports of graded submissions have the last word (see :func:`gradebook`)."""
    scores = {}
    for name in names:
        if name in course.names():
            exercise = course.get(name)
            timed = sum(t.points for t in exercise.timing_specs()) if timing and hasattr(exercise, "timing_specs") else 0
            scores[name] = _num(exercise.max_score + timed)
        else:
            try:
                from ..quiz import get_quiz

                scores[name] = _num(sum(q.points for q in get_quiz(name).questions))
            except Exception:
                scores[name] = 0
    return scores


def _exercises_of(record: dict) -> dict:
    report = record.get("report") or {}
    return {e.get("name"): e for e in report.get("exercises", []) if isinstance(e, dict)}


def finish_record(record: dict, names: list[str], maxima: dict, config: dict) -> dict:
    """Fill in the gradebook columns of a record from its report."""
    by_name = _exercises_of(record)
    record["scores"] = {n: _num(by_name[n].get("score", 0)) if n in by_name else 0 for n in names}
    record["statuses"] = {n: by_name[n].get("status", "") if n in by_name else record["status"] for n in names}
    record["total"] = _num(sum(record["scores"].values()))
    record["max"] = _num(sum(maxima.get(n, 0) for n in names))
    record["config"] = config
    return record


def gradebook(records: list[dict], names: list[str], maxima: dict) -> tuple[str, dict]:
    """The CSV text and the JSON document of a gradebook.

    An exercise's maximum is what the graded reports say it is (they know, e.g., whether
    timed runs counted); the course file's figure stands in when no report has it.
    """
    maxima = dict(maxima)
    for r in records:
        for name, e in _exercises_of(r).items():
            if name in names and isinstance(e.get("max_score"), (int, float)):
                maxima[name] = _num(e["max_score"])
    records = sorted(records, key=lambda r: r["learner"])
    for r in records:
        r["max"] = _num(sum(maxima.get(n, 0) for n in names))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["learner", "total", "max", *names, "status", "message"])
    for r in records:
        writer.writerow([r["learner"], r["total"], r["max"], *[r["scores"].get(n, 0) for n in names],
                         r["status"], r.get("message", "")])
    document = {"version": VERSION, "exercises": names, "max_scores": maxima,
                "max": _num(sum(maxima.get(n, 0) for n in names)), "learners": records}
    return buf.getvalue(), document


def write_gradebook(out: str, records: list[dict], names: list[str], maxima: dict, *, twin: bool = True) -> None:
    """Write the CSV (and, with ``twin``, the JSON twin, which holds every report and can be large)."""
    csv_path, json_path = twin_paths(out)
    text, document = gradebook(records, names, maxima)
    if twin:
        write_json_atomic(json_path, document)
    write_atomic(csv_path, text)


def load_record(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) and "learner" in record else None
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- the batch

def run_batch(root: str, out: str, names: list[str], course, *, jobs: int = 1, force: bool = False,
              shard: tuple[int, int] | None = None, timeout: float = 600.0, seed: int | None = None,
              options: tuple = (), on_start=None, on_done=None) -> dict:
    """Grade the (slice of the) class; returns counts and timings for the summary.

    ``options`` are passed on to each ``grade run`` (e.g. ``("--no-timing",)``).
    """
    twin_paths(out)  # validates --out
    everyone = learners(root)
    mine = shard_of(everyone, shard)
    maxima = max_scores(course, names, timing="--no-timing" not in options)
    config = {"exercises": names, "seed": seed, "options": list(options)}
    folder = state_dir(out)
    os.makedirs(folder, exist_ok=True)

    records: dict[str, dict] = {}
    todo = []
    for name in mine:
        old = None if force else load_record(record_path(out, name))
        # Kept: graded and timed-out submissions. Errors (no exercises folder, a grader that
        # could not run) are cheap to try again and often fixed by then.
        if old is not None and old.get("config") == config and old.get("status") != ERROR:
            records[name] = old
        else:
            todo.append(name)
    skipped = len(records)
    if on_start:
        on_start(len(todo))
    # Cores left over when there are fewer submissions than workers go to each grade process.
    inner_jobs = max(1, (os.cpu_count() or 1) // max(1, min(jobs, len(todo))))
    started = time.monotonic()
    counts = {GRADED: 0, TIMEOUT: 0, ERROR: 0}
    write_gradebook(out, list(records.values()), names, maxima)

    twin_written = [time.monotonic()]

    def save(record):
        # The learner's record is what a rerun trusts; the CSV follows at once, the JSON twin
        # (every report in one file) at most every TWIN_EVERY seconds and at the end.
        record = finish_record(record, names, maxima, config)
        write_json_atomic(record_path(out, record["learner"]), record)
        records[record["learner"]] = record
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        twin = time.monotonic() - twin_written[0] >= TWIN_EVERY
        write_gradebook(out, list(records.values()), names, maxima, twin=twin)
        if twin:
            twin_written[0] = time.monotonic()
        if on_done:
            on_done(record)

    _stopping.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    pending: set = set()
    try:
        pending = {pool.submit(grade_submission, name, os.path.join(root, name), names, timeout=timeout,
                               seed=seed, jobs=inner_jobs, options=options) for name in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            failed = [f for f in done if f.exception() is not None]
            for future in done:  # what finished is saved first, even if another one failed
                if future not in failed:
                    save(future.result())
            if failed:
                raise failed[0].exception()
    except BaseException:  # Ctrl-C, or a record that could not be saved: stop everything now
        for future in pending:
            future.cancel()
        kill_running()
        pool.shutdown(wait=True, cancel_futures=True)
        try:  # what was graded stays in the gradebook too
            write_gradebook(out, list(records.values()), names, maxima)
        except Exception:
            pass
        raise
    pool.shutdown(wait=True)
    write_gradebook(out, list(records.values()), names, maxima)
    elapsed = time.monotonic() - started
    return {"graded": len(todo), "skipped": skipped, "counts": counts, "seconds": elapsed,
            "learners": len(mine), "class_size": len(everyone), "paths": twin_paths(out)}
