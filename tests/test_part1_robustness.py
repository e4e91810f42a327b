"""Broken submissions end with the right message, in bounded time, and nothing else suffers.

Every case is graded together with another exercise from the reference solutions, which
must still pass: one learner module can never stop the grading of another. Cases that
hang run with a 1 s call timeout (the course's is 10 s), so the tests stay fast; only a
few checks are kept per function, enough to show the verdicts without re-running
hypothesis everywhere. The broken modules are data in ``tests/submissions/broken.py``.

Nothing here depends on the machine being idle. The 1 s limit holds the calls to the
learner's functions; starting a learner process (Python, NumPy, the module's import) gets
:data:`IMPORT_ALLOWANCE` (the runner counts the import against the call limit, and on a
loaded machine importing NumPy alone can take more than a second), except in the one case
whose import hangs, which is held to the 1 s limit it is about.
"""
import dataclasses
import time
from pathlib import Path

import pytest

from helpers import failing, find_check, grade_folder, submission, summary
from submissions.broken import AT_IMPORT, IN_FUNCTION

TIMEOUT = 1.0
# vectors: dot (two checks) and cross (one check); losses: one check of mse.
KEEP = {
    "functions": {"vectors": ["dot", "cross"], "losses": ["mse"]},
    "checks": {("vectors", "dot"): ["agrees_with_numpy", "symmetric"],
               ("vectors", "cross"): ["worked_example"],
               ("losses", "mse"): ["worked_example"]},
    "limits": {"vectors": {"call_timeout": TIMEOUT}},
}
BOUND = 30.0  # seconds: generous for a loaded CI machine; a hang would take forever
IMPORT_ALLOWANCE = 60.0  # seconds a learner process may take to start and import its module


@pytest.fixture(autouse=True)
def generous_imports(request, monkeypatch):
    """Starting a learner process is not held to :data:`TIMEOUT`: each call still is (in
    every test here but the one whose import hangs).

    ``LearnerProcess.start`` (the first start and every restart after a call that timed
    out) runs with the longer of its limit and :data:`IMPORT_ALLOWANCE`; the limits are
    restored before any call is made, so a hanging call is stopped after ``TIMEOUT`` and
    says so ("took longer than 1 s") however long the import took.
    """
    from grader.runner.sandbox import LearnerProcess

    case = getattr(getattr(request.node, "callspec", None), "params", {}).get("case")
    if case in AT_IMPORT and case.slow:  # the hanging import is held to the 1 s limit it is about
        return
    start = LearnerProcess.start

    def start_with_allowance(self):
        limits = self.limits
        self.limits = dataclasses.replace(limits, call_timeout=max(limits.call_timeout, IMPORT_ALLOWANCE))
        try:
            return start(self)
        finally:
            self.limits = limits

    monkeypatch.setattr(LearnerProcess, "start", start_with_allowance)


def line_of(path: Path, marker: str) -> int:
    lines = path.read_text().splitlines()
    found = [i for i, line in enumerate(lines, 1) if line.strip() == marker.strip()]
    assert len(found) == 1, f"marker {marker!r} must appear once in {path}"
    return found[0]


def expected_fragments(case, folder: Path) -> list[str]:
    line = line_of(folder / "vectors.py", case.marker) if case.marker else None
    return [f.format(line=line) for f in case.expect]


def grade_with_losses(folder: Path, **changes):
    submission(folder, "losses")  # the reference solution
    started = time.monotonic()
    report = grade_folder(folder, ["vectors", "losses"], **{**KEEP, **changes})
    elapsed = time.monotonic() - started
    vectors, losses = report.exercises
    assert losses.name == "losses" and losses.status == "passed", summary(losses)
    return vectors, elapsed


@pytest.mark.parametrize("case", AT_IMPORT, ids=lambda c: c.name)
def test_module_that_cannot_be_imported(case, tmp_path):
    folder = submission(tmp_path, "vectors", source=case.source)
    vectors, elapsed = grade_with_losses(folder)

    assert vectors.status == "error", summary(vectors)
    # Every check of every function (each graded by its own learner process) says why.
    assert vectors.score == 0 and [c.function for c in vectors.checks] == ["dot", "dot", "cross"]
    assert all(c.message == vectors.message for c in vectors.checks)
    for fragment in expected_fragments(case, folder):
        assert fragment in vectors.message, vectors.message
    assert "Traceback" not in vectors.message and "\n" not in vectors.message
    assert elapsed < BOUND


@pytest.mark.parametrize("case", IN_FUNCTION, ids=lambda c: c.name)
def test_function_that_misbehaves(case, tmp_path):
    folder = submission(tmp_path, "vectors", replace={"dot": case.source})
    vectors, elapsed = grade_with_losses(folder)

    assert vectors.status == "failed", summary(vectors)
    assert failing(vectors) == {("dot", "agrees_with_numpy"), ("dot", "symmetric")}, summary(vectors)
    assert find_check(vectors, "cross", "worked_example").passed
    for check in ("agrees_with_numpy", "symmetric"):
        message = find_check(vectors, "dot", check).message
        for fragment in expected_fragments(case, folder):
            assert fragment in message, message
        assert "Traceback" not in message
    if case.slow:  # the call was waited for, then stopped (no retries, no shrinking)
        assert TIMEOUT <= elapsed
    assert elapsed < BOUND


