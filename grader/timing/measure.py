"""Time one function of the learner against the reference, in paired rounds.

Each side (the learner's module, the reference solution) runs in its own
:class:`~grader.runner.sandbox.LearnerProcess`: same interpreter, environment, limits and
thread count, and neither can see the other. One round, for each side in a seeded random
order:

1. *stage* (untimed): fresh seeded inputs are sent and kept in the child (``store``);
2. *ping*: one empty round trip, on the grader's clock;
3. *call* (timed): the grader stamps the send and the reply with ``time.perf_counter``;
   the call names the staged inputs by reference and keeps its result in the child, so
   the timed window holds the learner's function and one round trip, not the copying of
   megabytes through a pipe; on CUDA the child synchronises before it replies;
4. *fetch* (untimed): the result comes back and is compared with the reference's result
   for the same inputs: a fast wrong answer never passes.

The net time of a call is its round trip minus that side's fastest measured empty round trip
(two pings right before every timed call, and three at the start: noise only ever adds to a
round trip, so the fastest is the best estimate of the fixed cost). A
learner call that runs far past the limit (``censor_factor × limit ×`` the reference's
slowest time, and at least ``censor_floor`` seconds) is stopped: its ratio is then known
only to be at least that large, which is all the order-statistics verdict needs (see
:mod:`grader.timing.stats`). The learner's process restarts for the next round.
"""
from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..checks.base import error_text
from ..format import describe_type, show
from ..runner.sandbox import LearnerProcess, ProcessGone
from ..runner.wire import Handle, Opaque, WireTensor
from . import stats
from .cases import Model
from .spec import DEVICES, TimingSpec

FLOOR_SECONDS = 1e-5  # net times are never taken below 10 µs (the ping's own jitter)


class SideFailed(Exception):
    """A side could not produce a timed answer (raised, crashed, could not start)."""

    def __init__(self, message: str, *, not_started: bool = False):
        super().__init__(message)
        self.message = message
        self.not_started = not_started


