"""``grade batch --cluster``: a class graded on a Dask LocalCluster of two worker processes.

Real submissions are graded by real ``grade run`` processes on the workers; one worker is
killed with SIGKILL in the middle of a batch, and every learner must still have exactly
one record. Skipped where Dask's distributed scheduler is not installed, except the test
of the error that then says how to install it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.classroom import batch
from grader.cli import main
from helpers import EXERCISES, ROOT, SOLUTIONS, course


def invoke(args):
    return CliRunner().invoke(main, args)


def rows(out):
    return list(csv.DictReader(io.StringIO(Path(out).read_text(encoding="utf-8"))))


def learner(root: Path, name: str, text: str | None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    if text is not None:
        (folder / "exercises").mkdir()
        (folder / "exercises" / "vectors.py").write_text(text, encoding="utf-8")


def solved() -> str:
    return (SOLUTIONS / "vectors.py").read_text(encoding="utf-8")


def slow() -> str:
    """Right, but the first call of dot sleeps 3 s: long enough to lose its worker meanwhile."""
    return solved().replace("def dot(a, b):", "import time as _time\n_slept = []\n\n\ndef dot(a, b):\n"
                            "    if not _slept:\n        _slept.append(1)\n        _time.sleep(3)", 1)


# Every function hangs: each call is stopped at the course's call timeout (10 s), so grading
# this takes over 30 s and only the batch's own --timeout (20 s) ends it early, with
# status "timeout". 20 s leaves a solved submission room on a loaded machine.
HANGING = "import time\n\n" + "".join(f"def {f}(a, b):\n    time.sleep(120)\n\n" for f in ("dot", "cross", "matmul"))


# ----------------------------------------------------------------------------- without Dask

def test_without_dask_cluster_says_how_to_install_it(tmp_path, monkeypatch):
    learner(tmp_path / "class", "ann", solved())
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    result = invoke(["batch", str(tmp_path / "class"), "vectors", "--out", str(tmp_path / "gb.csv"),
                     "--cluster", "local", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert 'pip install "dlgrade[cluster]"' in result.output
    assert len(result.output.strip().splitlines()) == 1  # one paragraph
    assert not (tmp_path / "gb.csv").exists()


def test_the_single_machine_batch_imports_nothing_from_dask(tmp_path):
    (tmp_path / "class" / "eve").mkdir(parents=True)  # no exercises folder: no grade process to wait for
    code = ("import sys\nfrom click.testing import CliRunner\nfrom grader.cli import main\n"
            f"r = CliRunner().invoke(main, ['batch', {str(tmp_path / 'class')!r}, 'vectors', '--out', "
            f"{str(tmp_path / 'gb.csv')!r}, '--no-progress', '--allow-weak-sandbox'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert rows(tmp_path / "gb.csv")[0]["learner"] == "eve"


# ----------------------------------------------------------------------------- on a LocalCluster

@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def test_a_worker_killed_mid_batch_loses_nobody_and_grades_nobody_twice(local_cluster, tmp_path):
    from grader.classroom.cluster import ClusterGrader

    cluster, client = local_cluster
    root = tmp_path / "class"
    learner(root, "alice", solved())
    learner(root, "bob", (EXERCISES / "vectors.py").read_text(encoding="utf-8"))
    learner(root, "carol", solved())
    learner(root, "eve", None)  # no exercises folder: an error record, made in the batch process
    learner(root, "slow", slow())
    out = tmp_path / "gb.csv"
    saved: list[str] = []
    lines: list[str] = []
    result: dict = {}
    grader = ClusterGrader(cluster.scheduler_address, echo=lines.append)

    def run():
        try:
            result["summary"] = batch.run_batch(str(root), str(out), ["vectors"], course(), options=("--no-timing",),
                                                timeout=120, allow_weak_sandbox=True, cluster=grader,
                                                on_done=lambda r: saved.append(r["learner"]))
        except BaseException as e:  # noqa: BLE001
            result["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    try:
        slow_key = f"grade-{batch.record_key(b'slow')}-"
        victim = None
        deadline = time.monotonic() + 90
        while victim is None and time.monotonic() < deadline and thread.is_alive():
            for worker, keys in client.processing().items():
                if any(str(k).startswith(slow_key) for k in keys):
                    victim = worker
            time.sleep(0.1)
        assert victim is not None, "slow's task was never seen running"
        time.sleep(1.0)  # its grade run (and dot's sleep) under way
        pids = client.run(os.getpid)
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(180)
    finally:
        grader.close()
    assert not thread.is_alive() and "error" not in result, result.get("error")
    everyone = ["alice", "bob", "carol", "eve", "slow"]
    assert sorted(saved) == everyone  # each saved exactly once
    table = {r["learner"]: r for r in rows(out)}
    assert sorted(table) == everyone
    assert [(table[n]["status"], table[n]["total"]) for n in everyone] == [
        ("graded", "23"), ("graded", "0"), ("graded", "23"), ("error", "0"), ("graded", "23")]
    records = sorted(p.name for p in Path(batch.state_dir(str(out))).glob("*.json"))
    assert records == sorted(f"{batch.record_key(n.encode())}.json" for n in everyone)
    twin = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    by_name = {r["learner"]: r for r in twin["learners"]}
    assert by_name["slow"]["worker"] != victim  # graded again, elsewhere
    assert by_name["slow"]["worker_sandbox"] == by_name["slow"]["sandbox"]
    assert result["summary"]["graded"] == 5
    assert any("dashboard: http" in line for line in lines)


def test_cluster_cli_secret_seed_timeout_and_progress(local_cluster, tmp_path):
    cluster, _ = local_cluster
    root = tmp_path / "class"
    learner(root, "alice", solved())
    learner(root, "dave", HANGING)
    secret = tmp_path / "secret.txt"
    secret.write_text("a secret only the teacher knows, long enough to be one\n")
    out = tmp_path / "gb.csv"
    started = time.monotonic()
    result = invoke(["batch", str(root), "vectors", "--out", str(out), "--no-progress", "--no-timing",
                     "--allow-weak-sandbox", "--timeout", "20", "--secret-seed-file", str(secret),
                     "--cluster", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 120  # dave's status below shows that --timeout ended him
    assert "dashboard: http" in result.output and "[2/2]" in result.output
    assert "graded 2 submissions" in result.output and "1 timed out" in result.output
    table = {r["learner"]: r for r in rows(out)}
    assert (table["alice"]["total"], table["dave"]["status"]) == ("23", "timeout")
    twin = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    alice = next(r for r in twin["learners"] if r["learner"] == "alice")
    assert alice["report"]["seed"] == "secret" and alice["config"]["secret_seed"] is True
    assert "a secret only" not in json.dumps(twin)
    # A rerun keeps both records (graded and timed out), as a local batch does.
    again = invoke(["batch", str(root), "vectors", "--out", str(out), "--no-progress", "--no-timing",
                    "--allow-weak-sandbox", "--timeout", "20", "--secret-seed-file", str(secret),
                    "--cluster", cluster.scheduler_address])
    assert again.exit_code == 0 and "2 already graded, kept" in again.output, again.output


def test_a_record_from_a_worker_without_a_sandbox_is_refused():
    pytest.importorskip("distributed")
    from grader.classroom.cluster import ClusterGrader, _unpack

    grader = ClusterGrader.__new__(ClusterGrader)
    grader.allow_weak = False
    record = {"learner": "ann", "status": "graded", "report": {"score": 23, "exercises": []}, "message": "",
              "worker": "tcp://10.0.0.9:40000", "worker_sandbox": "none"}
    checked = grader._checked(dict(record), {"note": ""})
    assert checked["status"] == "error" and checked["report"] is None and "without a sandbox" in checked["message"]
    grader.allow_weak = True
    assert grader._checked(dict(record), {"note": ""})["status"] == "graded"
    for bad in ("../x.py", "/etc/x", "a/../../x", ""):
        with pytest.raises(ValueError):
            _unpack({bad: b""}, "/nonexistent")


def test_a_uid_worker_refuses_while_every_user_can_read_what_learners_must_not(monkeypatch):
    """As in a local batch, a worker whose learner code would get only a uid of its own
    refuses while the solutions, the grader or its folder are readable by every user."""
    pytest.importorskip("distributed")
    from grader.classroom import cluster
    from grader.runner import isolation

    monkeypatch.setattr(cluster, "worker_sandbox", lambda torch=False: "uid")
    monkeypatch.setattr(isolation, "uid_exposed", lambda extra=(): ["/srv/course/solutions"])
    graded = []
    monkeypatch.setattr(cluster.batch, "grade_submission", lambda *a, **k: graded.append(a) or {})
    task = {"learner": "ann", "files": {}, "names": ["vectors"], "timeout": 10, "seed": None, "options": []}
    record = cluster.grade_packed(task)
    assert record["status"] == "error" and not graded
    assert "chmod -R o-rwx" in record["message"] and "/srv/course/solutions" in record["message"]


def test_ctrl_c_stops_a_cluster_batch_and_keeps_what_finished(tmp_path):
    pytest.importorskip("distributed")
    root = tmp_path / "class"
    learner(root, "alice", solved())
    learner(root, "dave", HANGING)
    out = tmp_path / "gb.csv"

    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(root), "vectors", "--out", str(out),
                             "--no-progress", "--no-timing", "--allow-weak-sandbox", "--timeout", "300",
                             "--cluster", "local", "--jobs", "2"], cwd=str(ROOT), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)
    try:
        records = Path(batch.state_dir(str(out)))
        deadline = time.monotonic() + 90
        while not list(records.glob("alice-*.json")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert list(records.glob("alice-*.json")), "alice's record never came"
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        out_text, err_text = proc.communicate(timeout=60)
        assert proc.returncode == 130, (out_text, err_text)
        assert time.monotonic() - sent < 30
        assert "SIGINT" in err_text and "run the same command again" in err_text
        assert [r["learner"] for r in rows(out)] == ["alice"]
        assert not list(records.glob("dave-*.json"))
    finally:
        if proc.poll() is None:
            batch.kill_tree(proc.pid)
            proc.communicate()


def test_a_submission_is_packed_through_the_batch_checks_and_at_the_deadline(tmp_path):
    from grader.classroom.cluster import pack

    root = tmp_path / "class"
    learner(root, "ann", solved())
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="a",
               GIT_AUTHOR_EMAIL="a@b", GIT_COMMITTER_NAME="a", GIT_COMMITTER_EMAIL="a@b",
               GIT_COMMITTER_DATE="2026-01-01T00:00:00Z", GIT_AUTHOR_DATE="2026-01-01T00:00:00Z")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "on time"]):
        subprocess.run(["git", *args], cwd=root / "ann", env=env, check=True, capture_output=True)
    (root / "ann" / "exercises" / "vectors.py").write_text("late and broken\n")
    (root / "ann" / "exercises" / "notes.py").symlink_to("/etc/passwd")
    files, record = pack(batch.Learner(b"ann"), str(root), batch.parse_deadline("2026-06-01"))
    assert files == {"vectors.py": solved().encode()}  # the commit's bytes, not the late edit
    assert record["commit"] and "graded commit" in record["note"]
    files, record = pack(batch.Learner(b"ann"), str(root), None)
    assert files == {"vectors.py": b"late and broken\n"}  # the link is not sent
    assert "notes.py is a symbolic link" in record["note"]
    (root / "bob").symlink_to(root / "ann")
    files, record = pack(batch.Learner(b"bob"), str(root), None)
    assert files is None and "symbolic link" in record["message"]


def test_a_worker_grades_every_learner_through_one_zygote_of_its_own(tmp_path, monkeypatch):
    """A worker process pays NumPy's import once, not once per learner: the first learner it
    grades starts its zygote, and every grade run forks its learner processes through it
    (counted in $GRADE_WARM_LOG, not timed). Each learner's grade is the one it earns."""
    pytest.importorskip("distributed")
    from grader.classroom import cluster

    if cluster.worker_sandbox() != "namespaces":
        pytest.skip("learner processes are forked by a zygote only in the namespaces sandbox")
    monkeypatch.setattr(cluster, "_here", {})
    log = tmp_path / "warm.log"
    monkeypatch.setenv("GRADE_WARM_LOG", str(log))
    monkeypatch.delenv("GRADE_WARM", raising=False)
    wrong = solved().replace("return float(np.dot(a, b))", "return float(np.dot(a, b)) + 1.0")
    assert wrong != solved()
    records = {}
    try:
        for name, text in (("ann", solved()), ("ben", wrong), ("cat", solved())):
            task = {"learner": name, "files": {"vectors.py": text.encode()}, "names": ["vectors"], "timeout": 300,
                    "seed": None, "options": ["--no-timing"]}
            records[name] = cluster.grade_packed(task)
    finally:
        for zygotes in cluster._here.values():
            zygotes.close()
    totals = {name: (r["status"], r["report"]["score"], r["report"]["max_score"]) for name, r in records.items()}
    assert totals["ann"] == totals["cat"] == ("graded", totals["ann"][2], totals["ann"][2]), totals
    assert totals["ben"][0] == "graded" and totals["ben"][1] < totals["ben"][2], totals
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    # This process (the worker) starts it, unless an earlier test here already did: never a grade run.
    starts = [(s["framework"], s["pid"]) for s in lines if s["event"] == "start"]
    assert starts in ([], [("numpy", os.getpid())]), f"one zygote, started by the worker: {lines}"
    forks = [line for line in lines if line["event"] == "fork"]
    assert len(forks) >= 3 and all(f["inherited"] and f["pid"] != os.getpid() for f in forks), lines
