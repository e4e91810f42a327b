"""The sandbox itself (grader/runner/isolation.py, sandbox.py, cgroup.py): which mode a
machine gets, what a learner process can see in each, and that ending the grader ends it.

The hostile submissions in tests/hostile/ (test_hostile.py) attack it as a learner would;
these tests look at it from outside.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.runner import cgroup, isolation, wire
from grader.runner.sandbox import LearnerProcess, Limits, ProcessGone, sandbox_mode
from helpers import ROOT, gone, wait_until

LOOK_AROUND = '''
import os

def look():
    """What the learner's process can see of the machine."""
    seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "cwd": os.getcwd(), "tmp": os.environ.get("TMPDIR")}
    for name, path in (("repo", "__REPO__"), ("solutions", "__REPO__/solutions"), ("home", "/home"),
                       ("host_tmp_marker", "/tmp/__MARKER__")):
        seen[name] = os.path.exists(path)
    try:
        import socket
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        seen["network"] = "connected"
    except Exception as exc:
        seen["network"] = type(exc).__name__
    return seen

def write_scratch(mb):
    with open(os.path.join(os.environ["TMPDIR"], "scratch"), "wb") as f:
        for _ in range(mb):
            f.write(b"x" * (1 << 20))
    return mb

def spin():
    while True:
        pass