class Censored(Exception):
    """The learner's call ran past its deadline and was stopped."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped after {seconds:g} s")
        self.seconds = seconds


class Side:
    """One process taking part in a timed run: the learner's or the reference's."""

    def __init__(self, role: str, process: LearnerProcess):
        self.role = role
        self.process = process
        self.pings: list[float] = []

    # -------------------------------------------------------------- life
    def start(self) -> dict | None:
        try:
            error = self.process.start()
        except ProcessGone as gone:
            return {"type": "", "message": gone.message, "gone": True}
        self.process.widen_pipes()  # megabytes of inputs cross in a few writes, not hundreds
        return error

    def ensure(self) -> None:
        if not self.process.alive:
            error = self.start()
            if error is not None:
                raise SideFailed(f"could not be imported again after a stopped call "
                                 f"({error.get('message', '')})")

    def close(self) -> None:
        self.process.close()

    # -------------------------------------------------------------- requests
    def _untimed(self, request, *args, **kwargs):
        """One of the process's requests (store, fetch), its failure a :class:`SideFailed`."""
        self.ensure()
        try:
            return request(*args, **kwargs)
        except ProcessGone as gone:
            raise SideFailed(gone.message) from None

    def ping(self) -> float:
        self.ensure()
        try:
            seconds = self.process.ping()
        except ProcessGone as gone:
            raise SideFailed(gone.message) from None
        self.pings.append(seconds)
        return seconds

    def round_trip(self) -> float:
        return min(self.pings) if self.pings else 0.0

    def stage(self, args: tuple, kwargs: dict, sync: bool):
        """Keep the inputs in the child; return references to them and the handles to drop."""
        plain = [v for v in (*args, *kwargs.values()) if isinstance(v, (np.ndarray, WireTensor))]
        handles: dict[int, Handle] = {}
        if plain:
            reply = self._untimed(self.process.store, plain, sync=sync)
            ids = reply.value if reply.status == "ok" else None
            if not isinstance(ids, list) or len(ids) != len(plain) or not all(type(i) is int for i in ids):
                raise SideFailed("could not receive the timing inputs "
                                 f"({error_text(reply.error or {}) or 'bad reply'})")
            handles = {id(v): Handle(i, "input") for v, i in zip(plain, ids)}
        drop = [h.id for h in handles.values()]

        def swap(v):
            if id(v) in handles:
                return handles[id(v)]
            if isinstance(v, Model):
                model = self._build_model(v)
                drop.append(model.id)
                return model
            return v

        return tuple(swap(v) for v in args), {k: swap(v) for k, v in kwargs.items()}, drop

    def _build_model(self, spec: Model) -> Handle:
        """Build the module's own class in the child and load the seeded parameters by shape."""
        model = self._call(spec.cls, spec.args, {}, keep=True).value
        if not isinstance(model, Handle):
            raise SideFailed(f"{spec.cls}{spec.args} did not give back an object")
        try:
            info = self.process.describe(model)
        except ProcessGone as gone:
            raise SideFailed(gone.message) from None
        params = info.get("parameters", {}) if isinstance(info, dict) else {}
        state = {}
        for name, value in params.items():
            shape = tuple(value.shape) if isinstance(value, WireTensor) else None
            if shape in spec.parameters:
                state[name] = WireTensor(np.asarray(spec.parameters[shape], dtype=spec.dtype), spec.dtype, "cpu")
        if state:
            self._call("load_state_dict", (state,), {"strict": False}, target=model)
        return model

    def _call(self, fn, args, kwargs, *, keep=False, target=None):
        try:
            reply = self.process.call(None if target is not None else fn, args, kwargs, keep=keep,
                                      target=target, method=fn if target is not None else None)
        except ProcessGone as gone:
            raise SideFailed(gone.message) from None
        if reply.status != "ok":
            error = reply.error or {}
            raise SideFailed(f"raised {error_text(error)}", not_started=bool(error.get("not_implemented")))
        return reply

    def timed_call(self, fn: str, args: tuple, kwargs: dict, timeout: float, sync: bool) -> tuple[float, Handle]:
        """Call ``fn`` on staged inputs; the grader-clock seconds and a handle to the result.

        The seconds are :meth:`LearnerProcess.call`'s ``Reply.seconds``: from the request's
        first byte sent to the reply's last byte read, nothing of the encoding or decoding.
        """
        self.ensure()
        try:
            reply = self.process.call(fn, args, kwargs, keep=True, sync=sync, timeout=timeout)
        except ProcessGone as gone:
            if gone.reason == "timeout":
                raise Censored(timeout) from None
            raise SideFailed(gone.message) from None
        seconds = reply.seconds
        if reply.status != "ok":
            error = reply.error or {}
            raise SideFailed(f"raised {error_text(error)}", not_started=bool(error.get("not_implemented")))
        if not isinstance(reply.value, Handle):
            raise SideFailed("sent back something the grader could not read")
        return seconds, reply.value

    def fetch(self, handle: Handle, drop: list[int], sync: bool):
        return self._untimed(self.process.fetch, handle, drop=drop, sync=sync).value


# ----------------------------------------------------------------------------- one device


@dataclass
class Measured:
    """What one timed run on one device found (one row of ``grade bench``)."""

    function: str
    device: str
    limit: float
    outcome: str  # pass, fail, undecided, wrong, raised, not_started, error, skipped
    learner_s: float | None = None  # median net seconds per call
    reference_s: float | None = None
    ratio: float | None = None  # median of the paired ratios
    low: float | None = None  # its confidence interval
    high: float | None = None
    confidence: float = 0.0
    rounds: int = 0
    censored: int = 0  # learner calls stopped at their deadline
    detail: str = ""  # why, for wrong/raised/not_started/error/skipped
    seconds: float = 0.0  # wall time of the whole timed run
    ratios: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outcome in ("pass", "undecided", "error", "skipped")

    def to_dict(self) -> dict:
        keys = ("function", "device", "limit", "outcome", "learner_s", "reference_s", "ratio", "low", "high",
                "confidence", "rounds", "censored", "detail", "seconds")
        return {k: getattr(self, k) for k in keys}


