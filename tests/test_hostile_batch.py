"""``grade batch`` against a hostile class: odd folder names, links to the solutions,
formulas in the gradebook, signals, hanging submissions, and every sandbox mode.

Each attack here once worked (issue 11): a folder name that is not UTF-8 stopped the batch
and every rerun; ``exercises -> ../../solutions`` scored 246/246; a folder named
``=HYPERLINK(...)`` became a formula in the CSV; after SIGTERM or a ``--timeout`` the
learner's processes went on running; and in the uid sandbox a correct MLP scored 5/15.

The signal and timeout tests start ``grade batch`` as a real process and watch /proc: they
note every process of the batch's tree while a submission hangs, then check that none of
them outlives the batch. They poll with bounded loops, never a fixed sleep.
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
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.classroom import batch
from grader.cli import main
from grader.text import show_name
from helpers import EXERCISES, ROOT, SOLUTIONS

PYTHON = sys.executable
# A learner process: python -I -u <runner>/child.py FD FD FD (its runner folder depends on the mode).
CHILD_SCRIPT = b"child.py "
HANGING = """
def dot(a, b):
    while True:
        pass


def cross(a, b):
    while True:
        pass


def matmul(A, B):
    while True:
        pass
"""


# ----------------------------------------------------------------------------- helpers

def learner(root: Path, name: bytes, text: str, exercise: str = "vectors") -> bytes:
    """A learner folder named ``name`` (any bytes) with one module; returns its path as bytes."""
    folder = os.path.join(os.fsencode(root), name, b"exercises")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{exercise}.py".encode()), "w", encoding="utf-8") as f:
        f.write(text)
    return os.path.dirname(folder)


def solved(name: str) -> str:
    return (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8")


def stub(name: str) -> str:
    return (EXERCISES / f"{name}.py").read_text(encoding="utf-8")


def invoke(args, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args)
    finally:
        os.chdir(old)


def rows(out: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))


def twin(out: Path) -> dict:
    return json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))


def stat_of(pid: int) -> tuple[int, str, int] | None:
    """``(ppid, state, start time)`` of a process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), fields[0].decode(), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ")
    except OSError:
        return b""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def tree(root_pid: int) -> dict[int, int]:
    """``{pid: start time}`` of every descendant of ``root_pid`` (PID namespaces included:
    their processes have host ids too)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in all_pids():
        st = stat_of(pid)
        if st:
            children.setdefault(st[0], []).append((pid, st[2]))
    found, todo = {}, [root_pid]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def running(pid: int, start: int) -> bool:
    """Is the process that had this id and start time still running (not a zombie)?"""
    st = stat_of(pid)
    return st is not None and st[2] == start and st[1] not in ("Z", "X")


def survivors(seen: dict[int, int], marker: bytes) -> list[str]:
    """What is left of a submission: processes noted while it ran, and any process whose
    command line names ``marker`` (the class's unique folder)."""
    left = [f"{pid}: {cmdline(pid)[:200]!r}" for pid, start in seen.items() if running(pid, start)]
    left += [f"{pid}: {cmdline(pid)[:200]!r}" for pid in all_pids()
             if marker in cmdline(pid) and pid != os.getpid() and (stat_of(pid) or (0, "X"))[1] not in "ZX"]
    return left


def wait_until(condition, seconds: float, what: str, proc: subprocess.Popen | None = None):
    """Poll ``condition`` every 0.1 s for at most ``seconds``; fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"grade batch ended (exit code {proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.1)
    pytest.fail(f"gave up after {seconds} s waiting for {what}")


def start_batch(root: Path, out: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """``grade batch`` as a real process, in a session of its own, with SIGINT as Ctrl-C
    delivers it (a shell's background jobs start with SIGINT ignored)."""
    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    command = [PYTHON, "-m", "grader", "batch", str(root), *args, "--out", str(out), "--no-progress",
               "--no-timing", "--allow-weak-sandbox"]
    return subprocess.Popen(command, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint, env=env)


@pytest.fixture
def reaper(tmp_path):
    """Whatever a failed test leaves running is ended: the batches it started, and the
    processes that name its own temporary folder (nobody else's)."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            batch.kill_tree(proc.pid)
            proc.communicate()
    marker = os.fsencode(str(tmp_path))
    for pid in all_pids():
        if marker in cmdline(pid) and pid != os.getpid():
            batch.kill_tree(pid)


# ----------------------------------------------------------------------------- folder names

ODD_NAMES = [
    b"caf\xe9",  # Latin-1, not UTF-8: stopped the batch, and every rerun
    b"caf\xe8",  # the same slug as the one above: only the hash tells their records apart
    "café".encode(),
    b"new\nline",
    b'=HYPERLINK("evil.example","y")',  # a folder name cannot hold the / of http://
    b"--help",
    b"-rf",
    b"\x1b[31mred",
    b"L" * 250,
]


def test_a_learner_folder_with_any_name_is_graded_and_shown_safely(tmp_path):
    root = tmp_path / "class"
    for i, name in enumerate(ODD_NAMES):  # every other one right, the rest untouched stubs
        learner(root, name, solved("vectors") if i % 2 == 0 else stub("vectors"))
    out = tmp_path / "gradebook.csv"
    args = ["batch", str(root), "vectors", "--out", str(out), "--no-progress", "--no-timing", "--jobs", "2",
            "--allow-weak-sandbox"]
    result = invoke(args, tmp_path)
    assert result.exit_code == 0, result.output
    assert f"graded {len(ODD_NAMES)} submissions" in result.output

    # The CSV: one row per learner, each name printable, none a formula, scores numbers.
    table = rows(out)
    shown = {show_name(n) for n in ODD_NAMES}
    assert len(table) == len(ODD_NAMES)
    by_name = {r["learner"].removeprefix("'"): r for r in table}
    assert set(by_name) == {s.replace("\n", " ") for s in shown}
    assert by_name['=HYPERLINK("evil.example","y")']["learner"] == '\'=HYPERLINK("evil.example","y")'
    assert by_name["--help"]["learner"] == "'--help" and by_name["-rf"]["learner"] == "'-rf"
    assert by_name["caf\\xe9"]["learner"] == "caf\\xe9" and "café" in by_name
    assert by_name["\\x1b[31mred"]["learner"] == "\\x1b[31mred"  # no escape reaches a terminal
    assert not any(c in out.read_text(encoding="utf-8") for c in "\x1b\r")
    for i, name in enumerate(ODD_NAMES):
        row = by_name[show_name(name).replace("\n", " ")]
        assert (row["status"], row["total"]) == ("graded", "23" if i % 2 == 0 else "0"), name

    # The JSON twin keeps the printable name (the newline too) and can be read as strict UTF-8.
    doc = twin(out)
    assert {r["learner"] for r in doc["learners"]} == shown
    out.with_suffix(".json").read_bytes().decode("utf-8", "strict")

    # Records: one per learner, each a safe and unique file name.
    records = sorted(os.listdir(batch.state_dir(str(out))))
    assert records == sorted(f"{batch.record_key(n)}.json" for n in ODD_NAMES)
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}-[0-9a-f]{16}\.json", r) for r in records), records

    # Stable names: a rerun keeps every record (it used to stop at caf\xe9 every time).
    again = invoke(args, tmp_path)
    assert again.exit_code == 0, again.output
    assert f"{len(ODD_NAMES)} already graded, kept" in again.output
    assert rows(out) == table


def test_record_keys_are_stable_readable_and_apart():
    assert batch.record_key(b"alice") == batch.record_key(b"alice")
    assert batch.record_key(b"alice").startswith("alice-")
    assert batch.record_key(b"caf\xe9") != batch.record_key(b"caf\xe8")
    assert batch.record_key(b"../../etc").startswith("etc-")
    for raw in (b"", b"...", b"-", b"\xff" * 255, b"a/b"):
        key = batch.record_key(raw)
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{16}", key) and len(key) <= 57, key


# ----------------------------------------------------------------------------- links

def test_a_linked_submission_scores_nothing(tmp_path):
    """exercises -> ../../solutions once scored 246/246; a linked quizzes folder, every quiz."""
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    root = tmp_path / "class"
    (root / "sly").mkdir(parents=True)
    (root / "sly" / "exercises").symlink_to("../../solutions")
    learner(root, b"quinn", stub("vectors"))
    (root / "quinn" / "exercises" / "quizzes").symlink_to(tmp_path / "solutions" / "quizzes")
    learner(root, b"alice", stub("vectors"))
    (root / "mirror").symlink_to(tmp_path / "solutions")  # a learner folder that is itself a link
    out = tmp_path / "gb.csv"
    result = invoke(["batch", str(root), "vectors", "setting_up", "--out", str(out), "--no-progress",
                     "--no-timing", "--allow-weak-sandbox"], tmp_path)
    assert result.exit_code == 0, result.output
    table = {r["learner"]: r for r in rows(out)}
    assert sorted(table) == ["alice", "mirror", "quinn", "sly"]
    for name, what in (("sly", "sly/exercises"), ("quinn", "quinn/exercises/quizzes"), ("mirror", "mirror")):
        assert (table[name]["status"], table[name]["total"]) == ("error", "0"), name
        assert f"{what} is a symbolic link" in table[name]["message"], table[name]["message"]
    assert table["alice"]["status"] == "graded"


# ----------------------------------------------------------------------------- the gradebook

def test_gradebook_cells_a_spreadsheet_would_run_are_escaped_and_numbers_stay_numbers():
    def record(name, message, total):
        return {"learner": name, "status": "graded", "message": message, "total": total,
                "scores": {"vectors": total}, "report": None}

    text, _ = batch.gradebook([record('=HYPERLINK("http://x","y")', "+1", 3),
                               record("@SUM(A1)", "-2+3", 0.5),
                               record("bob", "%0A|calc\ttab", 0)], ["vectors"], {"vectors": 23})
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["learner", "total", "max", "vectors", "status", "message"]
    assert table[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "3", "23", "3", "graded", "'+1"]
    assert table[2] == ["'@SUM(A1)", "0.5", "23", "0.5", "graded", "'-2+3"]
    assert table[3] == ["bob", "0", "23", "0", "graded", "'%0A|calc\ttab"]


# ----------------------------------------------------------------------------- the sandbox

def fake_grading(calls, sandbox=None):
    def grade_submission(learner, folder, names, **_):
        calls.append(learner)
        report = {"score": 1, "max_score": 23, "exercises": [
            {"name": n, "score": 1, "max_score": 23, "status": "failed", "checks": []} for n in names]}
        if sandbox:
            report["sandbox"] = sandbox
        return {"learner": learner, "status": "graded", "message": "", "report": report}
    return grade_submission


def test_batch_refuses_to_run_learner_code_without_a_sandbox(tmp_path, monkeypatch):
    learner(tmp_path / "class", b"ann", stub("vectors"))
    calls = []
    monkeypatch.setattr(batch, "grade_submission", fake_grading(calls))
    monkeypatch.setattr(batch, "machine_sandbox", lambda torch=False: "none")
    monkeypatch.delenv("GRADE_SANDBOX", raising=False)
    out = tmp_path / "gb.csv"
    args = ["batch", str(tmp_path / "class"), "vectors", "--out", str(out), "--no-progress"]
    refused = invoke(args, tmp_path)
    assert refused.exit_code == 2 and not calls and not out.exists()
    message = refused.output.strip()
    assert "\n" not in message and message.startswith("error: ")
    for words in ("no sandbox", "apt-get install bubblewrap", "as root", "--allow-weak-sandbox"):
        assert words in message, message
    monkeypatch.setenv("GRADE_SANDBOX", "none")  # asked for: the way back is to stop asking
    forced = invoke(args, tmp_path)
    assert forced.exit_code == 2 and "Unset GRADE_SANDBOX" in forced.output and not calls

    allowed = invoke([*args, "--allow-weak-sandbox"], tmp_path)
    assert allowed.exit_code == 0, allowed.output
    assert calls == ["ann"] and "sandbox: none" in allowed.output
    doc = twin(out)
    assert doc["sandbox"] == "none" and doc["learners"][0]["sandbox"] == "none"


def test_with_a_uid_of_its_own_the_batch_refuses_files_every_user_can_read(tmp_path, monkeypatch):
    """uid mode keeps learner code from files by their permissions alone: a class folder
    that every user can read is refused, with the command that fixes it."""
    import tempfile

    from grader.runner import isolation

    shared = Path(tempfile.mkdtemp(dir="/tmp"))  # /tmp: every user can pass through it
    try:
        learner(shared / "class", b"ann", stub("vectors"))
        calls = []
        monkeypatch.setattr(batch, "grade_submission", fake_grading(calls))
        monkeypatch.setattr(batch, "machine_sandbox", lambda torch=False: "uid")
        monkeypatch.setattr(isolation, "GRADER_DIR", str(tmp_path))  # only the class folder is in question
        os.chmod(shared, 0o755)
        os.chmod(shared / "class", 0o755)
        args = ["batch", str(shared / "class"), "vectors", "--out", str(tmp_path / "gb.csv"), "--no-progress"]
        refused = invoke(args, tmp_path)
        assert refused.exit_code == 2 and not calls, refused.output
        assert "chmod -R o-rwx" in refused.output and str(shared / "class") in refused.output
        os.chmod(shared / "class", 0o700)  # locked away: graded
        graded = invoke(args, tmp_path)
        assert graded.exit_code == 0 and calls == ["ann"], graded.output
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_each_record_carries_the_sandbox_its_report_names(tmp_path, monkeypatch):
    learner(tmp_path / "class", b"ann", stub("vectors"))
    monkeypatch.setattr(batch, "grade_submission", fake_grading([], sandbox="namespaces"))
    monkeypatch.setattr(batch, "machine_sandbox", lambda torch=False: "namespaces")
    out = tmp_path / "gb.csv"
    result = invoke(["batch", str(tmp_path / "class"), "vectors", "--out", str(out), "--no-progress"], tmp_path)
    assert result.exit_code == 0, result.output
    record = json.loads(Path(batch.record_path(str(out), b"ann")).read_text(encoding="utf-8"))
    assert record["sandbox"] == "namespaces" and twin(out)["sandbox"] == "namespaces"
    # A record made under another sandbox is not kept: the grade is not the same grade.
    monkeypatch.setattr(batch, "machine_sandbox", lambda torch=False: "uid")
    monkeypatch.setattr("grader.runner.isolation.uid_exposed", lambda extra=(): [])  # files locked away
    monkeypatch.setattr(batch, "grade_submission", fake_grading([], sandbox="uid"))
    again = invoke(["batch", str(tmp_path / "class"), "vectors", "--out", str(out), "--no-progress"], tmp_path)
    assert "graded 1 submission " in again.output and twin(out)["sandbox"] == "uid"


def mode_unavailable(mode: str) -> str | None:
    """Why this machine cannot run the ``mode`` sandbox (None when it can): namespaces where
    bubblewrap works, uid as root with a Python every user may read, none always."""
    if mode == "namespaces":
        if not shutil.which("bwrap"):
            return "bubblewrap (bwrap) is not installed"
        probe = subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                               capture_output=True)
        return None if probe.returncode == 0 else "bubblewrap cannot create namespaces here"
    if mode == "uid":
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return "the tests do not run as root"
        from grader.runner import sandbox

        old = os.environ.get("GRADE_SANDBOX")
        os.environ["GRADE_SANDBOX"] = "uid"
        try:
            sandbox.sandbox_mode(torch=True)
        except Exception as e:  # noqa: BLE001 - the sandbox says why (e.g. Python in a private folder)
            return str(e)
        finally:
            if old is None:
                os.environ.pop("GRADE_SANDBOX", None)
            else:
                os.environ["GRADE_SANDBOX"] = old
    return None


@pytest.mark.parametrize("mode", ["namespaces", "uid", "none"])
def test_a_correct_mlp_scores_full_in_every_sandbox_mode(mode, tmp_path):
    """In the uid mode a correct MLP once scored 5/15 for everyone ("No usable temporary
    directory": the batch handed it a TMPDIR inside a 0700 folder)."""
    why_not = mode_unavailable(mode)
    if why_not:
        pytest.skip(f"this machine does not offer the {mode} sandbox: {why_not}")
    root = tmp_path / "class"
    learner(root, b"ann", solved("mlp"), exercise="mlp")
    out = tmp_path / "gb.csv"
    env = {**os.environ, "GRADE_SANDBOX": mode}
    weak = ["--allow-weak-sandbox"] if mode == "none" else []
    done = subprocess.run([PYTHON, "-m", "grader", "batch", str(root), "mlp", "--out", str(out), "--no-progress",
                           "--no-timing", *weak], cwd=str(ROOT), env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = rows(out)
    assert row["status"] == "graded" and row["mlp"] == row["total"] == row["max"] and float(row["max"]) > 0, \
        (row, twin(out)["learners"][0]["report"])  # every point, whatever the course makes them
    assert twin(out)["sandbox"] == mode and twin(out)["learners"][0]["sandbox"] == mode


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not os.path.exists("/bin/sh"),
                    reason="needs root, to run a probe under a uid of its own")
def test_a_learner_uid_can_reach_its_own_folder_in_the_batch_workspace():
    """The batch's per-submission workspace must not stop a learner process that runs under
    a fresh uid from reaching the folder the grader makes for it (the MLP's 5/15)."""
    import random
    import stat

    cwd, tmp = batch._workspace()
    try:
        for folder in (cwd, tmp):
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o711, folder  # pass through; no listing, no writing
        mine = os.path.join(tmp, "grade-mlp-x")
        os.mkdir(mine, 0o700)
        uid = random.SystemRandom().randrange(1_900_000_000, 2_000_000_000)
        os.chown(mine, uid, uid)
        probe = subprocess.run(["/bin/sh", "-c", 'echo ok > "$1/probe" && ls "$2"', "sh", mine, tmp],
                               user=uid, group=uid, extra_groups=[], capture_output=True, text=True)
        assert os.path.exists(os.path.join(mine, "probe")), probe.stderr  # its own folder: usable
        assert probe.returncode != 0  # the workspace itself: not listable
    finally:
        shutil.rmtree(cwd)


# ----------------------------------------------------------------------------- signals and timeouts

@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_every_child_and_keeps_what_finished(signum, code, tmp_path, reaper):
    root = tmp_path / "class"
    learner(root, b"alice", solved("vectors"))
    learner(root, b"dave", HANGING)
    out = tmp_path / "gb.csv"
    proc = start_batch(root, out, "vectors", "--jobs", "2", "--timeout", "300")
    reaper.append(proc)
    records = Path(batch.state_dir(str(out)))
    wait_until(lambda: list(records.glob("alice-*.json")), 120, "alice's record", proc)
    # alice is done, so every learner process left in the batch's tree is dave's.
    seen = {}

    def daves_code_runs():
        seen.update(tree(proc.pid))
        return any(CHILD_SCRIPT in cmdline(pid) for pid in tree(proc.pid))

    wait_until(daves_code_runs, 60, "dave's learner process", proc)
    seen.update(tree(proc.pid))

    sent = time.monotonic()
    os.kill(proc.pid, signum)
    out_text, err_text = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == code, (proc.returncode, out_text, err_text)
    assert took < 10, f"grade batch took {took:.1f} s to stop"
    assert len(err_text.strip().splitlines()) == 1, err_text
    assert signal.Signals(signum).name in err_text and "run the same command again" in err_text

    marker = os.fsencode(str(root))
    wait_until(lambda: not survivors(seen, marker), 5, "the submission's processes to end")

    table = {r["learner"]: r for r in rows(out)}
    assert list(table) == ["alice"] and (table["alice"]["status"], table["alice"]["total"]) == ("graded", "23")
    assert [r["learner"] for r in twin(out)["learners"]] == ["alice"]
    assert not list(records.glob("dave-*.json"))  # dave is graded by the rerun


def test_a_timed_out_submission_leaves_no_process_behind(tmp_path, reaper):
    root = tmp_path / "class"
    learner(root, b"dave", HANGING)
    out = tmp_path / "gb.csv"
    proc = start_batch(root, out, "vectors", "--timeout", "5")
    reaper.append(proc)
    seen: dict[int, int] = {}
    learner_processes = set()
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:  # note every process the batch starts
        now = tree(proc.pid)
        seen.update(now)
        learner_processes |= {pid for pid in now if CHILD_SCRIPT in cmdline(pid)}
        time.sleep(0.05)
    out_text, err_text = proc.communicate(timeout=30)
    assert proc.returncode == 0, out_text + err_text
    assert learner_processes, "dave's learner process was never seen running"
    wait_until(lambda: not survivors(seen, os.fsencode(str(root))), 5, "dave's processes to end")
    (row,) = rows(out)
    assert (row["learner"], row["status"], row["total"]) == ("dave", "timeout", "0")


# ----------------------------------------------------------------------------- one zygote for the batch

A_HOSTILE_CLASSMATE = '''

import os as _os
import signal as _signal


def dot(a, b):
    """Leaves files and a variable for the next learner, signals every process it can see
    (the zygote is not among them), reads a classmate's module and the solutions."""
    for folder in ("/tmp", "/work", "/dev/shm"):
        try:
            with open(folder + "/left-by-a", "w") as f:
                f.write("a")
        except OSError:
            pass
    _os.environ["LEFT_BY_A"] = "a"
    for pid in range(1, 4096):
        if pid != _os.getpid():
            try:
                _os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
    for path in ("__CLASS__/b_next/exercises/vectors.py", "__REPO__/solutions/vectors.py"):
        try:
            with open(path) as f:
                f.read()
        except OSError:
            pass
    _os.kill(-1, _signal.SIGKILL)
    return float(a @ b)
'''
NEXT_LEARNER = '''

import os as _os

for _folder in ("/tmp", "/work", "/dev/shm"):  # nothing of the learner graded before
    if _os.path.exists(_folder + "/left-by-a"):
        raise RuntimeError("a classmate's file is here: " + _folder)
if "LEFT_BY_A" in _os.environ:
    raise RuntimeError("a classmate's variable is here")
'''


@pytest.mark.skipif(mode_unavailable("namespaces") is not None or not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="learner processes are forked by a zygote only in namespaces mode as root")
def test_a_batch_starts_one_zygote_that_a_hostile_learner_cannot_reach(tmp_path, reaper):
    """grade batch starts the zygote once and every grade run forks through it (counted in
    $GRADE_WARM_LOG, not timed); a learner graded first, who attacks classmates, the
    solutions and every process it can see, changes nothing for the learners after it; and
    every record is the one a cold batch (GRADE_WARM=0) makes."""
    root = tmp_path / "class"
    hostile = solved("vectors") + A_HOSTILE_CLASSMATE.replace("__CLASS__", str(root)).replace("__REPO__", str(ROOT))
    learner(root, b"a_hostile", hostile)
    for name in (b"b_next", b"c_next"):
        learner(root, name, solved("vectors") + NEXT_LEARNER)
    log = tmp_path / "warm.log"
    reports = {}
    for kind, extra in (("warm", {"GRADE_WARM_LOG": str(log)}), ("cold", {"GRADE_WARM": "0"})):
        out = tmp_path / f"{kind}.csv"
        proc = start_batch(root, out, "vectors", "--jobs", "1", env={**os.environ, **extra})
        reaper.append(proc)
        out_text, err_text = proc.communicate(timeout=600)
        assert proc.returncode == 0, out_text + err_text
        table = {r["learner"]: r for r in rows(out)}
        assert [table[n]["status"] for n in ("a_hostile", "b_next", "c_next")] == ["graded"] * 3, table
        for name in ("b_next", "c_next"):
            assert table[name]["total"] == table[name]["max"] != "0", (kind, table[name])
        messages = [c["message"] for e in twin(out)["learners"][0]["report"]["exercises"] for c in e["checks"]]
        assert table["a_hostile"]["total"] == "0" and any("b_next" in m and "off limits" in m for m in messages), \
            messages[:1]
        reports[kind] = {r["learner"]: r["report"] for r in twin(out)["learners"]}
        if kind == "warm":
            lines = [json.loads(line) for line in log.read_text().splitlines()]
            starts = [line for line in lines if line["event"] == "start"]
            assert [(s["framework"], s["pid"]) for s in starts] == [("numpy", proc.pid)], \
                f"one zygote, started by the batch: {starts}"
            forks = [line for line in lines if line["event"] == "fork"]
            assert len(forks) >= 3 and all(f["inherited"] and f["pid"] != proc.pid for f in forks), lines
    assert reports["warm"] == reports["cold"]
