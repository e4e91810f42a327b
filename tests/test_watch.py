"""``grade watch``, driven for real: a subprocess watching a folder while the test edits files.

The test writes a module, then waits (polling the watcher's output with a deadline, never
sleeping blindly) for the line that proves a re-grade happened. Keys go in on stdin, one
per line, as they do whenever stdin is not a terminal.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli, progress
from grader.course import load_course
from grader.watch import LineKeys, Watcher, course_for_watch
from helpers import EXERCISES, ROOT, SOLUTIONS, submission

DEADLINE = 120.0  # seconds; a pass takes a few, the margin is for a loaded CI machine

WRONG_DOT = """
def dot(a, b):
    return float(sum(a) * sum(b))
"""


class Watch:
    """``python -m grader watch ...`` in ``cwd``, its merged output read line by line."""

    def __init__(self, cwd: Path, *args: str):
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "grader", "watch", *args], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = DEADLINE) -> str:
        """Block until a line containing ``text`` appears after the lines already seen."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line with {text!r} within {timeout:g} s; output:\n" + "\n".join(self.lines))
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"watch ended before printing {text!r}; output:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return line

    def send(self, key: str) -> None:
        self.proc.stdin.write(key + "\n")
        self.proc.stdin.flush()

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        """Quit with q; kill the watcher's process group if it does not stop by itself."""
        try:
            if self.proc.poll() is None:
                self.send("q")
                self.wait_for("Stopped watching")
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def watch(tmp_path):
    started = []

    def start(*args):
        w = Watch(tmp_path, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait()


def write(folder: Path, name: str, text: str) -> None:
    """Replace a module the way an editor saves it (a new file renamed over the old one)."""
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / f"{name}.py")


def solution(name: str, extra: str = "") -> str:
    return (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8") + extra


# ----------------------------------------------------------------------------- driven for real


def test_a_save_triggers_a_grade_and_a_pass_moves_on(tmp_path, watch, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the watcher keeps .grade/progress.json
    folder = submission(tmp_path / "sub", "vectors", replace={"dot": WRONG_DOT})
    submission(folder, "derivatives", base=EXERCISES)  # the stub: next up after vectors
    w = watch("--source", "sub", "--timeout", "5", "--interval", "0.1")
    w.wait_for("run 1 · vectors (start)")
    assert "0/7 exercises passed" in w.wait_for("course ")  # the progress bar over the whole course
    w.wait_for("✗ dot: agrees with NumPy")
    w.wait_for("dot(a=")  # the smallest failing input is shown

    write(folder, "vectors", solution("vectors"))
    w.wait_for("run 2 · vectors (vectors.py saved)")
    w.wait_for("✓ vectors passes — moving on to derivatives")
    w.wait_for("run 3 · derivatives (vectors passed)")
    assert "1/7 exercises passed" in w.wait_for("course ")
    w.wait_for("not started yet: derivative, gradient, d_sin_x_squared")

    w.send("h")
    w.wait_for("derivatives › derivative (not started")
    w.wait_for("Press h again for hint 2 of 3")
    w.send("l")
    w.wait_for("2  derivatives")
    assert "← now" in w.lines[-1]
    assert w.stop() == 0
    assert progress.load_exercise(str(folder), "vectors")["status"] == "passed"


def test_a_syntax_error_and_a_hang_are_survived(tmp_path, watch):
    wrong = "\n\ndef d_sin_x_squared(x):\n    return 0.0\n"
    folder = tmp_path / "sub"
    folder.mkdir()
    write(folder, "derivatives", solution("derivatives", wrong))
    w = watch("--source", "sub", "--exercise", "derivatives", "--timeout", "3", "--interval", "0.1")
    w.wait_for("run 1 · derivatives (start)")
    w.wait_for("✗ d_sin_x_squared: equals 2x·cos(x²)")

    write(folder, "derivatives", solution("derivatives", "\n\ndef d_sin_x_squared(x)\n    return 0.0\n"))
    w.wait_for("run 2 · derivatives (derivatives.py saved)")
    w.wait_for("SyntaxError")

    hang = "\n\ndef d_sin_x_squared(x):\n    while True:\n        pass\n"
    write(folder, "derivatives", solution("derivatives", hang))
    w.wait_for("run 3 · derivatives (derivatives.py saved)")
    w.wait_for("took longer than 3 s")

    write(folder, "derivatives", solution("derivatives"))
    w.wait_for("run 4 · derivatives (derivatives.py saved)")
    w.wait_for("✓ derivatives passes — moving on to")
    assert w.stop() == 0


# ----------------------------------------------------------------------------- pieces


def test_once_grades_the_current_exercise_and_reports_by_exit_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = submission("sub", "losses", base=EXERCISES)
    result = CliRunner().invoke(cli.main, ["watch", "--source", str(folder), "--once", "--exercise", "losses"],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "run 1 · losses (start)" in result.output
    assert "not started yet: mse, rmse, mse_grad" in result.output
    bad = CliRunner().invoke(cli.main, ["watch", "--source", str(folder), "--once", "--exercise", "lossses"])
    assert bad.exit_code == 2 and "Did you mean 'losses'" in bad.output


def test_keys_from_a_pipe_are_read_line_by_line_without_blocking():
    read, write_end = os.pipe()
    keys = LineKeys(read)
    assert keys.get(0.01) is None  # nothing typed: returns at once
    os.write(write_end, b"hint\nn\n\nq")
    assert [keys.get(1), keys.get(1)] == ["h", "n"]
    assert keys.get(0.01) is None  # "q" has no newline yet
    os.close(write_end)  # end of input: the unfinished line counts, then no more keys
    assert keys.get(1) == "q"
    assert keys.get(0.01) is None and keys.closed
    os.close(read)


def test_watch_limits_every_call_but_gives_pytorch_time_to_start():
    course = load_course()
    fast = course_for_watch(course, 2.0)
    for e in fast.exercises:
        expected = 2.0 if e.framework == "numpy" else 10.0
        assert e.limits.call_timeout == min(expected, course.get(e.name).limits.call_timeout)


def test_a_change_is_noticed_even_when_size_and_time_stay_the_same(tmp_path):
    folder = submission(tmp_path / "sub", "vectors")
    watcher = Watcher(load_course(), str(folder), interval=0.05)
    path = folder / "vectors.py"
    stat = path.stat()
    text = path.read_text()
    path.write_text(text.replace("a, b", "b, a", 1))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert watcher.changed_files() == ["vectors.py"]
    assert watcher.changed_files() == []
