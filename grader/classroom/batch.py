"""``grade batch DIR --out gradebook.csv``: grade a whole class into a gradebook.

Every sub-folder of DIR is one learner's repository, laid out like the class repository
(``DIR/<learner>/exercises/*.py``). Each is graded by its own ``python -m grader run
--source DIR/<learner>/exercises --format json`` process, started in a session of its own
from an empty temporary folder with the teacher's Python (so a ``grader/`` folder inside a
submission is never imported), under a wall-clock timeout; on timeout the process and
everything it started (learner processes included) are killed. A broken, hanging or
hostile submission therefore costs at most its own timeout and never another learner's
grade. The learner code itself runs in the grader's sandbox; a batch refuses to run
without one (``namespaces`` or ``uid``) unless told ``--allow-weak-sandbox``. Where the
warm grader forks learner processes, every grade run of the batch forks them through the
batch's own zygotes, started once (:class:`SharedZygotes`).

Official grades use a secret seed (``--secret-seed-file FILE`` or ``$GRADE_SECRET_SEED``,
see grader/seeds.py): each grade process gets the secret's text in its environment
(``GRADE_SECRET_SEED``), never on its command line, where ``ps`` would show it to every
user of the machine; learner processes never see it (their environment is rebuilt from a
short allow-list), and the secret file is off limits to learner code like the solutions.
A record made under a secret seed says so in its configuration (``"secret_seed": true``),
never which secret: after changing the secret, regrade with ``--force``.

A learner folder may have any name the file system allows (any bytes but ``/``): it is
listed and graded as bytes, shown through :func:`grader.text.show_name`, and its record
file is named by :func:`record_key` (a readable slug and a hash of the raw name). A
learner folder, ``exercises`` or ``exercises/quizzes`` that is a symbolic link is not
graded: a submission holds its own files, not a link to the reference solutions.

Results are saved as each submission finishes: ``.grade-batch/<gradebook>/<key>.json``
next to the gradebook, then the gradebook (CSV) and its JSON twin are rebuilt, each
written atomically. A rerun skips learners whose record is there and was made for the
same exercises, seed, options and sandbox (``--force`` regrades them; those that could not
be graded at all are tried again), so an interrupted batch loses only the submissions that
were being graded. SIGINT and SIGTERM end every running grade process at once, rewrite the
gradebook with what finished, and raise :class:`Interrupted`. ``--shard K/N`` grades the
K-th of N disjoint slices of the learner folders sorted by name (folder i goes to slice
i % N + 1); ``grade merge`` joins the slices' JSON gradebooks.

``--before DEADLINE`` grades each learner folder that is a git repository of its own at
its last commit made at or before the deadline, exported (blob by blob, no filters) into a
private temporary folder (see :func:`_at_deadline`); the record names the commit.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ..atomic import write_atomic, write_json_atomic
from ..results import SANDBOX_MODES, _num, sandbox_name
from ..runner import identity, kill, warm
from ..text import clean, show_name, spreadsheet_cell

GRADED, TIMEOUT, ERROR = "graded", "timeout", "error"
# A submission whose grading was cut short by SIGINT/SIGTERM: never saved, graded on the rerun.
INTERRUPTED = "interrupted"
STATE_DIR = ".grade-batch"
VERSION = 1
TWIN_EVERY = 30.0  # seconds between rewrites of the JSON gradebook during a batch
POLL = 0.25  # seconds between looks at the stop flag while submissions are being graded


class BatchError(Exception):
    """A set-up problem (no such folder, bad shard...): one paragraph, exit code 2."""


class Interrupted(Exception):
    """The batch was stopped by SIGINT or SIGTERM; every finished record is saved.

    ``exit_code`` follows the shell's convention (128 + the signal's number: 130 for
    Ctrl-C, 143 for SIGTERM), so a script or CI runner sees why the batch ended.
    """

    def __init__(self, signum: int, saved: int):
        self.signum = signum
        self.saved = saved
        self.exit_code = 128 + signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")


# ----------------------------------------------------------------------------- the sandbox

def _weak_sandbox_text() -> str:
    """Why a batch will not run learner code unisolated, and what to do: one paragraph."""
    if os.environ.get("GRADE_SANDBOX", "").strip().lower() in ("none", "off"):
        why = "GRADE_SANDBOX=none turns the sandbox off"
        fix = ("Unset GRADE_SANDBOX to use the strongest sandbox this machine has (bubblewrap's namespaces "
               "or, as root, a user id of its own for each submission)")
    else:
        why = ("this machine offers no sandbox for learner code (no working bubblewrap, and grade is not "
               "running as root)")
        fix = ("Install bubblewrap (Debian and Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf "
               "install bubblewrap) so that each submission runs in namespaces of its own, or run grade "
               "batch as root (a container will do) so that each runs under a user id of its own")
    return (f"grade batch runs other people's code, and {why}: each submission would run as you, able to "
            f"read the reference solutions and quiz keys, read or change every classmate's submission, and "
            f"reach your own files. {fix}. To grade anyway, as practice, knowing that a hostile submission "
            f"can cheat or do harm, add --allow-weak-sandbox.")


def machine_sandbox(torch: bool = False) -> str:
    """The isolation this machine gives learner code: namespaces, uid or none.

    A ``GRADE_SANDBOX`` that asks for a mode this machine cannot give is a set-up error in
    its own words, not a silent fall to ``none``.
    """
    from ..runner.sandbox import sandbox_mode

    try:
        return sandbox_name(sandbox_mode(torch=torch))
    except Exception as e:  # noqa: BLE001 - SandboxUnavailable, or a probe that failed
        raise BatchError(f"grade batch cannot isolate learner code as asked: {clean(e, 600)}") from None


def batch_sandbox(course, names: list[str]) -> str:
    """The isolation the learner code of this batch will run under: namespaces, uid or none."""
    torch = any(course.get(n).framework == "torch" for n in names if n in course.names())
    return machine_sandbox(torch=torch)


def _weakest(modes) -> str | None:
    """The weakest of some sandbox modes (a gradebook is as isolated as its weakest record)."""
    known = [sandbox_name(m) for m in modes if m]
    return min(known, key=SANDBOX_MODES.index) if known else None


# ----------------------------------------------------------------------------- learners and shards

def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise BatchError(f"--shard {text}: write K/N with 1 ≤ K ≤ N, e.g. --shard 2/4 for the second of "
                         f"four slices.")
    return int(m.group(1)), int(m.group(2))


def parse_deadline(text: str | None):
    """``--before``: an ISO 8601 date or date and time; without a time zone it is UTC. A
    date alone means the start of that day. Returns an aware datetime in UTC (or None)."""
    if text is None:
        return None
    from datetime import datetime, timezone

    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BatchError(f"--before {text}: write an ISO 8601 date or date and time, e.g. --before "
                         f"2026-12-01T23:59:59+01:00 (no time zone: UTC).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def deadline_text(when) -> str:
    """A deadline as records and gradebooks show it (UTC, ISO 8601)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_key(raw: bytes) -> str:
    """The file name (without ``.json``) of a learner's record: safe, stable and unique.

    A folder name may be any bytes (not UTF-8, a newline, ``=HYPERLINK(...)``, a leading
    dash, 255 bytes long). The slug keeps the record readable in a listing; the hash of
    the raw bytes keeps two learners apart even when their slugs agree (``café`` and
    ``caf\\xe9``), and gives the same name on every rerun, so a batch resumes.
    """
    slug = re.sub(rb"[^A-Za-z0-9_.-]+", b"_", raw).decode("ascii").strip("._-")[:40] or "learner"
    return f"{slug}-{hashlib.sha256(raw).hexdigest()[:16]}"