def spec_seed(seed, spec: TimingSpec, device: str) -> list[int]:
    """The entropy of one timed run's inputs and order (a NumPy SeedSequence's).

    ``seed`` is the run's :class:`~grader.seeds.Seed` (an int is a public seed). Public: the
    values timing has always used; secret: a keyed hash no one can compute without it, so a
    table of answers keyed on the timing inputs recorded in advance never matches.
    """
    from ..seeds import Seed

    seed = Seed.of(seed)
    label = f"{spec.exercise}/{spec.function}/{spec.id}"
    if not seed.is_secret:
        return [seed.public % (2 ** 32), zlib.crc32(label.encode()), DEVICES.index(device)]
    return [seed.derive(f"timing/{label}"), DEVICES.index(device)]


def time_function(spec: TimingSpec, device: str, learner: Side, reference: Side, *, seed,
                  call_timeout: float) -> Measured:
    """Warm up both sides, then paired rounds until the interval decides (or the cap)."""
    s = spec.settings
    case = spec.case
    sync = device == "cuda"
    base = spec_seed(seed, spec, device)
    order = np.random.default_rng(base + [1])
    started = time.perf_counter()
    result = Measured(spec.function, device, s.limit, "error", confidence=s.confidence)
    learner_times: list[float] = []
    reference_times: list[float] = []
    ratios: list[float] = []

    def inputs(*key):
        return case.build(np.random.default_rng(base + list(key)), spec.size, device, spec.dtype)

    def deadline() -> float:
        slowest = max(reference_times) if reference_times else call_timeout
        return min(call_timeout, max(s.censor_floor, s.censor_factor * s.limit * slowest))

    def one(side: Side, args, kwargs, timeout):
        staged_args, staged_kwargs, drop = side.stage(args, kwargs, sync)
        side.ping()  # the first one after a large transfer also waits for the child to free it
        side.ping()
        try:
            seconds, handle = side.timed_call(spec.function, staged_args, staged_kwargs, timeout, sync)
        except Censored as stop:
            return stop.seconds, None, True
        value = side.fetch(handle, drop + [handle.id], sync)
        return max(seconds - side.round_trip(), FLOOR_SECONDS), value, False

    def reference_one(args, kwargs):
        try:
            seconds, value, _ = one(reference, args, kwargs, call_timeout)
        except SideFailed as failed:
            raise _ReferenceFailed(failed.message) from None
        reference_times.append(seconds)
        return seconds, value

    try:
        for side in (reference, learner):
            for _ in range(3):
                try:
                    side.ping()
                except SideFailed as failed:
                    if side is reference:
                        raise _ReferenceFailed(failed.message) from None
                    raise
        for w in range(s.warmup):
            args, kwargs = inputs(3, w)
            if w == 0:
                # The first calls pay one-time costs (lazy imports, autograd, the CUDA context,
                # cuBLAS): untimed, so both sides pay them at the same time.
                with ThreadPoolExecutor(2) as pool:
                    first_reference = pool.submit(reference_one, args, kwargs)
                    first_learner = pool.submit(one, learner, args, kwargs, call_timeout)
                    _, expected = first_reference.result()
                    _, got, censored = first_learner.result()
            else:
                _, expected = reference_one(args, kwargs)
                _, got, censored = one(learner, args, kwargs, deadline())
            if not censored:
                _verify(spec, got, expected, result)
        for i in range(s.max_rounds):
            args, kwargs = inputs(2, i)
            learner_first = bool(order.random() < 0.5) and bool(reference_times)  # deadline needs one
            if learner_first:
                lt, got, censored = one(learner, args, kwargs, deadline())
                rt, expected = reference_one(args, kwargs)
            else:
                rt, expected = reference_one(args, kwargs)
                lt, got, censored = one(learner, args, kwargs, deadline())
            if censored:
                result.censored += 1
            else:
                _verify(spec, got, expected, result)
            learner_times.append(lt)
            ratios.append(lt / rt)
            if len(ratios) >= s.min_rounds:
                decision = stats.decide(ratios, s.limit, confidence=s.confidence,
                                        min_rounds=s.min_rounds, max_rounds=s.max_rounds)
                if decision.outcome != stats.MORE:
                    result.outcome = decision.outcome
                    result.low, result.high = decision.interval.low, decision.interval.high
                    break
    except _Wrong as wrong:
        result.outcome, result.detail = "wrong", wrong.message
    except SideFailed as failed:
        result.outcome = "not_started" if failed.not_started else "raised"
        result.detail = failed.message
    except _ReferenceFailed as failed:
        result.outcome, result.detail = "error", f"the reference solution {failed.message}"
    result.rounds = len(ratios)
    result.ratios = ratios
    if ratios:
        result.ratio = stats.median(ratios)
        result.learner_s = stats.median(learner_times)
        result.reference_s = stats.median(reference_times[s.warmup:] or reference_times)
    result.seconds = time.perf_counter() - started
    return result


