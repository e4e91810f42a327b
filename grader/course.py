"""The course definition: ``grader/course.yaml`` read into plain dataclasses.

The course file is the single place that says what is graded: the exercises in order,
each exercise's module and functions (with their parameter names), and for each function
the checks that count, with points, tolerances, example counts, time limits and hints.
The check *code* lives in ``grader/checks/<exercise>.py``; the course file refers to
each check by its id.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field, replace

from .checks.base import Registry, Tolerance
from .runner.sandbox import Limits
from .yamlfile import Node, Seq, YamlError, load

COURSE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course.yaml")
KINDS = ("correctness", "timing", "quiz")
FRAMEWORKS = ("numpy", "torch")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass
class CheckSpec:
    id: str
    title: str
    function: str
    points: float
    tolerance: Tolerance
    examples: int
    hint: str = ""
    kind: str = "correctness"
    visibility: str = "visible"
    options: dict = field(default_factory=dict)  # check-specific settings (e.g. accuracy threshold)


@dataclass
class FunctionSpec:
    name: str
    params: list[str]
    hints: list[str]
    checks: list[CheckSpec]
    timing: list = field(default_factory=list)  # grader.timing.spec.TimingSpec: timed runs


@dataclass
class Exercise:
    name: str
    title: str
    framework: str
    functions: list[FunctionSpec]
    limits: Limits
    forbid_autograd: bool = False

    @property
    def module_file(self) -> str:
        return f"{self.name}.py"

    @property
    def max_score(self) -> float:
        return sum(c.points for f in self.functions for c in f.checks)

    def signatures(self) -> dict[str, list[str]]:
        return {f.name: f.params for f in self.functions}

    def checks(self):
        for f in self.functions:
            yield from f.checks

    def registry(self) -> Registry:
        return importlib.import_module(f"grader.checks.{self.name}").checks

    def timing_specs(self) -> list:
        """The timed runs of this exercise's functions (checks of kind ``timing``), in order."""
        return [t for f in self.functions for t in f.timing]


@dataclass
class Course:
    exercises: list[Exercise]
    seed: int
    path: str
    leaderboard: bool = False  # top-level `leaderboard: true`: score and timing ratios on Gradescope's board

    def names(self) -> list[str]:
        return [e.name for e in self.exercises]

    def get(self, name: str) -> Exercise:
        return next(e for e in self.exercises if e.name == name)

    def with_examples(self, examples: int) -> "Course":
        """The same course with every check trying ``examples`` generated examples."""
        return replace(self, exercises=[replace(e, functions=[
            replace(f, checks=[replace(c, examples=examples) for c in f.checks]) for f in e.functions])
            for e in self.exercises])


def load_course(path: str = COURSE_FILE) -> Course:
    """Read and validate the course file; raise YamlError naming file, line and field."""
    root = load(path)
    if not isinstance(root, Node):
        raise YamlError(path, None, None, "must be a mapping with 'defaults' and 'exercises'")
    _only(root, {"version", "defaults", "exercises", "leaderboard"})
    leaderboard = _get(root, "leaderboard", bool, False)
    defaults = _get(root, "defaults", Node, Node())
    seed = _int(defaults, "seed", 0)
    default_examples = _int(defaults, "examples", 30)
    default_tol = _tolerance(defaults, Tolerance())
    default_limits = _limits(_get(defaults, "limits", Node, Node()), Limits())
    timing_defaults = _timing_defaults(defaults)
    exercises = []
    seen = set()
    exercise_nodes = _get(root, "exercises", Seq)
    for index, node in enumerate(exercise_nodes):
        if not isinstance(node, Node):
            raise exercise_nodes.error(index, "exercises", "each exercise must be a mapping with a name, "
                                                           "functions and checks")
        ex = _exercise(node, default_examples, default_tol, default_limits, timing_defaults)
        if ex.name in seen:
            raise node.error("name", f"exercise {ex.name!r} is defined twice")
        seen.add(ex.name)
        exercises.append(ex)
    return Course(exercises=exercises, seed=seed, path=path, leaderboard=leaderboard)


def _timing_defaults(defaults: Node):
    from .timing.spec import parse_settings

    node = _get(defaults, "timing", Node, Node())
    for key in node:
        if key not in _timing_setting_names():
            raise node.error(key, f"is not a timing setting (known: {', '.join(_timing_setting_names())})")
    return parse_settings(node)


def _timing_setting_names() -> list[str]:
    from dataclasses import fields

    from .timing.spec import TimingSettings

    return [f.name for f in fields(TimingSettings)]


