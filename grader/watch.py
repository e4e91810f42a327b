"""``grade watch``: grade the current exercise every time a file is saved.

The current exercise is the first one not passed yet (by the state file). Watch grades
it at once, then polls the modules in the exercises folder (their modification time,
size and contents, every ``--interval`` seconds: no extra dependency) and grades it
again whenever one is saved. Each run shows the failing checks with their smallest
failing input, a progress bar over the whole course, and the keys; when the exercise
passes, watch moves on to the next one by itself.

Keys: ``n`` next exercise, ``h`` next hint, ``l`` list the course, ``r`` grade again,
``q`` quit. On a terminal they are read one key at a time (no Enter needed); otherwise
stdin is read line by line (``h`` then Enter), which is also how the tests drive it.

Learner code runs in the isolated runner as in ``grade``; watch only shortens the time a
call may take (``--timeout``, 5 s by default), so an infinite loop is reported quickly
and watching goes on. A syntax error is reported like in ``grade`` and watching goes on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import select
import sys
import time
from datetime import datetime

import click

from . import gate, progress
from .course import Course
from .hints import current_exercise, next_hint, render as render_hint
from .results import ERROR, NOT_STARTED, PASSED, STATUS_LABELS, ExerciseResult

TORCH_MIN_TIMEOUT = 10.0  # importing PyTorch in a fresh child alone can take a few seconds
MAX_FAILURES_SHOWN = 4
KEYS_HELP = "[n] next exercise  [h] hint  [l] list  [r] grade again  [q] quit"
_MARKS = {PASSED: "✓", "failed": "✗", NOT_STARTED: "·", ERROR: "!"}
_COLOURS = {PASSED: "green", "failed": "red", NOT_STARTED: "yellow", ERROR: "red"}


# ----------------------------------------------------------------------------- keys


class NoKeys:
    """No key input (stdin closed or not readable): just wait."""

    interactive = False

    def get(self, timeout: float) -> str | None:
        time.sleep(timeout)
        return None

    def close(self) -> None:
        pass


class LineKeys:
    """Keys from a pipe or file, one per line (``h``, ``hint``, ``q``...), read without blocking."""

    interactive = False

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""
        self.closed = False
        self.pending: list[str] = []

    def get(self, timeout: float) -> str | None:
        if self.pending:
            return self.pending.pop(0)
        if self.closed:
            time.sleep(timeout)
            return None
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:  # end of input: keep watching, without keys
            self.closed = True
            chunk = b"\n" if self.buffer else b""
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            word = line.decode("utf-8", "replace").strip().lower()
            if word:
                self.pending.append(word[0])
        return self.pending.pop(0) if self.pending else None

    def close(self) -> None:
        pass


class TerminalKeys:
    """Single key presses on a terminal (cbreak mode, restored on close)."""

    interactive = True

    def __init__(self, fd: int):
        import termios
        import tty

        self.fd = fd
        self._termios = termios
        self.saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)

    def get(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 32)
        if not data:
            return None
        if data.startswith(b"\x1b"):  # arrow keys and other escape sequences
            return None
        if data[:1] == b"\x04":  # Ctrl-D
            return "q"
        return data[:1].decode("utf-8", "replace").lower()

    def close(self) -> None:
        try:
            self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self.saved)
        except Exception:
            pass


def keys_from_stdin():
    """TerminalKeys on a terminal, LineKeys on a pipe or file, NoKeys without a usable stdin."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return NoKeys()
    try:
        if os.isatty(fd):
            return TerminalKeys(fd)
    except Exception:
        pass
    return LineKeys(fd)


# ----------------------------------------------------------------------------- watching


def course_for_watch(course: Course, timeout: float) -> Course:
    """The course with every call limited to ``timeout`` seconds (PyTorch exercises: at least 10)."""
    exercises = []
    for e in course.exercises:
        limit = timeout if e.framework != "torch" else max(timeout, TORCH_MIN_TIMEOUT)
        exercises.append(dataclasses.replace(
            e, limits=dataclasses.replace(e.limits, call_timeout=min(e.limits.call_timeout, limit))))
    return dataclasses.replace(course, exercises=exercises)


