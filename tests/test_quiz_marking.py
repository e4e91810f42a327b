"""Marking quiz answers: every question type, tolerance edges, partial credit, hashing
round trips, and parameterised answers checked against an independent computation."""
from __future__ import annotations

import ast
import math

import numpy as np
import pytest

from grader.quiz import grade_quiz
from grader.quiz.answers import Answer, AnswersFile, read_answers
from grader.quiz.generators import GENERATORS, Draw
from grader.quiz.hashing import close_enough, digest, normalise_text, parse_number, round_canonical
from grader.quiz.model import load_index, load_quiz, parse_rows
from test_quiz_authoring import write_demo

STUDENTS = ["ada@example.com", "alan@example.com", "grace@example.com", "anonymous", "student-42"]


@pytest.fixture(scope="module")
def quiz(tmp_path_factory):
    quiz_dir, _ = write_demo(tmp_path_factory.mktemp("demo"))
    return load_quiz("demo", str(quiz_dir))


def mark(quiz, qid, value, student="reference"):
    return quiz.get(qid).mark(value, student)


# --- every question type ------------------------------------------------------------------

@pytest.mark.parametrize("qid, right, wrong", [
    ("pick_one", [2, "2", "beta", " BETA. "], [1, 3, "gamma"]),
    ("yes_or_no", [False, "false", "f", "no", "N"], [True, "true", "yes"]),
    ("one_sixth", ["1/6", 0.1667, 0.16667, "16.67%", 0.1665], [0.17, 0.1664, 0.168, "1/5"]),
    ("mse_value", [13.4, "13.40", 13.44, 13.35], [13.45, 13.3, 51, 3.66]),
    ("shape", [[3, 2], "3, 2", "[3, 2]", "3 2", [3.0, 2.0]], [[2, 3], [3, 2, 1], [3]]),
    ("tripled", [[[3, -6], [0, 12]], "3 -6; 0 12", "[[3, -6], [0, 12]]", "[3, −6], [0, 12]"],
     [[[3, 6], [0, 12]], [[3, -6, 0, 12]], "3 -6 0 12"]),
    ("word", ["softmax", "Softmax", "the softmax function", " SoftMax. ", "'softmax'", "soft-max"],
     ["soft max", "sigmoid", "the softmax thing", "relu"]),
])
def test_each_type_accepts_the_right_answer_in_its_forms_and_rejects_others(quiz, qid, right, wrong):
    for value in right:
        v = mark(quiz, qid, value)
        assert v.passed and v.fraction == 1 and v.problem is None, (qid, value, v)
    for value in wrong:
        v = mark(quiz, qid, value)
        assert not v.passed and v.fraction == 0, (qid, value, v)


@pytest.mark.parametrize("qid, value, words", [
    ("pick_one", 4, "there is no choice 4"),
    ("pick_one", "delta", "not one of the choices"),
    ("pick_one", True, "by its number"),
    ("pick_many", [1, 9], "there is no choice 9"),
    ("yes_or_no", "maybe", "neither true nor false"),
    ("one_sixth", "abc", "is not a number"),
    ("one_sixth", "1,5", "comma"),
    ("one_sixth", "1/0", "divides by zero"),
    ("one_sixth", "nan", "not a number"),
    ("one_sixth", [1, 2], "not a number"),
    ("tripled", [[1, 2], [3]], "rows have different lengths"),
    ("shape", [[1, 2], [3, 4]], "one list of numbers"),
    ("word", ["a"], "short text"),
    ("cross", [1, 2], "3 entries, yours has 2"),
])
def test_an_unreadable_answer_scores_zero_and_says_why(quiz, qid, value, words):
    v = mark(quiz, qid, value)
    assert not v.passed and v.fraction == 0
    assert words in v.problem


# --- partial credit for multiple choice -----------------------------------------------------

@pytest.mark.parametrize("picked, fraction", [
    ([1, 3, 5], 1.0),          # exactly right
    ([1, 3], 2 / 3),           # one right pick missing
    ([1], 1 / 3),
    ([1, 3, 5, 2], 2 / 3),     # one wrong pick costs what a right one earns
    ([1, 2, 3, 4, 5], 1 / 3),  # everything: 3 right - 2 wrong
    ([1, 2, 4], 0.0),          # 1 right - 2 wrong, floored at 0
    ([2, 4], 0.0),
    ([], 0.0),
    ("1, 3", 2 / 3),
    ("3 1 1", 2 / 3),          # a repeated number counts once
])
def test_multiple_choice_partial_credit(quiz, picked, fraction):
    v = mark(quiz, "pick_many", picked)
    assert v.fraction == pytest.approx(fraction)
    assert v.passed == (fraction == 1.0)