def _exercise(node, examples, tol, limits, timing_defaults=None) -> Exercise:
    if not isinstance(node, Node):
        raise YamlError(getattr(node, "path", "course"), getattr(node, "line", None), "exercises",
                        "each exercise must be a mapping")
    _only(node, {"name", "title", "framework", "functions", "limits", "examples", "forbid_autograd",
                 "rtol", "atol"})
    name = _get(node, "name", str)
    framework = _get(node, "framework", str, "numpy")
    if framework not in FRAMEWORKS:
        raise node.error("framework", f"must be one of {', '.join(FRAMEWORKS)}")
    examples = _int(node, "examples", examples)
    tol = _tolerance(node, tol)
    ex_limits = _limits(_get(node, "limits", Node, Node()), limits)
    try:
        registry = importlib.import_module(f"grader.checks.{name}").checks
    except ModuleNotFoundError:
        raise node.error("name", f"there is no check module grader/checks/{name}.py") from None
    functions = []
    function_nodes = _get(node, "functions", Seq)
    for findex, fnode in enumerate(function_nodes):
        if not isinstance(fnode, Node):
            raise function_nodes.error(findex, "functions", "each function must be a mapping")
        _only(fnode, {"name", "params", "hints", "checks", "timing"})
        fname = _get(fnode, "name", str)
        params = [str(p) for p in _get(fnode, "params", Seq, Seq())]
        hints = [str(h) for h in _get(fnode, "hints", Seq, Seq())]
        checks, ids = [], set()
        check_nodes = _get(fnode, "checks", Seq)
        for cindex, cnode in enumerate(check_nodes):
            if not isinstance(cnode, Node):
                raise check_nodes.error(cindex, "checks", "each check must be a mapping with an id and points")
            spec = _check(cnode, fname, examples, tol)
            if spec.id in ids:
                raise cnode.error("id", f"check {spec.id!r} appears twice for {fname}")
            ids.add(spec.id)
            if spec.kind == "timing":
                raise cnode.error("kind", f"timed runs of {fname} go in its 'timing:' list, not among its "
                                          f"checks (see grader/timing/spec.py)")
            if spec.kind == "correctness" and registry.get(fname, spec.id) is None:
                raise cnode.error("id", f"grader/checks/{name}.py has no check {spec.id!r} for {fname}")
            checks.append(spec)
        from .timing.spec import TimingSettings, parse_function_timing

        timing = parse_function_timing(fnode, name, fname, framework, timing_defaults or TimingSettings())
        functions.append(FunctionSpec(fname, params, hints, checks, timing))
    return Exercise(name=name, title=_get(node, "title", str, name), framework=framework,
                    functions=functions, limits=ex_limits,
                    forbid_autograd=bool(_get(node, "forbid_autograd", bool, False)))


def _check(node, function, examples, tol) -> CheckSpec:
    if not isinstance(node, Node):
        raise YamlError("course", None, "checks", "each check must be a mapping")
    _only(node, {"id", "title", "points", "examples", "rtol", "atol", "hint", "kind", "visibility", "options"})
    kind = _get(node, "kind", str, "correctness")
    if kind not in KINDS:
        raise node.error("kind", f"must be one of {', '.join(KINDS)}")
    visibility = _get(node, "visibility", str, "visible")
    if visibility not in VISIBILITIES:
        raise node.error("visibility", f"must be one of {', '.join(VISIBILITIES)}")
    points = _float(node, "points", None)
    if points is None or points < 0:
        raise node.error("points", "must be a number of points, 0 or more")
    options = dict(_get(node, "options", Node, Node()))
    tolerance = _tolerance(node, tol)
    tolerance = Tolerance(tolerance.rtol, tolerance.atol, options)
    return CheckSpec(id=_get(node, "id", str), title=_get(node, "title", str, _get(node, "id", str).replace("_", " ")),
                     function=function, points=points, tolerance=tolerance,
                     examples=_int(node, "examples", examples), hint=_get(node, "hint", str, ""),
                     kind=kind, visibility=visibility, options=dict(_get(node, "options", Node, Node())))


# ----------------------------------------------------------------------------- field helpers

_MISSING = object()


def _get(node: Node, key: str, typ, default=_MISSING):
    if key not in node:
        if default is _MISSING:
            raise YamlError(node.path, node.line, key, "is missing")
        return default
    value = node[key]
    if typ is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        names = {str: "text", Node: "a mapping", Seq: "a list", bool: "true or false", int: "a whole number"}
        raise node.error(key, f"must be {names.get(typ, typ.__name__)}, not {value!r}")
    return value


def _float(node: Node, key: str, default):
    if key not in node:
        return default
    value = node[key]
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)  # YAML reads "1e-9" (no dot) as text; accept it as a number
    except (TypeError, ValueError):
        raise node.error(key, f"must be a number, not {value!r}") from None


def _int(node: Node, key: str, default: int) -> int:
    value = _float(node, key, default)
    if value != int(value):
        raise node.error(key, "must be a whole number")
    return int(value)


def _tolerance(node: Node, default: Tolerance) -> Tolerance:
    return Tolerance(rtol=_float(node, "rtol", default.rtol), atol=_float(node, "atol", default.atol))


def _limits(node: Node, default: Limits) -> Limits:
    _only(node, {"call_timeout", "cpu_seconds", "memory_mb", "file_size_mb", "open_files", "threads",
                 "processes", "output_kb"})
    return replace(
        default,
        call_timeout=_float(node, "call_timeout", default.call_timeout),
        cpu_seconds=_int(node, "cpu_seconds", default.cpu_seconds),
        memory_mb=_int(node, "memory_mb", default.memory_mb),
        file_size_mb=_int(node, "file_size_mb", default.file_size_mb),
        open_files=_int(node, "open_files", default.open_files),
        threads=_int(node, "threads", default.threads),
        processes=_int(node, "processes", default.processes),
        output_kb=_int(node, "output_kb", default.output_kb),
    )


def _only(node: Node, allowed: set) -> None:
    for key in node:
        if key not in allowed:
            raise node.error(key, f"is not a known field here (known: {', '.join(sorted(allowed))})")
