"""A small quiz with one question of every type, sealed into a temporary folder.

Used by the tests/test_quiz_*.py files: it exercises the whole authoring path (quiz file,
reference answers, ``seal``) and gives the tests a quiz whose answers they know.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

DEMO_QUIZ = textwrap.dedent("""\
    title: A demo quiz
    intro: One question of every type.
    questions:
      - id: pick_one
        type: single_choice
        points: 1
        prompt: Which one?
        choices: [alpha, beta, gamma]
        hints: [Not the first letter of the alphabet.]
        explanation: Because beta.
      - id: pick_many
        type: multiple_choice
        points: 3
        prompt: Which ones?
        choices: [one, two, three, four, five]
        explanation: The odd ones out.
      - id: yes_or_no
        type: true_false
        points: 1
        prompt: Is it so?
        explanation: It is not.
      - id: one_sixth
        type: numeric
        sig_figs: 3
        points: 1
        prompt: One sixth, please.
        explanation: Divide.
      - id: mse_value
        type: numeric
        decimals: 1
        points: 1
        prompt: The MSE of the heights?
        explanation: Square and average.
      - id: shape
        type: vector
        decimals: 0
        points: 1
        prompt: Shape of AB?
        explanation: Outer sizes.
      - id: tripled
        type: matrix
        decimals: 0
        points: 1
        prompt: 3M?
        explanation: Every entry.
      - id: word
        type: text
        pattern: '(?:the\\s+)?([a-z-]+)(?:\\s+function)?'
        points: 1
        prompt: Which function?
        explanation: It normalises scores.
      - id: dot
        type: numeric
        generator: dot_product
        points: 2
        prompt: "a = {a}, b = {b}: a·b?"
        hints: ["Pair up {a} and {b}."]
        explanation: Multiply and add.
      - id: cross
        type: vector
        generator: cross_product
        atol: 0.000001
        points: 2
        prompt: "a = {a}, b = {b}: a×b?"
        explanation: Each entry uses the other two positions.
    """)

# The plain reference answers (solutions/quizzes format); dot and cross are filled in
# for the student "reference" by write_demo.
DEMO_REFERENCE = {
    "pick_one": 2,
    "pick_many": [1, 3, 5],
    "yes_or_no": False,
    "one_sixth": "1/6",
    "mse_value": 13.4,
    "shape": [3, 2],
    "tripled": [[3, -6], [0, 12]],
    "word": "softmax",
}
ALSO_ACCEPT = {"word": ["soft-max"]}


def write_demo(root: Path) -> tuple[Path, Path]:
    """Write quizzes/ (index + demo.yaml, sealed) and ref/quizzes/demo.yaml under root."""
    from grader.quiz.answers import write_answers
    from grader.quiz.model import read_quiz
    from grader.quiz.seal import seal

    quiz_dir = root / "quizzes"
    quiz_dir.mkdir()
    (quiz_dir / "index.yaml").write_text("quizzes: [demo]\n", encoding="utf-8")
    (quiz_dir / "demo.yaml").write_text(DEMO_QUIZ, encoding="utf-8")
    quiz, problems = read_quiz(str(quiz_dir / "demo.yaml"), "demo", check_key=False)
    assert not problems, problems
    answers = dict(DEMO_REFERENCE)
    for q in quiz.questions:
        if q.parameterised:
            answers[q.id] = q.expected("reference")
    ref_dir = root / "ref"
    write_answers(str(ref_dir / "quizzes" / "demo.yaml"), quiz, "reference", answers, ALSO_ACCEPT)
    seal("demo", str(ref_dir), str(quiz_dir))
    return quiz_dir, ref_dir


# ---------------------------------------------------------------------------------------
# Tests of the authoring path: sealing, `grade quiz --check`, and the shipped quizzes.
# ---------------------------------------------------------------------------------------

import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from grader.cli import main  # noqa: E402
from grader.course import load_course  # noqa: E402
from grader.quiz import grade_quiz  # noqa: E402
from grader.quiz.answers import read_answers  # noqa: E402
from grader.quiz.model import PACKAGE_QUIZ_DIR, QUIZ_DIR_ENV, load_index, load_quiz, read_quiz  # noqa: E402
from grader.quiz.seal import seal  # noqa: E402
from grader.yamlfile import YamlError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


@pytest.fixture
def demo(tmp_path):
    return write_demo(tmp_path)


def check(quiz_dir, *args, cwd=None):
    """Run `grade quiz --check` on the quizzes in quiz_dir; return (exit code, output)."""
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd or quiz_dir.parent)
    try:
        result = runner.invoke(main, ["quiz", "--check", *args], env={QUIZ_DIR_ENV: str(quiz_dir)})
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def test_demo_quiz_seals_and_its_reference_answers_score_full(demo):
    quiz_dir, ref_dir = demo
    quiz = load_quiz("demo", str(quiz_dir))
    assert all(q.key for q in quiz.questions if not q.parameterised)
    assert all(not q.key for q in quiz.questions if q.parameterised)
    reference = read_answers(str(ref_dir / "quizzes" / "demo.yaml"), quiz)
    result = grade_quiz(quiz, reference, "reference")
    assert [c.function for c in result.checks if not c.passed] == []
    assert result.score == result.max_score == 14


def test_the_key_holds_digests_not_answers(demo):
    quiz_dir, _ = demo
    text = (quiz_dir / "demo.yaml").read_text(encoding="utf-8")
    key_block = text[text.index("salt:"):]
    for answer in ("softmax", "soft-max", "13.4", "1/6", "0.167", "beta", "false"):
        assert answer not in key_block
    assert re.search(r"^  pick_one: [0-9a-f]{32}$", key_block, re.M)
    assert re.search(r"^  pick_many: \[([0-9a-f]{32}, ){4}[0-9a-f]{32}\]$", key_block, re.M)
    assert "dot:" not in key_block and "cross:" not in key_block  # computed, never keyed


def test_sealing_again_changes_nothing_and_keeps_the_salt(demo):
    quiz_dir, ref_dir = demo
    before = (quiz_dir / "demo.yaml").read_text(encoding="utf-8")
    seal("demo", str(ref_dir), str(quiz_dir))
    assert (quiz_dir / "demo.yaml").read_text(encoding="utf-8") == before


def test_a_new_salt_gives_new_digests(demo, tmp_path):
    quiz_dir, ref_dir = demo
    text = (quiz_dir / "demo.yaml").read_text(encoding="utf-8")
    other = tmp_path / "other"
    shutil.copytree(quiz_dir, other)
    salt = re.search(r"^salt: (\w+)$", text, re.M).group(1)
    (other / "demo.yaml").write_text(text.replace(f"salt: {salt}", "salt: 0123456789abcdef"), encoding="utf-8")
    seal("demo", str(ref_dir), str(other))
    first = load_quiz("demo", str(quiz_dir)).get("word").key
    second = load_quiz("demo", str(other)).get("word").key
    assert first and second and not set(first) & set(second)
    reference = read_answers(str(ref_dir / "quizzes" / "demo.yaml"), load_quiz("demo", str(other)))
    assert grade_quiz(load_quiz("demo", str(other)), reference, "reference").status == "passed"


def test_editing_a_choice_after_sealing_is_caught(demo):
    quiz_dir, _ = demo
    path = quiz_dir / "demo.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("[alpha, beta, gamma]", "[alpha, bēta, gamma]"),
                    encoding="utf-8")
    with pytest.raises(YamlError) as e:
        load_quiz("demo", str(quiz_dir))
    assert "does not match any of its choices" in str(e.value) and "demo.yaml, line" in str(e.value)


def test_check_passes_on_the_demo_with_its_reference(demo):
    quiz_dir, ref_dir = demo
    code, out = check(quiz_dir, "--source", str(ref_dir))
    assert code == 0, out
    assert "1 quiz file, 10 questions (2 parameterised)" in out


def test_check_catches_a_reference_answer_that_does_not_match_the_key(demo):
    quiz_dir, ref_dir = demo
    ref = ref_dir / "quizzes" / "demo.yaml"
    ref.write_text(ref.read_text(encoding="utf-8").replace("mse_value: 13.4", "mse_value: 51"), encoding="utf-8")
    code, out = check(quiz_dir, "--source", str(ref_dir))
    assert code == 2
    line = next(i for i, t in enumerate(ref.read_text().splitlines(), 1) if "mse_value:" in t)
    assert f"demo.yaml, line {line}, field 'mse_value'" in out and "does not match the answer key" in out


def _broken(quiz_dir, old, new):
    path = quiz_dir / "demo.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text.replace(old, new, 1)


def _line_of(text, needle, nth=1):
    hits = [i for i, t in enumerate(text.splitlines(), 1) if needle in t]
    return hits[nth - 1]


@pytest.mark.parametrize("old, new, needle, nth, field, words", [
    ("    type: true_false\n", "    type: yes_no\n", "type: yes_no", 1, "type", "unknown question type 'yes_no'"),
    ("  - id: shape\n", "  - id: pick_one\n", "id: pick_one", 2, "id", "duplicate question id 'pick_one'"),
    ("    explanation: It is not.\n", "", "id: yes_or_no", 1, "explanation", "is missing"),
    ("    prompt: Which function?\n", "    promt: Which function?\n", "promt:", 1, "promt", "unknown field"),
    ("    generator: dot_product\n", "    generator: dot_products\n", "dot_products", 1, "generator",
     "unknown generator 'dot_products'"),
    ('"a = {a}, b = {b}: a·b?"', '"a = {a}, c = {c}: a·b?"', "c = {c}", 1, "prompt", "{c} is not a value"),
    ("    sig_figs: 3\n", "", "id: one_sixth", 1, "sig_figs", "exactly one of sig_figs or decimals"),
    ("    points: 3\n", "    points: -3\n", "points: -3", 1, "points", "positive number"),
    ("choices: [alpha, beta, gamma]", "choices: [alpha]", "choices: [alpha]", 1, "choices", "2 to 9 choices"),
])
def test_check_reports_a_broken_quiz_file_with_file_line_and_field(demo, old, new, needle, nth, field, words):
    quiz_dir, ref_dir = demo
    text = _broken(quiz_dir, old, new)
    code, out = check(quiz_dir)
    assert code == 2, out
    where = f"demo.yaml, line {_line_of(text, needle, nth)}, field '{field}'"
    assert where in out and words in out, out
    assert "Traceback" not in out


def test_check_reports_malformed_yaml_with_its_line(demo):
    quiz_dir, _ = demo
    text = _broken(quiz_dir, "    prompt: Is it so?\n", "    prompt: [Is it so?\n")
    code, out = check(quiz_dir)
    assert code == 2
    assert re.search(r"demo\.yaml, line \d+: is not valid YAML", out), out
    line = int(re.search(r"demo\.yaml, line (\d+)", out).group(1))
    assert abs(line - _line_of(text, "[Is it so?")) <= 2


def test_check_reports_a_missing_key_and_a_quiz_file_not_in_the_index(demo):
    quiz_dir, _ = demo
    text = _broken(quiz_dir, "  pick_one: ", "  pick_uno: ")
    (quiz_dir / "extra.yaml").write_text("title: x\n", encoding="utf-8")
    code, out = check(quiz_dir)
    assert code == 2
    assert f"line {_line_of(text, 'id: pick_one')}, field 'key': question 'pick_one' has no answer key" in out
    assert "field 'pick_uno': the key names a question 'pick_uno'" in out
    assert "extra.yaml: not listed in index.yaml" in out


def test_a_quiz_may_not_take_an_exercise_name(demo):
    quiz_dir, _ = demo
    os.rename(quiz_dir / "demo.yaml", quiz_dir / "vectors.yaml")
    (quiz_dir / "index.yaml").write_text("quizzes: [vectors]\n", encoding="utf-8")
    code, out = check(quiz_dir)
    assert code == 2 and "has the name of an exercise" in out


# --- the shipped quizzes ------------------------------------------------------------------

def test_shipped_quizzes_pass_check_against_the_solutions():
    code, out = check(Path(PACKAGE_QUIZ_DIR), cwd=ROOT)
    assert code == 0, out
    assert "reference answers in solutions/quizzes" in out


def test_shipped_quizzes_cover_the_curriculum():
    names = load_index()
    assert 5 <= len(names) <= 9
    assert not set(names) & set(load_course().names())
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    questions = [q for n in names for q in load_quiz(n).questions]
    assert len(questions) >= 40
    assert sum(q.parameterised for q in questions) >= 8
    assert len([q for q in questions if q.id.startswith("spot_the")]) >= 3
    assert {q.type for q in questions} == {"single_choice", "multiple_choice", "true_false", "numeric",
                                           "vector", "matrix", "text"}
    for topic in ("setting_up", "python_basics", "linear_algebra", "calculus", "statistics",
                  "machine_learning", "neural_networks", "in_practice", "beyond_basics"):
        assert topic in names
    assert all(q.explanation and q.prompt for q in questions)


def test_shipped_seal_is_up_to_date(tmp_path):
    """Sealing a copy from solutions/ reproduces the shipped files byte for byte."""
    copy = tmp_path / "quizzes"
    shutil.copytree(PACKAGE_QUIZ_DIR, copy)
    for name in load_index():
        seal(name, str(SOLUTIONS), str(copy))
        shipped = Path(PACKAGE_QUIZ_DIR, f"{name}.yaml").read_text(encoding="utf-8")
        assert (copy / f"{name}.yaml").read_text(encoding="utf-8") == shipped, name


def test_shipped_quiz_files_do_not_spell_out_fixed_answers():
    """No text answer, and no number of 3 or more digits, appears anywhere in a shipped quiz."""
    for name in load_index():
        quiz = load_quiz(name)
        text = Path(quiz.path).read_text(encoding="utf-8")
        reference = read_answers(str(SOLUTIONS / "quizzes" / f"{name}.yaml"), quiz)
        for q in quiz.questions:
            if q.parameterised or q.type not in ("numeric", "vector", "matrix", "text"):
                continue
            values = [reference.answers[q.id].value] + reference.also_accept.get(q.id, [])
            flat = []
            for v in values:
                for item in v if isinstance(v, list) else [v]:
                    flat += item if isinstance(item, list) else [item]
            for v in flat:
                forms = {str(v)} if q.type == "text" else {str(v), f"{v:,}" if isinstance(v, int) else str(v)}
                for form in forms:
                    if q.type == "text" or len(form.strip("-").replace(".", "").replace(",", "")) >= 3:
                        assert not re.search(rf"(?<![\w.]){re.escape(form)}(?![\w]|\.\d)", text, re.I), \
                            f"{name}.{q.id}: {form} is in the quiz file"
