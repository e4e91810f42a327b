"""The course definition: ``grader/course.yaml`` (or a course folder's) read into plain dataclasses.

The course file is the single place that says what is graded: the exercises in order,
each exercise's module and functions (with their parameter names), and for each function
the checks that count, with points, tolerances, example counts, time limits and hints.
The check *code* lives in ``checks/<exercise>.py`` beside the course file (for the packaged
course, ``grader/checks/``); the course file refers to each check by its id.

A **course folder** (``grade --course DIR``, or ``$GRADE_COURSE``) is a course outside the
package: ``DIR/course.yaml``, ``DIR/checks/*.py`` (trusted teacher code, imported in the
grader's process only, never in a learner's), ``DIR/solutions/`` (the reference answers,
with the solution markers of :mod:`grader.author.markers`), ``DIR/exercises/`` (the stubs
built from them) and ``DIR/quizzes/`` (optional). An exercise of a course folder without a
checks module of its own uses the packaged one of the same name, so a course can reuse
``vectors`` and add ``cross_entropy``. :func:`course_folder` says where each part is.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import sys
import types
from dataclasses import dataclass, field, replace

from .checks.base import Registry, Tolerance
from .runner.sandbox import Limits
from .yamlfile import Node, Seq, YamlError, load

COURSE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course.yaml")
PACKAGE_CHECKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks")
# The checkout the packaged course lives in: solutions/ and exercises/ beside grader/.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_ENV = "GRADE_COURSE"  # a course folder to grade instead of the packaged course
COURSE_FILE_NAME = "course.yaml"
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
    # The folder of this exercise's checks module; None: the packaged grader/checks/. A
    # plain string, so an Exercise sent to a worker process still finds its checks there.
    checks_dir: str | None = None

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
        return load_registry(self.name, self.checks_dir)

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


@dataclass(frozen=True)
class CourseFolder:
    """Where the parts of one course are.

    ``root`` is None for the packaged course (``grader/course.yaml``, ``grader/checks/``,
    ``grader/quizzes/``, and ``solutions/`` and ``exercises/`` beside ``grader/``); for a
    course folder every part is inside ``root``.
    """

    root: str | None
    course_file: str
    checks: str
    solutions: str
    exercises: str
    quizzes: str

    @property
    def packaged(self) -> bool:
        return self.root is None


def course_folder(path: str | None = None) -> CourseFolder:
    """The course folder ``path``; without one, ``$GRADE_COURSE``; without that, the packaged course.

    Raise YamlError (naming the folder) when the folder has no ``course.yaml``.
    """
    path = path or os.environ.get(COURSE_ENV) or None
    if path is None:
        from .quiz.model import PACKAGE_QUIZ_DIR

        return CourseFolder(None, COURSE_FILE, PACKAGE_CHECKS, os.path.join(PACKAGE_ROOT, "solutions"),
                            os.path.join(PACKAGE_ROOT, "exercises"), PACKAGE_QUIZ_DIR)
    root = os.path.abspath(path)
    course_file = os.path.join(root, COURSE_FILE_NAME)
    if not os.path.isfile(course_file):
        problem = ("is not a folder" if not os.path.isdir(root) else
                   f"has no {COURSE_FILE_NAME}: a course folder holds course.yaml, checks/, solutions/, "
                   f"exercises/ and, if it has quizzes, quizzes/ (grade new EXERCISE --course DIR starts one)")
        raise YamlError(root, None, None, problem)
    return CourseFolder(root, course_file, os.path.join(root, "checks"), os.path.join(root, "solutions"),
                        os.path.join(root, "exercises"), os.path.join(root, "quizzes"))


def load_registry(name: str, checks_dir: str | None = None) -> Registry:
    """The ``checks`` Registry of the checks module ``name``: ``grader.checks.<name>``, or
    ``<checks_dir>/<name>.py`` of a course folder.

    A course folder's checks are imported as the modules of a package of their own (so one
    may import another with ``from . import helpers``), named after the folder, in this
    process only: the learner's process never imports a check.
    """
    if checks_dir is None or os.path.realpath(checks_dir) == os.path.realpath(PACKAGE_CHECKS):
        return importlib.import_module(f"grader.checks.{name}").checks
    folder = os.path.realpath(checks_dir)
    package = "_dlgrade_course_checks_" + hashlib.sha256(folder.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    if package not in sys.modules:
        module = types.ModuleType(package, f"the checks of the course folder {os.path.dirname(folder)}")
        module.__path__ = [folder]
        module.__package__ = package
        sys.modules[package] = module
    return importlib.import_module(f"{package}.{name}").checks


def _checks_dir_of(course_file: str, name: str) -> str | None:
    """Where exercise ``name`` of ``course_file`` finds its checks: ``checks/<name>.py`` beside
    the course file when there is one, else the packaged ``grader/checks/`` (None)."""
    here = os.path.join(os.path.dirname(os.path.abspath(course_file)), "checks")
    if os.path.realpath(here) != os.path.realpath(PACKAGE_CHECKS) and os.path.isfile(os.path.join(here, f"{name}.py")):
        return here
    return None


def load_course(path: str | None = None) -> Course:
    """Read and validate the course file; raise YamlError naming file, line and field.

    ``path``: a course file; by default the active course's (:func:`course_folder`: the
    course folder of ``$GRADE_COURSE``, else ``grader/course.yaml``).
    """
    if path is None:
        path = course_folder().course_file
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
        ex = _exercise(node, default_examples, default_tol, default_limits, timing_defaults, course_file=path)
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


def _exercise(node, examples, tol, limits, timing_defaults=None, course_file: str = COURSE_FILE) -> Exercise:
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
    checks_dir = _checks_dir_of(course_file, name)
    checks_file = f"{os.path.join(checks_dir, name)}.py" if checks_dir else f"grader/checks/{name}.py"
    try:
        registry = load_registry(name, checks_dir)
    except ModuleNotFoundError as missing:
        if missing.name not in (f"grader.checks.{name}", None) and not missing.name.endswith(f".{name}"):
            raise  # the checks module exists but imports something missing: say that, not this
        beside = (f" (nor checks/{name}.py beside {os.path.basename(course_file)})" if
                  os.path.realpath(course_file) != os.path.realpath(COURSE_FILE) else "")
        raise node.error("name", f"there is no check module grader/checks/{name}.py{beside}") from None
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
                raise cnode.error("id", f"{checks_file} has no check {spec.id!r} for {fname}")
            checks.append(spec)
        from .timing.spec import TimingSettings, parse_function_timing

        timing = parse_function_timing(fnode, name, fname, framework, timing_defaults or TimingSettings())
        functions.append(FunctionSpec(fname, params, hints, checks, timing))
    return Exercise(name=name, title=_get(node, "title", str, name), framework=framework,
                    functions=functions, limits=ex_limits,
                    forbid_autograd=bool(_get(node, "forbid_autograd", bool, False)), checks_dir=checks_dir)


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