def test_partial_credit_reaches_the_report_as_a_score(quiz):
    answers = AnswersFile("demo.yaml", answers={"pick_many": Answer([1, 3], 3), "pick_one": Answer(1, 2)})
    result = grade_quiz(quiz, answers, "reference")
    by_id = {c.function: c for c in result.checks}
    assert by_id["pick_many"].score == pytest.approx(2.0) and not by_id["pick_many"].passed
    assert by_id["pick_many"].to_dict()["score"] == 2 and by_id["pick_many"].to_dict()["max_score"] == 3
    assert "Partly right (2 of 3 points)" in by_id["pick_many"].message
    assert by_id["pick_one"].score == 0 and "is not right" in by_id["pick_one"].message
    assert "Hint: Not the first letter" in by_id["pick_one"].message
    assert by_id["yes_or_no"].not_started and by_id["yes_or_no"].message.startswith("Not answered yet")
    assert result.score == pytest.approx(2.0) and result.status == "failed"


def test_a_wrong_answer_message_never_contains_the_right_answer(quiz):
    wrong = {"pick_one": 3, "yes_or_no": True, "one_sixth": 0.2, "mse_value": 51, "shape": [2, 3],
             "tripled": [[1, 1], [1, 1]], "word": "sigmoid", "dot": 10**6, "cross": [0, 0, 0]}
    answers = AnswersFile("demo.yaml", answers={k: Answer(v, 1) for k, v in wrong.items()})
    result = grade_quiz(quiz, answers, "ada@example.com")
    expected_dot = quiz.get("dot").expected("ada@example.com")
    for c in result.checks:
        if c.function in wrong:
            assert not c.passed
            for secret in ("beta", "false", "0.167", "13.4", "softmax", "[3, 2]", "12]"):
                assert secret not in c.message.lower(), (c.function, c.message)
            if c.function == "dot":
                assert f" {expected_dot:g}" not in c.message


# --- tolerance edges --------------------------------------------------------------------------

@pytest.mark.parametrize("got, exact, tol, ok", [
    (3.66, 3.6606, {"sig_figs": 3}, True),
    (3.6649, 3.6606, {"sig_figs": 3}, True),     # within half a unit of the 3rd figure
    (3.6549, 3.6606, {"sig_figs": 3}, False),
    (3.67, 3.6606, {"sig_figs": 3}, False),
    (0.7975, 0.797, {"decimals": 3}, True),      # exactly half a unit away
    (0.7976, 0.797, {"decimals": 3}, False),
    (0.7964, 0.797, {"decimals": 3}, False),
    (1.7000009, 1.7, {"atol": 1e-6}, True),
    (1.700002, 1.7, {"atol": 1e-6}, False),
    (101.0, 100.0, {"rtol": 0.01}, True),
    (101.01, 100.0, {"rtol": 0.01}, False),
    (0.1 + 0.2, 0.3, {}, True),                  # no tolerance given: exact up to 1e-9
    (0.3001, 0.3, {}, False),
    (0.004, 0.0, {"sig_figs": 3}, True),         # 0 has no figures: half of 10^(1-3) around it
    (0.006, 0.0, {"sig_figs": 3}, False),
    (0.004, 0.0, {"decimals": 2}, True),
    (10.0, 9.996, {"sig_figs": 3}, True),        # 9.996 rounds to 10.0 at 3 s.f.
])
def test_close_enough_edges(got, exact, tol, ok):
    assert close_enough(got, exact, **tol) is ok


@pytest.mark.parametrize("x, kw, text", [
    (13.4, {"decimals": 1}, "13.4"),
    (13.45, {"decimals": 1}, "13.5"),            # half up, on the digits as typed
    (2.675, {"decimals": 2}, "2.68"),
    (-0.04, {"decimals": 1}, "0.0"),             # no negative zero
    (676888, {"decimals": 0}, "676888"),
    (1 / 6, {"sig_figs": 3}, "1.67e-1"),
    (0.1665, {"sig_figs": 3}, "1.67e-1"),
    (0.1664999, {"sig_figs": 3}, "1.66e-1"),
    (9.996, {"sig_figs": 3}, "1.00e+1"),
    (0.0, {"sig_figs": 3}, "0"),
    (-1234.5, {"sig_figs": 2}, "-1.2e+3"),
])
def test_rounding_before_hashing(x, kw, text):
    assert round_canonical(x, **kw) == text


@pytest.mark.parametrize("text, value", [
    ("15", 15.0), ("-3.5", -3.5), ("1e-3", 0.001), ("676,888", 676888.0), ("676_888", 676888.0),
    ("1/6", 1 / 6), ("37.5%", 0.375), ("−2", -2.0), (" 4 ", 4.0), (".5", 0.5), (7, 7.0),
])
def test_parse_number(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "1,5", "1..2", "one", "1/0", "inf", True, None, "2**3"])
def test_parse_number_rejects(bad):
    with pytest.raises(ValueError):
        parse_number(bad)