class Watcher:
    """The watch loop; ``run()`` returns the exit code."""

    def __init__(self, course: Course, source_dir: str, *, timeout: float = 5.0, interval: float = 0.5,
                 jobs: int | None = None, max_rounds: int | None = None, keys=None, echo=click.echo,
                 clear: bool = False, seed: int | None = None, start: str | None = None):
        self.course = course_for_watch(course, timeout)
        self.source_dir = source_dir
        self.interval = interval
        self.jobs = jobs or os.cpu_count() or 1
        self.max_rounds = max_rounds
        self.keys = keys or NoKeys()
        self.echo = echo
        self.clear = clear
        self.seed = course.seed if seed is None else seed
        self.current = start or current_exercise(course, source_dir)
        self.rounds = 0
        self.result: ExerciseResult | None = None
        self.snapshot = self.scan()

    # ------------------------------------------------------------------ files
    def scan(self) -> dict:
        """``{file name: (mtime_ns, size, sha1)}`` of the modules in the folder."""
        found = {}
        try:
            names = sorted(n for n in os.listdir(self.source_dir) if n.endswith(".py"))
        except OSError:
            return found
        for name in names:
            path = os.path.join(self.source_dir, name)
            try:
                st = os.lstat(path)
                # Through the gate: a link to /dev/zero or a FIFO is never read, only noticed.
                digest = hashlib.sha1(gate.read_file(path)).hexdigest()
            except gate.GateError as refused:
                digest = str(refused)
            except OSError:
                continue
            found[name] = (st.st_mtime_ns, st.st_size, digest)
        return found

    def changed_files(self) -> list[str]:
        """The files saved since the last look, once they have stopped changing."""
        now = self.scan()
        if now == self.snapshot:
            return []
        settle_until = time.monotonic() + 2.0
        while time.monotonic() < settle_until:  # an editor may write a file in several steps
            time.sleep(0.1)
            again = self.scan()
            if again == now:
                break
            now = again
        changed = sorted(n for n in set(now) | set(self.snapshot) if now.get(n) != self.snapshot.get(n))
        self.snapshot = now
        return changed

    # ------------------------------------------------------------------ the loop
    def finished(self) -> bool:
        return self.max_rounds is not None and self.rounds >= self.max_rounds

    def run(self) -> int:
        keys = "type n, h, l, r or q and press Enter" if not self.keys.interactive else KEYS_HELP
        self.echo(click.style("grade watch", bold=True) + f": watching {self.source_dir}/ — save a file to grade "
                  f"the current exercise again. Keys: {keys}.")
        try:
            self.grade_current("start")
            while not self.finished():
                key = self.keys.get(self.interval)
                if key is not None:
                    if self.on_key(key) == "quit":
                        break
                    continue
                changed = self.changed_files()
                if changed:
                    self.grade_current(f"{', '.join(changed)} saved")
        except KeyboardInterrupt:
            pass
        finally:
            self.keys.close()
        self.echo("Stopped watching. Your progress is saved: grade list shows it.")
        if self.max_rounds is not None:
            return 0 if self.result is not None and self.result.status == PASSED else 1
        return 0

    def on_key(self, key: str):
        if key == "q":
            return "quit"
        if key == "n":
            names = self.course.names()
            i = names.index(self.current)
            if i + 1 < len(names):
                self.current = names[i + 1]
                self.grade_current("next")
            else:
                self.echo(f"{self.current} is the last exercise.")
        elif key == "h":
            entry = progress.load_exercise(self.source_dir, self.current)
            self.echo("")
            self.echo(render_hint(next_hint(self.course, self.current, self.source_dir, entry),
                                  self.course, self.source_dir, again="press h again"))
        elif key == "l":
            self.echo("")
            self.echo(self.course_list())
        elif key == "r":
            self.grade_current("again")
        else:
            self.echo(f"keys: {KEYS_HELP}")
        return None

    def grade_current(self, reason: str) -> None:
        """Grade the current exercise; while it passes, move on to the next unfinished one."""
        from .cli import explain_refusals, open_submission
        from .grading import grade

        while not self.finished():
            self.rounds += 1
            name = self.current
            started = time.monotonic()
            self.echo(click.style(f"\ngrading {name}…", dim=True))
            warnings: list[str] = []
            try:  # graded from the grader's private copy of the folder, as in grade
                with open_submission(self.source_dir, warnings=warnings.extend) as snap:
                    report = grade(self.course, [name], snap.root, self.seed, jobs=self.jobs,
                                   display_source=self.source_dir)
                    explain_refusals(report, snap, self.course)
                    progress.save(self.source_dir, report, files_dir=snap.root)
            except gate.GateError as refused:
                self.echo(f"{refused} Still watching.")
                return
            except Exception as exc:  # keep watching, whatever happened
                self.echo(f"The grader could not grade {name} ({type(exc).__name__}: {exc}). Still watching; "
                          f"save the file again to retry.")
                return
            self.result = report.exercises[0]
            if self.clear:
                click.clear()
            self.echo(self.render(self.result, reason, time.monotonic() - started))
            for line in warnings:  # after the clear, so they stay on screen
                self.echo(click.style("warning: ", fg="yellow", bold=True) + line)
            if self.result.status != PASSED:
                return
            following = self.next_unfinished()
            if following is None:
                self.echo(click.style("Every exercise passes. Well done!", fg="green", bold=True)
                          + " (q quits; watching goes on)")
                return
            self.echo(click.style(f"✓ {name} passes — moving on to {following}.", fg="green", bold=True))
            self.current = following
            reason = f"{name} passed"

    def next_unfinished(self) -> str | None:
        saved = progress.load(self.source_dir)
        names = self.course.names()
        i = names.index(self.current)
        for n in names[i + 1:] + names[:i]:
            if saved.get(n, {}).get("status") != PASSED:
                return n
        return None

    # ------------------------------------------------------------------ display
    def progress_bar(self, width: int = 24) -> str:
        saved = progress.load(self.source_dir)
        total = len(self.course.exercises)
        passed = sum(1 for e in self.course.exercises if saved.get(e.name, {}).get("status") == PASSED)
        points = sum(float(saved.get(e.name, {}).get("score", 0) or 0) for e in self.course.exercises)
        max_points = sum(e.max_score for e in self.course.exercises)
        filled = round(width * points / max_points) if max_points else 0
        bar = "█" * filled + "░" * (width - filled)
        return f"course {bar} {passed}/{total} exercises passed · {_num(points)}/{_num(max_points)} points"

    def render(self, result: ExerciseResult, reason: str, seconds: float) -> str:
        exercise = self.course.get(result.name)
        clock = datetime.now().strftime("%H:%M:%S")
        names = self.course.names()
        lines = [click.style(f"[{clock}] run {self.rounds} · {result.name} ({reason}) · {seconds:.1f} s", dim=True),
                 self.progress_bar(),
                 click.style(f"exercise {names.index(result.name) + 1}/{len(names)}: {result.name}", bold=True)
                 + f" — {exercise.title}: {_num(result.score)}/{_num(result.max_score)} points, "
                 + click.style(f"{_MARKS[result.status]} {STATUS_LABELS[result.status]}", fg=_COLOURS[result.status])]
        if result.status == ERROR:
            lines.append(_indent(result.message or result.checks[0].message, 2))
        elif result.status != PASSED:
            failing = [c for c in result.checks if not c.passed and not c.not_started]
            for c in failing[:MAX_FAILURES_SHOWN]:
                lines.append(click.style(f"  ✗ {c.function}: {c.name}", fg="red"))
                lines.append(_indent(c.message, 6))
            if len(failing) > MAX_FAILURES_SHOWN:
                lines.append(f"  … and {len(failing) - MAX_FAILURES_SHOWN} more (grade {result.name} -v shows all)")
            waiting = [f.name for f in exercise.functions
                       if any(c.function == f.name and c.not_started for c in result.checks)]
            if waiting:
                lines.append(f"  not started yet: {', '.join(waiting)} (still raising NotImplementedError)")
            tip = f"  edit {self.source_dir}/{result.name}.py and save; stuck? [h] for a hint"
            if failing:
                tip += f", or grade {result.name} --replay to rerun the smallest failing example with your prints"
            lines.append(tip)
        lines.append(click.style(KEYS_HELP, dim=True))
        return "\n".join(lines)

    def course_list(self) -> str:
        saved = progress.load(self.source_dir)
        lines = []
        for i, e in enumerate(self.course.exercises, 1):
            status = saved.get(e.name, {}).get("status")
            label = f"{_MARKS.get(status, ' ')} {STATUS_LABELS.get(status, 'not graded yet')}"
            mark = "  ← now" if e.name == self.current else ""
            lines.append(f"{i:>2}  {e.name:<18} {label:<16} {e.title}{mark}")
        return "\n".join(lines)


