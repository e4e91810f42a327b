"""``grade watch``: grade the current exercise every time a file is saved.

The current exercise is the first one not right yet (by the state file). Watch grades
it at once, then polls the modules in the exercises folder (their modification time,
size and contents, every ``--interval`` seconds: no extra dependency) and grades again
whenever one is saved: the exercise whose file changed, saying so when it is not the one
being watched (breaking ``vectors.py`` while on ``mlp`` shows ``vectors`` failing again).
Each run shows the failing checks with their smallest failing input, the functions that
are correct but too slow (the timed runs run as in ``grade``; ``--no-timing`` skips
them), a progress bar over the whole course, and the keys; when the exercise is right,
watch moves on to the next one by itself.

Points are on the one scale every screen uses (grader/progress.py): an exercise is worth
its checks and its timed runs, in the progress bar, in ``grade list`` and in ``grade``.

Keys: ``n`` (or →) next exercise, ``p`` (or ←) previous exercise, ``h`` next hint, ``l``
list the course, ``r`` grade again, ``q`` quit. On a terminal they are read one key at a
time (no Enter needed); otherwise stdin is read line by line (``h`` then Enter), which is
also how the tests drive it.

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
from .format import points, points_of, wrap, wrap_items
from .hints import current_exercise, next_hint, render as render_hint
from .reporters.table import MARKS, details, status_text
from .results import ERROR, PASSED, STATUS_LABELS, TOO_SLOW, ExerciseResult

TORCH_MIN_TIMEOUT = 10.0  # importing PyTorch in a fresh child alone can take a few seconds
MAX_FAILURES_SHOWN = 4
KEYS = ["[n] next exercise", "[p] previous", "[h] hint", "[l] list", "[r] grade again", "[q] quit"]
KEYS_HELP = "  ".join(KEYS)
_RANK = {TOO_SLOW: 1, PASSED: 2}  # how right an exercise is: watch moves on when it gets righter
ARROWS = {b"\x1b[C": "n", b"\x1bOC": "n", b"\x1b[D": "p", b"\x1bOD": "p"}  # → next, ← previous


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
        if data.startswith(b"\x1b"):  # → and ← move between exercises; other escape sequences do nothing
            return ARROWS.get(data[:3])
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
                 clear: bool = False, seed: int | None = None, start: str | None = None,
                 timing: bool = True):
        self.full_course = course  # the course's own limits: for the points of the timed runs
        self.course = course_for_watch(course, timeout)
        self.timing = timing
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
        keys = ("type n, p, h, l, r or q and press Enter" if not self.keys.interactive
                else "  ".join(k.replace(" ", "\xa0") for k in KEYS))  # a line may break between keys only
        intro = (f"grade watch: watching {self.source_dir}/ — save a file to grade its exercise again. "
                 f"Keys: {keys}.")
        text = wrap(intro, 0, hanging=0).replace("\xa0", " ")
        self.echo(click.style("grade watch", bold=True) + text[len("grade watch"):])
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
                    self.on_saved(changed)
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
        if key in ("n", "p"):
            names = self.course.names()
            i = names.index(self.current) + (1 if key == "n" else -1)
            if 0 <= i < len(names):
                self.current = names[i]
                self.grade_current("next" if key == "n" else "previous")
            else:
                self.echo(f"{self.current} is the {'last' if key == 'n' else 'first'} exercise.")
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
            self.echo(self.keys_line())
        return None

    def keys_line(self) -> str:
        """The keys, wrapped to the terminal between keys, never inside one."""
        return click.style(wrap_items(KEYS), dim=True)

    def on_saved(self, changed: list[str]) -> None:
        """Grade what a save changed: each exercise whose module was saved (the current
        one last, so its screen stays in view); any other file, the current exercise."""
        modules = {e.module_file: e.name for e in self.course.exercises}
        touched = [n for n in self.course.names() if n in {modules.get(f) for f in changed}]
        saved = ", ".join(changed)
        for name in [n for n in touched if n != self.current]:
            if self.finished():
                return
            self.echo(click.style(f"\n{name}.py was saved: grading {name}, which is not the exercise you are "
                                  f"watching ({self.current}).", bold=True))
            result = self.grade_one(name, f"{saved} saved")
            if result is not None:
                self.echo(f"Still watching {self.current} ([p] and [n] move between exercises).")
        if self.current in touched or not touched:
            clear, self.clear = self.clear, self.clear and touched == [self.current]
            try:  # the other exercises' results stay on screen above the current one's
                self.grade_current(f"{saved} saved")
            finally:
                self.clear = clear

    def grade_one(self, name: str, reason: str) -> ExerciseResult | None:
        """Grade ``name`` (with its timed runs, unless ``--no-timing``), save and show it;
        None when it could not be graded (watching goes on)."""
        from .context import explain_refusals, open_submission
        from .grading import grade

        self.rounds += 1
        started = time.monotonic()
        self.echo(click.style(f"\ngrading {name}…", dim=True))
        warnings: list[str] = []
        try:  # graded from the grader's private copy of the folder, as in grade
            with open_submission(self.source_dir, warnings=warnings.extend) as snap:
                report = grade(self.course, [name], snap.root, self.seed, jobs=self.jobs,
                               timing=self.timing, display_source=self.source_dir)
                explain_refusals(report, snap, self.course)
                progress.save(self.source_dir, report, files_dir=snap.root, course=self.full_course)
        except gate.GateError as refused:
            self.echo(f"{refused} Still watching.")
            return None
        except Exception as exc:  # keep watching, whatever happened
            self.echo(f"The grader could not grade {name} ({type(exc).__name__}: {exc}). Still watching; "
                      f"save the file again to retry.")
            return None
        result = report.exercises[0]
        if self.clear and name == self.current:
            click.clear()
        self.echo(self.render(result, reason, time.monotonic() - started))
        for line in warnings:  # after the clear, so they stay on screen
            self.echo(click.style("warning: ", fg="yellow", bold=True) + line)
        return result

    def grade_current(self, reason: str) -> None:
        """Grade the current exercise; when it has just become right (or fast enough), move on
        to the next one that is not right yet. An exercise that was right already keeps the
        screen: [p] back to one that is correct but too slow stays there to speed it up."""
        while not self.finished():
            name = self.current
            before = _RANK.get(progress.shown_state(progress.load_exercise(self.source_dir, name)), 0)
            result = self.grade_one(name, reason)
            if result is None:
                return
            self.result = result
            if _RANK.get(result.state, 0) <= before:  # not right, or no righter than it was
                return
            following = self.next_unfinished()
            if following is None:
                self.echo(self.all_done() + " (q quits; watching goes on)")
                return
            if result.state == PASSED:
                self.echo(click.style(wrap(f"✓ {name} passes — moving on to {following}.", 0), fg="green", bold=True))
            else:
                self.echo(click.style(wrap(f"◐ {name} is correct, but not fast enough yet — moving on to {following} "
                                           f"([p] goes back to {name} to make it faster).", 0), fg="yellow", bold=True))
            self.current = following
            reason = f"{name} {'passed' if result.state == PASSED else 'is correct'}"

    def next_unfinished(self) -> str | None:
        """The next exercise after the current one that is not right yet (by the saved states)."""
        saved = progress.load(self.source_dir)
        names = self.course.names()
        i = names.index(self.current)
        for n in names[i + 1:] + names[:i]:
            if not progress.is_correct(saved.get(n, {})):
                return n
        return None

    def all_done(self) -> str:
        """Every exercise is right: all passing, or some still too slow (never "every
        exercise passes" while one does not)."""
        saved = progress.load(self.source_dir)
        slow = [n for n in self.course.names() if progress.shown_state(saved.get(n, {})) == TOO_SLOW]
        if not slow:
            return click.style("Every exercise passes. Well done!", fg="green", bold=True)
        return (click.style("Every exercise is correct.", fg="green", bold=True)
                + wrap(f" Still too slow: {', '.join(slow)}.", 0, hanging=0))

    # ------------------------------------------------------------------ display
    def progress_bar(self, width: int = 24) -> str:
        """The whole course at a glance, on the one points scale of ``grade list`` and ``grade``."""
        saved = progress.load(self.source_dir)
        total = len(self.course.exercises)
        states = [progress.shown_state(saved.get(e.name, {})) for e in self.course.exercises]
        passed, slow = states.count(PASSED), states.count(TOO_SLOW)
        earned, top = progress.course_points(self.full_course, saved)
        filled = min(width, round(width * earned / top)) if top else 0
        bar = "█" * filled + "░" * (width - filled)
        slow_text = f", {slow} correct but too slow" if slow else ""
        return f"course {bar} {passed}/{total} exercises passed{slow_text} · {points_of(earned, top)} points"

    def render(self, result: ExerciseResult, reason: str, seconds: float) -> str:
        exercise = self.course.get(result.name)
        clock = datetime.now().strftime("%H:%M:%S")
        names = self.course.names()
        top = progress.full_max_score(self.full_course.get(result.name))
        untimed = "" if any(c.kind == "timing" for c in result.checks) or top == result.max_score \
            else " (timed runs skipped)"
        lines = [click.style(f"[{clock}] run {self.rounds} · {result.name} ({reason}) · {seconds:.1f} s", dim=True),
                 self.progress_bar(),
                 click.style(f"exercise {names.index(result.name) + 1}/{len(names)}: {result.name}", bold=True)
                 + " — " + status_text(result.state) + f" · {points(result.score)}/{points(top)} points{untimed}",
                 wrap(exercise.title, 2)]
        if result.state != PASSED:
            lines.extend(details(result, source=self.source_dir, max_failures=MAX_FAILURES_SHOWN))
        if result.state not in (PASSED, TOO_SLOW, ERROR):
            failing = any(not c.passed and not c.not_started for c in result.checks)
            tip = f"edit {self.source_dir}/{result.name}.py and save; stuck? [h] for a hint"
            if failing:
                tip += f", or grade {result.name} --replay to rerun the smallest failing example with your prints"
            lines.append(wrap(tip, 2))
        lines.append(self.keys_line())
        return "\n".join(lines)

    def course_list(self) -> str:
        saved = progress.load(self.source_dir)
        width = max(len(n) for n in self.course.names()) + 2
        lines = []
        for i, e in enumerate(self.course.exercises, 1):
            state = progress.shown_state(saved.get(e.name, {}))
            label = f"{MARKS[state]} {STATUS_LABELS[state]}" if state in MARKS else "  not graded yet"
            mark = "  ← now" if e.name == self.current else ""
            lines.append(f"{i:>2}  {e.name:<{width}}{label:<24}{e.title}{mark}")
        return "\n".join(lines)


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
@click.option("--timing/--no-timing", "timing", default=True,
              help="Time correct functions against the reference solution, as grade does (default: on; "
                   "--no-timing saves a few seconds per save, and the timed runs' points wait).")
@click.option("--max-rounds", type=click.IntRange(1), default=None, hidden=True,
              help="Stop after this many gradings (for scripts and tests).")
def watch_command(source, timeout, interval, jobs, start, once, max_rounds, timing=True):
    """Grade the current exercise every time you save a file.

    \b
    Keys: n (or →) next exercise, p (or ←) previous, h hint, l list,
    r grade again, q quit.
    """
    from .context import get_course, resolve_source
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
                          clear=keys.interactive and sys.stdout.isatty(), start=start, timing=timing)
    except BaseException:
        keys.close()  # the terminal back as it was
        raise
    sys.exit(watcher.run())