class _ReferenceFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Wrong(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _verify(spec: TimingSpec, got, expected, result: Measured) -> None:
    s = spec.settings
    problem = compare(got, expected, s)
    if problem:
        raise _Wrong(problem)


def compare(got, expected, settings, path: str = "the result") -> str:
    """'' when ``got`` agrees with the reference's ``expected``, else what differs."""
    if isinstance(expected, WireTensor):
        if not isinstance(got, WireTensor):
            return f"{path} is {describe_type(got)}, where the reference returned {describe_type(expected)}"
        if got.shape != expected.shape:
            return f"{path} has shape {got.shape}, where the reference's has shape {expected.shape}"
        if got.dtype != expected.dtype:
            return f"{path} has dtype torch.{got.dtype}, where the reference's has torch.{expected.dtype}"
        if got.device.split(":")[0] != expected.device.split(":")[0]:
            return f"{path} is on {got.device}, where the reference's is on {expected.device}"
        return _values(got.array, expected.array, settings, expected.dtype, path)
    if isinstance(expected, np.ndarray):
        if isinstance(got, (list, tuple)):
            try:
                got = np.asarray(got, dtype=float)
            except (TypeError, ValueError):
                pass
        if not isinstance(got, np.ndarray):
            return f"{path} is {describe_type(got)}, where the reference returned {describe_type(expected)}"
        if got.shape != expected.shape:
            return f"{path} has shape {got.shape}, where the reference's has shape {expected.shape}"
        return _values(got, expected, settings, expected.dtype.name, path)
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{path} is {show(got) if not isinstance(got, dict) else 'a dict with keys ' + str(sorted(got))}, " \
                   f"where the reference returned a dict with keys {sorted(expected)}"
        for key in expected:
            problem = compare(got[key], expected[key], settings, f"{path}[{key!r}]")
            if problem:
                return problem
        return ""
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{path} is {show(got)}, where the reference returned {show(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, settings, f"{path}[{i}]")
            if problem:
                return problem
        return ""
    if isinstance(expected, (int, float, np.integer, np.floating)) and not isinstance(expected, bool):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)):
            if isinstance(got, np.ndarray) and got.size == 1:
                got = got.item()
            else:
                return f"{path} is {show(got)} ({describe_type(got)}), where the reference returned {show(expected)}"
        return _values(np.asarray(float(got)), np.asarray(float(expected)), settings, "float64", path)
    if isinstance(got, Opaque):
        return f"{path} is {describe_type(got)}, which could not be compared"
    return "" if type(got) is type(expected) and got == expected else \
        f"{path} is {show(got)}, where the reference returned {show(expected)}"


def _values(got: np.ndarray, expected: np.ndarray, settings, dtype: str, path: str) -> str:
    if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
        return "" if np.array_equal(got, expected) else f"{path} differs from the reference's"
    rtol, atol = (settings.float32_rtol, settings.float32_atol) if dtype in ("float32", "float16") \
        else (settings.rtol, settings.atol)
    g = got.astype(float)
    e = expected.astype(float)
    scale = float(np.abs(e).max(initial=0.0)) if e.size else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        ok = (np.abs(g - e) <= atol + rtol * scale) | (g == e) | (np.isnan(g) & np.isnan(e))
    if ok.all():
        return ""
    idx = tuple(int(i) for i in np.argwhere(~ok)[0]) if ok.ndim else ()
    if not idx:
        return f"{path} is {show(g.item())}, where the reference's is {show(e.item())}"
    where = idx[0] if len(idx) == 1 else idx
    return (f"{path} has {show(g[idx].item())} at index {where}, where the reference's has "
            f"{show(e[idx].item())}")


__all__ = ["Side", "Measured", "time_function", "compare", "SideFailed", "FLOOR_SECONDS"]
