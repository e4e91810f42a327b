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