def test_parse_rows_forms():
    assert parse_rows("1 2; 3 4") == [[1, 2], [3, 4]]
    assert parse_rows("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    assert parse_rows([[1, "1/2"], [3, 4]]) == [[1, 0.5], [3, 4]]
    assert parse_rows("(1, 2, 3)") == [[1, 2, 3]]


# --- hashing round trips -------------------------------------------------------------------------

def test_normalise_text():
    assert normalise_text("  The   ReLU  function. ") == "the relu function"
    assert normalise_text("“Softmax”") == "softmax"
    assert normalise_text("`len`!") == "len"
    assert normalise_text("ＳＯＦＴＭＡＸ") == "softmax"  # full-width letters (NFKC)


def test_digest_depends_on_salt_question_and_answer():
    d = digest("salt", "q", "answer")
    assert len(d) == 32 and int(d, 16) >= 0
    assert d == digest("salt", "q", "answer")
    assert len({d, digest("salt2", "q", "answer"), digest("salt", "q2", "answer"),
                digest("salt", "q", "answer2")}) == 4


def test_hash_round_trip_for_every_hashed_type(quiz):
    """The digest of a reference answer's canonical form is in the key; a near miss is not."""
    near_misses = {"pick_one": 1, "yes_or_no": True, "one_sixth": 0.17, "mse_value": 13.5,
                   "shape": [3, 3], "tripled": [[3, -6], [0, 13]], "word": "softmin"}
    from test_quiz_authoring import DEMO_REFERENCE

    for qid, reference in DEMO_REFERENCE.items():
        q = quiz.get(qid)
        if q.type == "multiple_choice":
            picked = set(q.interpret(reference))
            assert [q.choice_is_right(i) for i in range(1, 6)] == [i in picked for i in range(1, 6)]
            continue
        assert q.hash_of(q.interpret(reference)) in q.key
        assert q.hash_of(q.interpret(near_misses[qid])) not in q.key


# --- parameterised questions --------------------------------------------------------------------

def test_draw_is_deterministic_and_depends_on_every_part_of_its_key():
    a = [Draw("quiz", "draw", "ada").integer(0, 10**9) for _ in range(2)]
    assert a[0] == a[1]
    others = {Draw("quiz2", "draw", "ada").integer(0, 10**9), Draw("quiz", "draw2", "ada").integer(0, 10**9),
              Draw("quiz", "draw", "alan").integer(0, 10**9)}
    assert a[0] not in others


def test_draw_integer_stays_in_range_and_covers_it():
    d = Draw("range")
    seen = {d.integer(-2, 2) for _ in range(200)}
    assert seen == {-2, -1, 0, 1, 2}


def test_draw_is_stable_across_versions():
    """Pinned values: the learner's and the teacher's machines must draw the same numbers."""
    drawn = GENERATORS["dot_product"](Draw("linear_algebra", "dot_product", "reference"))
    assert drawn.params == {"a": "[6, -5, -5, -3]", "b": "[-3, 6, -3, 6]", "n": "4"}
    assert drawn.answers["answer"] == -51


def _vec(text):
    return np.array(ast.literal_eval(text), dtype=float)


def _table(text):
    return [line.split() for line in text.strip().splitlines()]


def independent(name, params):
    """Each generator's answers, recomputed with NumPy from the text the learner sees."""
    p = params
    if name == "dot_product":
        return {"answer": float(np.dot(_vec(p["a"]), _vec(p["b"])))}
    if name == "cross_product":
        return {"answer": np.cross(_vec(p["a"]), _vec(p["b"])).tolist()}
    if name == "matrix_product":
        return {"answer": (_vec(p["A"]) @ _vec(p["B"])).tolist()}
    if name == "sin_x_squared_slope":
        x, h = float(p["x0"]), 1e-6
        return {"answer": (math.sin((x + h) ** 2) - math.sin((x - h) ** 2)) / (2 * h)}
    if name == "partial_derivatives":
        a, b, x, y = (float(p[k]) for k in ("a", "b", "x0", "y0"))
        f = lambda x, y: a * x * x * y + b * y * y  # noqa: E731
        h = 1e-5
        return {"answer": [(f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h)]}
    if name == "small_sample":
        xs = np.array([float(v) for v in p["data"].split(",")])
        return {"mean": xs.mean(), "variance": xs.var(), "std": xs.std()}
    if name == "exam_bands":
        rows = _table(p["table"])[1:]
        counts = {band: int(c) for band, c in rows}
        total = sum(counts.values())
        assert total == int(p["total"])
        good = sum(c for band, c in counts.items() if int(band.split("–")[0]) >= 40)
        return {"answer": good / total}
    if name == "regression_table":
        rows = np.array([[float(v) for v in r] for r in _table(p["table"])[1:]])
        err = rows[:, 2] - rows[:, 1]
        return {"mse": float(np.mean(err ** 2)), "rmse": float(np.sqrt(np.mean(err ** 2)))}
    if name == "confusion_counts":
        rows = [line.split() for line in p["table"].strip().splitlines()[1:]]
        tp, fn = int(rows[0][-2]), int(rows[0][-1])
        fp, tn = int(rows[1][-2]), int(rows[1][-1])
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        return {"precision": prec, "recall": rec, "f1": 2 / (1 / prec + 1 / rec),
                "accuracy": (tp + tn) / (tp + tn + fp + fn)}
    if name == "descent_step":
        w, c, lr = float(p["w0"]), float(p["c"]), float(p["lr"])
        h = 1e-6
        loss = lambda w: (w - c) ** 2  # noqa: E731
        return {"answer": w - lr * (loss(w + h) - loss(w - h)) / (2 * h)}
    if name == "batches_per_epoch":
        n, b = int(p["n"].replace(",", "")), int(p["b"])
        return {"answer": len(range(0, n, b))}
    if name == "relu_neuron":
        return {"answer": max(0.0, float(_vec(p["w"]) @ _vec(p["x"]) + float(p["b"])))}
    if name == "softmax_logits":
        z = _vec(p["z"])
        e = np.exp(z)
        return {"answer": (e / e.sum()).tolist()}
    if name == "dense_parameters":
        sizes = [int(s) for s in p["sizes"].split("→")]
        # the entries of each layer's weight matrix (out, in) and bias vector (out,)
        return {"answer": sum(np.zeros((n, m)).size + np.zeros(n).size for m, n in zip(sizes, sizes[1:]))}
    if name == "pixel_scale":
        return {"answer": np.float64(int(p["p"])) / 255}
    if name == "flattened_image":
        return {"answer": np.zeros((int(p["c"]), int(p["h"]), int(p["w"]))).reshape(-1).shape[0]}
    raise AssertionError(f"no independent computation for generator {name}")


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_agree_with_an_independent_computation(name):
    for student in STUDENTS:
        drawn = GENERATORS[name](Draw("some_quiz", "some_draw", student))
        expected = independent(name, drawn.params)
        assert set(expected) == set(drawn.answers) == set(GENERATORS[name].outputs)
        for output, value in drawn.answers.items():
            np.testing.assert_allclose(np.array(value, dtype=float), np.array(expected[output], dtype=float),
                                       rtol=1e-6, atol=1e-6, err_msg=f"{name}.{output} for {student}")


def test_different_students_get_different_numbers():
    for name, g in GENERATORS.items():
        params = {str(g(Draw("q", "d", s)).params) for s in STUDENTS}
        assert len(params) >= 3, name


def test_parameterised_questions_mark_each_students_own_answer(quiz):
    for student in STUDENTS:
        q = quiz.get("dot")
        own = q.expected(student)
        assert mark(quiz, "dot", own, student).passed
        others = {quiz.get("dot").expected(s) for s in STUDENTS if s != student} - {own}
        assert any(not mark(quiz, "dot", other, student).passed for other in others)
        cross = quiz.get("cross")
        params = cross.drawn(student).params
        assert cross.fill(cross.prompt, student) == f"a = {params['a']}, b = {params['b']}: a×b?"
        right = np.cross(_vec(params["a"]), _vec(params["b"])).tolist()
        assert mark(quiz, "cross", right, student).passed
        assert not mark(quiz, "cross", [-x for x in right], student).passed or not any(right)


def test_shipped_parameterised_questions_accept_the_generated_answer_and_reject_a_near_miss():
    for name in load_index():
        for q in load_quiz(name).questions:
            if not q.parameterised:
                continue
            for student in STUDENTS[:3]:
                exact = q.expected(student)
                assert q.mark(exact, student).passed, (name, q.id)
                off = (np.array(exact, dtype=float) + 0.05 + 0.05 * np.abs(np.array(exact, dtype=float))).tolist()
                assert not q.mark(off, student).passed, (name, q.id)


def test_reference_answers_of_the_solutions_score_full_as_the_reference_student():
    from test_quiz_authoring import SOLUTIONS

    for name in load_index():
        quiz = load_quiz(name)
        answers = read_answers(str(SOLUTIONS / "quizzes" / f"{name}.yaml"), quiz)
        assert answers.student == "reference"
        assert grade_quiz(quiz, answers, "reference").status == "passed", name
