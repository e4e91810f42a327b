"""Timed runs as the course file declares them: ``timing:`` under a function, read and checked.

Example (``grader/course.yaml``)::

    defaults:
      timing: {limit: 10, points: 1, confidence: 0.99, warmup: 2, min_rounds: 8, max_rounds: 40}
    ...
      - name: dot
        timing:
          - {label: "10⁶ floats", size: {n: 1000000},
             hint: replace the Python loop with a NumPy operation}

Every field of ``defaults.timing`` can be set again on one timed run. Problems are
reported as :class:`~grader.yamlfile.YamlError` naming the file, line and field.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..yamlfile import Node, Seq, YamlError
from . import cases
from .stats import min_rounds_for

DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class TimingSettings:
    """The knobs of a timed run; ``defaults.timing`` in the course file sets them for all."""

    limit: float = 10.0  # K: the learner may take at most K times the reference's time
    points: float = 1.0
    confidence: float = 0.99  # of the interval around the median paired ratio
    warmup: int = 2  # untimed calls on each side before the first round
    min_rounds: int = 8  # paired rounds before the first decision
    max_rounds: int = 40  # then undecided: passed, in the learner's favour
    censor_factor: float = 3.0  # stop a learner call after censor_factor * limit * reference time ...
    censor_floor: float = 1.0  # ... but never before this many seconds
    rtol: float = 1e-6  # learner vs reference values, relative to the reference's largest entry
    atol: float = 1e-9
    float32_rtol: float = 1e-3
    float32_atol: float = 1e-5


@dataclass(frozen=True)
class TimingSpec:
    """One timed run of one function (one check of kind ``timing`` in every report)."""

    id: str
    title: str
    exercise: str
    function: str
    label: str  # what the inputs are, in the learner's words: "10⁶ floats"
    size: dict  # the builder's sizes, e.g. {"n": 1000000}
    devices: tuple  # ("cpu",) or ("cpu", "cuda")
    dtype: str
    hint: str
    visibility: str
    settings: TimingSettings

    @property
    def limit(self) -> float:
        return self.settings.limit

    @property
    def points(self) -> float:
        return self.settings.points

    @property
    def case(self) -> cases.Case:
        return cases.get(self.exercise, self.function)


_NUMBER_FIELDS = {f.name: f.type for f in fields(TimingSettings)}
_ENTRY_FIELDS = {"id", "title", "label", "size", "devices", "dtype", "hint", "visibility"}


def parse_settings(node: Node | None, base: TimingSettings | None = None) -> TimingSettings:
    """``defaults.timing`` (or the settings part of one entry) on top of ``base``."""
    base = base or TimingSettings()
    if node is None:
        return base
    if not isinstance(node, Node):
        raise YamlError(getattr(node, "path", "course"), getattr(node, "line", None), "timing",
                        "must be a mapping of timing settings")
    changes = {}
    for key in node:
        if key not in _NUMBER_FIELDS:
            continue
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise node.error(key, f"must be a number, not {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise node.error(key, f"must be a number, not {value!r}") from None
        if _NUMBER_FIELDS[key] in ("int", int):
            if number != int(number):
                raise node.error(key, "must be a whole number")
            number = int(number)
        changes[key] = number
    settings = replace(base, **changes)
    _validate(settings, node)
    return settings


def _validate(s: TimingSettings, node: Node) -> None:
    def bad(key, problem):
        raise node.error(key, problem)  # the key's line, or the mapping's when it came from defaults

    if not s.limit > 1:
        bad("limit", f"must be above 1 (it is {s.limit:g}): the solution timed against itself "
                     f"scores about 1×, so a limit of 1 or less would fail it half the time")
    if s.points < 0:
        bad("points", "must be 0 or more")
    if not 0.5 < s.confidence < 1:
        bad("confidence", "must be between 0.5 and 1 (e.g. 0.99)")
    if s.warmup < 0:
        bad("warmup", "must be 0 or more")
    need = min_rounds_for(s.confidence)
    if s.min_rounds < need:
        bad("min_rounds", f"must be at least {need}: fewer rounds give no {s.confidence:g} interval")
    if s.max_rounds < s.min_rounds:
        bad("max_rounds", f"must be at least min_rounds ({s.min_rounds})")
    if s.censor_factor < 1 or s.censor_floor <= 0:
        bad("censor_factor" if s.censor_factor < 1 else "censor_floor",
            "censor_factor must be 1 or more and censor_floor above 0 seconds")
    for key in ("rtol", "atol", "float32_rtol", "float32_atol"):
        if getattr(s, key) < 0:
            bad(key, "must be 0 or more")


def parse_function_timing(fnode: Node, exercise: str, function: str, framework: str,
                          defaults: TimingSettings) -> list[TimingSpec]:
    """The ``timing:`` list of one function of the course file (empty when absent)."""
    if "timing" not in fnode:
        return []
    entries = fnode["timing"]
    if isinstance(entries, Node):
        entries = [entries]
    if not isinstance(entries, (Seq, list)):
        raise fnode.error("timing", "must be a list of timed runs (or one mapping)")
    case = cases.get(exercise, function)
    if case is None:
        raise fnode.error("timing", f"{function} has no timing inputs: grader/timing/cases.py has no "
                                    f"builder for {exercise}.{function}")
    specs, ids = [], set()
    for index, node in enumerate(entries):
        if not isinstance(node, Node):
            if isinstance(entries, Seq) and hasattr(entries, "error"):
                raise entries.error(index, "timing", "each timed run must be a mapping with a size")
            raise fnode.error("timing", "each timed run must be a mapping with a size")
        for key in node:
            if key not in _ENTRY_FIELDS and key not in _NUMBER_FIELDS:
                known = ", ".join(sorted(_ENTRY_FIELDS | set(_NUMBER_FIELDS)))
                raise node.error(key, f"is not a known field of a timed run (known: {known})")
        spec_id = _text(node, "id", "fast_enough")
        if spec_id in ids:
            raise node.error("id", f"timed run {spec_id!r} appears twice for {function}")
        ids.add(spec_id)
        size = node.get("size")
        if not isinstance(size, Node):
            raise node.error("size", f"is missing: give the input sizes as a mapping with "
                                     f"{', '.join(case.sizes)}")
        for key in case.sizes:
            if key not in size:
                raise size.error(key, f"is missing: {function}'s timing inputs need "
                                      f"{', '.join(case.sizes)}")
        for key, value in size.items():
            if key not in case.sizes:
                raise size.error(key, f"is not a size of {function}'s timing inputs "
                                      f"(they take {', '.join(case.sizes)})")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise size.error(key, f"must be a whole number, 1 or more, not {value!r}")
        devices = node.get("devices", ["cpu", "cuda"] if case.torch else ["cpu"])
        if isinstance(devices, str):
            devices = [devices]
        if not isinstance(devices, list) or not devices or any(d not in DEVICES for d in devices):
            raise node.error("devices", f"must be a list of devices out of {', '.join(DEVICES)}")
        if "cuda" in devices and framework != "torch":
            raise node.error("devices", f"cuda needs a PyTorch exercise; {exercise} is NumPy")
        if "cpu" not in devices:
            raise node.error("devices", "must include cpu: every timed run runs on the CPU")
        dtype = _text(node, "dtype", case.default_dtype)
        if dtype not in DTYPES:
            raise node.error("dtype", f"must be one of {', '.join(DTYPES)}")
        visibility = _text(node, "visibility", "visible")
        if visibility not in VISIBILITIES:
            raise node.error("visibility", f"must be one of {', '.join(VISIBILITIES)}")
        label = _text(node, "label", ", ".join(f"{k}={v}" for k, v in size.items()))
        settings = parse_settings(node, defaults)
        specs.append(TimingSpec(
            id=spec_id, title=_text(node, "title", f"fast enough on {label}"), exercise=exercise,
            function=function, label=label, size=dict(size), devices=tuple(dict.fromkeys(devices)),
            dtype=dtype, hint=_text(node, "hint", ""), visibility=visibility, settings=settings))
    return specs


def _text(node: Node, key: str, default: str) -> str:
    if key not in node:
        return default
    value = node[key]
    if not isinstance(value, str) or not value.strip():
        raise node.error(key, f"must be text, not {value!r}")
    return value
