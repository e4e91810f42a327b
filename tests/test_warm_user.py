"""An ordinary user's warm start (grader/runner/zygote.py): a learner process that a zygote
forks for a user who is not root holds no more, and reaches no more, than the one
bubblewrap starts cold for that user.

The tests marked ``as_user`` run only as an ordinary user. Run as root (CI, these
machines), :func:`test_as_an_ordinary_user` runs them again as ``nobody``, together with
the sandbox's own tests (test_sandbox.py, test_runner.py, test_hostile.py), in a private
mount namespace where the Python runtime is reachable (it often lives under ``/root``,
mode 0700; tests/ordinary_user.py). Where no ordinary user can run Python, it is skipped.

Learner processes are counted by the zygote's forks (``GRADE_WARM_LOG``), never timed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from grader.runner import isolation, sandbox, warm
from grader.runner.sandbox import LearnerProcess, Limits, sandbox_mode
import ordinary_user
from helpers import ROOT

PROCESSES = 16  # the learner's allowance of processes and threads (RLIMIT_NPROC) in these tests

# Added to a copy of child.py: before the real child serves (and installs its audit hook),
# note what the kernel lets this process do, so that a cold and a forked one can be compared.
PROBE = r'''
def _probe():
    """Kernel-level facts about this process: what it holds, sees and may write."""
    import ctypes
    import errno
    import re
    import socket
    import stat
    import threading

    libc = ctypes.CDLL(None, use_errno=True)

    def outcome(result):
        return "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")

    def attempt(action):
        try:
            action()
            return "ok"
        except OSError as exc:
            return errno.errorcode.get(exc.errno, "?")

    facts = {}
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    for key in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
        facts[key] = status.get(key, "").split()
    with open("/proc/self/limits") as f:
        rows = [re.split(r"\s{2,}", line.strip()) for line in f.readlines()[1:]]
    facts["limits"] = {row[0]: row[1:3] for row in rows}
    facts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    facts["environ_owner"] = os.stat("/proc/self/environ").st_uid  # the user's while it is dumpable
    kinds = {}
    for fd in range(1024):
        try:
            kinds[fd] = stat.S_IFMT(os.fstat(fd).st_mode)
        except OSError:
            pass
    facts["descriptors"] = len(kinds)  # stdin, stdout, stderr and its three pipes
    facts["sockets"] = [fd for fd, kind in kinds.items() if kind == stat.S_IFSOCK]
    facts["hostname"] = socket.gethostname()
    facts["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    facts["new_user_namespace"] = outcome(libc.unshare(0x10000000))
    facts["new_mount_namespace"] = outcome(libc.unshare(0x00020000))
    facts["ptrace_init"] = outcome(libc.ptrace(16, 1, None, None))  # PTRACE_ATTACH to pid 1
    for name in ("mem", "environ"):
        facts[f"read_init_{name}"] = attempt(lambda: open(f"/proc/1/{name}", "rb").read(1))
    writable = {}
    for folder in ("/", "/dev", "/opt", "/usr", "/tmp", "/work", "/work/src", "/dev/shm", "/proc/sys/kernel"):
        path = os.path.join(folder, "probe-written")
        writable[folder] = attempt(lambda: os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)))
        if writable[folder] == "ok":
            os.unlink(path)
    facts["writable"] = writable
    marks = ["/tmp/left-by-a-sibling", "/work/left-by-a-sibling", "/dev/shm/left-by-a-sibling"]
    facts["found"] = [p for p in marks if os.path.exists(p)]
    for path in marks:
        attempt(lambda: os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)))
    global _terminal  # held open for this process's life: a sibling must not see it
    try:
        _terminal = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
        facts["ptmx"] = "ok"
    except OSError as exc:
        facts["ptmx"] = errno.errorcode.get(exc.errno, "?")
    facts["terminals"] = sorted(os.listdir("/dev/pts")) if os.path.isdir("/dev/pts") else None
    stop, threads = threading.Event(), []
    while len(threads) < 200:
        thread = threading.Thread(target=stop.wait)
        try:
            thread.start()
        except RuntimeError:
            break
        threads.append(thread)
    stop.set()
    for thread in threads:
        thread.join()
    facts["threads"] = len(threads)
    return facts


_real_serve_child = serve_child


def serve_child(read_fd, write_fd, report_fd, become=None):
    import json

    with open("/work/facts.json", "w") as f:
        json.dump(_probe(), f)
    _real_serve_child(read_fd, write_fd, report_fd, become)


'''

LEARNER = '''
def facts():
    with open("/work/facts.json") as f:
        return f.read()
'''

as_user = pytest.mark.skipif(
    os.geteuid() == 0 or sandbox_mode() != "namespaces" or not warm.possible("numpy"),
    reason="an ordinary user's warm start, in namespaces mode (as root, test_as_an_ordinary_user runs these)")


# ----------------------------------------------------------------------------- as an ordinary user


@pytest.fixture
def probing(tmp_path, monkeypatch):
    """Learner processes (cold or forked) run a copy of the runner whose child notes the
    kernel's facts first; the learner's module hands them back."""
    runner = tmp_path / "runner"
    runner.mkdir()
    for name in isolation.RUNNER_FILES:
        shutil.copy(os.path.join(isolation.RUNNER_DIR, name), runner / name)
    child = (runner / "child.py").read_text()
    main = 'if __name__ == "__main__":'
    assert child.count(main) == 1
    (runner / "child.py").write_text(child.replace(main, PROBE + main))
    monkeypatch.setattr(isolation, "RUNNER_DIR", str(runner))
    monkeypatch.setattr(sandbox, "RUNNER_DIR", str(runner))
    warm.close_all()  # no zygote of the real runner is reused, and none of the probe's outlives the test
    module = tmp_path / "learner" / "probe.py"
    module.parent.mkdir()
    module.write_text(LEARNER)
    yield str(module)
    warm.close_all()


def started(module: str) -> LearnerProcess:
    process = LearnerProcess("probe", module, Limits(call_timeout=30, processes=PROCESSES))
    assert process.start() is None
    return process


def facts_of(process: LearnerProcess) -> dict:
    reply = process.call("facts")
    assert reply.status == "ok", reply
    return json.loads(reply.value)


def one(module: str, monkeypatch, *, forked: bool) -> dict:
    monkeypatch.setenv("GRADE_WARM", "1" if forked else "0")
    process = started(module)
    try:
        assert process.warm is forked, "forked by the zygote" if forked else "started cold"
        return facts_of(process)
    finally:
        process.close()


@as_user
def test_a_forked_learner_process_holds_and_reaches_what_a_cold_one_does(probing, monkeypatch):
    # Other tasks of this user while they start, as on a learner's laptop: a cold start's
    # RLIMIT_NPROC counts them, and a forked one's must not let them add to its allowance.
    stop = threading.Event()
    others = [threading.Thread(target=stop.wait) for _ in range(3 * PROCESSES)]
    for thread in others:
        thread.start()
    try:
        cold = one(probing, monkeypatch, forked=False)
        forked = one(probing, monkeypatch, forked=True)
    finally:
        stop.set()
        for thread in others:
            thread.join()
    same = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
            "environ_owner", "descriptors", "sockets", "pids", "hostname", "interfaces", "new_user_namespace",
            "new_mount_namespace", "ptmx", "terminals", "found")
    assert {k: forked[k] for k in same} == {k: cold[k] for k in same}
    assert forked["Uid"][0] == str(os.getuid()) and forked["CapBnd"] == ["0000000000000000"]
    assert forked["new_user_namespace"] != "ok", "no namespace of its own to hold capabilities in"
    assert forked["pids"] == [1, 2], "its own PID namespace: its keeper and itself"
    assert forked["sockets"] == [], "nothing of the zygote's"
    # Stricter than cold here: bubblewrap's init (pid 1 there) is the learner's to trace; the
    # keeper holds capabilities the learner process lacks, and is not dumpable.
    assert forked["ptrace_init"] != "ok"
    for name in ("mem", "environ"):
        assert forked[f"read_init_{name}"] != "ok", f"its keeper's {name} is out of reach"
    limits = {k: v for k, v in forked["limits"].items() if k != "Max processes"}
    assert limits == {k: v for k, v in cold["limits"].items() if k != "Max processes"}
    for folder, result in forked["writable"].items():
        assert result != "ok" or cold["writable"][folder] == "ok", f"{folder} is writable only when forked"
    assert [f for f, r in forked["writable"].items() if r == "ok"] == ["/tmp", "/work", "/dev/shm"]
    # Each may start its allowance of tasks and no more (a cold start's count of the user's
    # other tasks races with them, so it may get a few fewer).
    assert cold["threads"] <= PROCESSES and PROCESSES - 4 <= forked["threads"] <= PROCESSES, \
        f"RLIMIT_NPROC allows {forked['threads']} more threads forked and {cold['threads']} cold"


@as_user
def test_nothing_of_one_forked_learner_process_reaches_another(probing, monkeypatch):
    """Two alive at once, then a third: each finds no file and no terminal of the others."""
    monkeypatch.setenv("GRADE_WARM", "1")
    first = started(probing)
    second = started(probing)
    try:
        assert first.warm and second.warm
        seen = [facts_of(first), facts_of(second)]
    finally:
        first.close()
        second.close()
    third = started(probing)
    try:
        seen.append(facts_of(third))
    finally:
        third.close()
    for facts in seen:
        assert facts["found"] == [], "a /tmp, /work and /dev/shm of its own"
        assert facts["terminals"] == ["0", "ptmx"], "a /dev/pts instance of its own"
        assert facts["writable"]["/"] != "ok" and facts["writable"]["/dev"] != "ok"


@as_user
def test_learner_processes_are_forked_once_the_zygote_runs(tmp_path, monkeypatch):
    log = tmp_path / "warm.log"
    monkeypatch.setenv(warm.LOG_ENV, str(log))
    monkeypatch.setenv("GRADE_WARM", "1")
    warm.close_all()
    module = tmp_path / "vectors.py"
    shutil.copy(ROOT / "solutions" / "vectors.py", module)
    for _ in range(3):
        with LearnerProcess("vectors", str(module), Limits(call_timeout=30)) as process:
            assert process.start() is None and process.warm
            assert process.call("dot", ([1.0, 2.0], [3.0, 4.0])).value == 11.0
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events.count("start") == 1 and events.count("fork") == 3
    warm.close_all()


@pytest.mark.skipif(sandbox_mode() != "namespaces" or not warm.possible("numpy"),
                    reason="no zygote in this sandbox mode")
def test_where_the_zygote_cannot_build_a_namespace_learner_processes_start_cold(tmp_path, monkeypatch):
    """A zygote without the capability to build namespaces (a kernel or security module that
    refuses them) stops after its trial, before importing anything: every start is cold."""
    arguments = isolation.sandbox_arguments

    def without_capabilities(**kwargs):
        args = arguments(**kwargs)
        while "--cap-add" in args and "CAP_SYS_ADMIN" in args:
            at = args.index("CAP_SYS_ADMIN")
            del args[at - 1: at + 1]
        return args

    monkeypatch.setattr(isolation, "sandbox_arguments", without_capabilities)
    monkeypatch.setenv("GRADE_WARM", "1")
    warm.close_all()
    module = tmp_path / "vectors.py"
    shutil.copy(ROOT / "solutions" / "vectors.py", module)
    try:
        for _ in range(2):
            with LearnerProcess("vectors", str(module), Limits(call_timeout=30)) as process:
                assert process.start() is None
                assert not process.warm
                assert process.call("dot", ([1.0, 2.0], [3.0, 4.0])).value == 11.0
        told = " ".join(z.stderr_tail() for z in warm._zygotes.values())
        assert "cannot build a learner process's sandbox" in told, told
    finally:
        warm.close_all()


# ----------------------------------------------------------------------------- from root


@pytest.mark.skipif(os.geteuid() != 0, reason="as an ordinary user the tests above run directly")
@pytest.mark.skipif(sandbox_mode() != "namespaces", reason="bubblewrap cannot build namespaces here")
def test_as_an_ordinary_user(request):
    """This file's ordinary-user tests and the sandbox's own (test_sandbox.py, test_runner.py,
    test_hostile.py), run as ``nobody``: their learner processes forked by an ordinary
    user's zygote, counted in ``$GRADE_WARM_LOG``."""
    prefix, why = ordinary_user.command()
    if prefix is None:
        pytest.skip(f"no ordinary user can run this Python here: {why}")
    home = Path(tempfile.mkdtemp(prefix="grade-as-nobody-"))  # a folder nobody may reach
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    ordinary_user.give(home)
    log = home / "warm.log"
    env = ordinary_user.environment(home, HYPOTHESIS_STORAGE_DIRECTORY=str(home / "hypothesis"),
                                    **{warm.LOG_ENV: str(log)})
    probe = subprocess.run(prefix + [isolation.real_executable(), "-c", "import numpy\n"
                                     "from grader.runner import sandbox, warm\n"
                                     "print(sandbox.sandbox_mode(), warm.possible('numpy'))"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this Python here: {probe.stderr.strip()[-300:]}")
    if probe.stdout.split() != ["namespaces", "True"]:
        pytest.skip(f"nobody gets no namespaces or no warm start here (the host refuses unprivileged user "
                    f"namespaces?): {probe.stdout.strip()}")
    done = subprocess.run(
        prefix + [isolation.real_executable(), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                  "tests/test_warm_user.py", "tests/test_sandbox.py", "tests/test_runner.py", "tests/test_hostile.py"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    tail = done.stdout[-4000:] + done.stderr[-1000:]
    assert done.returncode == 0, tail
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED") and "test_warm_user" in line]
    assert len(skipped) == 1 and "as an ordinary user the tests above run directly" in skipped[0], tail
    forks = [json.loads(line) for line in log.read_text().splitlines() if json.loads(line)["event"] == "fork"]
    assert len(forks) >= 40, f"only {len(forks)} learner processes were forked by a zygote"


def test_the_ordinary_user_benchmark_compares_warm_with_cold(capsys):
    """benchmarks/stubs_user.py without running it: the stubs' command, then the same cold."""
    from test_benchmark_ratios import load

    assert load("stubs_user").main(["--dry-run"]) == 0
    warm_command, cold_command = capsys.readouterr().out.splitlines()[:2]
    assert "-m grader run" in warm_command and "GRADE_WARM" not in warm_command
    assert cold_command == f"GRADE_WARM=0 {warm_command}"