def test_missing_function_is_named(tmp_path):
    folder = submission(tmp_path, "vectors", drop=("cross",))
    assert "def cross(" not in (folder / "vectors.py").read_text()
    vectors, _ = grade_with_losses(folder)

    assert vectors.status == "failed"
    assert failing(vectors) == {("cross", "worked_example")}
    message = find_check(vectors, "cross", "worked_example").message
    assert "vectors.py has no function named cross" in message
    assert "cross(a, b)" in message  # the signature the course expects


def test_function_still_raising_not_implemented_is_not_started(tmp_path):
    """A half-done module: the written function scores, the stub is 'not started'."""
    stub = """
        def cross(a, b):
            raise NotImplementedError("cross is not written yet")
    """
    folder = submission(tmp_path, "vectors", replace={"cross": stub})
    vectors, _ = grade_with_losses(folder)
    check = find_check(vectors, "cross", "worked_example")
    assert not check.passed and check.not_started
    assert "cross still raises NotImplementedError" in check.message
    assert find_check(vectors, "dot", "agrees_with_numpy").passed
    assert vectors.status == "failed"  # started: some checks pass, one is waiting


def test_not_implemented_error_from_a_library_is_a_failure_not_a_stub(tmp_path):
    """Only a ``raise NotImplementedError`` in the learner's own files means 'not started'."""
    calls_library = """
        import logging

        def dot(a, b):
            logging.Handler().emit(None)  # the base class raises NotImplementedError
    """
    folder = submission(tmp_path, "vectors", replace={"dot": calls_library})
    vectors, _ = grade_with_losses(folder)
    check = find_check(vectors, "dot", "agrees_with_numpy")
    assert not check.passed and not check.not_started, check.message
    assert "raised NotImplementedError" in check.message
    line = line_of(folder / "vectors.py", "logging.Handler().emit(None)  # the base class raises NotImplementedError")
    assert f"vectors.py, line {line}" in check.message


def test_printing_does_not_break_grading(tmp_path):
    noisy = """
        print("importing vectors " * 200)

        def dot(a, b):
            print("dot was called with", a, b)
            return float(np.dot(a, b))
    """
    folder = submission(tmp_path, "vectors", replace={"dot": noisy})
    vectors, _ = grade_with_losses(folder)
    assert vectors.status == "passed", summary(vectors)


def test_printing_past_the_output_limit_stops_the_learner_process(tmp_path):
    flood = """
        def dot(a, b):
            print("x" * 100_000)
            return float(np.dot(a, b))
    """
    folder = submission(tmp_path, "vectors", replace={"dot": flood})
    limits = {"vectors": {"call_timeout": TIMEOUT, "output_kb": 64}}
    vectors, elapsed = grade_with_losses(folder, limits=limits)
    message = find_check(vectors, "dot", "agrees_with_numpy").message
    assert "printed more than 64 KB of output" in message, message
    assert find_check(vectors, "cross", "worked_example").passed
    assert elapsed < BOUND


def test_writing_a_file_past_the_size_limit_fails_in_the_learners_line(tmp_path):
    writer = """
        def dot(a, b):
            with open("scratch.bin", "wb") as f:
                f.write(bytes(3 * 1024 * 1024))
            return float(np.dot(a, b))
    """
    folder = submission(tmp_path, "vectors", replace={"dot": writer})
    limits = {"vectors": {"call_timeout": TIMEOUT, "file_size_mb": 1}}
    vectors, elapsed = grade_with_losses(folder, limits=limits)
    message = find_check(vectors, "dot", "agrees_with_numpy").message
    # Python ignores SIGXFSZ, so the write itself fails, in the learner's own line.
    assert "raised OSError: [Errno 27] File too large" in message, message
    assert f"vectors.py, line {line_of(folder / 'vectors.py', 'f.write(bytes(3 * 1024 * 1024))')}" in message
    assert find_check(vectors, "cross", "worked_example").passed
    assert elapsed < BOUND


def test_several_broken_exercises_in_one_run(tmp_path):
    """Each exercise gets its own verdict; one that works still scores in the same run."""
    submission(tmp_path, "vectors", source="def dot(a, b)\n    return 0.0\n")
    submission(tmp_path, "losses")
    submission(tmp_path, "derivatives", replace={"derivative": """
        import os

        def derivative(f, x, h=1e-5):
            os._exit(3)
    """})
    report = grade_folder(tmp_path, ["vectors", "derivatives", "losses"],
                          functions={"vectors": ["dot"], "derivatives": ["derivative", "d_sin_x_squared"],
                                     "losses": ["mse"]},
                          checks={("derivatives", "derivative"): ["returns_float"],
                                  ("losses", "mse"): ["worked_example"]})
    vectors, derivatives, losses = report.exercises
    assert vectors.status == "error" and "vectors.py, line 1" in vectors.message
    assert derivatives.status == "failed"
    assert failing(derivatives) == {("derivative", "returns_float")}
    assert "exit code 3" in find_check(derivatives, "derivative", "returns_float").message
    assert losses.status == "passed"
    assert report.score == derivatives.score + losses.score > 0
