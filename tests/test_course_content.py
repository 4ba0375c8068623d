"""Course content: the schema, and errors that name the file and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlopslab.course.content import WITHHELD_NOTE, load_course, read_course
from mlopslab.errors import CourseError
from tests.course_fixture import write_course


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_fixture_course_is_valid(tmp_path: Path) -> None:
    course, problems = read_course(write_course(tmp_path / "c"))
    assert problems == []
    assert course is not None and [m.id for m in course.modules] == [
        "0-intro",
        "1-drift",
    ]
    assert course.module("1-drift").meta.core is False
    assert course.term("Data Drift") is not None


def with_plan(root: Path, weights: Any = "whole", **plan: Any) -> None:
    """Give the fixture course a 2-week plan (and weights), with `plan` changed."""
    whole = {"quizzes": 20, "assignments": 50, "capstone": 30}

    def change(data: Any) -> None:
        data["plans"] = [
            {"weeks": 2, "due_days": 4, "modules": {"0-intro": 1}, "capstone": 2} | plan
        ]
        if weights is not None:
            data["weights"] = whole if weights == "whole" else weights

    edit_yaml(root / "course.yaml", change)


def quiz(root: Path) -> Path:
    return root / "0-intro" / "quiz.yaml"


def set_question(index: int, **fields: object) -> Callable[[Path], None]:
    """A breakage: set `fields` on the `index`th question of 0-intro's quiz."""
    return lambda root: edit_yaml(
        quiz(root), lambda q: q["questions"][index].update(fields)
    )