def _indent(text: str, n: int) -> str:
    import textwrap

    pad = " " * n
    return "\n".join(textwrap.fill(p, width=100, initial_indent=pad, subsequent_indent=pad + "  ",
                                   break_long_words=False, break_on_hyphens=False) or pad
                     for p in (text or "").splitlines() or [""])


def _num(x) -> str:
    x = float(x)
    return str(int(x)) if x == int(x) else f"{x:g}"


# ----------------------------------------------------------------------------- the command


@click.command("watch")
@click.option("--source", "source", metavar="DIR", help="Folder with your modules (default: ./exercises).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=5.0, show_default=True,
              help="Seconds one call to your code may take before it counts as a hang.")
@click.option("--interval", type=click.FloatRange(0.05, 10), default=0.5, show_default=True,
              help="Seconds between looks at the files.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of CPU cores).")
@click.option("--exercise", "start", metavar="NAME", default=None,
              help="Start with this exercise (default: the first not passed yet).")
@click.option("--once", is_flag=True, help="Grade the current exercise once and stop (exit code 0 if it passes).")
@click.option("--max-rounds", type=click.IntRange(1), default=None, hidden=True,
              help="Stop after this many gradings (for scripts and tests).")
def watch_command(source, timeout, interval, jobs, start, once, max_rounds):
    """Grade the current exercise every time you save a file.

    \b
    Keys: n next exercise, h hint, l list, r grade again, q quit.
    """
    from .cli import get_course, resolve_source
    from .hints import check_exercise_name

    course = get_course()
    source_dir = resolve_source(source)
    gate.snapshot(source_dir).close()  # a folder the gate refuses whole (a link): exit 2 at once
    if start is not None:
        check_exercise_name(course, start)
    keys = NoKeys() if once else keys_from_stdin()
    try:
        watcher = Watcher(course, source_dir, timeout=timeout, interval=interval, jobs=jobs,
                          max_rounds=1 if once else max_rounds, keys=keys,
                          clear=keys.interactive and sys.stdout.isatty(), start=start)
    except BaseException:
        keys.close()  # the terminal back as it was
        raise
    sys.exit(watcher.run())
