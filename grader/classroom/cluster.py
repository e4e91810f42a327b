"""``grade batch DIR --cluster ADDRESS``: grade a class on a Dask distributed cluster.

One Dask task per learner. The batch process reads each submission through the same
checks as a local batch (no linked folders, ``--before``'s commit export, an
``exercises`` folder, then :func:`grader.gate.snapshot`: regular files only, size caps)
and sends the snapshot as bytes (a dict of relative path to bytes) inside the task, with
the secret seed's text when there is one (never on a command line). The worker writes
the files into a private temporary folder and grades them with the same ``grade run``
child process as a local batch (:func:`grader.classroom.batch.grade_submission`), inside
its own sandbox, under ``--timeout``; it returns the record with the sandbox mode it ran
under and the worker's name. No shared file system is needed.

Results stream back (``distributed.as_completed``) into the gradebook, written only by
the batch process, and each learner at most once (a set of saved learners): a worker lost
mid-task has its tasks run again elsewhere by the scheduler (plus ``retries``), and a
late duplicate is dropped. A worker without a sandbox (``none``) is refused, and so are
its records, unless ``--allow-weak-sandbox``.

Dask is an optional extra (``pip install "dlgrade[cluster]"``): this module imports it
only when a cluster is asked for, and the single-machine batch never imports this module.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time

from . import batch
from .batch import ERROR, INTERRUPTED, BatchError, Learner

MAX_SUBMISSION_BYTES = 16 * 1024 * 1024  # the gate's cap on a snapshot; nothing bigger is sent
RETRIES = 2  # a task that raised is tried again this often (a lost worker is the scheduler's business)


def missing_dask_text() -> str:
    return ("grade batch --cluster needs Dask's distributed scheduler, which is not installed here. Install "
            "the grader's cluster extra on this machine and on every worker: pip install \"dlgrade[cluster]\" "
            "(or pip install \"dask[distributed]\"), then run the same command again. Without --cluster, "
            "grade batch grades on this machine alone and needs no Dask.")


def import_distributed():
    """The ``distributed`` module, or a :class:`BatchError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise BatchError(missing_dask_text()) from None
    return distributed


# ----------------------------------------------------------------------------- on the worker

_worker_root: list[str] = []
_worker_lock = threading.Lock()


def _root_on_worker() -> str:
    """This worker process's own folder for submissions (0711; each submission in a 0700
    folder inside). It is passed to ``grade run`` as the class folder, so learner code is
    kept out of every other submission graded here, as in a local batch."""
    with _worker_lock:
        if not _worker_root:
            import atexit
            import shutil

            folder = tempfile.mkdtemp(prefix="grade-cluster-")
            os.chmod(folder, 0o711)
            atexit.register(shutil.rmtree, folder, True)
            _worker_root.append(folder)
        return _worker_root[0]


def worker_sandbox(torch: bool = False) -> str:
    """The isolation this worker gives learner code (namespaces, uid or none), or ``error: ...``."""
    try:
        return batch.machine_sandbox(torch=torch)
    except BatchError as e:
        return f"error: {e}"


def _unpack(files: dict, folder: str) -> None:
    for relative, data in files.items():
        parts = relative.split("/")
        if not relative or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"unsafe path in a submission: {relative!r}")
        path = os.path.join(folder, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)


def grade_packed(task: dict) -> dict:
    """A Dask task: grade one learner's files (sent as bytes) on this worker; the record.

    ``task``: ``learner`` (printable name), ``files`` (relative path under ``exercises/``
    → bytes), ``names``, ``timeout``, ``seed``, ``options``, ``secret`` (text or None),
    ``torch``, ``allow_weak_sandbox``. The record carries ``worker`` and
    ``worker_sandbox``.
    """
    mode = worker_sandbox(task.get("torch", False))
    record = {"learner": task["learner"], "status": ERROR, "message": "", "report": None}
    where = socket.gethostname()
    try:
        from distributed import get_worker

        where = get_worker().address
    except Exception:  # noqa: BLE001 - called outside a worker (tests)
        pass
    exposed = []
    if mode == "uid" and not task.get("allow_weak_sandbox"):
        # A uid of its own keeps learner code from files by their permissions alone (as in
        # a local batch: grader.classroom.batch._refuse_exposed_files).
        from ..runner.isolation import uid_exposed

        exposed = uid_exposed([_root_on_worker()])
    if mode.startswith("error: ") or (mode == "none" and not task.get("allow_weak_sandbox")) or exposed:
        why = mode[7:] if mode.startswith("error: ") else "it has no sandbox for learner code (sandbox none)"
        if exposed:
            why = (f"learner code would run under a uid of its own, and every user there can read "
                   f"{' '.join(exposed)} (chmod -R o-rwx them)")
        record["message"] = (f"not graded: the worker {where} refused, as {why}; install bubblewrap there "
                             f"(or pass --allow-weak-sandbox for practice), then run the batch again.")
        record.update(worker=where, worker_sandbox=mode, seconds=0.0)
        return record
    folder = tempfile.mkdtemp(prefix="learner-", dir=_root_on_worker())  # 0700
    try:
        _unpack(task["files"], os.path.join(folder, "exercises"))
        extra = {} if task.get("secret") is None else {"secret": task["secret"]}
        record = batch.grade_submission(task["learner"], folder, task["names"], timeout=task["timeout"],
                                        seed=task["seed"], jobs=task.get("jobs", 1), options=tuple(task["options"]),
                                        root=_root_on_worker(), zygotes=zygotes_here(task["names"]), **extra)
    finally:
        batch._remove(folder)
    if record.get("status") == INTERRUPTED:
        from distributed import Reschedule

        raise Reschedule()  # this worker was told to stop its grading: run it elsewhere
    record.update(worker=where, worker_sandbox=mode)
    return record


_here: dict = {}  # this worker's zygotes, per set of exercises (see zygotes_here)
_here_lock = threading.Lock()


def zygotes_here(names: list[str]) -> batch.SharedZygotes:
    """The warm grader's zygotes of this worker for ``names``, shared by every learner it grades.

    A worker process lives for many tasks, so it is the batch worker that pays NumPy's and
    torch's imports: once, when its first learner is graded (``SharedZygotes.handover``),
    not once per learner. They hide the folder learners are unpacked into; nothing of a
    learner (nor the secret seed, which travels in each grade run's environment) is in
    them. They end with the worker process (``grader.runner.warm``'s exit handler).
    """
    from ..context import get_course

    key = tuple(sorted(names))
    with _here_lock:
        if key not in _here:
            _here[key] = batch.SharedZygotes(get_course(), list(names), _root_on_worker())
        return _here[key]


def _stop_grading_here() -> int:
    """On a worker (``client.run``, after Ctrl-C): end the grade processes running there."""
    with batch._running_lock:
        n = len(batch._running)
    batch.kill_running()
    threading.Timer(2.0, batch._stopping.clear).start()  # this worker grades again afterwards
    return n


# ----------------------------------------------------------------------------- in the batch process

def pack(learner: Learner, root: str, before) -> tuple[dict | None, dict]:
    """Read one submission through the batch's checks: ``(task files or None, record)``.

    ``None`` files: the record already holds why it cannot be graded (as a local batch says).
    """
    from ..gate import GateError, snapshot

    record = {"learner": learner.name, "status": ERROR, "message": "", "report": None}
    exported, source, note = batch.submission_source(learner.name, learner.folder(root), before, record)
    if source is None:
        return None, record
    files: dict[str, bytes] = {}
    try:
        try:
            snap = snapshot(source)
        except GateError as e:
            record["message"] = str(e)
            return None, record
        with snap:
            total = 0
            for folder, _dirs, names in os.walk(snap.root):
                for name in names:
                    path = os.path.join(folder, name)
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as f:
                        data = f.read()
                    total += len(data)
                    if total > MAX_SUBMISSION_BYTES:
                        record["message"] = (f"{learner.name}/exercises is larger than "
                                             f"{MAX_SUBMISSION_BYTES // 2**20} MB: not sent to the cluster.")
                        return None, record
                    files[os.path.relpath(path, snap.root).replace(os.sep, "/")] = data
            left_out = " ".join(snap.warnings())
    finally:
        if exported is not None:
            batch._remove(exported)
    record["note"] = " ".join(m for m in (note, left_out) if m)
    return files, record


def _failure(future) -> str:
    try:
        return batch.clean(future.exception(), 300) or type(future.exception()).__name__
    except BaseException:  # noqa: BLE001 - cancelled
        return f"the task was {future.status}"


class ClusterGrader:
    """A Dask client for one batch: ``address`` is ``tcp://host:8786`` or ``local`` (a
    LocalCluster of ``jobs`` worker processes, one thread each, on this machine)."""

    def __init__(self, address: str, jobs: int = 1, *, echo=None):
        distributed = import_distributed()
        self.distributed = distributed
        self.echo = echo or (lambda text: None)
        self.local = None
        self.allow_weak = False
        self.torch = False
        try:
            if address == "local":
                self.local = distributed.LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                                      dashboard_address=":0")
                self.client = distributed.Client(self.local)
            else:
                self.client = distributed.Client(address, timeout=30)
        except (OSError, TimeoutError, ValueError) as e:
            self.close()
            raise BatchError(f"--cluster {address}: could not reach a Dask scheduler there ({batch.clean(e, 300)}). "
                             f"Start one with `dask scheduler` and workers with `dask worker tcp://HOST:8786`, "
                             f"or use --cluster local.") from None
        self.address = address

    def close(self) -> None:
        for part in ("client", "local"):
            thing = getattr(self, part, None)
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - closing after a failure
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def sandbox(self, course, names: list[str], allow_weak: bool) -> str:
        """The weakest sandbox of the workers now connected; refuses ``none`` unless ``allow_weak``."""
        self.allow_weak = allow_weak
        self.torch = any(course.get(n).framework == "torch" for n in names if n in course.names())
        if not self.workers():
            self.client.wait_for_workers(1, timeout=60)
        modes = self.client.run(worker_sandbox, self.torch)
        broken = {w: m for w, m in modes.items() if m.startswith("error: ")}
        if broken:
            worker, why = next(iter(broken.items()))
            raise BatchError(f"the worker {worker} cannot isolate learner code as asked: {why[7:]}")
        weak = sorted(w for w, m in modes.items() if m == "none")
        if weak and not allow_weak:
            raise BatchError(batch._weak_sandbox_text().replace(
                "this machine offers", f"the worker{'s' * (len(weak) > 1)} {', '.join(weak)} offer"))
        self.echo(f"cluster: {self.address}, {len(modes)} worker{'s' * (len(modes) != 1)}, dashboard: "
                  f"{self.client.dashboard_link}")
        return batch._weakest(modes.values()) or "none"

    def grade_all(self, todo: list[Learner], root: str, names: list[str], save, caught: list, *, jobs: int,
                  timeout: float, seed, inner_jobs: int, options: tuple, rewrite, secret: str | None = None,
                  secret_file: str | None = None, before=None) -> dict:
        """The cluster's :func:`grader.classroom.batch._grade_all`: one task per learner, each
        saved once as it comes back; until done, or until ``caught`` holds a signal."""
        distributed = self.distributed
        futures: dict = {}
        saved: set[str] = set()

        def keep(learner: Learner, record: dict) -> None:
            if learner.key in saved:  # a task that ran twice (a worker lost after it finished)
                return
            saved.add(learner.key)
            save(learner, record)

        stamp = f"{os.getpid()}-{time.time_ns()}"
        queue = iter(todo)
        finished = distributed.as_completed()
        # Submissions in flight at once: enough to keep every worker busy (and workers that
        # join later), not the whole class in memory.
        window = max(32, 4 * self.workers())
        pending: set = set()

        def submit_more() -> None:
            while not caught and len(pending) < window:
                learner = next(queue, None)
                if learner is None:
                    return
                files, record = pack(learner, root, before)
                if files is None:
                    keep(learner, record)
                    continue
                task = {"learner": learner.name, "files": files, "names": list(names), "timeout": timeout,
                        "seed": seed, "options": list(options), "secret": secret, "torch": self.torch,
                        "allow_weak_sandbox": self.allow_weak, "jobs": 1}
                future = self.client.submit(grade_packed, task, key=f"grade-{learner.key}-{stamp}", pure=False,
                                            retries=RETRIES)
                futures[future] = (learner, record)
                pending.add(future)
                finished.add(future)

        try:
            submit_more()
            while not finished.is_empty() and not caught:
                if not finished.has_ready():
                    time.sleep(0.05)
                    continue
                for future in finished.next_batch(block=False):
                    learner, local = futures[future]
                    pending.discard(future)
                    if future.status == "finished":
                        record = self._checked(future.result(), local)
                    else:  # raised on every try (or cancelled): say so; a rerun tries again
                        record = {k: v for k, v in local.items() if k != "note"}
                        record["message"] = " ".join(m for m in (local.get("note", ""), (
                            f"the cluster could not grade it: {_failure(future)}")) if m)
                    keep(learner, record)
                    future.release()
                submit_more()
            if caught:
                self._stop(list(pending))
        except BaseException:
            self._stop(list(pending))
            try:
                rewrite()
            except Exception:  # noqa: BLE001
                pass
            raise
        return saved  # the learners saved by this batch (its summary counts them)

    def _checked(self, record: dict, local: dict) -> dict:
        """A worker's record, with the batch's notes, and refused when it ran unsandboxed."""
        note = local.get("note", "")
        record.pop("note", None)
        for field in ("commit", "committed"):
            if field in local:
                record[field] = local[field]
        if record.get("worker_sandbox") == "none" and not self.allow_weak:
            record.update(status=ERROR, report=None,
                          message=f"refused: graded on {record.get('worker')} without a sandbox (none)")
        elif record.get("report") is not None and record.get("worker_sandbox"):
            record["report"].setdefault("sandbox", record["worker_sandbox"])
        if note:
            record["message"] = " ".join(m for m in (note, record.get("message", "")) if m)
        return record

    def _stop(self, pending: list) -> None:
        """Ctrl-C: cancel what has not finished and end the grading that runs for it."""
        try:
            if pending:
                self.client.cancel(pending, force=True)
            self.client.run(_stop_grading_here)
        except Exception:  # noqa: BLE001 - a cluster already gone
            pass
