"""The one process-tree killer (grader/runner/kill.py), used by the runner and the batch."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from grader.classroom import batch
from grader.runner import kill
from helpers import gone, wait_until

# A process that starts a child in a session of its own (out of its process group) and a
# daemon that leaves the tree altogether (double fork), then waits.
FAMILY = textwrap.dedent("""
    import os, subprocess, sys, time
    token = sys.argv[1]
    subprocess.Popen(["sleep", "300"], start_new_session=True)
    if os.fork() == 0:
        if os.fork() == 0:
            os.setsid()
            os.execvpe("sleep", ["sleep", "301"], dict(os.environ, GRADE_SANDBOX_TOKEN=token))
        os._exit(0)
    print("ready", flush=True)
    time.sleep(300)
""")

linux = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


def family(token: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", FAMILY, token], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def carrying(token: str) -> list[int]:
    needle = f"GRADE_SANDBOX_TOKEN={token}".encode()
    return [p for p in kill.pids() if needle in kill.environ(p) and not gone(p)]


@linux
def test_a_tree_is_killed_whatever_sessions_its_processes_started():
    token = os.urandom(8).hex()
    proc = family(token)
    try:
        below = kill.descendants(proc.pid)
        assert below, "the child in a session of its own is still below it"
        assert wait_until(lambda: carrying(token)), "the daemon started"
        kill.kill_tree(proc.pid, token=token)
        proc.wait(timeout=10)
        assert wait_until(lambda: all(gone(p) for p in below)), "its descendants are gone"
        assert wait_until(lambda: not carrying(token)), "the daemon that left the tree is gone"
    finally:
        for pid in carrying(token):
            os.kill(pid, 9)
        if proc.poll() is None:
            proc.kill()


@linux
def test_without_the_token_a_daemon_that_left_the_tree_is_not_touched():
    token = os.urandom(8).hex()
    proc = family(token)
    try:
        assert wait_until(lambda: carrying(token))
        kill.kill_tree(proc.pid)
        proc.wait(timeout=10)
        assert carrying(token), "only the tree, its sessions and groups; nothing else of the user's"
    finally:
        for pid in carrying(token):
            os.kill(pid, 9)
        if proc.poll() is None:
            proc.kill()


def test_nothing_is_ever_sent_to_init_everyone_or_the_callers_group(monkeypatch):
    """killpg(1) is kill(-1): a process group of 1 or 0 (a namespace's own numbering, or none)
    is never signalled, nor pid 1, 0 or -1."""
    sent = []
    monkeypatch.setattr(kill.os, "kill", lambda pid, sig: sent.append(("kill", pid)))
    monkeypatch.setattr(kill.os, "killpg", lambda pgid, sig: sent.append(("killpg", pgid)))
    for pid in (1, 0, -1):
        kill._signal(pid, 9)
        kill._signal_group(pid, 9)
        kill.kill_group(pid)
        with pytest.raises(ValueError):
            kill.kill_tree(pid)
    kill.kill_user(0)
    kill.kill_user(os.getuid())
    assert sent == []


@linux
def test_status_names_process_groups_as_the_caller_sees_them():
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        status = kill.status(proc.pid)
        assert status["pgid"] == status["sid"] == proc.pid and status["ppid"] == os.getpid()
    finally:
        proc.kill()
        proc.wait()


def test_the_batch_kills_with_the_runners_killer(monkeypatch):
    called = []
    monkeypatch.setattr(kill, "kill_tree", lambda pid, **kw: called.append(pid))
    batch.kill_tree(12345)
    assert called == [12345]
