"""The submission gate (grader/gate.py) and the bounded YAML and state-file readers, unit by unit.

Every hostile file is made for real in ``tmp_path`` (symlinks, FIFOs, a device node where
the machine allows one); a call that could block (a FIFO) runs in a thread that must
finish within seconds, so a regression fails the test instead of hanging the suite.
"""
from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from grader import gate
from grader.gate import GateError, Refused, load_state_json, read_file, snapshot
from grader.yamlfile import YamlError, load
from helpers import SOLUTIONS

BOMB = Path(__file__).resolve().parent / "hostile" / "gate" / "alias_bomb.yaml"
QUICK = 10.0  # seconds: what "returns at once" means on a loaded two-core machine


def returns_within(seconds: float, function, *args, **kwargs):
    """``function(*args, **kwargs)`` run in a thread that must finish in time; its result."""
    box: dict = {}

    def run():
        try:
            box["value"] = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__} did not return within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def folder(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    """``tmp_path/sub`` holding ``files`` (name -> text)."""
    sub = tmp_path / "sub"
    sub.mkdir()
    for name, text in (files or {}).items():
        (sub / name).parent.mkdir(parents=True, exist_ok=True)
        (sub / name).write_text(text)
    return sub


def copied(snap) -> set[str]:
    """Every file in the snapshot, as a path relative to its root."""
    out = set()
    for where, _dirs, files in os.walk(snap.root):
        out |= {os.path.relpath(os.path.join(where, f), snap.root) for f in files}
    return out


# ----------------------------------------------------------------------------- what is copied


def test_only_modules_and_quiz_answers_are_copied_into_a_private_folder(tmp_path):
    sub = folder(tmp_path, {"vectors.py": "x = 1\n", "helper.py": "y = 2\n", "README.md": "notes",
                            "quizzes/calculus.yaml": "answers: {}\n", "quizzes/other.yml": "answers: {}\n",
                            "quizzes/notes.txt": "", ".grade/progress.json": "{}", ".hidden.py": "",
                            "data/table.csv": "1,2"})
    with snapshot(str(sub)) as snap:
        assert copied(snap) == {"vectors.py", "helper.py", "quizzes/calculus.yaml", "quizzes/other.yml"}
        assert snap.refused == [] and snap.warnings() == []
        assert stat.S_IMODE(os.stat(snap.root).st_mode) == 0o700
        assert Path(snap.root, "vectors.py").read_text() == "x = 1\n"
        assert snap.source == str(sub)
        root = snap.root
    assert not os.path.exists(root), "closing the snapshot removes the copy"


def test_compiled_code_pth_files_and_packages_are_refused_by_name(tmp_path):
    sub = folder(tmp_path, {"vectors.py": "x = 1\n", "vectors.pyc": "", "fast.so": "", "evil.pth": "import os",
                            "pkg/__init__.py": "", "__pycache__/vectors.cpython-311.pyc": ""})
    with snapshot(str(sub)) as snap:
        assert copied(snap) == {"vectors.py"}
        assert snap.refused == [Refused("evil.pth", "is a .pth file"), Refused("fast.so", "is compiled code (.so)"),
                                Refused("pkg", "is a package (a folder of Python code)"),
                                Refused("vectors.pyc", "is compiled code (.pyc)")]
        warnings = "\n".join(snap.warnings())
    assert f"{sub}/evil.pth is a .pth file, so the grader left it out: it could change what Python imports." \
        in warnings
    assert "only .py sources are graded" in warnings and "__pycache__" not in warnings


# ----------------------------------------------------------------------------- links, FIFOs, devices


def test_a_module_linked_to_dev_zero_is_refused_without_being_read(tmp_path):
    sub = folder(tmp_path, {"losses.py": "x = 1\n"})
    (sub / "vectors.py").symlink_to("/dev/zero")
    snap = returns_within(QUICK, snapshot, str(sub))
    with snap:
        assert copied(snap) == {"losses.py"}
        assert snap.refused == [Refused("vectors.py", "is a symbolic link")]
        (line,) = snap.warnings()
    assert line == (f"{sub}/vectors.py is a symbolic link, so the grader left it out: only real files in "
                    f"your folder are read, never what a link points to.")


def test_a_module_linked_to_a_file_outside_is_not_copied(tmp_path):
    sub = folder(tmp_path)
    (sub / "vectors.py").symlink_to(SOLUTIONS / "vectors.py")
    with snapshot(str(sub)) as snap:
        assert copied(snap) == set()
        assert snap.refusal_of("vectors.py") == Refused("vectors.py", "is a symbolic link")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    sub = folder(tmp_path, {"losses.py": "x = 1\n"})
    os.mkfifo(sub / "vectors.py")
    os.mkfifo(sub / "quizzes.yaml")  # not considered: not even opened
    with returns_within(QUICK, snapshot, str(sub)) as snap:
        assert copied(snap) == {"losses.py"}
        assert snap.refused == [Refused("vectors.py", "is a FIFO")]
    with pytest.raises(GateError, match="is a FIFO"):
        returns_within(QUICK, read_file, str(sub / "vectors.py"))


def test_a_device_is_refused(tmp_path):
    sub = folder(tmp_path)
    try:
        os.mknod(sub / "vectors.py", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers
    except (PermissionError, OSError) as exc:
        pytest.skip(f"this machine cannot make a device node here ({exc})")
    with returns_within(QUICK, snapshot, str(sub)) as snap:
        assert copied(snap) == set()
        assert snap.refused == [Refused("vectors.py", "is a device")]


def test_a_linked_quizzes_folder_is_refused_whole(tmp_path):
    sub = folder(tmp_path, {"vectors.py": "x = 1\n"})
    (sub / "quizzes").symlink_to(SOLUTIONS / "quizzes")
    with snapshot(str(sub)) as snap:
        assert copied(snap) == {"vectors.py"}
        assert snap.refused == [Refused("quizzes", "is a symbolic link")]


def test_a_linked_answers_file_is_refused(tmp_path):
    sub = folder(tmp_path, {"quizzes/statistics.yaml": "answers: {}\n"})
    (sub / "quizzes" / "calculus.yaml").symlink_to(SOLUTIONS / "quizzes" / "calculus.yaml")
    with snapshot(str(sub)) as snap:
        assert copied(snap) == {"quizzes/statistics.yaml"}
        assert snap.refused == [Refused("quizzes/calculus.yaml", "is a symbolic link")]


@pytest.mark.parametrize("spelling", ["{}", "{}/", "{}/."])
def test_a_source_folder_that_is_a_link_is_an_error(tmp_path, spelling):
    (tmp_path / "exercises").symlink_to(SOLUTIONS)
    with pytest.raises(GateError, match="is a symbolic link, not a folder"):
        snapshot(spelling.format(tmp_path / "exercises"))


def test_a_source_that_is_missing_or_not_a_folder_is_an_error(tmp_path):
    with pytest.raises(GateError, match="no such folder"):
        snapshot(str(tmp_path / "nowhere"))
    (tmp_path / "file.py").write_text("")
    with pytest.raises(GateError, match="is not a folder"):
        snapshot(str(tmp_path / "file.py"))


# ----------------------------------------------------------------------------- names and caps


def test_a_name_that_is_not_utf8_is_copied_as_bytes_and_shown_safely(tmp_path):
    sub = folder(tmp_path)
    raw = os.fsencode(str(sub)) + b"/caf\xe9.py"
    with open(raw, "wb") as f:
        f.write(b"x = 1\n")
    os.symlink(b"/dev/zero", os.fsencode(str(sub)) + b"/\x1b[31mred\xff.py")
    with snapshot(str(sub)) as snap:
        assert os.listdir(os.fsencode(snap.root)) == [b"caf\xe9.py"]
        assert open(os.fsencode(snap.root) + b"/caf\xe9.py", "rb").read() == b"x = 1\n"
        (refused,) = snap.refused
        (line,) = snap.warnings()
    assert refused.name == "\\x1b[31mred\\xff.py"
    assert "\x1b" not in line and "\\x1b[31mred\\xff.py is a symbolic link" in line
    line.encode("utf-8")  # printable and encodable: no lone surrogate survives


def test_a_file_over_the_size_cap_is_refused_without_being_copied(tmp_path):
    sub = folder(tmp_path, {"small.py": "x = 1\n", "vectors.py": "#" * 2000})
    with snapshot(str(sub), max_file_bytes=1000) as snap:
        assert copied(snap) == {"small.py"}
        assert snap.refused == [Refused("vectors.py", "is larger than 1000 bytes (the limit for one file)")]
    with snapshot(str(sub)) as snap:  # the default: 1 MB
        assert copied(snap) == {"small.py", "vectors.py"}


def test_the_submission_total_and_file_count_are_capped(tmp_path):
    sub = folder(tmp_path, {f"m{i}.py": "#" * 400 for i in range(5)})
    with snapshot(str(sub), max_total_bytes=1000) as snap:
        assert copied(snap) == {"m0.py", "m1.py"}
        assert [r.name for r in snap.refused] == ["m2.py", "m3.py", "m4.py"]
        assert snap.refused[0].reason == "would take the submission past 1000 bytes (the limit for a whole submission)"
    with snapshot(str(sub), max_files=3) as snap:
        assert copied(snap) == {"m0.py", "m1.py", "m2.py"}
        assert snap.refused == [Refused(f"m{i}.py", "is one file too many (the limit is 3 files in a submission)")
                                for i in (3, 4)]


def test_warnings_name_at_most_twenty_files_then_count_the_rest(tmp_path):
    sub = folder(tmp_path)
    for i in range(25):
        (sub / f"m{i:02}.py").symlink_to("/dev/zero")
    with snapshot(str(sub)) as snap:
        assert len(snap.refused) == 25
        lines = snap.warnings()
    assert len(lines) == gate.MAX_WARNINGS + 1
    assert lines[-1] == f"5 more files in {sub} were left out for the same kinds of reasons."


# ----------------------------------------------------------------------------- single files


def test_read_file_reads_a_regular_file_and_refuses_the_rest(tmp_path):
    (tmp_path / "ok.yaml").write_text("answers: {}\n")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "big.yaml").write_text("#" * 100)
    assert read_file(str(tmp_path / "ok.yaml")) == b"answers: {}\n"
    with pytest.raises(GateError, match="zero.yaml is a symbolic link"):
        read_file(str(tmp_path / "zero.yaml"))
    with pytest.raises(GateError, match=r"shown\.yaml is larger than 10 bytes"):
        read_file(str(tmp_path / "big.yaml"), max_bytes=10, shown_as="shown.yaml")
    with pytest.raises(FileNotFoundError):
        read_file(str(tmp_path / "missing.yaml"))


# ----------------------------------------------------------------------------- state files


def test_a_state_file_reads_back_and_a_missing_one_is_nothing(tmp_path):
    path = tmp_path / "progress.json"
    assert load_state_json(str(path)) == (None, None)
    path.write_text(json.dumps({"a": [1, {"b": 2}]}))
    assert load_state_json(str(path)) == ({"a": [1, {"b": 2}]}, None)


@pytest.mark.parametrize("content, reason", [
    ("[" * 100_000 + "]" * 100_000, "is nested more than 32 levels deep"),
    ('{"a": "' + "x" * 2_000_000 + '"}', "is larger than 1 MB"),
    ('{"a": ', "is not valid JSON"),
])
def test_a_broken_state_file_is_set_aside_with_a_warning(tmp_path, content, reason):
    path = tmp_path / "progress.json"
    path.write_text(content)
    started = time.monotonic()
    data, warning = load_state_json(str(path))
    assert time.monotonic() - started < QUICK
    assert data is None and reason in warning
    assert f"moved to {path}.broken" in warning and "grading is not affected" in warning
    assert not path.exists() and (tmp_path / "progress.json.broken").read_text() == content
    assert load_state_json(str(path)) == (None, None), "set aside once, then simply missing"


def test_a_state_file_linked_to_dev_zero_is_set_aside_unread(tmp_path):
    path = tmp_path / "progress.json"
    path.symlink_to("/dev/zero")
    data, warning = returns_within(QUICK, load_state_json, str(path))
    assert data is None and "is a symbolic link" in warning
    assert os.path.islink(tmp_path / "progress.json.broken") and not os.path.lexists(path)


def test_json_depth_ignores_brackets_inside_strings():
    assert gate.json_depth(b'[1, "[[[\\"[", {"a": [2]}]') == 3
    assert gate.json_depth(b"[" * 1000, stop_above=5) == 6


# ----------------------------------------------------------------------------- YAML


def test_an_alias_bomb_is_refused_at_its_first_anchor_at_once():
    started = time.monotonic()
    with pytest.raises(YamlError) as caught:
        load("calculus.yaml", BOMB.read_text(), aliases=False)
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == ("calculus.yaml, line 7: uses YAML anchors/aliases (& and *), which answers "
                                 "files may not use")


def test_an_anchor_alone_is_refused_in_an_answers_file():
    with pytest.raises(YamlError, match="line 2: uses YAML anchors/aliases"):
        load("a.yaml", "answers:\n  x: &keep 3\n", aliases=False)


def test_where_aliases_are_allowed_their_expansion_is_bounded():
    started = time.monotonic()
    with pytest.raises(YamlError, match="expands to more than"):
        load("course.yaml", BOMB.read_text())
    assert time.monotonic() - started < QUICK
    shared = load("course.yaml", "a: &t {epochs: 2}\nb: *t\n")  # what course.yaml does
    assert shared == {"a": {"epochs": 2}, "b": {"epochs": 2}}


def test_yaml_nesting_and_size_are_capped():
    with pytest.raises(YamlError, match="line 1: nests lists and mappings more than 32 levels deep"):
        load("deep.yaml", "[" * 100_000)
    with pytest.raises(YamlError, match="is larger than 1 MB"):
        load("big.yaml", "#" * (2 << 20))
    assert load("big.yaml", "a: 1\n" + "#" * (2 << 20), max_bytes=4 << 20) == {"a": 1}
