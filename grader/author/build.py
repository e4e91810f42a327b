"""``grade author build``: write a course's stubs (``exercises/``) from its solutions (``solutions/``).

Every module ``solutions/<name>.py`` marks its answers (:mod:`grader.author.markers`); its
stub ``exercises/<name>.py`` is the same module with each marked region replaced by
``raise NotImplementedError(...)``. The build writes only stubs that change, and never
touches anything else in ``exercises/`` (the learner's quiz answers, a README).
``--check`` writes nothing and lists every stub that is not exactly what the build writes:
CI runs it (through ``tests/test_stubs_match_solutions.py``), so the committed stubs
cannot drift from the solutions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..atomic import write_atomic
from .markers import BEGIN, MarkerError, build_stub, count_regions


@dataclass(frozen=True)
class Difference:
    """One stub that is not what the build writes: ``kind`` is ``differs``, ``missing`` or
    ``orphan`` (a stub with no solution to build it from)."""

    kind: str
    stub: str
    solution: str

    def sentence(self) -> str:
        if self.kind == "missing":
            return f"{self.stub} is missing: grade author build writes it from {self.solution}"
        if self.kind == "orphan":
            return f"{self.stub} has no solution to be built from ({self.solution} does not exist)"
        return f"{self.stub} is not what grade author build writes from {self.solution}"


def solution_modules(solutions_dir: str) -> list[str]:
    """The solution modules' file names (``vectors.py``, ...), sorted: the ``.py`` files at the
    top of ``solutions_dir`` (quiz answers and other folders are not modules)."""
    if not os.path.isdir(solutions_dir):
        return []
    return sorted(n for n in os.listdir(solutions_dir)
                  if n.endswith(".py") and n != "__init__.py" and os.path.isfile(os.path.join(solutions_dir, n)))


def stub_for(solution_path: str) -> str:
    """The stub text of one solution module; MarkerError names the file and line of a problem,
    and a solution without any marker is one (its stub would be the answer itself)."""
    with open(solution_path, encoding="utf-8", newline="") as f:
        text = f.read()
    if count_regions(text, solution_path) == 0:
        raise MarkerError(solution_path, None, f"has no {BEGIN} marker, so its stub would be the solution "
                                               f"itself; mark each answer (see docs/authoring.md)")
    return build_stub(text, solution_path)


def built_stubs(solutions_dir: str) -> dict[str, str]:
    """File name -> stub text for every solution module (MarkerError for the first broken one)."""
    return {name: stub_for(os.path.join(solutions_dir, name)) for name in solution_modules(solutions_dir)}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        return None


def differences(solutions_dir: str, exercises_dir: str) -> list[Difference]:
    """Every stub in ``exercises_dir`` that is not exactly what the build writes, in name order."""
    found = []
    stubs = built_stubs(solutions_dir)
    for name, text in stubs.items():
        stub_path, solution_path = os.path.join(exercises_dir, name), os.path.join(solutions_dir, name)
        current = _read(stub_path)
        if current != text:
            found.append(Difference("missing" if current is None else "differs", stub_path, solution_path))
    for name in solution_modules(exercises_dir):
        if name not in stubs:
            found.append(Difference("orphan", os.path.join(exercises_dir, name), os.path.join(solutions_dir, name)))
    return sorted(found, key=lambda d: d.stub)


def write_stubs(solutions_dir: str, exercises_dir: str) -> list[str]:
    """Write every stub that changes (atomically); return their paths. Nothing is written when
    any solution's markers are broken (all are built first)."""
    stubs = built_stubs(solutions_dir)
    written = []
    for name, text in stubs.items():
        path = os.path.join(exercises_dir, name)
        if _read(path) != text:
            write_atomic(path, text)
            written.append(path)
    return written
