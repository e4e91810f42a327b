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

import click
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


# ----------------------------------------------------------------------------- one scale, every file, both ways


def all_passed_before(course, folder, but: str) -> None:
    """Saved states as if every exercise but ``but`` had passed earlier (what the old watch trusted)."""
    from grader.results import CheckResult, ExerciseResult, Report

    results = [ExerciseResult(e.name, [CheckResult(s.title, s.function, s.kind, True, s.points) for s in e.checks()])
               for e in course.exercises if e.name != but]
    progress.save(str(folder), Report(results), course=course)


def test_a_save_regrades_the_exercise_whose_file_changed_and_says_so(tmp_path, monkeypatch):
    """Watching losses, breaking vectors.py regrades vectors: never "Every exercise passes"."""
    monkeypatch.chdir(tmp_path)
    course = load_course()
    folder = submission(tmp_path / "sub", "vectors")
    submission(folder, "losses")
    all_passed_before(course, folder, but="losses")
    lines: list[str] = []
    watcher = Watcher(course, str(folder), start="losses", jobs=1, timing=False, echo=lines.append)

    write(folder, "vectors", solution("vectors", WRONG_DOT))
    watcher.on_saved(watcher.changed_files())
    out = click.unstyle("\n".join(lines))
    assert "vectors.py was saved: grading vectors, which is not the exercise you are watching (losses)." in out
    assert "✗ failing" in out and "✗ dot: agrees with NumPy" in out
    assert "Still watching losses" in out and watcher.current == "losses"
    assert progress.load_exercise(str(folder), "vectors")["status"] == "failed"

    lines.clear()
    watcher.on_saved(["losses.py"])  # the watched exercise passes: the next one not right is vectors
    out = click.unstyle("\n".join(lines))
    assert "✓ losses passes — moving on to vectors." in out
    assert "Every exercise passes" not in out and watcher.current == "vectors"


def test_keys_move_back_as_well_as_forward(tmp_path, monkeypatch):
    graded: list[tuple[str, str]] = []
    monkeypatch.setattr(Watcher, "grade_current", lambda self, reason: graded.append((self.current, reason)))
    lines: list[str] = []
    watcher = Watcher(load_course(), str(submission(tmp_path / "sub", "vectors")), start="derivatives",
                      echo=lines.append)
    watcher.on_key("p")
    watcher.on_key("p")
    watcher.on_key("n")
    assert graded == [("vectors", "previous"), ("derivatives", "next")]
    assert "vectors is the first exercise." in lines


def test_arrow_keys_on_a_terminal_are_previous_and_next():
    import pty

    from grader.watch import TerminalKeys

    controller, terminal = pty.openpty()
    keys = TerminalKeys(terminal)
    try:
        for typed, key in ((b"\x1b[D", "p"), (b"\x1b[C", "n"), (b"\x1b[A", None), (b"h", "h")):
            os.write(controller, typed)
            assert keys.get(5) == key
    finally:
        keys.close()
        os.close(controller)
        os.close(terminal)


def test_the_progress_bar_and_grade_list_share_one_scale(tmp_path, monkeypatch):
    """Timed points count in the total whether or not the last run timed them: never 142/133."""
    from grader.results import CheckResult, ExerciseResult, Report

    monkeypatch.chdir(tmp_path)
    course = load_course()
    folder = submission(tmp_path / "sub", "vectors")
    watcher = Watcher(course, str(folder), start="vectors", echo=lambda line: None)
    vectors = course.get("vectors")
    top = sum(progress.full_max_score(e) for e in course.exercises)
    correct = [CheckResult(s.title, s.function, s.kind, True, s.points) for s in vectors.checks()]
    timed = [CheckResult(t.title, t.function, "timing", True, t.points) for t in vectors.timing_specs()]
    for checks in (correct + timed, correct):  # graded by grade, then by watch --no-timing
        progress.save(str(folder), Report([ExerciseResult("vectors", checks)]), course=course)
        earned = sum(c.score for c in checks)
        assert f"· {earned:g}/{top:g} points" in watcher.progress_bar()
        assert progress.load_exercise(str(folder), "vectors")["max_score"] == progress.full_max_score(vectors)


def test_a_correct_but_slow_exercise_shows_as_such_and_watch_moves_on(tmp_path):
    from grader.results import CheckResult, ExerciseResult

    course = load_course()
    watcher = Watcher(course, str(submission(tmp_path / "sub", "vectors")), start="vectors", echo=lambda line: None)
    vectors = course.get("vectors")
    checks = [CheckResult(s.title, s.function, s.kind, True, s.points) for s in vectors.checks()]
    checks.append(CheckResult("fast enough on 10**6 floats", "dot", "timing", False, 1.0,
                              "dot on 10**6 floats: 203 ms vs reference 743 us = 256x (limit 10x)",
                              extra={"timing": [{"outcome": "fail"}]}))
    shown = click.unstyle(watcher.render(ExerciseResult("vectors", checks), "start", 1.0))
    assert "exercise 1/7: vectors — ◐ correct but too slow" in shown
    assert "vectors: dot is correct but too slow" in shown and "✗" not in shown


def test_the_keys_line_wraps_between_keys_to_fit_the_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "41")
    watcher = Watcher(load_course(), str(submission(tmp_path / "sub", "vectors")), echo=lambda line: None)
    lines = click.unstyle(watcher.keys_line()).splitlines()
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert "[r] grade again" in lines[-2] + lines[-1] and all(line.count("[") >= 1 for line in lines)


def test_back_to_a_correct_but_slow_exercise_stays_there_to_speed_it_up(tmp_path, monkeypatch):
    """Watch moves on from an exercise when it becomes right; [p] back to one that is correct
    but too slow keeps it on screen (it does not move on again at once)."""
    from grader.results import CheckResult, ExerciseResult, Report

    monkeypatch.chdir(tmp_path)
    course = load_course()
    vectors = course.get("vectors")
    slow = ExerciseResult("vectors", [CheckResult(s.title, s.function, s.kind, True, s.points) for s in vectors.checks()]
                          + [CheckResult("fast enough", "dot", "timing", False, 1.0, "dot: 250 times the reference",
                                         extra={"timing": [{"outcome": "fail"}]})])

    def graded(self, name, reason):  # no grading: the verdicts are given
        self.rounds += 1
        result = slow if name == "vectors" else ExerciseResult(name, [CheckResult(
            "works", "f", "correctness", False, 1.0, "f still raises NotImplementedError", not_started=True)])
        progress.save(self.source_dir, Report([result]), course=self.full_course)
        return result

    monkeypatch.setattr(Watcher, "grade_one", graded)
    lines: list[str] = []
    watcher = Watcher(course, str(submission(tmp_path / "sub", "vectors")), start="vectors", echo=lines.append)
    watcher.grade_current("start")
    assert watcher.current == "derivatives"
    assert "vectors is correct, but not fast enough yet — moving on to derivatives" in \
        " ".join(click.unstyle("\n".join(lines)).split())
    watcher.on_key("p")
    assert watcher.current == "vectors" and watcher.rounds == 3
