"""Quiz variants per student, scoring by type, and malformed answers."""

from __future__ import annotations

import itertools
import re
import statistics
from pathlib import Path

import pytest

from mlopslab.course.content import QuizFile, load_course
from mlopslab.course.quiz import LETTERS, Shown, make_variant, mark
from mlopslab.errors import CourseError
from tests.course_fixture import write_course


@pytest.fixture
def quiz(tmp_path: Path) -> QuizFile:
    return load_course(write_course(tmp_path / "c")).module("0-intro").quiz_keys()


def by_id(questions: tuple[Shown, ...], question_id: str) -> Shown:
    return next(q for q in questions if q.id == question_id)


def test_a_student_always_gets_the_same_variant(quiz: QuizFile) -> None:
    first = make_variant(quiz, "s123", "0-intro")
    again = make_variant(quiz, "s123", "0-intro")
    assert [q.public() for q in first.questions] == [
        q.public() for q in again.questions
    ]
    assert first.seed == again.seed


def test_students_get_different_variants(quiz: QuizFile) -> None:
    variants = [make_variant(quiz, f"s{n}", "0-intro") for n in range(20)]
    orders = {by_id(v.questions, "pick-some").choices for v in variants}
    prompts = {by_id(v.questions, "accuracy").prompt for v in variants}
    drawn = {v.questions[-1].id for v in variants}
    assert len(orders) > 5 and len(prompts) > 10
    assert drawn == {"gate-a", "gate-b"}  # the pool draws both, across students


def test_numeric_answer_is_computed_from_the_drawn_numbers(quiz: QuizFile) -> None:
    for student in ("a", "b", "c"):
        shown = by_id(make_variant(quiz, student, "0-intro").questions, "accuracy")
        wrong, n = map(int, re.findall(r"\d+", shown.prompt))
        assert mark(shown, str((n - wrong) / n)).points == 1.0
        assert mark(shown, (n - wrong) / n + 0.004).points == 1.0  # within tolerance
        assert mark(shown, (n - wrong) / n + 0.02).points == 0.0


def test_single_choice_is_scored_by_the_shown_letters(quiz: QuizFile) -> None:
    shown = by_id(make_variant(quiz, "s1", "0-intro").questions, "pick-one")
    right = LETTERS[shown.choices.index("the serving model")]
    assert mark(shown, right).points == 1.0
    assert mark(shown, right.lower()).points == 1.0
    wrong = next(letter for letter in "ABC" if letter != right)
    marked = mark(shown, wrong)
    assert marked.points == 0.0 and marked.correct == right


def test_multiple_select_gives_partial_credit(quiz: QuizFile) -> None:
    shown = by_id(make_variant(quiz, "s1", "0-intro").questions, "pick-some")
    right = [
        LETTERS[shown.choices.index(o)] for o in ("fit on all data", "tune on test")
    ]
    wrong = [LETTERS[shown.choices.index(o)] for o in ("fit on train", "seed")]
    assert mark(shown, right).points == 1.0
    assert mark(shown, ",".join(right)).points == 1.0
    assert mark(shown, right[:1]).points == 0.5
    assert mark(shown, [*right, wrong[0]]).points == 0.5
    assert mark(shown, [right[0], *wrong]).points == 0.0


def test_ordering_and_text(quiz: QuizFile) -> None:
    questions = make_variant(quiz, "s1", "0-intro").questions
    order = by_id(questions, "stages")
    key = "".join(
        LETTERS[order.choices.index(item)]
        for item in ("data", "train", "evaluate", "register")
    )
    assert mark(order, key).points == 1.0
    assert mark(order, key[::-1]).points == 0.0
    text = by_id(questions, "name-it")
    assert mark(text, "  Covariate Shift ").points == 1.0
    assert mark(text, "data drift detector").points == 0.0


@pytest.mark.parametrize(
    ("question_id", "answer", "line"),
    [
        ("pick-one", "AB", "gives more than one letter; answer with one of A, B, C"),
        ("pick-one", "Z", "is not one of its letters; answer with one of A, B, C"),
        (
            "pick-some",
            "A,A",
            "is not a set of its letters; answer with one or more of A, B, C, D, "
            "each once, e.g. A,C",
        ),
        (
            "stages",
            "AB",
            "is not an ordering of its letters; answer with each of A, B, C, D "
            "once, in your order",
        ),
        ("accuracy", "ninety", "is not a number; answer with a number, e.g. 0.25"),
    ],
)
def test_malformed_answers_are_one_clear_line(
    quiz: QuizFile, question_id: str, answer: str, line: str
) -> None:
    shown = by_id(make_variant(quiz, "s1", "0-intro").questions, question_id)
    with pytest.raises(CourseError) as caught:
        mark(shown, answer)
    said = caught.value.one_line()
    assert said == f"answer {answer!r} to '{question_id}' {line}"
    assert said.count("letter") <= 1  # the letters are named once, not twice


def test_the_public_view_holds_no_key(quiz: QuizFile) -> None:
    for shown in make_variant(quiz, "s1", "0-intro").questions:
        public = shown.public()
        assert "explanation" not in public and set(public) == {
            "id",
            "type",
            "prompt",
            "choices",
            "demo",
        }


