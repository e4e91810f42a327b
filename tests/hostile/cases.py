"""The hostile submissions of ``tests/hostile/`` and the verdict each must get.

Each ``tests/hostile/<id>.py`` is learner code appended to the reference solution of its
exercise: a later ``def`` replaces the solution's function, and top-level code runs when
the module is imported. Placeholders in the file are filled in by the test before grading:
``__REPO__`` (this repository), ``__CANARY__`` (a file standing for the report) and
``__MARKER__`` (a unique number, so leftover processes can be found by command line).

Verdicts:

- ``fail``: the listed checks of ``function`` fail, each message containing ``message``;
- ``error``: the module cannot be graded at all (every check fails, status ``error``);
- ``flagged``: every check of the exercise fails as using the reference solution (or as
  looking at the grader's process);
- ``unchanged``: exactly the verdict of the reference solution (the attack had no effect);
- ``slow``: the correctness checks of ``function`` pass and its timing check fails.

Whatever the verdict, the test also grades another exercise in the same run and requires
full marks there, a bounded run time, and no process left behind afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Hostile:
    id: str
    category: str
    exercise: str
    function: str
    checks: tuple[str, ...]
    verdict: str  # fail | error | flagged | unchanged | slow
    message: str | tuple[str, ...] = ""  # substring(s) of the failure message (any of them)
    limits: dict = field(default_factory=dict)  # changes to the exercise's limits for the test
    cli: bool = False  # graded through the real `grade` command in a subprocess
    timing: bool = False  # with the timed runs (only through the command)
    also: tuple[str, ...] = ()  # other functions of the exercise graded too (their first check)
    # (verdict, message) where learner processes run in namespaces and the target of the
    # attack is simply not there (no solutions/, no grader process to look at): the attack
    # gets nothing, and the tripwire has nothing to flag.
    in_namespaces: tuple = ()
    # What the defence needs from the machine: "isolation" (namespaces or a uid of its own),
    # "namespaces", or "cgroup" (limits for all of a learner's processes together).
    needs: str = ""
    # Files put beside the submission, from tests/hostile/companions/: a name ending in .pyc
    # is compiled there from the .py of the same name (and the source is not copied).
    companions: tuple[str, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        return (self.message,) if isinstance(self.message, str) else self.message

    def under(self, mode: str) -> "Hostile":
        """This case's expected verdict under sandbox ``mode``."""
        if mode != "namespaces" or not self.in_namespaces:
            return self
        verdict, message = self.in_namespaces
        return replace(self, verdict=verdict, message=message)


SHORT = {"call_timeout": 3.0}
HANG = {"call_timeout": 1.5}
DOT = ("agrees_with_numpy",)

