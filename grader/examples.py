"""No work twice: the examples hypothesis draws for a check are kept and replayed.

For a given strategy and seed hypothesis draws the same examples every time (the grader
fixes everything else: :func:`grader.seeds.independent_examples`, no database, the default
profile), and drawing them is most of what a check costs in the grader's own process. So
the first run of a check records the examples it tried (when they all passed: then they
are exactly what hypothesis generates), and later runs replay them, calling the learner's
function on each in the same order:

- every replayed example passes: the check passes, as a full hypothesis run would have;
- one fails: hypothesis runs after all, from the start, so that it shrinks to the smallest
  failing example as it always does. The examples before the failing one are not run
  again (they passed), and the failing one raises again the very failure it raised, so
  the learner's code sees the same calls in the same order as in a run without the cache
  (which matters to code that keeps state between calls), and the verdict and its message
  are the same;
- a hang or a crash (:class:`~grader.checks.base.Abort`) stops the check at once, as it
  does in hypothesis.

Examples are kept in memory for the life of the process (``grade watch`` regrades) and, for
public seeds only, on disk in the grader's cache folder (``$GRADE_CACHE_DIR``, else
``$XDG_CACHE_HOME/dlgrade`` or ``~/.cache/dlgrade``), so the next ``grade`` finds them too.
Examples derived from a secret seed never touch the disk. The key holds everything the
examples depend on: the check, its seed and number of examples, the source of the grader
files that build them, and the versions of hypothesis, NumPy and Python. They are stored
in the runner's wire format (never a pickle) and read back through its validating decoder;
an example that does not survive that round trip exactly (an object of another type, a
non-contiguous array) is never kept. ``GRADE_EXAMPLE_CACHE=0`` turns all of it off.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
from collections import OrderedDict

import numpy as np

from .runner import wire
from .runner.expressions import Function, validate

CACHE_ENV = "GRADE_EXAMPLE_CACHE"
DIR_ENV = "GRADE_CACHE_DIR"
FORMAT = 1
MEMORY_ENTRIES = 512  # checks kept in memory (a whole course has about 150)
MAX_FILE_BYTES = 16 << 20
# In place of the calls: this check's calls depend on more than its example (on the
# learner's earlier answers), so they are never recorded or sent ahead.
INTERACTIVE = "interactive"

_memory: OrderedDict[str, tuple[dict, list]] = OrderedDict()
_memory_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "off", "no", "false")


def cache_root() -> str:
    """The grader's own cache folder: ``$GRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/dlgrade``
    or ``~/.cache/dlgrade``."""
    base = os.environ.get(DIR_ENV)
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "dlgrade")


def cache_dir() -> str:
    return os.path.join(cache_root(), "examples")


def write_whole(folder: str, name: str, data: bytes) -> None:
    """``folder/name`` written whole or not at all (a temporary file renamed), in a folder
    of the user's own; nothing if it cannot be (a read-only home: the work is done again)."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".part-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, os.path.join(folder, name))
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def _sources_digest(module_file: str) -> str:
    """A hash of the grader files an example depends on: the check's module, the shared
    strategies, the check machinery and the expressions (read once per process)."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = [module_file, os.path.join(here, "strategies.py"), os.path.join(here, "checks", "base.py"),
             os.path.join(here, "runner", "expressions.py"), os.path.join(here, "runner", "wire.py")]
    digest = hashlib.sha256()
    for path in files:
        try:
            with open(path, "rb") as f:
                digest.update(f.read())
        except OSError:
            digest.update(b"-")
    return digest.hexdigest()


def key_for(impl, spec, seed: int) -> str | None:
    """The cache key of one check's examples (None: this check is not cached)."""
    import hypothesis

    module = sys.modules.get(getattr(impl.body, "__module__", ""), None)
    module_file = getattr(module, "__file__", None)
    if not module_file:
        return None
    parts = {"format": FORMAT, "check": f"{impl.function}/{impl.id}", "body": impl.body.__qualname__,
             "seed": int(seed), "examples": int(spec.examples), "sources": _sources_digest(module_file),
             "hypothesis": hypothesis.__version__, "numpy": np.__version__,
             "python": sys.version.split()[0]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------- encoding


class NotKept(Exception):
    """An example that the wire format cannot carry exactly."""


def _keepable(value) -> bool:
    """Nothing the wire format would change on the way: a non-contiguous array, a string
    it would cut, a dict whose keys are not strings."""
    if isinstance(value, np.ndarray):
        return value.flags.c_contiguous
    if type(value) is str:
        return len(value) <= wire.MAX_STR
    if type(value) in (list, tuple):
        return all(_keepable(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and len(k) <= wire.MAX_STR and _keepable(v) for k, v in value.items())
    return True


def _plain(node) -> bool:
    """No value the grader could not rebuild as itself (an unknown object, a tensor, a handle)."""
    tag = node.get("t")
    if tag in ("list", "tuple"):
        return all(_plain(v) for v in node["v"])
    if tag == "dict":
        return all(_plain(v) for v in node["v"].values())
    return tag not in ("opaque", "tensor", "handle", "ref")


def encode(example, buffers: list) -> dict:
    """``example`` in the wire format, or :class:`NotKept` unless it comes back exactly."""
    if not _keepable(example):
        raise NotKept("a value the wire format would change")
    try:
        node = wire.encode(example, buffers, expr_to_tree=lambda v: v.to_wire() if isinstance(v, Function) else None,
                           seen={})
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotKept(str(exc)) from None
    if not _plain(node):
        raise NotKept("an object the grader could not rebuild")
    again: list = []
    try:
        back = decode(node, buffers)
        node_again = wire.encode(back, again, expr_to_tree=lambda v: v.to_wire() if isinstance(v, Function) else None,
                                 seen={})
    except (wire.WireError, TypeError, ValueError, OverflowError) as exc:
        raise NotKept(str(exc)) from None
    start = len(buffers) - len(again)
    if node_again != _renumber(node, start) or [bytes(b) for b in again] != [bytes(b) for b in buffers[start:]]:
        raise NotKept("it does not come back the same")
    return node


def _renumber(node, start):
    """``node`` with its buffer indexes counted from ``start`` (as a lone encoding has them)."""
    if isinstance(node, dict):
        out = {k: _renumber(v, start) for k, v in node.items()}
        if node.get("t") in ("ndarray", "tensor") and isinstance(node.get("buf"), int):
            out["buf"] = node["buf"] - start
        return out
    if isinstance(node, list):
        return [_renumber(v, start) for v in node]
    return node


def decode(node, buffers: list):
    """An example as it was drawn, aliasing included (``(a, a)`` comes back as one array twice)."""
    return wire.decode(node, buffers, expr_factory=validate, shared={})


# ----------------------------------------------------------------------------- storage


def load(key: str, *, disk: bool) -> tuple[list, list | None] | None:
    """The examples kept under ``key`` (fresh objects every time) and, where they were
    recorded, the frames of the calls the check made for each; or None."""
    with _memory_lock:
        entry = _memory.get(key)
        if entry is not None:
            _memory.move_to_end(key)
    if entry is None and disk:
        entry = _read_file(key)
        if entry is not None:
            _remember(key, entry)
    if entry is None:
        return None
    header, buffers = entry
    try:
        examples = [decode(node, buffers) for node in header["examples"]]
        calls = header.get("calls")
        if calls == INTERACTIVE:
            return examples, INTERACTIVE
        if calls is not None:
            calls = [[bytes(buffers[i]) for i in wire._want(per, list)] for per in wire._want(calls, list)]
            if len(calls) != len(examples):
                raise ValueError("calls for other examples")
        return examples, calls
    except (wire.WireError, KeyError, TypeError, ValueError, IndexError):
        forget(key)
        return None


def save(key: str, nodes: list, buffers: list, calls: list | None, *, disk: bool) -> None:
    """Keep the examples (their encodings and buffers) and the frames of their calls."""
    buffers = [bytes(b) for b in buffers]
    index = INTERACTIVE if calls == INTERACTIVE else None
    if calls not in (None, INTERACTIVE):
        index = []
        for per_example in calls:
            index.append(list(range(len(buffers), len(buffers) + len(per_example))))
            buffers.extend(per_example)
    entry = ({"format": FORMAT, "key": key, "examples": nodes, "calls": index}, buffers)
    _remember(key, entry)
    if disk:
        _write_file(key, entry)


def forget(key: str) -> None:
    with _memory_lock:
        _memory.pop(key, None)
    try:
        os.unlink(os.path.join(cache_dir(), f"{key}.wire"))
    except OSError:
        pass


def _remember(key: str, entry) -> None:
    with _memory_lock:
        _memory[key] = entry
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


def _read_file(key: str):
    path = os.path.join(cache_dir(), f"{key}.wire")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES:
        return None
    try:
        header, buffers, _ = wire.unpack_from(data)
    except (wire.WireError, EOFError, ValueError):
        return None
    if header.get("format") != FORMAT or header.get("key") != key or not isinstance(header.get("examples"), list):
        return None
    return header, buffers


def _write_file(key: str, entry) -> None:
    try:
        data = wire.pack(*entry)
    except ValueError:
        return
    if len(data) <= MAX_FILE_BYTES:
        write_whole(cache_dir(), f"{key}.wire", data)


# ----------------------------------------------------------------------------- one check's run


class ExampleRun:
    """The examples of one run of one check: recorded, replayed, or resumed in hypothesis.

    ``intercept(example)`` is called by the hypothesis test function before the check's
    body; when it returns True the body is not run for that example.

    ``process``: the learner's :class:`~grader.runner.sandbox.LearnerProcess`, whose
    ``recording`` keeps the frames of the calls each example made. With ``ahead``, a replay
    sends those frames ahead (:meth:`~grader.runner.sandbox.LearnerProcess.prefetch`), in
    growing windows, so most calls need no round trip of their own. When the check fails,
    or makes other calls, after calls were sent whose replies it did not use, the learner's
    code has run calls a plain run would not have: :class:`~grader.runner.sandbox.Diverged`
    is raised and the caller grades the task again without sending ahead, in a fresh
    process (grader/grading.py). Otherwise everything goes on as in a plain replay.
    """

    def __init__(self, key: str | None, *, secret: bool, process=None, ahead: bool = False):
        self.key = key if enabled() else None
        self.disk = not secret
        self.process = process if process is not None and hasattr(process, "recording") else None
        self.ahead = ahead and self.process is not None
        self.recording: list | None = [] if self.key else None
        self.buffers: list = []
        self.calls: list | None = [] if self.key and self.process is not None else None
        self.skip_before = 0  # resumed: the examples before the failing one passed already
        self.failure: BaseException | None = None  # resumed: what the failing one raised
        self.expected: list = []  # resumed: the recorded examples, to check hypothesis agrees
        self.seen = 0

    def run(self, hypothesis_test, body) -> None:
        """Run the check: replay kept examples, else hypothesis (recording what it tries)."""
        kept = load(self.key, disk=self.disk) if self.key else None
        if kept is not None:
            examples, calls = kept
            sent = self.ahead and calls not in (None, INTERACTIVE)
            if sent:
                self.process.prefetch([frame for per_example in calls for frame in per_example])
            if calls is not None:
                self.calls = None  # already kept (or never to be)
            self.recording = None
            try:
                for index, example in enumerate(examples):
                    self._record_calls()
                    try:
                        body(example)
                    except Exception as failed:  # noqa: BLE001 - hypothesis treats any Exception as a failure
                        self._not_past(sent)
                        self.skip_before, self.failure = index, failed
                        self.expected = examples[: index + 1]
                        self.calls = None
                        break
                    except BaseException as stopped:  # a hang or a crash (Abort), or the run interrupted
                        if getattr(stopped, "other_call", False):
                            self._never_ahead(examples)
                        elif not isinstance(stopped, (KeyboardInterrupt, SystemExit)):
                            self._not_past(sent)
                        raise
                else:
                    self._not_past(sent)
                    if self.calls is not None:  # every example passed: keep their calls too
                        try:
                            nodes = [encode(e, self.buffers) for e in examples]
                        except NotKept:
                            return
                        save(self.key, nodes, self.buffers, self._calls_or_interactive(), disk=self.disk)
                    return  # every example passed: hypothesis would have passed them all
            finally:
                self._stop_recording()
        try:
            hypothesis_test()
        finally:
            self._stop_recording()
        if self.recording is not None and self.key:  # it passed: these are exactly its examples
            save(self.key, self.recording, self.buffers, self._calls_or_interactive(), disk=self.disk)

    def _never_ahead(self, examples: list) -> None:
        """This check's calls depend on more than its example: kept as INTERACTIVE."""
        buffers: list = []
        try:
            nodes = [encode(e, buffers) for e in examples]
        except NotKept:
            return
        save(self.key, nodes, buffers, INTERACTIVE, disk=self.disk)

    def _not_past(self, sent: bool) -> None:
        """Calls sent ahead stop here; if some ran whose replies were not used, the learner's
        code saw calls a plain run would not have made: :class:`Diverged`."""
        if sent and self.process.prefetch_left():
            from .runner.sandbox import Diverged

            raise Diverged("calls sent ahead ran past where the check stopped")

    def intercept(self, example) -> bool:
        index = self.seen
        self.seen += 1
        if self.failure is not None:
            if index <= self.skip_before and not self._same(example, self.expected[index]):
                # Hypothesis drew something else (a version the key does not tell apart):
                # the kept examples are dropped, and this run goes on without them.
                forget(self.key)
                self.failure, self.skip_before = None, 0
                return False
            if index < self.skip_before:
                return True
            if index == self.skip_before:
                failure, self.failure = self.failure, None
                raise failure
            return False
        if self.recording is not None:
            try:
                self.recording.append(encode(example, self.buffers))
            except NotKept:
                self.recording = None
            self._record_calls()
        return False

    # -------------------------------------------------------------- the calls of each example
    def _record_calls(self) -> None:
        if self.calls is not None:
            self.process.recording = []
            self.calls.append(self.process.recording)

    def _stop_recording(self) -> None:
        if self.process is not None:
            self.process.recording = None

    def _calls_kept(self) -> bool:
        """Every call plain enough to be sent ahead (no kept objects, timeouts of its own,
        nothing the learner's code sent back)."""
        return self.calls is not None and all(f is not None for per in self.calls for f in per)

    def _calls_or_interactive(self):
        """What to keep in place of the calls: their frames, or INTERACTIVE when some call
        could not be sent ahead (so no later run records them again)."""
        if self.calls is None:
            return None
        return self.calls if self._calls_kept() else INTERACTIVE

    @staticmethod
    def _same(a, b) -> bool:
        try:
            first, second = [], []
            return encode(a, first) == encode(b, second) and \
                [bytes(x) for x in first] == [bytes(x) for x in second]
        except NotKept:
            return False


__all__ = ["ExampleRun", "key_for", "load", "save", "forget", "cache_root", "cache_dir",
           "write_whole", "enabled"]