@dataclass(frozen=True, order=True)
class Learner:
    """One learner folder of the class; ``raw`` is its name exactly as the file system has it."""

    raw: bytes

    @property
    def name(self) -> str:
        """What people see: printable, whatever the bytes."""
        return show_name(self.raw)

    @property
    def key(self) -> str:
        return record_key(self.raw)

    def folder(self, root: str) -> str:
        """The real path (undecodable bytes kept as surrogate escapes, which ``open`` and
        ``subprocess`` turn back into the same bytes)."""
        return os.fsdecode(os.path.join(os.fsencode(os.path.abspath(root)), self.raw))


def learners(root: str) -> list[Learner]:
    """The learner folders of ``root``, sorted by name (hidden folders are not learners).

    Listed as bytes, so a name that is not UTF-8 is a learner like any other. A symbolic
    link is listed too (and refused when graded, with a record that says so) rather than
    skipped without a word.
    """
    if not os.path.isdir(root):
        raise BatchError(f"{show_name(root)}: no such folder. Give the folder that holds one sub-folder per "
                         f"learner.")
    base = os.fsencode(root)
    found = []
    for raw in os.listdir(base):
        if raw.startswith(b"."):
            continue
        try:
            mode = os.lstat(os.path.join(base, raw)).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
            found.append(Learner(raw))
    return sorted(found)


def shard_of(names: list, shard: tuple[int, int] | None) -> list:
    """The K-th of N disjoint slices of the sorted names: name i goes to slice i % N + 1."""
    names = sorted(names)
    if shard is None:
        return names
    k, n = shard
    return [name for i, name in enumerate(names) if i % n == k - 1]


# ----------------------------------------------------------------------------- paths

def twin_paths(out: str) -> tuple[str, str]:
    """``(csv, json)`` paths of a gradebook named by ``--out``."""
    base, ext = os.path.splitext(os.path.abspath(out))
    if ext.lower() == ".json":
        raise BatchError(f"--out {out}: name the CSV gradebook (e.g. gradebook.csv); its JSON twin "
                         f"{os.path.basename(base)}.json is written next to it.")
    return base + (ext or ".csv"), base + ".json"


def state_dir(out: str) -> str:
    csv_path, _ = twin_paths(out)
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    return os.path.join(os.path.dirname(csv_path), STATE_DIR, stem)


def record_path(out: str, learner: Learner | bytes) -> str:
    raw = learner.raw if isinstance(learner, Learner) else learner
    return os.path.join(state_dir(out), f"{record_key(raw)}.json")