def test_demo_keeps_only_its_questions(quiz: QuizFile) -> None:
    variant = make_variant(quiz, "s1", "0-intro", demo="demo-0-intro")
    assert [q.id for q in variant.questions] == ["pick-one"]


def pooled_demo_quiz() -> QuizFile:
    """A pool of four with two questions on demo-x, and one on it outside."""

    def single(question_id: str, demo: str | None = None) -> dict[str, object]:
        return {
            "id": question_id,
            "type": "single",
            "prompt": f"{question_id}?",
            "options": ["yes", "no"],
            "answer": 0,
            "explanation": "Because.",
            "demo": demo,
        }

    pooled = [single("p1", "demo-x"), single("p2"), single("p3", "demo-x")]
    return QuizFile.model_validate(
        {
            "module": "m",
            "questions": [
                single("alone", "demo-x"),
                single("untagged"),
                {"pool": "p", "draw": 1, "questions": [*pooled, single("p4")]},
            ],
        }
    )


def test_a_demo_quiz_draws_from_the_demo_questions_of_each_pool() -> None:
    quiz = pooled_demo_quiz()
    drawn = [
        [q.id for q in make_variant(quiz, f"s{n:02d}", "m", demo="demo-x").questions]
        for n in range(1, 31)
    ]
    # Never empty, the same length for everyone (filtering the graded draw
    # would give some students one question and others two), fairly drawn.
    assert all(len(ids) == 2 and ids[0] == "alone" for ids in drawn)
    assert {ids[1] for ids in drawn} == {"p1", "p3"}


def test_a_demo_without_questions_is_an_error(quiz: QuizFile) -> None:
    with pytest.raises(CourseError, match="no question of 0-intro's quiz is on demo"):
        make_variant(quiz, "s1", "0-intro", demo="demo-nothing")


REAL_COURSE = Path(__file__).resolve().parents[1] / "course"


def right_answer(shown: Shown) -> object:
    import rstr

    if shown.type == "text":
        for _ in range(50):  # a string the first pattern accepts, without edge blanks
            candidate = rstr.xeger(shown._key[0])
            if candidate == candidate.strip() and candidate:
                return candidate
        raise AssertionError(f"{shown.id}: no answer matches {shown._key[0]!r}")
    if shown.type == "numeric":
        return shown._key
    return list(shown._key)


def wrong_answer(shown: Shown) -> object:
    letters = list(LETTERS[: len(shown.choices)])
    if shown.type == "single":
        return next(letter for letter in letters if letter not in shown._key)
    if shown.type == "multiple":
        others = [letter for letter in letters if letter not in shown._key]
        return others or shown._key[:1] + others
    if shown.type == "order":
        return list(reversed(shown._key))
    if shown.type == "numeric":
        return shown._key + 10 * shown._tolerance + abs(shown._key) + 1
    return "zq-not-an-answer"


def test_every_question_of_the_real_course_marks_right_and_wrong() -> None:
    import random

    from mlopslab.course.quiz import present

    course = load_course(REAL_COURSE)
    for module in course.modules:
        quiz = module.quiz_keys()
        questions = quiz.all_questions()
        for seed in range(3):  # several draws of the templated numbers
            for question in questions:
                shown = present(question, random.Random(seed))
                right = mark(shown, right_answer(shown))
                assert right.points == 1.0, (module.id, question.id, right)
                wrong = mark(shown, wrong_answer(shown))
                assert wrong.points < 1.0, (module.id, question.id, wrong)
        drawn = make_variant(quiz, "s123", module.id).questions
        if quiz.graded:
            assert 5 <= len(drawn) <= 8, f"{module.id} draws {len(drawn)} items"
        if module.core:  # every type somewhere in the quiz, if not in every draw
            assert {q.type for q in questions} == {
                "single",
                "multiple",
                "numeric",
                "text",
                "order",
            }


STUDENTS = [f"s{n:02d}" for n in range(1, 31)]


def test_two_students_share_at_most_half_of_their_graded_items() -> None:
    # The course's rule for pools: a student's items say little about another's.
    # benchmarks/quiz_overlap.py prints the same figure with more detail.
    for module in load_course(REAL_COURSE).modules:
        quiz = module.quiz_keys()
        if not quiz.graded:
            continue
        draws = [
            {q.id for q in make_variant(quiz, s, module.id).questions} for s in STUDENTS
        ]
        shares = [len(a & b) / len(a) for a, b in itertools.combinations(draws, 2)]
        assert statistics.mean(shares) <= 0.5, (module.id, statistics.mean(shares))


def test_every_demo_of_the_real_course_has_a_quiz_for_every_student() -> None:
    for module in load_course(REAL_COURSE).modules:
        for demo in module.meta.demos:
            sizes = set()
            for student in STUDENTS:
                shown = make_variant(
                    module.quiz_keys(), student, module.id, demo=demo.id
                ).questions
                assert {q.demo for q in shown} == {demo.id}, (module.id, demo.id)
                sizes.add(len(shown))
            assert len(sizes) == 1, (module.id, demo.id, sizes)