'''

namespaces_only = pytest.mark.skipif(sandbox_mode() != "namespaces",
                                     reason="bubblewrap cannot build namespaces on this machine")


def module(tmp_path: Path, marker: str = "0") -> Path:
    path = tmp_path / "peek.py"
    path.write_text(LOOK_AROUND.replace("__REPO__", str(ROOT)).replace("__MARKER__", marker))
    return path


# ----------------------------------------------------------------------------- choosing a mode


@pytest.mark.parametrize("value", ["none", "NONE", " none "])
def test_grade_sandbox_none_is_honoured(monkeypatch, value):
    monkeypatch.setenv("GRADE_SANDBOX", value)
    assert sandbox_mode() == "none"


def test_an_unknown_mode_is_an_error_that_names_the_choices(monkeypatch):
    monkeypatch.setenv("GRADE_SANDBOX", "docker")
    with pytest.raises(isolation.SandboxUnavailable, match="auto, namespaces, uid or none"):
        sandbox_mode()


def test_asking_for_a_mode_the_machine_lacks_is_an_error_not_a_downgrade(monkeypatch):
    monkeypatch.setenv("GRADE_SANDBOX", "namespaces")
    monkeypatch.setattr(isolation, "bwrap_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(isolation.SandboxUnavailable, match="bubblewrap is not installed"):
        sandbox_mode()
    monkeypatch.setenv("GRADE_SANDBOX", "auto")
    assert sandbox_mode() in ("uid", "none")  # auto takes the strongest that works


def test_a_mode_that_fails_reaches_the_learner_as_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADE_SANDBOX", "namespaces")
    monkeypatch.setattr(isolation, "bwrap_problem", lambda: "bubblewrap is not installed (apt-get install bubblewrap)")
    with LearnerProcess("peek", str(module(tmp_path))) as process:
        with pytest.raises(ProcessGone, match="apt-get install bubblewrap"):
            process.start()


def test_the_grader_package_is_masked_wherever_the_runtime_exposes_it(tmp_path):
    # An installed (not editable) grader lies in site-packages, which the child must read.
    site = isolation.runtime_paths()[0]
    inside = os.path.join(site, "lib")
    if not os.path.isdir(inside):
        pytest.skip("no folder to stand for an installed package here")
    # site-packages itself is the parent of an installed grader: it stays, the package goes.
    args = isolation.masks([inside, str(tmp_path), site])
    assert args[args.index("--tmpfs") + 1] == os.path.realpath(inside)
    assert args.count("--tmpfs") == 1
    assert str(tmp_path) not in args  # not inside anything bound: nothing to mask


# ----------------------------------------------------------------------------- what the learner sees


@namespaces_only
def test_in_namespaces_the_learner_sees_only_the_runtime_and_its_own_files(tmp_path):
    marker = f"grade-host-{os.getpid()}"
    Path("/tmp", marker).write_text("the host's /tmp")
    try:
        with LearnerProcess("peek", str(module(tmp_path, marker))) as process:
            assert process.start() is None
            seen = process.call("look").value
    finally:
        os.unlink(f"/tmp/{marker}")
    assert not seen["repo"] and not seen["solutions"] and not seen["home"] and not seen["host_tmp_marker"]
    assert set(seen["root"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "etc", "proc", "dev", "sys",
                                 "tmp", "work", "opt", "root", "home", "srv", "var"} | set(
        p.strip("/").split("/")[0] for p in isolation.runtime_paths())
    assert seen["pids"] and max(seen["pids"]) < 10, "its own PID namespace: only its own few processes"
    assert seen["cwd"] == "/work" and seen["tmp"] == "/work"
    assert seen["network"] != "connected"
    if os.geteuid() == 0:
        assert seen["uid"] != 0, "as root, the learner's process takes a fresh uid"


@namespaces_only
def test_the_scratch_folder_is_bounded(tmp_path):
    limits = Limits(scratch_mb=8, call_timeout=20)
    with LearnerProcess("peek", str(module(tmp_path)), limits) as process:
        assert process.start() is None
        assert process.call("write_scratch", [4]).value == 4
        reply = process.call("write_scratch", [16])
    assert reply.status == "raised" and "No space left" in reply.error["message"]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.mark.skipif(sandbox_mode() == "none", reason="without a sandbox only the grader's own close ends them")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_ending_the_grader_ends_every_learner_process(tmp_path, how):
    """However the grader ends (even SIGKILL, which it cannot catch), its learner processes end."""
    script = textwrap.dedent(f"""
        import sys
        from grader.runner.sandbox import LearnerProcess, Limits
        p = LearnerProcess("peek", {str(module(tmp_path))!r}, Limits(call_timeout=300))
        assert p.start() is None
        print("started", flush=True)
        p.call("spin")
    """)
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=str(ROOT))
    try:
        assert grader.stdout.readline().strip() == b"started"
        learners = _descendants(grader.pid)
        assert learners, "the learner process runs below the grader"
        grader.send_signal(how)
        grader.wait(timeout=30)
        assert wait_until(lambda: all(gone(p) for p in learners), 20), \
            f"left running after the grader ended: {[p for p in learners if not gone(p)]}"
    finally:
        if grader.poll() is None:
            grader.kill()


def test_sigterm_to_grade_closes_every_learner_process_and_leaves_nothing(tmp_path):
    """``grade`` stopped by SIGTERM (a cancelled CI job) exits 143 and, on its way out, ends
    its workers' learner processes and removes their files and control groups."""
    source, scratch = tmp_path / "exercises", tmp_path / "tmp"
    source.mkdir()
    scratch.mkdir()
    (source / "vectors.py").write_text((ROOT / "solutions" / "vectors.py").read_text()
                                       + "\n\ndef dot(a, b):\n    while True:\n        pass\n")
    grader = subprocess.Popen([sys.executable, "-m", "grader", "run", "vectors", "--source", str(source),
                               "--no-timing", "--format", "json", "--no-progress", "-j", "2"],
                              cwd=str(tmp_path), env=dict(os.environ, TMPDIR=str(scratch)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def learners_running():
            return any("child.py" in _cmdline(p) for p in _descendants(grader.pid))

        assert wait_until(learners_running, 60), "the learner processes never started"
        family = _descendants(grader.pid) | {grader.pid}
        grader.send_signal(signal.SIGTERM)
        assert grader.wait(timeout=30) == 143
        assert wait_until(lambda: all(gone(p) for p in family), 20), \
            [_cmdline(p) for p in family if not gone(p)]
        assert not list(scratch.iterdir()), f"left in TMPDIR: {list(scratch.iterdir())}"
        for hierarchy in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"):
            left = [n for n in (os.listdir(hierarchy) if os.path.isdir(hierarchy) else [])
                    if n.startswith("grade-") and int(n.split("-")[1]) in family]
            assert not left, f"control groups left: {left}"
    finally:
        if grader.poll() is None:
            grader.kill()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


# ----------------------------------------------------------------------------- whole-submission limits


def test_a_cgroup_holds_memory_and_processes_for_all_processes_together(tmp_path, monkeypatch):
    """The files the kernel reads, written for a cgroup v2 the machine delegates (a fake
    hierarchy here, so the test runs on any machine)."""
    root = tmp_path / "cgroup"
    own = root / "grader"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    (own / "cgroup.subtree_control").write_text("")
    monkeypatch.setattr(cgroup, "_own_groups", lambda: {"": "/grader"})
    monkeypatch.setattr(cgroup, "_mounts", lambda: {"": str(root)})
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777):  # the kernel fills a new group with its files
        real_mkdir(path, mode)
        for name in ("memory.max", "memory.swap.max", "pids.max", "cgroup.procs", "cpu.stat", "memory.events"):
            Path(path, name).write_text("")

    monkeypatch.setattr(cgroup.os, "mkdir", mkdir)
    group = cgroup.create(600, 32)
    assert group is not None and group.version == 2
    folder = Path(group.dirs[""])
    assert (folder / "memory.max").read_text() == str(600 << 20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "32"
    assert "+memory" in (own / "cgroup.subtree_control").read_text()
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    assert group.cpu_seconds() == 2.5
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.out_of_memory()


def test_groups_left_by_a_grader_killed_outright_are_removed(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    own = root / "grader"
    dead, alive = own / "grade-999999999-aaaa", own / f"grade-{os.getpid()}-bbbb"
    for folder in (dead, alive):
        folder.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("memory pids\n")
    (own / "cgroup.subtree_control").write_text("memory pids\n")
    monkeypatch.setattr(cgroup, "_own_groups", lambda: {"": "/grader"})
    monkeypatch.setattr(cgroup, "_mounts", lambda: {"": str(root)})
    cgroup.create(600, 32)  # the fake hierarchy has no limit files: no group, but the sweep ran
    assert not dead.exists() and alive.exists()


def test_without_a_cgroup_nothing_is_pretended(monkeypatch):
    monkeypatch.setattr(cgroup, "_mounts", lambda: {})
    assert cgroup.create(600, 32) is None
    assert cgroup.describe(None) == "none"


# ----------------------------------------------------------------------------- replies


def test_a_forged_length_is_refused_before_anything_is_read():
    import struct

    reads = []

    def read_exactly(n):
        reads.append(n)
        if len(reads) == 1:
            return struct.pack("<II", 120 << 20, 0)
        raise AssertionError("the grader read past a forged length")

    with pytest.raises(wire.WireError, match="MiB allowed"):
        wire.unpack(read_exactly)
    assert reads == [8]