BREAKAGES: list[tuple[str, Callable[[Path], object], str]] = [
    (
        "answer not an option",
        set_question(0, answer=5),
        "0-intro/quiz.yaml: questions[pick-one]: answer 5 is not an option",
    ),
    (
        "unknown question type",
        set_question(3, type="essay"),
        "0-intro/quiz.yaml: questions[name-it]: Input tag 'essay'",
    ),
    (
        "numeric answer that cannot be computed",
        set_question(2, answer="n / (wrong - wrong)"),
        "questions[accuracy]: answer 'n / (wrong - wrong)' cannot be computed",
    ),
    (
        "prompt naming a missing parameter",
        set_question(2, prompt="{rows} rows"),
        "questions[accuracy]: prompt cannot be filled from params: 'rows'",
    ),
    (
        "bad regex",
        set_question(3, accept=["("]),
        "questions[name-it]: accept pattern '('",
    ),
    (
        "pool question with one option",
        lambda r: edit_yaml(
            quiz(r), lambda q: q["questions"][5]["questions"][1].update(options=["x"])
        ),
        "questions[gate].questions[gate-b].options: List should have at least 2",
    ),
    (
        "pool drawing more than it has",
        set_question(5, draw=3),
        "questions[gate]: draws 3 of only 2 questions",
    ),
    (
        "duplicate question id",
        set_question(1, id="pick-one"),
        "0-intro/quiz.yaml: questions: id 'pick-one' is used twice",
    ),
    (
        "unknown field",
        set_question(4, colour="red"),
        "questions[stages].colour: Extra inputs are not permitted",
    ),
    (
        "unknown demo",
        set_question(0, demo="nope"),
        "pick-one.demo: 'nope' is not a demo",
    ),
    (
        "unknown module in course.yaml",
        lambda r: edit_text(r / "course.yaml", "1-drift", "7-missing"),
        "course.yaml: modules: unknown module '7-missing'",
    ),
    (
        "lesson id not the folder",
        lambda r: edit_text(r / "0-intro" / "lesson.md", "id: 0-intro", "id: zero"),
        "0-intro/lesson.md: id: 'zero' is not the folder name",
    ),
    (
        "lesson field of the wrong type",
        lambda r: edit_text(
            r / "0-intro" / "lesson.md",
            "estimated_minutes: 10",
            "estimated_minutes: soon",
        ),
        "0-intro/lesson.md: estimated_minutes: Input should be a valid integer",
    ),
    (
        "resource without a URL",
        lambda r: edit_text(
            r / "0-intro" / "lesson.md", "url: https://", "url: developers."
        ),
        "0-intro/lesson.md: resources[0].url: String should match pattern",
    ),
    (
        "lesson links a term the glossary lacks",
        lambda r: edit_text(r / "1-drift" / "lesson.md", "[[champion|", "[[winner|"),
        "1-drift/lesson.md: [[winner]]: not in glossary.yaml",
    ),
    (
        "related term missing",
        lambda r: edit_yaml(
            r / "glossary.yaml", lambda g: g["terms"][1].update(related=["ghost"])
        ),
        "glossary.yaml: terms[champion].related: 'ghost' is not a term",
    ),
    (
        "missing assignment",
        lambda r: (r / "1-drift" / "assignment" / "README.md").unlink(),
        "1-drift/assignment/README.md: missing",
    ),
    (
        "a plan week past its end",
        lambda r: with_plan(r, modules={"0-intro": 1, "1-drift": 3}),
        "course.yaml: plans[2 weeks].modules.1-drift: week 3 is not in weeks 1-2",
    ),
    (
        "a plan without a core module",
        lambda r: with_plan(r, modules={"1-drift": 1}),
        "course.yaml: plans[2 weeks].modules: core modules missing: 0-intro",
    ),
    (
        "a plan naming an unknown module",
        lambda r: with_plan(r, modules={"0-intro": 1, "9-ghost": 2}),
        "course.yaml: plans[2 weeks].modules: unknown module '9-ghost'",
    ),
    (
        "a capstone after the last week",
        lambda r: with_plan(r, capstone=5),
        "course.yaml: plans[2 weeks].capstone: week 5 is not in weeks 1-2",
    ),
    (
        "weights that are not the whole grade",
        lambda r: with_plan(
            r, weights={"quizzes": 20, "assignments": 50, "capstone": 20}
        ),
        "course.yaml: weights: the weights add up to 90, not 100",
    ),
    (
        "plans without weights",
        lambda r: with_plan(r, weights=None),
        "course.yaml: weights: missing (the plans' syllabi need them)",
    ),
    (
        "broken YAML",
        lambda r: quiz(r).write_text("questions: [\n"),
        "0-intro/quiz.yaml: while parsing",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [(change, message) for _, change, message in BREAKAGES],
    ids=[name for name, _, _ in BREAKAGES],
)
def test_each_problem_names_the_file_and_the_field(
    tmp_path: Path, change: Callable[[Path], object], message: str
) -> None:
    root = write_course(tmp_path / "c")
    change(root)
    _, problems = read_course(root)
    assert any(message in problem for problem in problems), problems
    with pytest.raises(CourseError) as caught:
        load_course(root)
    assert caught.value.hint == "run `mlopslab course validate` to see them all"


def test_unknown_module_is_one_line_listing_the_modules(tmp_path: Path) -> None:
    course = load_course(write_course(tmp_path / "c"))
    with pytest.raises(CourseError) as caught:
        course.module("3-nothing")
    assert caught.value.one_line() == (
        "no module '3-nothing'; choose one of: 0-intro, 1-drift"
    )


def test_a_checkout_without_a_quiz_file_is_still_a_problem(tmp_path: Path) -> None:
    root = write_course(tmp_path / "c")
    quiz(root).unlink()
    _, problems = read_course(root)
    assert [p for p in problems if p.endswith("0-intro/quiz.yaml: missing")]


def test_a_students_copy_loads_without_keys_and_says_where_the_quiz_is(
    tmp_path: Path,
) -> None:
    root = write_course(tmp_path / "c")
    for module in ("0-intro", "1-drift"):
        (root / module / "quiz.yaml").unlink()
    (root / WITHHELD_NOTE).write_text("keys stay with the instructor\n")
    course = load_course(root)
    assert [m.quiz for m in course.modules] == [None, None]
    with pytest.raises(CourseError) as caught:
        course.module("0-intro").quiz_keys()
    assert caught.value.one_line() == (
        "this copy of the course carries no quiz keys for 0-intro; take the quiz "
        "on the course server (`mlopslab course quiz 0-intro --server URL`)"
    )


def test_a_students_copy_still_checks_the_keys_it_has(tmp_path: Path) -> None:
    root = write_course(tmp_path / "c")
    (root / WITHHELD_NOTE).write_text("keys stay with the instructor\n")
    set_question(0, answer=5)(root)
    _, problems = read_course(root)
    assert any("answer 5 is not an option" in p for p in problems)
