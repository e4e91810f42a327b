"""Secret seeds, data the learner's process cannot reproduce, and examples that depend on the
seed alone (grader/seeds.py).

- A :class:`~grader.seeds.Seed` is public (the course's seed: the values the grader has
  always used) or secret (HMAC of every label under the teacher's secret).
- ``grade --secret-seed-file FILE`` / ``$GRADE_SECRET_SEED``: the same secret gives the same
  report twice, another secret other examples; reports say "public" or "secret" and never
  hold the secret; a secret that cannot be read is one paragraph and exit code 2.
- ``grade batch`` hands the secret to each grade process in its environment, not its argv.
- The MLP's training and held-out data, and the timing inputs, come from the seed too.
- ``grade`` and :func:`grader.grading.grade` called from Python, in a process that imported
  modules full of distinctive constants, meet the same examples and give the same verdicts.

The attack a secret defends against (a table of answers recorded under the public seed)
is in tests/test_hostile_seeds.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from grader import cli, seeds
from grader.classroom import batch
from grader.grading import check_seed, grade
from grader.seeds import SECRET_ENV, SecretSeedError, Seed, resolve
from helpers import SOLUTIONS, SentInputs, course, course_with, submission

SECRET = "5b1f0c2e9d7a4b68a3c1e0f2d4b6a8c9-test-secret"
OTHER_SECRET = "0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b-other-one"
DOT_ONLY = {"functions": {"vectors": ["dot"]}, "checks": {("vectors", "dot"): ["agrees_with_numpy"]}}


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


def secret_file(tmp_path: Path, text: str = SECRET, name: str = "grade-secret.txt") -> Path:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def run_grade(args, cwd, env=None):
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", SECRET_ENV)}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=environ, stdin=subprocess.DEVNULL)


def dot_inputs(monkeypatch, seed) -> list:
    sent = SentInputs.install(monkeypatch, "dot")
    report = grade(course_with(["vectors"], **DOT_ONLY), ["vectors"], str(SOLUTIONS), seed, jobs=1)
    assert report.exercises[0].status == "passed"
    monkeypatch.undo()
    return sent.take()


# ----------------------------------------------------------------------------- the Seed value


def test_a_public_seed_gives_the_check_seeds_the_grader_has_always_used():
    spec = next(iter(course().get("vectors").checks()))
    label = f"vectors/{spec.function}/{spec.id}"
    for public in (0, 1, 7, 123456):
        old = (public * 1_000_003 + zlib.crc32(label.encode())) % (2 ** 32)
        assert check_seed(public, "vectors", spec) == old == Seed(public).derive(label)
    assert Seed(3).kind == "public" and not Seed(3).is_secret and Seed.of(3) == Seed(3)


def test_a_secret_seed_is_a_keyed_hash_of_label_and_public_seed():
    import hashlib
    import hmac

    s = Seed(0, SECRET.encode())
    assert s.kind == "secret" and s.is_secret
    expected = int.from_bytes(hmac.new(SECRET.encode(), b"vectors/dot/x\x000", hashlib.sha256).digest()[:8], "big")
    assert s.derive("vectors/dot/x") == expected
    assert s.derive("a") == Seed(0, SECRET.encode()).derive("a")  # a pure function
    assert len({s.derive("a"), s.derive("b"), Seed(1, SECRET.encode()).derive("a"),
                Seed(0, OTHER_SECRET.encode()).derive("a"), Seed(0).derive("a")}) == 5
    # Never printed, whatever is done with it.
    for text in (repr(s), str(s), f"{s}", str([s]), str({"seed": s})):
        assert SECRET not in text and "secret" in text


def test_the_secret_comes_from_the_file_first_then_the_environment(tmp_path, monkeypatch):
    path = secret_file(tmp_path)
    assert resolve(5, None, environ={}) == Seed(5)
    assert resolve(5, None, environ={SECRET_ENV: f"  {OTHER_SECRET}\n"}) == Seed(5, OTHER_SECRET.encode())
    assert resolve(5, str(path), environ={SECRET_ENV: OTHER_SECRET}) == Seed(5, SECRET.encode())
    warned = []
    resolve(0, None, environ={SECRET_ENV: "short"}, warn=warned.extend)
    assert len(warned) == 1 and "only 5 characters" in warned[0] and "token_hex(32)" in warned[0]
    assert not seeds._readable_by_others(str(path))  # 0600: no warning
    warned.clear()
    resolve(0, str(path), warn=warned.extend)
    assert warned == []
    monkeypatch.setattr(seeds, "_readable_by_others", lambda p: True)  # as in a world-readable folder
    resolve(0, str(path), warn=warned.extend)
    assert any("chmod 600" in w for w in warned) and all(SECRET not in w for w in warned)


@pytest.mark.parametrize("case", ["missing", "empty", "blank", "folder", "binary", "huge", "unreadable", "env"])
def test_a_secret_that_cannot_be_used_is_one_paragraph_and_exit_code_2(case, tmp_path, monkeypatch):
    path = tmp_path / "grade-secret.txt"
    env = {}
    expected = {"missing": "no such file", "empty": "is empty", "blank": "is empty", "folder": "is a folder",
                "binary": "not text", "huge": "larger than", "unreadable": "permission denied",
                "env": "set but empty"}[case]
    if case == "empty":
        path.write_text("")
    elif case == "blank":
        path.write_text(" \n\t\n")
    elif case == "folder":
        path.mkdir()
    elif case == "binary":
        path.write_bytes(b"\xff\xfe\x00secret")
    elif case == "huge":
        path.write_text("x" * (seeds.MAX_SECRET_BYTES + 10))
    elif case == "unreadable":  # root reads anything: the refusal is simulated
        path.write_text(SECRET)

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(seeds, "open", refuse, raising=False)
    elif case == "env":
        env = {SECRET_ENV: ""}
    with pytest.raises(SecretSeedError) as error:
        resolve(0, None if case == "env" else str(path), environ=env)
    message = str(error.value)
    assert expected in message and "\n" not in message
    if case not in ("unreadable",):
        assert "token_hex(32)" in message  # how to make one
    # Through the command: one paragraph on stderr, exit code 2, nothing graded.
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = ["run", "vectors", "--source", str(SOLUTIONS), "--no-timing", "--format", "json"]
    if case != "env":
        args += ["--secret-seed-file", str(path)]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- examples


def test_the_same_secret_gives_the_same_examples_and_another_secret_others(monkeypatch):
    public = dot_inputs(monkeypatch, 0)
    first = dot_inputs(monkeypatch, Seed(0, SECRET.encode()))
    again = dot_inputs(monkeypatch, Seed(0, SECRET.encode()))
    other = dot_inputs(monkeypatch, Seed(0, OTHER_SECRET.encode()))
    assert first == again and len(first) == len(public) > 0
    assert first != public and other != first and other != public
    # Hardly a single input in common: nothing recorded under one seed helps under another.
    # The docstring's worked example and the aliased one are fixed (tried under every seed).
    from grader.checks.vectors import checks as vector_checks
    fixed = {json.dumps([a.tolist(), b.tolist()]) for a, b in vector_checks.get("dot", "agrees_with_numpy").examples}
    drawn = lambda inputs: {json.dumps(x) for x in inputs} - fixed  # noqa: E731
    assert fixed <= {json.dumps(x) for x in first}
    shared = drawn(first) & (drawn(public) | drawn(other))
    assert len(shared) <= 1, shared  # the smallest inputs ([0.0], [0.0]) may come up under any seed


def test_the_same_secret_gives_the_same_report_twice_and_reports_say_secret(tmp_path):
    folder = submission(tmp_path / "mine", "vectors", replace={
        "dot": "def dot(a, b):\n    return float(sum(x * y for x, y in zip(a[:2], b[:2])))\n",
        "cross": "def cross(a, b):\n    import numpy as np\n    return -np.cross(a, b)\n"})
    key = secret_file(tmp_path)
    args = ["run", "vectors", "--source", folder, "--no-timing", "--format", "json", "--examples", 15, "-j", 1]
    first = run_grade(args + ["--secret-seed-file", key], tmp_path)
    second = run_grade(args, tmp_path, env={SECRET_ENV: SECRET})  # the same secret from the environment
    public = run_grade(args, tmp_path)
    assert first.returncode == second.returncode == public.returncode == 1, first.stderr
    a, b, p = (json.loads(r.stdout) for r in (first, second, public))
    assert a == b  # same secret: same examples, same shrunk failures, same messages
    assert a["seed"] == "secret" and p["seed"] == "public"
    def messages(doc):
        return [c["message"] for e in doc["exercises"] for c in e["checks"] if not c["passed"]]

    # Both seeds shrink to the smallest failing input, which is the same for a mistake like
    # this: that inputs differ between seeds is the job of
    # test_the_same_secret_gives_the_same_examples_and_another_secret_others.
    assert messages(a) and len(messages(a)) == len(messages(p))
    for r in (first, second):
        assert SECRET not in r.stdout + r.stderr
    assert not (tmp_path / ".hypothesis").exists()  # no constants cache written to the cwd either


def test_every_format_says_which_seed_and_never_holds_the_secret(tmp_path, monkeypatch):
    import xml.etree.ElementTree as ET

    folder = submission(tmp_path / "mine", "vectors", replace={
        "dot": "def dot(a, b):\n    return float(sum(a)) + 0.5\n"})
    key = secret_file(tmp_path)
    gh_output = tmp_path / "gh.txt"
    derived = {str(Seed(0, SECRET.encode()).derive(f"vectors/{s.function}/{s.id}"))
               for s in course().get("vectors").checks()}
    outputs = {}
    for fmt in ("json", "junit", "gradescope", "github", "table"):
        for kind, extra in (("secret", ["--secret-seed-file", key]), ("public", [])):
            gh_output.write_text("")
            r = run_grade(["run", "vectors", "--source", folder, "--no-timing", "--format", fmt, "--examples", 8,
                           "-j", 1, *extra], tmp_path, env={"GITHUB_OUTPUT": str(gh_output)})
            assert r.returncode == 1, r.stderr
            text = r.stdout + r.stderr + gh_output.read_text()
            assert SECRET not in text and not any(d in text for d in derived)
            outputs[(fmt, kind)] = r.stdout
    for kind in ("secret", "public"):
        assert json.loads(outputs[("json", kind)])["seed"] == kind
        root = ET.fromstring(outputs[("junit", kind)].encode())
        assert {p.get("value") for p in root.iter("property") if p.get("name") == "seed"} == {kind}
        doc = json.loads(outputs[("gradescope", kind)])
        assert doc["extra_data"]["seed"] == kind and doc["output"].splitlines()[-1].endswith(f"· seed: {kind}")
        assert outputs[("github", kind)].splitlines()[-2].endswith(f"· seed: {kind}")
        assert outputs[("table", kind)].splitlines()[-1].endswith(f"· seed: {kind}")


def test_learner_code_may_not_read_the_secret_seed_file(tmp_path):
    key = secret_file(tmp_path)
    folder = submission(tmp_path / "mine", "vectors", replace={"dot": f"""
        def dot(a, b):
            with open({str(key)!r}) as f:
                f.read()
            return float(sum(x * y for x, y in zip(a, b)))
        """})
    r = run_grade(["run", "vectors", "--source", folder, "--no-timing", "--format", "json", "--examples", 3,
                   "--secret-seed-file", key], tmp_path)
    doc = json.loads(r.stdout)
    assert doc["score"] == 0 and doc["seed"] == "secret", r.stdout
    assert "off limits" in doc["exercises"][0]["checks"][0]["message"]
    assert SECRET not in r.stdout + r.stderr


def test_bench_takes_the_secret_and_names_only_its_kind(tmp_path):
    key = secret_file(tmp_path)
    r = run_grade(["bench", "vectors", "--source", SOLUTIONS, "--format", "json", "--secret-seed-file", key],
                  tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["seed"] == 0 and doc["seed_kind"] == "secret" and SECRET not in r.stdout + r.stderr


def test_timing_inputs_come_from_the_seed():
    from grader.timing.measure import spec_seed

    spec = next(t for e in course().exercises for t in e.timing_specs() if t.function == "dot")
    label = f"{spec.exercise}/{spec.function}/{spec.id}"
    assert spec_seed(0, spec, "cpu") == [0, zlib.crc32(label.encode()), 0]  # public: as always
    assert spec_seed(Seed(4), spec, "cpu") == [4, zlib.crc32(label.encode()), 0]

    def inputs(seed):
        base = spec_seed(seed, spec, "cpu")
        args, _ = spec.case.build(np.random.default_rng(base + [2, 0]), {"n": 1000}, "cpu", spec.dtype)
        return args

    secret = Seed(0, SECRET.encode())
    assert spec_seed(secret, spec, "cpu") == spec_seed(Seed(0, SECRET.encode()), spec, "cpu")
    for a, b in zip(inputs(secret), inputs(Seed(0, SECRET.encode()))):
        assert np.array_equal(a, b)
    for other in (Seed(0), Seed(0, OTHER_SECRET.encode())):
        assert not any(np.array_equal(a, b) for a, b in zip(inputs(secret), inputs(other)))


def test_mlp_training_and_held_out_data_come_from_the_seed():
    from grader.checks.mlp import DATASETS, data_seed

    assert [data_seed(None, p, "two_moons") for p in ("train", "held_out")] == [11, 12345]  # as always
    assert data_seed(Seed(9), "held_out", "xor") == 12345
    secret, other = Seed(0, SECRET.encode()), Seed(0, OTHER_SECRET.encode())
    parts = [(p, d) for p in ("train", "held_out") for d in DATASETS]
    values = {(p, d): data_seed(secret, p, d) for p, d in parts}
    assert len(set(values.values())) == len(parts)  # each piece of data its own stream
    for (part, name), value in values.items():
        make = DATASETS[name]
        X_public, _ = make(200, seed=data_seed(None, part, name))
        X_secret, y_secret = make(200, seed=value)
        X_again, y_again = make(200, seed=data_seed(Seed(0, SECRET.encode()), part, name))
        X_other, _ = make(200, seed=data_seed(other, part, name))
        assert np.array_equal(X_secret, X_again) and np.array_equal(y_secret, y_again)
        assert not np.isclose(X_secret[:, None, :], X_public[None, :, :]).all(axis=2).any()
        assert not np.isclose(X_secret[:, None, :], X_other[None, :, :]).all(axis=2).any()


# ----------------------------------------------------------------------------- batch


def test_batch_hands_the_secret_to_each_grade_process_in_its_environment_not_its_argv(tmp_path, monkeypatch):
    seen = []
    real_popen = subprocess.Popen

    def spy(command, **kwargs):
        seen.append((list(command), dict(kwargs.get("env") or {})))
        return real_popen(command, **kwargs)

    monkeypatch.setattr(batch.subprocess, "Popen", spy)
    monkeypatch.setattr(batch, "machine_sandbox", lambda torch=False: "namespaces")  # no refusal here
    for name in ("ann", "bob"):
        submission(tmp_path / "class" / name / "exercises", "vectors", replace={
            "dot": "def dot(a, b):\n    return float(sum(a)) + 0.5\n"})
    key = secret_file(tmp_path)
    out = tmp_path / "gradebook.csv"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["batch", str(tmp_path / "class"), "vectors", "--out", str(out),
                                           "--no-timing", "--no-progress", "-j", "1", "--secret-seed-file", str(key)])
    assert result.exit_code == 0, result.output
    assert "seed: secret" in result.output and SECRET not in result.output
    assert len(seen) == 2
    for command, env in seen:
        assert not any(SECRET in part for part in command) and "--secret-seed-file" not in command
        assert env[SECRET_ENV] == SECRET
        assert os.path.realpath(key) in env["GRADE_FORBIDDEN_DIRS"].split(os.pathsep)
    twin = json.loads(out.with_suffix(".json").read_text())
    assert all(r["report"]["seed"] == "secret" and r["config"]["secret_seed"] is True for r in twin["learners"])
    assert SECRET not in json.dumps(twin) + out.read_text()
    for record in (tmp_path / ".grade-batch").rglob("*.json"):
        assert SECRET not in record.read_text()
    # The same batch under the public seed is another grade: nothing recorded is kept.
    seen.clear()
    again = CliRunner().invoke(cli.main, ["batch", str(tmp_path / "class"), "vectors", "--out", str(out),
                                          "--no-timing", "--no-progress", "-j", "1"])
    assert again.exit_code == 0 and "graded 2 submissions" in again.output and "seed: public" in again.output
    assert all(SECRET_ENV not in env for _, env in seen)
    twin = json.loads(out.with_suffix(".json").read_text())
    assert all(r["report"]["seed"] == "public" and "secret_seed" not in r["config"] for r in twin["learners"])


# ----------------------------------------------------------------------------- determinism


def test_grade_and_the_python_api_meet_the_same_examples_whatever_was_imported(tmp_path, monkeypatch):
    """Hypothesis mixes constants from the source of loaded local modules into its draws
    (grader/seeds.py, independent_examples). Here the test process has imported a module
    full of distinctive numbers, and ``dot`` is wrong exactly on those numbers: had they
    reached the examples, the Python API would fail dot where ``grade`` passes it."""
    distinctive = [round(100 + i * 3.3711, 4) for i in range(150)]
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "distinctive_constants_for_seeds.py").write_text(
        "TABLE = [\n" + "".join(f"    {v!r},\n" for v in distinctive) + "]\n")
    monkeypatch.syspath_prepend(str(extra))
    import importlib

    importlib.import_module("distinctive_constants_for_seeds")
    folder = submission(tmp_path / "mine", "vectors", replace={
        "dot": f"""
            MAGIC = set({distinctive!r})

            def dot(a, b):
                if any(float(x) in MAGIC for x in list(a) + list(b)):
                    return 12345.0
                return float(sum(float(x) * float(y) for x, y in zip(a, b)))
            """,
        "cross": "def cross(a, b):\n    import numpy as np\n    return np.cross(a, b) * 1.5\n"})
    examples = 40
    api = grade(course().with_examples(examples), ["vectors"], str(folder), 0, jobs=1).to_dict()
    command = run_grade(["run", "vectors", "--source", folder, "--no-timing", "--format", "json",
                         "--examples", examples, "-j", 1], tmp_path)
    assert command.returncode == 1, command.stderr
    doc = json.loads(command.stdout)
    verdicts = lambda d: [(c["function"], c["name"], c["passed"], c["message"])  # noqa: E731
                          for e in d["exercises"] for c in e["checks"]]
    assert verdicts(api) == verdicts(doc)
    dot = [v for v in verdicts(api) if v[0] == "dot"]
    assert dot and all(passed for _, _, passed, _ in dot), dot
    cross = [v for v in verdicts(api) if v[0] == "cross" and not v[2]]
    assert cross and all("returned" in message for *_, message in cross)  # the smallest failing examples agree


def test_independent_examples_restores_hypothesis_as_it_was():
    from hypothesis.internal.conjecture import providers

    original = providers._get_local_constants
    with seeds.independent_examples():
        with seeds.independent_examples():  # re-entrant
            assert providers._get_local_constants is not original
            assert not any(providers._get_local_constants().set_for_type(t)
                           for t in ("integer", "float", "string", "bytes"))
        assert providers._get_local_constants is not original
    assert providers._get_local_constants is original