# ----------------------------------------------------------------------------- grading one submission

def kill_tree(pid: int) -> None:
    """Kill a grading process, its process group, and every process it started.

    The learner processes run in sessions (and namespaces) of their own, so killing the
    grader's group is not enough: :func:`grader.runner.kill.kill_tree`, the runner's own
    killer, freezes the tree, reads it again until nothing new appears, and kills it all.
    """
    kill.kill_tree(pid)


_running: dict[int, subprocess.Popen] = {}
# Re-entrant: the signal handler (which runs in the main thread) takes it too.
_running_lock = threading.RLock()
_stopping = threading.Event()


def kill_running() -> None:
    """Kill every submission still being graded, and start no more (an interrupted batch)."""
    _stopping.set()
    with _running_lock:
        procs = list(_running.values())
    for proc in procs:
        if proc.poll() is None:
            kill_tree(proc.pid)


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _workspace() -> tuple[str, str]:
    """A fresh working folder for one grade process, and the TMPDIR inside it.

    Everything the grader and the learner processes create in temp lands in the
    submission's own folder, removed afterwards even when a timeout left them no time to
    clean up. Both folders are mode 0711, not mkdtemp's 0700: in the ``uid`` sandbox a
    learner process runs as a user of its own and must pass through them to reach the
    private folder the grader makes (and hands over) for it inside; behind a 0700 folder
    it found "No usable temporary directory" and a correct MLP scored 5/15. 0711 lets it
    pass through without listing or writing anything (the names inside are random).
    """
    cwd = tempfile.mkdtemp(prefix="grade-batch-")
    tmp = os.path.join(cwd, "tmp")
    os.mkdir(tmp)
    for folder in (cwd, tmp):
        os.chmod(folder, 0o711)
    return cwd, tmp


_bytecode: list[str] = []


def _bytecode_folder() -> str:
    """This batch's own bytecode folder (0700, made fresh, removed when the batch ends)."""
    if not _bytecode:
        import atexit

        folder = tempfile.mkdtemp(prefix="grade-batch-bytecode-")
        atexit.register(shutil.rmtree, folder, True)
        _bytecode.append(folder)
    return _bytecode[0]


def _child_env(tmp: str, root: str | None = None, secret: str | None = None,
               secret_file: str | None = None, zygotes: str = "") -> dict:
    """The environment of one ``grade run``: the teacher's, with its own TMPDIR, no git
    identity, the secret seed's text when there is one, the other submissions (and the
    secret seed file) off limits to learner code, and the batch's zygotes (``zygotes``: the
    value of $GRADE_WARM_ZYGOTES, see :class:`SharedZygotes`)."""
    from ..seeds import SECRET_ENV

    env = dict(os.environ)
    if secret is not None:
        env[SECRET_ENV] = secret  # the environment, never argv: ps shows every command line
    env["TMPDIR"] = tmp
    env.pop("GITHUB_OUTPUT", None)
    # Quiz numbers come from the answers file's `student`, never from the teacher's git e-mail.
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    # No bytecode but this batch's own: a planted grader/__pycache__/*.pyc (with its source's
    # mtime and size in the header, Python prefers it to the source) scored untouched stubs
    # 62/62. Python reads and writes bytecode only under this prefix, a fresh private folder
    # made by this batch, so every module is compiled from its source once per batch (not
    # once per learner: torch alone would cost seconds each time).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = _bytecode_folder()
    off_limits = _off_limits(root, secret_file)
    if off_limits:
        forbidden = [p for p in env.get("GRADE_FORBIDDEN_DIRS", "").split(os.pathsep) if p]
        env["GRADE_FORBIDDEN_DIRS"] = os.pathsep.join([*forbidden, *off_limits])
    # The batch's zygotes (grader/runner/warm.py), for this grade run alone to name: never
    # whatever the batch itself was started with.
    env.pop(warm.INHERIT_ENV, None)
    if zygotes:
        env[warm.INHERIT_ENV] = zygotes
    return env


def _off_limits(root: str | None, secret_file: str | None) -> list[str]:
    """What a batch adds to each grade run's forbidden folders: the folder of every
    submission (each reads only its own, where the sandbox cannot hide it altogether) and
    the secret seed file."""
    found = []
    if root and os.pathsep not in root:
        found.append(os.path.abspath(root))
    if secret_file and os.pathsep not in secret_file:
        found.append(os.path.realpath(secret_file))
    return found


