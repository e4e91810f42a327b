"""``grade hint``: progressive hints for the first function that does not pass, and their reset.

Driven through click's CliRunner in a temporary working directory (the state file lives
in ``./.grade/``); the learner's module is a reference solution with one function planted
wrong, graded for real in the isolated runner.
"""
import json
import re

import pytest
from click.testing import CliRunner

from grader import cli, grading, progress
from grader.results import CheckResult, ExerciseResult, Report
from grader.yamlfile import Node, Seq, load
from helpers import EXERCISES, SOLUTIONS, course, submission

WRONG_DOT = """
def dot(a, b):
    return float(sum(a) * sum(b))
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def hint(*args):
    result = CliRunner().invoke(cli.main, ["hint", *args], catch_exceptions=False)
    return result


def shown(output: str) -> list[int]:
    """The hint numbers printed, in order (``hint 2/3`` -> 2)."""
    return [int(n) for n in re.findall(r"hint (\d+)/\d+", output)]


def dot_hints() -> list[str]:
    return next(f.hints for f in course().get("vectors").functions if f.name == "dot")


def first_words(text: str) -> str:
    return " ".join(text.split()[:6])


# ----------------------------------------------------------------------------- the hints themselves


def test_every_function_has_progressive_plain_text_hints():
    """Each function has 2+ hints, each a plain YAML string (an unquoted ': ' would make a mapping)."""
    raw = load(course().path)
    for ex in raw["exercises"]:
        for fn in ex["functions"]:
            hints = fn["hints"]
            assert isinstance(hints, Seq) and len(hints) >= 2, f"{ex['name']}.{fn['name']} needs 2+ hints"
            for h in hints:
                assert isinstance(h, str) and not isinstance(h, Node), \
                    f"{ex['name']}.{fn['name']}: hint {h!r} is not plain text (quote it in course.yaml)"
                assert len(h) < 300 and h.strip() == h


def test_hints_point_at_the_idea_without_pasting_answers():
    """No hint hands over a finished line of code for the function it belongs to."""
    answers = [r"return\s+[\w.]+\s*[(@*/+-]", r"np\.dot\(", r"\bA\s*@\s*B\b", r"dy\s*@\s*W\b", r"dy\.T\s*@\s*x",
               r"2\s*\*\s*x\s*\*\s*np\.cos"]
    for e in course().exercises:
        for f in e.functions:
            for h in f.hints:
                for pattern in answers:
                    assert not re.search(pattern, h), f"{e.name}.{f.name}: {h!r} pastes an answer"


# ----------------------------------------------------------------------------- progression and reset


def test_hints_progress_one_per_call_and_stop_at_the_last(monkeypatch):
    folder = submission("sub", "vectors", replace={"dot": WRONG_DOT})
    hints = dot_hints()
    assert len(hints) == 3

    first = hint("vectors", "--source", str(folder))
    assert first.exit_code == 0, first.output
    assert "vectors › dot" in first.output and "failing:" in first.output
    assert shown(first.output) == [1]
    assert first_words(hints[0]) in " ".join(first.output.split())
    assert first_words(hints[1]) not in " ".join(first.output.split())
    assert "again for hint 2 of 3" in first.output

    # Unchanged module: the saved results are used, nothing is graded again.
    def no_grading(*args, **kwargs):
        raise AssertionError("graded again although the module did not change")

    monkeypatch.setattr(grading, "grade", no_grading)
    second = hint("vectors", "--source", str(folder))
    assert shown(second.output) == [1, 2]
    assert first_words(hints[1]) in " ".join(second.output.split())
    third = hint("vectors", "--source", str(folder))
    assert shown(third.output) == [1, 2, 3]
    assert "last hint for dot" in third.output and "--replay" in third.output
    fourth = hint("vectors", "--source", str(folder))
    assert shown(fourth.output) == [1, 2, 3], "after the last hint, the last hint stays"

    saved = json.loads((folder.parent / ".grade" / "progress.json").read_text())
    assert saved[str(folder.resolve())]["vectors"]["hints"] == {"dot": 3}

    reset = hint("vectors", "--source", str(folder), "--reset")
    assert reset.exit_code == 0 and "start again" in reset.output
    assert shown(hint("vectors", "--source", str(folder)).output) == [1]


def test_counters_reset_when_the_function_passes():
    folder = submission("sub", "vectors", replace={"dot": WRONG_DOT})
    progress.save(str(folder), report_of("vectors", failing={"dot"}))
    hint("vectors", "--source", str(folder))
    assert shown(hint("vectors", "--source", str(folder)).output) == [1, 2]

    progress.save(str(folder), report_of("vectors", failing={"cross"}))  # dot passes now
    assert "dot" not in progress.load_exercise(str(folder), "vectors").get("hints", {})
    out = hint("vectors", "--source", str(folder)).output
    assert "vectors › cross" in out and shown(out) == [1]

    progress.save(str(folder), report_of("vectors", failing={"dot", "cross"}))  # dot broken again
    out = hint("vectors", "--source", str(folder)).output
    assert "vectors › dot" in out and shown(out) == [1], "dot's hints start over"
    assert progress.load_exercise(str(folder), "vectors")["hints"] == {"dot": 1, "cross": 1}


def test_a_changed_module_is_graded_again_before_hinting():
    folder = submission("sub", "vectors", replace={"dot": WRONG_DOT})
    progress.save(str(folder), report_of("vectors", failing={"dot"}))
    assert shown(hint("vectors", "--source", str(folder)).output) == [1]
    submission("sub", "vectors")  # fixed, but the saved results still say dot fails
    fixed = hint("vectors", "--source", str(folder))
    assert fixed.exit_code == 0
    assert "Everything in vectors passes" in fixed.output and "derivatives" in fixed.output
    assert progress.load_exercise(str(folder), "vectors")["status"] == "passed"


def report_of(name: str, failing: set) -> Report:
    """A run of ``name`` in which the functions in ``failing`` fail their first check."""
    checks = []
    for spec in course().get(name).checks():
        wrong = spec.function in failing and not any(c.function == spec.function for c in checks if not c.passed)
        checks.append(CheckResult(spec.title, spec.function, spec.kind, not wrong, spec.points,
                                  "returned 0.0, expected 1.0" if wrong else ""))
    return Report([ExerciseResult(name, checks)])


def test_not_started_functions_get_hints_and_import_errors_are_explained(tmp_path):
    stubs = submission("stubs", "derivatives", base=EXERCISES)
    out = hint("derivatives", "--source", str(stubs)).output
    assert "derivatives › derivative (not started" in out and shown(out) == [1]

    broken = submission("broken", "vectors", source="def dot(a, b)\n    return 0\n")
    out = hint("vectors", "--source", str(broken)).output
    assert "cannot be imported yet" in out and "SyntaxError" in out and "line 1" in out
    assert shown(out) == []


def test_without_an_exercise_the_first_unfinished_one_is_used():
    folder = submission("sub", "vectors")
    submission("sub", "derivatives", base=EXERCISES)
    progress.save(str(folder), report_of("vectors", failing=set()))
    out = hint("--source", str(folder)).output
    assert "derivatives › derivative" in out


def test_unknown_exercise_is_a_usage_error():
    result = hint("vecters", "--source", str(SOLUTIONS))
    assert result.exit_code == 2
    assert "Did you mean 'vectors'" in result.output


def test_a_correct_but_slow_exercise_needs_no_hint_and_is_not_picked(tmp_path):
    """Hints are about correctness: a function that is right but too slow gets none, and
    grade hint without a name goes on to the first exercise that is not right yet."""
    folder = submission("sub", "vectors")
    submission("sub", "derivatives", base=EXERCISES)
    report = report_of("vectors", failing=set())
    report.exercises[0].checks.append(CheckResult("fast enough on 10**6 floats", "dot", "timing", False, 1.0,
                                                  "dot: 250 times the reference (limit 10)",
                                                  extra={"timing": [{"outcome": "fail"}]}))
    progress.save(str(folder), report)
    out = " ".join(hint("vectors", "--source", str(folder)).output.split())
    assert "Everything in vectors is correct — no hints needed. Still too slow: dot" in out
    assert "derivatives › derivative" in hint("--source", str(folder)).output