CASES = [
    # ----------------------------------------------------------------- ending the process
    Hostile("exit_at_import", "ending", "vectors", "dot", DOT, "error", "SystemExit", SHORT),
    Hostile("os_exit_at_import", "ending", "vectors", "dot", DOT, "error", "exit code 0", SHORT),
    Hostile("os_exit_in_function", "ending", "vectors", "dot", DOT, "fail", "ended the Python process", SHORT),
    Hostile("sys_exit_in_function", "ending", "vectors", "dot", DOT, "fail", "raised SystemExit", SHORT),
    Hostile("keyboard_interrupt", "ending", "vectors", "dot", DOT, "fail", "raised KeyboardInterrupt", SHORT),
    Hostile("kill_grader", "ending", "vectors", "dot", DOT, "fail", "may not send signals", SHORT, cli=True),
    Hostile("stop_itself", "ending", "vectors", "dot", DOT, "fail", "took longer than 1.5 s", HANG),
    Hostile("ignore_signals", "ending", "vectors", "dot", DOT, "fail", "took longer than 1.5 s", HANG),
    # ----------------------------------------------------------------- patching
    Hostile("patch_comparisons", "patching", "vectors", "dot", DOT, "fail", "returned 42.0", SHORT),
    Hostile("patch_test_tools", "patching", "vectors", "dot", DOT, "fail", "returned -1.0", SHORT),
    Hostile("patch_builtins", "patching", "vectors", "dot", DOT + ("linear",), "fail", "dot(", SHORT),
    # ----------------------------------------------------------------- fake values
    Hostile("always_equal", "fake values", "vectors", "dot", DOT + ("returns_float",), "fail", "AlwaysEqual", SHORT),
    Hostile("float_subclass", "fake values", "vectors", "dot", DOT + ("returns_float",), "fail", "Sneaky", SHORT),
    Hostile("nan_result", "fake values", "vectors", "dot", DOT, "fail", "nan", SHORT),
    Hostile("inf_result", "fake values", "vectors", "dot", DOT, "fail", "inf", SHORT),
    Hostile("string_result", "fake values", "vectors", "dot", DOT + ("returns_float",), "fail", "str", SHORT),
    Hostile("none_result", "fake values", "vectors", "dot", DOT + ("returns_float",), "fail", "None", SHORT),
    Hostile("bool_result", "fake values", "vectors", "dot", DOT + ("returns_float",), "fail", "True", SHORT),
    Hostile("wrong_shape", "fake values", "vectors", "cross", ("returns_array",), "fail", "(1, 3)", SHORT),
    Hostile("generator_result", "fake values", "vectors", "matmul", ("agrees_with_numpy", "returns_array"),
            "fail", "generator", SHORT),
    Hostile("cached_result", "fake values", "vectors", "dot", DOT, "fail", "expected", SHORT),
    Hostile("ndarray_subclass", "fake values", "vectors", "cross", ("agrees_with_numpy", "returns_array"),
            "fail", "Agreeable", SHORT),
    Hostile("lying_dtype", "fake values", "vectors", "cross", ("agrees_with_numpy", "returns_array"),
            "fail", "object", SHORT),
    # ----------------------------------------------------------------- resources
    Hostile("infinite_loop", "resources", "vectors", "dot", DOT, "fail", "took longer than 1.5 s", HANG),
    Hostile("sleeps", "resources", "vectors", "dot", DOT, "fail", "took longer than 1.5 s", HANG),
    Hostile("memory_bomb", "resources", "vectors", "dot", DOT, "fail", "at most 1024 MB",
            {"call_timeout": 10.0, "memory_mb": 1024}),
    Hostile("huge_output", "resources", "vectors", "dot", DOT, "fail", "printed more than 64 KB",
            {"call_timeout": 10.0, "output_kb": 64}),
    Hostile("fill_disk", "resources", "vectors", "dot", DOT, "fail", "at most 1 MB",
            {"call_timeout": 10.0, "file_size_mb": 1}),
    Hostile("thread_bomb", "resources", "vectors", "dot", DOT, "fail", "processes and threads",
            {"call_timeout": 20.0, "memory_mb": 1024, "processes": 32}),
    Hostile("fork_bomb", "resources", "vectors", "dot", DOT, "fail", ("expected", "processes and threads"),
            {"call_timeout": 10.0, "processes": 32}),
    Hostile("daemon_process", "resources", "vectors", "dot", DOT, "fail", "expected", SHORT, cli=True),
    Hostile("lingering_thread", "resources", "vectors", "dot", DOT, "fail",
            ("could not read", "stopped answering"), SHORT),
    # ----------------------------------------------------------------- output
    Hostile("fake_report_output", "output", "vectors", "dot", (), "unchanged", "", SHORT, cli=True),
    Hostile("write_report", "output", "vectors", "dot", DOT, "fail", "only write files in their own working folder",
            SHORT),
    Hostile("write_grader_stdout", "output", "vectors", "dot", DOT, "flagged", "grader's own process", SHORT,
            cli=True, in_namespaces=("unchanged", "")),
    # ----------------------------------------------------------------- peeking
    Hostile("import_solution", "peeking", "vectors", "dot", (), "flagged", "reference solution", SHORT,
            in_namespaces=("error", "No module named 'solutions'")),
    Hostile("read_solution_file", "peeking", "vectors", "dot", (), "flagged", "reference solution", SHORT),
    Hostile("load_solution_by_spec", "peeking", "vectors", "dot", (), "flagged", "reference solution", SHORT),
    # Caught in dot's process while cross is graded in another: cross scores 0 as well.
    Hostile("read_quiz_keys", "peeking", "vectors", "dot", DOT, "flagged", "reference solution", SHORT,
            also=("cross",)),
    Hostile("read_grader_memory", "peeking", "vectors", "dot", DOT, "flagged", "grader's own process", SHORT,
            also=("cross",), in_namespaces=("fail", ("Permission denied", "No such file"))),
    Hostile("use_network", "peeking", "vectors", "dot", DOT, "fail", "may not use the network", SHORT),
    Hostile("inspect_frames", "peeking", "vectors", "dot", DOT, "fail", "expected", SHORT),
    Hostile("steal_environment", "peeking", "vectors", "dot", DOT, "flagged", "grader's own process", SHORT,
            cli=True, in_namespaces=("error", "PARENT refused")),
    Hostile("junk_on_protocol", "peeking", "vectors", "dot", DOT, "fail", "could not read", SHORT),
    Hostile("forged_header", "peeking", "vectors", "dot", DOT, "fail", "MiB allowed", SHORT),
    # ----------------------------------------------------------------- the kernel's walls
    # Python's audit hook cannot resolve a path relative to a folder descriptor: only the
    # sandbox keeps these out (needs="isolation": skipped where learner code runs as the
    # grader's own user, which docs/security.md says is practice only).
    Hostile("dir_fd_read_solution", "walls", "vectors", "dot", DOT, "fail", ("No such file", "Permission denied"),
            SHORT, needs="namespaces"),
    Hostile("dir_fd_write_report", "walls", "vectors", "dot", DOT, "unchanged", "", SHORT, needs="isolation"),
    Hostile("leave_files_behind", "walls", "vectors", "dot", DOT, "unchanged", "", SHORT, needs="isolation"),
    Hostile("memory_helpers", "walls", "vectors", "dot", DOT, "fail",
            ("returned -1.0", "used more than the 600 MB", "stopped by signal"),
            {"call_timeout": 20.0, "memory_mb": 600}, needs="cgroup"),
    # Its next call meets a dead child (or one still dying): "... ended the Python process [after
    # answering the previous call] ...", depending on which the grader sees first.
    Hostile("forged_reply", "peeking", "vectors", "dot", DOT, "fail", "ended the Python process", SHORT),
    # ----------------------------------------------------------------- clocks in timed runs
    Hostile("patch_clocks", "clocks", "vectors", "dot", DOT, "slow", "fast enough", SHORT, cli=True, timing=True),
    # ----------------------------------------------------------------- autograd in backprop
    Hostile("autograd_private_switch", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "fail", "used autograd"),
    Hostile("autograd_enable_grad", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "fail", "used autograd"),
    Hostile("autograd_func_grad", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "fail", "used autograd"),
    Hostile("autograd_hidden", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "fail", "looks up an attribute by a name computed at run time"),
    Hostile("autograd_forged_reply", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "fail", "used autograd"),
    # The policy of grader/runner/lint.py: the reader it replaced looked for forbidden names,
    # and these two named none (getattr under another name, operator.attrgetter, fragments):
    # both scored full marks. Each now fails naming the file, the line and the rule.
    Hostile("autograd_getattr_fragments", "autograd", "backprop", "linear_backward",
            ("computes_gradients_by_hand",), "fail",
            ": `getattr` uses getattr other than by calling it with the attribute's name written out"),
    Hostile("autograd_engine_grad_off", "autograd", "backprop", "linear_backward",
            ("computes_gradients_by_hand",), "fail",
            ": `import operator` imports a module this exercise does not allow"),
    # A helper shipped only as ag_helper.pyc (compiled from tests/hostile/companions/): the
    # gate copies .py files only, so the import fails; imported inside the function, the
    # module loads and the policy names the import.
    Hostile("autograd_pyc_helper", "autograd", "backprop", "linear_backward", ("computes_gradients_by_hand",),
            "error", "No module named 'ag_helper'", companions=("ag_helper.pyc",)),
    Hostile("autograd_pyc_helper_lazy", "autograd", "backprop", "linear_backward",
            ("computes_gradients_by_hand",), "fail",
            "`from ag_helper import linear_backward as hidden` imports ag_helper, but only torch, numpy, math and "
            "your own .py files beside backprop.py can be imported", companions=("ag_helper.pyc",)),
]