class SharedZygotes:
    """The warm grader's zygotes of one batch (grader/runner/warm.py), shared by its grade runs.

    Without them each ``grade run`` starts its own zygotes and pays NumPy's and torch's
    import again for every learner. So the batch process starts them, once per batch, when
    the first grade run is about to start (a batch whose grading is all skipped, or done
    elsewhere, starts none), and every grade run inherits their control sockets
    (:meth:`handover`). They are started for the layout every grade run of the batch
    needs: the same environment (nothing learner-specific is in it) and the whole class
    folder, the secret seed file and the course folder hidden where the sandbox's runtime
    would show them (each grade run hides its one learner's part of it). A zygote never
    runs learner code and holds nothing of a learner: modules, uid, limits and control
    group travel with each fork request, and each learner process gets namespaces of its
    own. They end with the batch (:meth:`close`).
    """

    def __init__(self, course, names: list[str], root: str, secret_file: str | None = None):
        self.course, self.names, self.root, self.secret_file = course, names, root, secret_file
        self._lock = threading.Lock()
        self._started: set | None = None  # keys of the zygotes started here, once tried
        self._handover: tuple[str, tuple[int, ...]] = ("", ())

    def handover(self) -> tuple[str, tuple[int, ...]]:
        """(value of $GRADE_WARM_ZYGOTES, descriptors to pass) for a grade run starting now."""
        with self._lock:  # the first grade run starts them; the others wait that long
            if self._started is None:
                before = warm.started()
                try:
                    self._start()
                except Exception as exc:  # noqa: BLE001 - no shared zygotes: each grade run starts its own
                    warm.debug(f"grade batch: no shared zygotes ({exc})")
                self._started = warm.started() - before
            # (One that stops meanwhile is seen by each grade run, which then starts its own.)
            return self._handover

    def _start(self) -> None:
        from ..context import _course_folder_off_limits, off_limits  # what each grade run hides too
        from ..runner.sandbox import LearnerProcess

        exercises = [self.course.get(n) for n in self.names if n in self.course.names()]
        # Each grade run's forbidden folders: those of this process and the batch's own.
        with off_limits(os.pathsep.join(_off_limits(self.root, self.secret_file)) or None), \
                _course_folder_off_limits():
            for exercise in exercises:  # one per framework and limits (the same key: started once)
                LearnerProcess(exercise.name, os.path.join(os.path.abspath(self.root), exercise.module_file),
                               exercise.limits, torch=exercise.framework == "torch").warm_up()
        self._handover = warm.handover()

    def close(self) -> None:
        """End the zygotes this batch started."""
        with self._lock:
            started, self._started = self._started or set(), set()
            self._handover = ("", ())
        if started:
            warm.close_all(started)


_shared: list[SharedZygotes] = []  # the running batch's (grade runs on this machine only)


def _first_paragraph(text: str, limit: int = 400) -> str:
    text = " ".join(text.strip().split())
    text = re.sub(r"^error:\s*", "", text)
    return clean(text, limit)


