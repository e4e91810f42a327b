"""The grader's own process imports torch only when a check needs a torch value of its own.

On the untouched stubs every function answers "not started" on its first call, so ``grade``
pays torch's import once, in the warm zygote, and never in the process that runs the checks
(issue 15, benchmarks/stubs.py). Each test runs in a fresh interpreter and reads its
``sys.modules``: a module-level ``import torch`` anywhere on that path, or an oracle or
device question asked before the learner's first answer, brings torch back and fails here.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from helpers import EXERCISES, ROOT, course

# Grades every exercise of the course in this one process (jobs=1: the checks run here, not in
# forked workers), timed runs included as `grade` does by default, then reports what it saw.
GRADE_THE_STUBS = """
import json, sys
from grader.course import load_course
from grader.grading import grade

course = load_course()
report = grade(course, course.names(), sys.argv[1], 0, jobs=1, timing=True)
before = "torch" in sys.modules
from grader.checks.tensors import devices
every_device = list(devices())  # asks about CUDA: the one question here that needs torch
print(json.dumps({"statuses": {e.name: e.status for e in report.exercises}, "torch": before,
                  "torch_after_asking": "torch" in sys.modules}))
"""


def _in_a_fresh_interpreter(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_grading_the_untouched_stubs_never_imports_torch_in_the_grader(tmp_path):
    pytest.importorskip("torch")  # the stubs of the torch exercises import it in their own process
    stubs = tmp_path / "exercises"
    shutil.copytree(EXERCISES, stubs)  # grade keeps its progress beside the modules it grades
    seen = _in_a_fresh_interpreter(GRADE_THE_STUBS, str(stubs))
    torch_exercises = [e.name for e in course().exercises if e.framework == "torch"]
    assert torch_exercises and all(seen["statuses"][name] == "not_started" for name in torch_exercises), seen
    assert seen["torch"] is False, "the grader imported torch although every torch function is still a stub"
    # The probe can see an import: asking which devices to check does import torch.
    assert seen["torch_after_asking"] is True


def test_importing_the_course_and_its_checks_imports_no_torch():
    code = ("import json, sys\nfrom grader.course import load_course\nimport grader.cli, grader.grading\n"
            "for e in load_course().exercises:\n    e.registry()\n"
            "print(json.dumps({'torch': sorted(m for m in sys.modules if m.split('.')[0] == 'torch')}))\n")
    assert _in_a_fresh_interpreter(code) == {"torch": []}


def test_a_torch_module_counts_as_written_once_one_graded_function_has_code(tmp_path):
    """Whether the grader starts importing torch while the learner process starts: a guess from
    the source that never decides a verdict (the checks import torch themselves when they need it)."""
    from grader.grading import _written

    backprop = {"linear_backward", "relu_backward", "mse_backward", "two_layer_backward"}
    assert not _written(str(EXERCISES / "backprop.py"), backprop)
    assert not _written(str(EXERCISES / "mlp.py"), {"MLP", "train"})
    assert _written(str(ROOT / "solutions" / "backprop.py"), backprop)
    assert _written(str(ROOT / "solutions" / "mlp.py"), {"MLP", "train"})
    written = "\n\ndef relu_backward(dy, x):\n    return dy * (x > 0)\n"  # a later def wins, as in Python
    one = (EXERCISES / "backprop.py").read_text(encoding="utf-8") + written
    (tmp_path / "one.py").write_text(one, encoding="utf-8")
    assert _written(str(tmp_path / "one.py"), backprop)
    assert not _written(str(tmp_path / "one.py"), {"linear_backward"})  # only the functions this task grades
    (tmp_path / "broken.py").write_text("def linear_backward(:\n", encoding="utf-8")
    assert _written(str(tmp_path / "broken.py"), backprop)  # unsure: import early, as before
