"""The warm grader (grader/runner/warm.py, zygote.py): learner processes forked by a zygote
are as isolated as cold ones, from each other and from the zygote; the zygote holds nothing
of the grader's; everything ends with the process that asked for it; and where there can be
no zygote, learner processes start cold.

The sandbox's own tests (test_sandbox.py, test_runner.py, test_hostile*.py) run against
whatever start this machine gives: forked where it can be.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import textwrap
from pathlib import Path

import pytest

from grader.runner import kill, warm
from grader.runner.sandbox import LearnerProcess, Limits, sandbox_mode
from helpers import gone, wait_until

PEEK = '''
import os
import socket
import stat


def look(marker):
    """What this learner process can see, and leaves for a sibling to find."""
    with open("/work/" + marker, "w") as f:
        f.write(marker)
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\\n").split(":\\t", 1) for line in f if ":\\t" in line)
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        network = "connected"
    except Exception as exc:
        network = type(exc).__name__
    fds = {}
    for fd in range(1024):  # /proc/self/fd is root's: this process is not dumpable
        try:
            fds[fd] = stat.S_IFMT(os.fstat(fd).st_mode)
        except OSError:
            pass
    return {"uid": os.getuid(), "pid": os.getpid(), "work": sorted(os.listdir("/work")),
            "fds": sorted(fds), "sockets": [fd for fd, kind in fds.items() if kind == stat.S_IFSOCK],
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "tmp": sorted(os.listdir("/tmp")), "shm": sorted(os.listdir("/dev/shm")),
            "hostname": socket.gethostname(), "cap_eff": status.get("CapEff", "").strip(),
            "cap_bnd": status.get("CapBnd", "").strip(), "no_new_privs": status.get("NoNewPrivs", "").strip(),
            "environ_owner": os.stat("/proc/self/environ").st_uid, "network": network,
            "src_writable": os.access("/work/src", os.W_OK), "env": sorted(os.environ)}


def leave(name):
    with open(os.path.join("/dev/shm", name), "w") as f:  # the guard lets it write there and in /work
        f.write(name)
    return name
'''

forked_only = pytest.mark.skipif(
    sandbox_mode() != "namespaces" or os.geteuid() != 0 or not warm.possible("numpy"),
    reason="learner processes are forked by a zygote only in namespaces mode as root")


def peek(tmp_path: Path) -> str:
    path = tmp_path / "peek.py"
    path.write_text(textwrap.dedent(PEEK))
    return str(path)


def started(path: str, **kwargs) -> LearnerProcess:
    process = LearnerProcess("peek", path, Limits(call_timeout=20), **kwargs)
    assert process.start() is None
    return process


@forked_only
def test_forked_siblings_see_nothing_of_each_other_or_of_the_zygote(tmp_path):
    first, second = started(peek(tmp_path)), started(peek(tmp_path))
    try:
        assert first.warm and second.warm, "both forked by the zygote"
        assert first.call("leave", ["left-by-first"]).value == "left-by-first"
        a = first.call("look", ["a-marker"]).value
        b = second.call("look", ["b-marker"]).value
    finally:
        first.close()
        second.close()
    for seen, other in ((a, "b-marker"), (b, "a-marker")):
        assert other not in seen["work"], "each has a /work of its own"
        assert seen["pids"] == [1, seen["pid"]] and seen["pid"] == 2, \
            f"a PID namespace of its own, its keeper as init: {seen['pids']}"
        assert seen["uid"] != 0 and seen["environ_owner"] == 0, "a fresh uid, not dumpable"
        assert seen["cap_eff"] == seen["cap_bnd"] == "0000000000000000" and seen["no_new_privs"] == "1"
        assert seen["hostname"] == "grade" and seen["network"] != "connected"
        assert not seen["src_writable"], "its modules are read-only"
        assert len(seen["fds"]) == 6 and not seen["sockets"], \
            f"stdin, stdout, stderr and its three pipes, nothing of the zygote's: {seen['fds']}"
    assert a["uid"] != b["uid"], "a fresh uid each"
    assert "left-by-first" in a["shm"] and "left-by-first" not in b["shm"], "a /dev/shm of its own"
    assert "GRADE_SANDBOX_TOKEN" in a["env"] and not any(k.startswith("GRADE_SECRET") for k in a["env"])


@forked_only
def test_the_zygote_holds_no_secret_and_no_file_of_the_grader(tmp_path, monkeypatch):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("zygote-test-secret-7d1e")
    monkeypatch.setenv("GRADE_SECRET_SEED", "zygote-test-secret-7d1e")
    monkeypatch.setenv("GITHUB_TOKEN", "zygote-test-token-7d1e")
    warm.close_all()  # a zygote started now, with the secret in the grader's environment
    with open(secret_file):  # held open while the zygote starts
        process = started(peek(tmp_path))
        try:
            assert process.warm
            zygotes = [z for z in warm._zygotes.values() if z.proc is not None]
            assert zygotes
            for zygote in zygotes:
                tree = {zygote.proc.pid} | kill.descendants(zygote.proc.pid)
                for pid in tree:
                    assert b"zygote-test-" not in kill.environ(pid), f"{pid} has the secret in its environment"
                    for fd in os.listdir(f"/proc/{pid}/fd") if os.path.isdir(f"/proc/{pid}/fd") else []:
                        try:
                            target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        except OSError:
                            continue
                        assert str(tmp_path) not in target, f"{pid} holds {target}"
        finally:
            process.close()
    warm.close_all()


def _ask_then_wait(queue, path):  # in a worker forked from the test: it inherits the zygote
    process = LearnerProcess("peek", path, Limits(call_timeout=20))
    assert process.start() is None
    queue.put((process.warm, process.proc.pid))
    signal.pause()


@forked_only
def test_a_learner_process_ends_when_the_process_that_asked_for_it_dies(tmp_path):
    path = peek(tmp_path)
    assert LearnerProcess("peek", path, Limits(call_timeout=20)).warm_up()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_ask_then_wait, args=(queue, path))
    worker.start()
    try:
        was_warm, keeper = queue.get(timeout=60)
        assert was_warm, "the worker's learner process was forked by the zygote it inherited"
        assert not gone(keeper)
        family = {keeper} | kill.descendants(keeper)
        os.kill(worker.pid, signal.SIGKILL)  # no chance to close anything
        worker.join(30)
        assert wait_until(lambda: all(gone(p) for p in family), 20), \
            f"left running after the worker that asked for them was killed: {family}"
    finally:
        if worker.is_alive():
            worker.kill()


@forked_only
def test_where_the_zygote_is_gone_learner_processes_start_cold(tmp_path):
    path = peek(tmp_path)
    process = started(path)
    process.close()
    zygote = next(iter(warm._zygotes.values()))
    kill.kill_pidfd(zygote.ns_pidfd)  # the zygote's namespace, zygote and all
    kill.wait_pidfd(zygote.ns_pidfd)
    try:
        again = started(path)
        try:
            assert not again.warm and again.call("leave", ["cold"]).value == "cold"
        finally:
            again.close()
    finally:
        warm.close_all()


def test_grade_warm_0_starts_every_learner_process_cold(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADE_WARM", "0")
    assert not warm.possible("numpy") and not warm.possible("torch")
    process = started(peek(tmp_path))
    try:
        assert not process.warm and process.call("leave", ["cold"]).value == "cold"
    finally:
        process.close()


def test_a_torch_zygote_waits_for_a_gpu_machine_to_be_checked(monkeypatch):
    """CUDA in a forked process is untried on a GPU machine (scripts/gpu_check.sh tries it):
    there, torch exercises start cold unless GRADE_WARM=1."""
    monkeypatch.setattr(warm.isolation, "_gpu_devices", lambda: ["/dev/nvidia0"])
    monkeypatch.delenv("GRADE_WARM", raising=False)
    assert not warm.possible("torch") and warm.possible("numpy") == (hasattr(os, "pidfd_open"))
    monkeypatch.setenv("GRADE_WARM", "1")
    assert warm.possible("torch") == hasattr(os, "pidfd_open")


@forked_only
def test_a_process_in_a_learner_namespace_is_seen_with_its_own_group_not_the_namespace_one(tmp_path):
    """kill.status() names process groups as the grader sees them. It once took the
    innermost namespace's (1 for a namespace's first process), and killpg(1) is kill(-1):
    closing one learner process killed every process on the machine."""
    process = started(peek(tmp_path))
    try:
        keeper = process.proc.pid
        for pid in {keeper} | kill.descendants(keeper):
            status = kill.status(pid)
            assert status is not None and status["pgid"] > 1 and status["sid"] > 1, (pid, status)
    finally:
        process.close()


# ----------------------------------------------------------------------------- shared by a batch
#
# grade batch starts the zygotes once and hands every grade run their control sockets
# ($GRADE_WARM_ZYGOTES, inherited descriptors): grader/runner/warm.py's handover and adopt.

ADOPTED = '''
import json, os, sys
from grader.runner import warm
from grader.runner.sandbox import LearnerProcess, Limits

fds = [entry["fd"] for entry in json.loads(os.environ.get(warm.INHERIT_ENV) or "[]")]
taken = warm.adopt()
process = LearnerProcess("peek", sys.argv[1], Limits(call_timeout=60))
assert process.start() is None
seen = process.call("look", ["marker"]).value
process.close()
print(json.dumps({"taken": taken, "warm": process.warm, "seen": seen, "left": warm.INHERIT_ENV in os.environ,
                  "inheritable": [os.get_inheritable(fd) for fd in fds]}))
'''


def _log_lines(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _grade_run_like(path: str, value: str, fds: tuple) -> tuple[int, dict]:
    """A process started as grade batch starts a grade run: the sockets inherited and named."""
    import json
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", ADOPTED, path], cwd=str(Path(__file__).resolve().parent.parent),
                            env={**os.environ, warm.INHERIT_ENV: value}, pass_fds=fds,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return proc.pid, json.loads(out)


@forked_only
def test_a_grade_run_forks_through_the_zygote_it_inherits_and_falls_back_when_it_is_gone(tmp_path, monkeypatch):
    log = tmp_path / "warm.log"
    monkeypatch.setenv(warm.LOG_ENV, str(log))
    path = peek(tmp_path)
    warm.close_all()  # a zygote of this test's own, its start in the log
    try:
        assert LearnerProcess("peek", path, Limits(call_timeout=20)).warm_up()
        value, fds = warm.handover()
        assert fds, "the live zygote is handed over"
        pid, got = _grade_run_like(path, value, fds)
        assert got["taken"] == 1 and got["warm"] and not got["left"]
        assert got["inheritable"] == [False], "the inherited socket closes on exec: nothing it starts has it"
        seen = got["seen"]
        assert seen["pid"] == 2 and seen["uid"] != 0 and seen["cap_eff"] == "0000000000000000"
        assert len(seen["fds"]) == 6 and not seen["sockets"], f"no socket of the zygote's or the grader's: {seen}"
        lines = _log_lines(log)
        assert [(l["event"], l["pid"]) for l in lines if l["event"] == "start"] == [("start", os.getpid())]
        assert [l for l in lines if l["event"] == "fork"] == [
            {"event": "fork", "framework": "numpy", "pid": pid, "inherited": True}], lines

        zygote = next(z for z in warm._zygotes.values() if z.owner == os.getpid())
        kill.kill_pidfd(zygote.ns_pidfd)  # the batch's zygote stops; its socket is still handed over
        kill.wait_pidfd(zygote.ns_pidfd)
        zygote.proc.wait(timeout=30)  # bubblewrap too: nothing holds the zygote's end any more
        assert zygote.hung_up()
        log.unlink()
        pid, got = _grade_run_like(path, value, fds)
        assert got["taken"] == 1 and got["warm"], "it started a zygote of its own"
        assert [(l["event"], l["pid"], l["inherited"]) for l in _log_lines(log)] == \
            [("start", pid, False), ("fork", pid, False)]
    finally:
        warm.close_all()


def test_a_grade_run_takes_only_what_grade_batch_hands_it(tmp_path, monkeypatch):
    """$GRADE_WARM_ZYGOTES comes from the grader alone; still, text that is not the handover,
    or a descriptor that is not a zygote's control socket, is ignored (and left open: it is
    not this process's to close), and the grade run starts its own zygote."""
    import json
    import socket

    monkeypatch.setattr(warm, "_adopted", [])
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stream, stream_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    regular = open(tmp_path / "file", "w")
    unused = os.dup(0)
    os.close(unused)

    def entry(fd, **changes):
        return {"fd": fd, "framework": "numpy", "as_root": True, "env": "a" * 64, "masks": [], **changes}

    wrong = ["not json", json.dumps({"fd": ours.fileno()}), json.dumps([entry(1)]), json.dumps([entry(unused)]),
             json.dumps([entry(regular.fileno())]), json.dumps([entry(stream.fileno())]),
             json.dumps([entry(ours.fileno(), framework="jax")]), json.dumps([entry(ours.fileno(), env="$(id)")]),
             json.dumps([entry(ours.fileno(), masks=["relative"])]), json.dumps([entry(ours.fileno(), extra=1)]),
             json.dumps([entry(ours.fileno()), entry(ours.fileno())]), json.dumps([entry(True)])]
    try:
        for value in wrong:
            monkeypatch.setenv(warm.INHERIT_ENV, value)
            assert warm.adopt() == 0, value
            assert warm.INHERIT_ENV not in os.environ and warm._adopted == []
        for kept in (ours, stream, regular):
            os.fstat(kept.fileno())  # still open
        env = {"PATH": "/usr/bin"}
        monkeypatch.setenv(warm.INHERIT_ENV, json.dumps([entry(ours.fileno(), env=warm._digest(env),
                                                               masks=["/usr/share"])]))
        assert warm.adopt() == 1 and not os.get_inheritable(ours.fileno())
        assert warm._inherited("numpy", True, env, []) is warm._adopted[0]
        assert warm._inherited("torch", True, env, []) is None, "another framework"
        assert warm._inherited("numpy", True, {"PATH": "/bin"}, []) is None, "another environment"
        assert warm._covers(("/usr/share",), ("/usr/share", "/usr/share/doc")), "a folder inside a masked one"
        assert not warm._covers(("/usr/share",), ("/usr/lib",)), "a folder it does not hide"
        theirs.close()  # the zygote stopped
        assert warm._inherited("numpy", True, env, []) is None and warm._adopted[0].broken
    finally:
        for zygote in warm._adopted:
            zygote.ctl.detach()  # ours's descriptor, closed below
        for sock in (ours, theirs, stream, stream_peer, regular):
            sock.close()