def _printable(value):
    """``value`` (a parsed report) with every lone surrogate in its strings written out as
    ``\\udcff``: JSON may carry one (``"\\udcff"``), and a record that holds one could not
    be written as UTF-8 — the batch would stop at that learner, on every rerun."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    return value


def _read_report(out: bytes) -> dict:
    """The JSON report a ``grade run`` printed; ValueError when it is not one."""
    try:
        report = _printable(json.loads(out.decode("utf-8")))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(report, dict) or not isinstance(report.get("exercises"), list):
        raise ValueError("not a report")
    return report


def _grade_run(names: list[str], source: str, *, timeout: float, seed: int | None, jobs: int,
               options: tuple, root: str | None = None, secret: str | None = None,
               secret_file: str | None = None, zygotes: SharedZygotes | None = None) -> tuple[str, dict | None, str, int]:
    """One ``grade run`` process: ``(status, report, message, exit code)``.

    It is started in a session of its own, so that a timeout or an interrupted batch can
    end it and every process it started (:func:`kill_tree`); a grade process killed
    because the batch is stopping comes back as ``INTERRUPTED``, never as a result.
    """
    command = [sys.executable, "-m", "grader", "run", *names, "--source", source, "--format", "json",
               "--no-progress", "--jobs", str(max(1, jobs)), *options]
    if seed is not None:
        command += ["--seed", str(seed)]
    shared = zygotes or (_shared[0] if _shared else None)
    zygotes, fds = shared.handover() if shared is not None else ("", ())
    cwd, tmp = _workspace()
    try:
        with _running_lock:
            if _stopping.is_set():
                return INTERRUPTED, None, "", -1
            # die_with_parent: a batch killed outright (SIGKILL) takes its grade processes with
            # it; this thread waits on the process for its whole life, so the signal is not early.
            identity.libc()  # loaded before the fork: die_with_parent calls into it
            proc = subprocess.Popen(command, cwd=cwd, env=_child_env(tmp, root, secret, secret_file, zygotes),
                                    stdin=subprocess.DEVNULL, pass_fds=fds,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=identity.die_with_parent)
            _running[proc.pid] = proc
        try:
            out, err = proc.communicate(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.communicate()
            return (INTERRUPTED if _stopping.is_set() else TIMEOUT), None, "", -1
        finally:
            with _running_lock:
                _running.pop(proc.pid, None)
    finally:
        _remove(cwd)
    if _stopping.is_set() and proc.returncode not in (0, 1):
        return INTERRUPTED, None, "", proc.returncode
    text_err = err.decode("utf-8", "replace")
    if proc.returncode in (0, 1):
        try:
            report = _read_report(out)
        except ValueError:
            return ERROR, None, ("the grader's output could not be read: "
                                 + _first_paragraph(text_err or repr(out[:200]))), proc.returncode
        return GRADED, report, "", proc.returncode
    if proc.returncode == 2:
        return ERROR, None, _first_paragraph(text_err) or "the grader stopped with a set-up error", 2
    return ERROR, None, (f"the grader stopped with exit code {proc.returncode}: "
                         f"{_first_paragraph(text_err[-2000:])}"), proc.returncode


def _linked_part(folder: str) -> str | None:
    """The part of a submission that is a symbolic link ("" for the learner folder itself,
    "exercises" or "exercises/quizzes"), or None.

    A link would grade someone else's files: ``exercises -> ../../solutions`` scored
    246/246, a linked ``quizzes`` every quiz in full. The grader's snapshot refuses linked
    files; these folders are checked here, where the learner's layout is known.
    """
    for part in ("", "exercises", "exercises/quizzes"):
        if os.path.islink(os.path.join(folder, part) if part else folder):
            return part
    return None


def grade_submission(learner: str, folder: str, names: list[str], *, timeout: float, seed: int | None,
                     jobs: int = 1, options: tuple = (), root: str | None = None, secret: str | None = None,
                     secret_file: str | None = None, before=None, zygotes: SharedZygotes | None = None) -> dict:
    """Grade one learner's repository in a child ``grade`` process; a record for the gradebook.

    ``learner`` is the printable name, ``folder`` the real path. A set-up error that
    belongs to one part of a submission (a quiz answers file that cannot be read) must not
    cost the learner the rest: then each exercise and quiz is graded on its own, within
    what is left of the timeout, and the broken ones score 0.

    ``before`` (an aware datetime): grade the last commit made at or before it, not the
    folder as it is (see :func:`_at_deadline`). ``zygotes``: the warm grader's zygotes this
    grade run forks through (default: the running local batch's, see :class:`SharedZygotes`).
    """
    started = time.monotonic()
    record = {"learner": learner, "status": ERROR, "message": "", "report": None}
    exported = None
    try:
        exported, source, note = submission_source(learner, folder, before, record)
        if source is None:
            return record
        run = dict(seed=seed, jobs=jobs, options=options, root=root)
        if secret is not None:  # only then, so that a fake grade_submission in a test needs no new keywords
            run.update(secret=secret, secret_file=secret_file)
        if zygotes is not None:
            run.update(zygotes=zygotes)
        status, report, message, code = _grade_run(names, source, timeout=timeout, **run)
        if code == 2 and len(names) > 1:
            status, report, message = _grade_each(names, source, started + timeout, **run)
        if status == TIMEOUT:
            message = f"grading took longer than {timeout:g} s and was stopped (a hanging or very slow function?)"
        record.update(status=status, report=report, message=" ".join(m for m in (note, message) if m))
        return record
    finally:
        if exported is not None:
            _remove(exported)
        record["seconds"] = round(time.monotonic() - started, 3)


def submission_source(learner: str, folder: str, before, record: dict) -> tuple[str | None, str | None, str]:
    """The checks a submission passes before it is graded: no linked folders, the commit at
    the deadline (``before``), an ``exercises`` folder. Returns ``(exported folder or None,
    exercises folder to grade or None, note)``; a None source means ``record`` holds the error.
    (``grade batch --cluster`` runs these in the batch process, then sends the files.)"""
    linked = _linked_part(folder)
    if linked is not None:
        what = f"{learner}/{linked}" if linked else learner
        record["message"] = (f"{what} is a symbolic link, so nothing in it was graded: a submission must "
                             f"hold its own files. Replace the link with a real folder and run the batch "
                             f"again.")
        return None, None, ""
    exported, note = None, ""
    source = os.path.join(os.path.abspath(folder), "exercises")
    if before is not None:
        exported, source, note = _at_deadline(learner, folder, before, record)
        if source is None:
            return None, None, ""
    if not os.path.isdir(source):
        where = f"commit {record['commit'][:12]} of {learner}" if exported else learner
        record["message"] = (f"no exercises folder in {where}: a submission is laid out like the class "
                             f"repository ({learner}/exercises/<exercise>.py)")
        if exported is not None:
            _remove(exported)
        return None, None, ""
    return exported, source, note


def _at_deadline(learner: str, folder: str, before, record: dict) -> tuple[str | None, str | None, str]:
    """``grade batch --before``: the learner's submission as it was at the deadline.

    A learner folder that is a git repository of its own (its own ``.git`` folder) is
    graded at the last commit of HEAD whose committer date is at or before ``before``: its
    ``exercises/`` is exported (``git ls-tree`` and ``git cat-file``: the bytes as
    committed, no filters) into a fresh private folder (0700, regular files and folders
    only), read by git under a configuration of its own (no system or global file, no
    hooks); nothing of the learner's is run, and the working tree is never touched. The
    record says which commit (``commit``, ``committed``).
    Returns ``(exported folder or None, source to grade or None, note)``; a None source
    means the record already holds the error (no commit before the deadline, git failed).
    A folder that is not a repository is graded as it is, with a note that says so.
    """
    from .gitref import RefError, commit_before, export_commit, git_dir_of

    deadline = deadline_text(before)
    git_dir = git_dir_of(folder)
    source = os.path.join(os.path.abspath(folder), "exercises")
    if git_dir is None:
        return None, source, (f"{learner} is not a git repository: graded as the folder is now, not as it was "
                              f"at {deadline}.")
    try:
        found = commit_before(git_dir, before.strftime("%Y-%m-%d %H:%M:%S +0000"))
    except RefError as e:
        record["message"] = f"could not read the git history of {learner}: {e}"
        return None, None, ""
    if found is None:
        record["message"] = f"{learner} has no commit at or before the deadline {deadline}: nothing to grade."
        return None, None, ""
    commit, committed = found
    record.update(commit=commit, committed=committed)
    exported = tempfile.mkdtemp(prefix="grade-batch-commit-")  # 0700: the grader reads it, learner code does not
    try:
        export_commit(git_dir, commit, exported, "exercises")
    except (RefError, OSError, ValueError) as e:
        _remove(exported)
        record["message"] = f"could not export commit {commit[:12]} of {learner}: {clean(e, 300)}"
        return None, None, ""
    # No exercises/ in that commit (or only links in it): the usual "no exercises folder" follows.
    note = f"graded commit {commit[:12]} of {committed} (the last at or before {deadline})."
    return exported, os.path.join(exported, "exercises"), note


def _grade_each(names, source, deadline, **run):
    exercises, problems, modes, seeds = [], [], [], []
    for name in names:
        status, report, message, _ = _grade_run([name], source, timeout=deadline - time.monotonic(), **run)
        if status in (TIMEOUT, INTERRUPTED):
            return status, None, ""
        if report is not None:
            exercises += report["exercises"]
            modes.append(report.get("sandbox"))
            seeds.append(report.get("seed"))
        else:
            problems.append(f"{name}: {message}")
    if not exercises:
        return ERROR, None, " ".join(problems)
    score = sum(e.get("score", 0) for e in exercises)
    maximum = sum(e.get("max_score", 0) for e in exercises)
    report = {"score": _num(score), "max_score": _num(maximum), "exercises": exercises}
    if _weakest(modes):
        report["sandbox"] = _weakest(modes)
    if seeds:  # "secret" only when every part was graded under the secret
        report["seed"] = "secret" if all(s == "secret" for s in seeds) else "public"
    return GRADED, report, " ".join(problems)


# ----------------------------------------------------------------------------- gradebooks

def max_scores(course, names: list[str], timing: bool = True) -> dict[str, float]:
    """What each exercise or quiz is worth, from the course file (timed runs included when
    ``timing``). The reports of graded submissions have the last word (see :func:`gradebook`)."""
    scores = {}
    for name in names:
        if name in course.names():
            exercise = course.get(name)
            timed = sum(t.points for t in exercise.timing_specs()) if timing and hasattr(exercise, "timing_specs") else 0
            scores[name] = _num(exercise.max_score + timed)
        else:
            try:
                from ..quiz import get_quiz

                scores[name] = _num(sum(q.points for q in get_quiz(name).questions))
            except Exception:
                scores[name] = 0
    return scores


def _exercises_of(record: dict) -> dict:
    report = record.get("report") or {}
    return {e.get("name"): e for e in report.get("exercises", []) if isinstance(e, dict)}


def finish_record(record: dict, names: list[str], maxima: dict, config: dict, sandbox: str | None = None) -> dict:
    """Fill in the gradebook columns of a record from its report.

    ``sandbox`` is the isolation the learner's code ran under: the report's own word when
    it has one, else the batch's (a submission that was never run, or timed out).
    """
    by_name = _exercises_of(record)
    record["scores"] = {n: _num(by_name[n].get("score", 0)) if n in by_name else 0 for n in names}
    record["statuses"] = {n: by_name[n].get("status", "") if n in by_name else record["status"] for n in names}
    record["total"] = _num(sum(record["scores"].values()))
    record["max"] = _num(sum(maxima.get(n, 0) for n in names))
    record["config"] = config
    reported = (record.get("report") or {}).get("sandbox")
    mode = reported or sandbox or config.get("sandbox")
    if mode:
        record["sandbox"] = sandbox_name(mode)
    return record


def _csv_row(cells: list) -> list:
    """Text cells as a spreadsheet shows them, never runs them (a learner folder named
    ``=HYPERLINK(...)``); numbers stay numbers, so totals can still be summed."""
    return [c if isinstance(c, (int, float)) and not isinstance(c, bool) else spreadsheet_cell(str(c))
            for c in cells]


def gradebook(records: list[dict], names: list[str], maxima: dict,
              sandbox: str | None = None) -> tuple[str, dict]:
    """The CSV text and the JSON document of a gradebook.

    An exercise's maximum is what the graded reports say it is (they know, e.g., whether
    timed runs counted); the course file's figure stands in when no report has it. The
    document's ``sandbox`` is the weakest isolation any of its records ran under (a
    merged gradebook can join batches run on different machines), else ``sandbox``.
    """
    maxima = dict(maxima)
    for r in records:
        for name, e in _exercises_of(r).items():
            if name in names and isinstance(e.get("max_score"), (int, float)):
                maxima[name] = _num(e["max_score"])
    records = sorted(records, key=lambda r: (str(r["learner"]), str(r.get("id", ""))))
    for r in records:
        r["max"] = _num(sum(maxima.get(n, 0) for n in names))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_csv_row(["learner", "total", "max", *names, "status", "message"]))
    for r in records:
        writer.writerow(_csv_row([r["learner"], r["total"], r["max"], *[r["scores"].get(n, 0) for n in names],
                                  r["status"], r.get("message", "")]))
    document = {"version": VERSION, "exercises": names, "max_scores": maxima,
                "max": _num(sum(maxima.get(n, 0) for n in names))}
    mode = _weakest(r.get("sandbox") for r in records) or sandbox
    if mode:
        document["sandbox"] = sandbox_name(mode)
    document["learners"] = records
    return buf.getvalue(), document


def write_gradebook(out: str, records: list[dict], names: list[str], maxima: dict, *, twin: bool = True,
                    sandbox: str | None = None) -> None:
    """Write the CSV (and, with ``twin``, the JSON twin, which holds every report and can be large)."""
    csv_path, json_path = twin_paths(out)
    text, document = gradebook(records, names, maxima, sandbox)
    if twin:
        write_json_atomic(json_path, document)
    write_atomic(csv_path, text)


def load_record(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) and "learner" in record else None
    except (OSError, ValueError, RecursionError):
        return None


# ----------------------------------------------------------------------------- the batch

@contextlib.contextmanager
def _stop_on_signals():
    """While the batch runs, SIGINT and SIGTERM stop it: every running grade process is
    killed at once (with all it started) and no new one starts; the caller then saves what
    finished. Yields a list that holds the first signal's number once one came.

    The handler only kills and records; it raises nothing, so a record or the gradebook
    is never left half written. A signal that was ignored when the batch started (a
    background job's SIGINT) stays ignored. Outside the main thread nothing is installed
    (Python allows handlers only there).
    """
    caught: list[int] = []

    def handler(signum, frame):
        if not caught:
            caught.append(signum)
        kill_running()

    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield caught
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _unique(everyone: list[Learner]) -> None:
    """Two learners never share a record file (a 64-bit hash makes it all but impossible;
    this makes it impossible)."""
    seen: dict[str, Learner] = {}
    for learner in everyone:
        other = seen.setdefault(learner.key, learner)
        if other is not learner:
            raise BatchError(f"the learner folders {other.name} and {learner.name} would share the record "
                             f"file {learner.key}.json; rename one of them.")


def _refuse_exposed_files(root: str, more: list | tuple = ()) -> None:
    """With a uid of its own, learner code is kept from files by their permissions alone:
    refuse to grade while the solutions, the grader, the class folder (or the secret seed
    file, ``more``) are readable by all."""
    from ..runner.isolation import uid_exposed

    exposed = uid_exposed([root, *more])
    if exposed:
        shown = " ".join(exposed)
        raise BatchError(
            f"Learner code would run under a uid of its own (no namespaces here), which keeps it "
            f"only from files that other users cannot read, and these can be read by every user: "
            f"{shown}. Run `chmod -R o-rwx {shown}` (the grader runs as root, so it still reads "
            f"them), install bubblewrap for namespaces, or pass --allow-weak-sandbox to grade anyway.")


def run_batch(root: str, out: str, names: list[str], course, *, jobs: int = 1, force: bool = False,
              shard: tuple[int, int] | None = None, timeout: float = 600.0, seed: int | None = None,
              options: tuple = (), allow_weak_sandbox: bool = False, on_start=None, on_done=None,
              secret_seed=None, secret_file: str | None = None, before=None, cluster=None) -> dict:
    """Grade the (slice of the) class; returns counts and timings for the summary.

    ``cluster`` (a :class:`grader.classroom.cluster.ClusterGrader`, ``grade batch --cluster``):
    grade each learner on a Dask cluster instead of this machine's pool; the records and
    the gradebook are still written here, and only here.

    ``before`` (an aware datetime, see :func:`parse_deadline`): grade each learner's last
    commit at or before it (:func:`_at_deadline`).

    ``secret_seed``: a secret :class:`~grader.seeds.Seed` (or None: the public seed), handed
    to every grade process through its environment; ``secret_file``, the file it came from,
    is made off limits to learner code.

    ``options`` are passed on to each ``grade run`` (e.g. ``("--no-timing",)``). Without a
    sandbox (mode ``none``) it refuses to start unless ``allow_weak_sandbox``. Raises
    :class:`Interrupted` after SIGINT or SIGTERM, once what finished is saved.
    """
    twin_paths(out)  # validates --out
    everyone = learners(root)
    _unique(everyone)
    if cluster is not None:  # learner code runs on the workers: their sandbox counts (grader/classroom/cluster.py)
        sandbox = cluster.sandbox(course, names, allow_weak_sandbox)
    else:
        sandbox = batch_sandbox(course, names)
        if sandbox == "none" and not allow_weak_sandbox:
            raise BatchError(_weak_sandbox_text())
        if sandbox == "uid" and not allow_weak_sandbox:
            _refuse_exposed_files(root, [secret_file] if secret_seed is not None and secret_file else [])
    mine = shard_of(everyone, shard)
    maxima = max_scores(course, names, timing="--no-timing" not in options)
    config = {"exercises": names, "seed": seed, "options": list(options), "sandbox": sandbox}
    secret = secret_seed.secret_text() if secret_seed is not None and secret_seed.is_secret else None
    # (Called from Python with $GRADE_SECRET_SEED set, the grade processes inherit it.)
    if secret is not None or (secret_seed is None and os.environ.get("GRADE_SECRET_SEED") is not None):
        config["secret_seed"] = True  # that there was one, never which (rerun with --force after a change)
    if before is not None:
        config["before"] = deadline_text(before)  # another deadline: other records
    os.makedirs(state_dir(out), exist_ok=True)

    records: dict[str, dict] = {}
    todo: list[Learner] = []
    for learner in mine:
        old = None if force else load_record(record_path(out, learner))
        # Kept: graded and timed-out submissions. Errors (no exercises folder, a grader that
        # could not run) are cheap to try again and often fixed by then.
        if old is not None and old.get("config") == config and old.get("status") != ERROR:
            records[learner.key] = old
        else:
            todo.append(learner)
    skipped = len(records)
    if on_start:
        on_start(len(todo))
    # Cores left over when there are fewer submissions than workers go to each grade process.
    inner_jobs = max(1, (os.cpu_count() or 1) // max(1, min(jobs, len(todo))))
    started = time.monotonic()
    counts = {GRADED: 0, TIMEOUT: 0, ERROR: 0}

    def rewrite(twin=True):
        write_gradebook(out, list(records.values()), names, maxima, twin=twin, sandbox=sandbox)

    rewrite()
    twin_written = [time.monotonic()]

    def save(learner: Learner, record: dict) -> None:
        # The learner's record is what a rerun trusts; the CSV follows at once, the JSON twin
        # (every report in one file) at most every TWIN_EVERY seconds and at the end.
        record = finish_record(record, names, maxima, config, sandbox)
        record["id"] = learner.key
        write_json_atomic(record_path(out, learner), record)
        records[learner.key] = record
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        twin = time.monotonic() - twin_written[0] >= TWIN_EVERY
        rewrite(twin)
        if twin:
            twin_written[0] = time.monotonic()
        if on_done:
            on_done(record)

    _stopping.clear()
    if cluster is None:  # learner code runs here: the grade runs share this batch's zygotes
        _shared[:] = [SharedZygotes(course, names, root, secret_file if secret is not None else None)]
    try:
        with _stop_on_signals() as caught:
            grade_all = _grade_all if cluster is None else cluster.grade_all
            futures = grade_all(todo, root, names, save, caught, jobs=jobs, timeout=timeout, seed=seed,
                                 inner_jobs=inner_jobs, options=options, rewrite=rewrite, secret=secret,
                                 secret_file=secret_file if secret is not None else None, before=before)
    finally:
        for shared in _shared:
            shared.close()
        _shared.clear()
    rewrite()
    if caught:
        raise Interrupted(caught[0], saved=len(records))
    elapsed = time.monotonic() - started
    return {"graded": len(futures), "skipped": skipped, "counts": counts, "seconds": elapsed,
            "learners": len(mine), "class_size": len(everyone), "paths": twin_paths(out), "sandbox": sandbox}


def _grade_all(todo: list[Learner], root: str, names: list[str], save, caught: list, *, jobs: int,
               timeout: float, seed, inner_jobs: int, options: tuple, rewrite, secret: str | None = None,
               secret_file: str | None = None, before=None) -> dict:
    """Grade ``todo`` on ``jobs`` threads (one grade process each), saving each record as it
    comes; until done, or until ``caught`` holds a signal. Returns the futures."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: dict = {}
    saved: set = set()

    def save_finished(done):
        failed = [f for f in done if not f.cancelled() and f.exception() is not None]
        for future in done:  # what finished is saved first, even if another one failed
            if future in failed or future.cancelled() or future in saved:
                continue
            saved.add(future)
            record = future.result()
            if record.get("status") != INTERRUPTED:
                save(futures[future], record)
        if failed:
            raise failed[0].exception()

    try:
        for learner in todo:
            extra = {} if secret is None else {"secret": secret, "secret_file": secret_file}
            if before is not None:
                extra["before"] = before
            future = pool.submit(grade_submission, learner.name, learner.folder(root), names, timeout=timeout,
                                 seed=seed, jobs=inner_jobs, options=options, root=root, **extra)
            futures[future] = learner
        pending = set(futures)
        while pending and not caught:
            done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            save_finished(done)
        if caught:  # the handler has killed what was running: keep what had finished
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            save_finished([f for f in futures if f.done()])
    except BaseException:  # a KeyboardInterrupt raised in a worker, or a record that could not be saved
        for future in futures:
            future.cancel()
        kill_running()
        pool.shutdown(wait=True, cancel_futures=True)
        try:  # what was graded stays in the gradebook too
            rewrite()
        except Exception:
            pass
        raise
    pool.shutdown(wait=True)
    return futures
