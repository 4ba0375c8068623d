"""Exercises inside lessons: found, checked, shown, and their solutions run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlopslab.course.content import WITHHELD_NOTE, load_course
from mlopslab.course.exercises import as_markdown, find, problems
from mlopslab.course.lessons import explain, run_lesson
from mlopslab.course.site import lesson_page
from tests.conftest import CliResult
from tests.course_fixture import write_course

EXERCISE = """
```exercise
id: shout
title: Make the greeting loud
task: |
  Write the greeting again, in capitals, to loud.txt.
hints:
  - tr can change case.
  - tr a-z A-Z
```
"""
SOLUTION = 'tr a-z A-Z < greeting.txt > loud.txt\ntest "$(cat loud.txt)" = HELLO\n'


def course_with_exercise(root: Path, solution: str | None = SOLUTION) -> Path:
    """The fixture course, with one exercise after 0-intro's first block."""
    write_course(root)
    lesson = root / "0-intro" / "lesson.md"
    first = "```bash run\necho hello > greeting.txt\n```\n"
    lesson.write_text(lesson.read_text().replace(first, first + EXERCISE))
    if solution is not None:
        folder = root / "0-intro" / "instructor" / "exercises"
        folder.mkdir(parents=True)
        (folder / "shout.sh").write_text(solution)
    return root


def test_an_exercise_is_found_with_its_line(tmp_path: Path) -> None:
    root = course_with_exercise(tmp_path / "c")
    body = load_course(root).module("0-intro").body
    [found] = find(body)
    assert found.exercise is not None and found.exercise.id == "shout"
    assert body.splitlines()[found.line - 1] == "```exercise"
    assert found.exercise.hints == ["tr can change case.", "tr a-z A-Z"]


def test_each_problem_names_the_lesson_or_the_solution(tmp_path: Path) -> None:
    lesson = tmp_path / "m" / "lesson.md"
    broken = EXERCISE.replace("hints:\n  - tr can change case.\n  - tr a-z A-Z\n", "")
    twice = EXERCISE + EXERCISE
    orphan = tmp_path / "m" / "instructor" / "exercises" / "gone.sh"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("true\n")

    assert problems(lesson, broken, withheld=False)[0] == (
        f"{lesson}: exercise at line 2: hints: Field required"
    )
    assert f"{lesson}: exercise 'shout' is there twice" in problems(
        lesson, twice, False
    )
    assert problems(lesson, EXERCISE, withheld=False) == [
        f"{orphan.parent / 'shout.sh'}: missing (the solution of exercise 'shout')",
        f"{orphan}: no exercise 'gone' in lesson.md",
    ]
    # A students' copy has no solutions, on purpose.
    assert problems(lesson, EXERCISE, withheld=True) == []


def test_the_solution_runs_where_the_exercise_stands_in_a_copy(tmp_path: Path) -> None:
    root = course_with_exercise(tmp_path / "c")
    module = load_course(root).module("0-intro")
    work = tmp_path / "lesson"
    work.mkdir()

    results = run_lesson(module, work)

    assert [r.block.solution for r in results] == ["", "shout", "", ""]
    assert all(r.ok for r in results), [explain(r) for r in results]
    assert not (work / "loud.txt").exists()  # the later blocks never see it


def test_a_wrong_solution_stops_the_lesson_and_says_which(tmp_path: Path) -> None:
    root = course_with_exercise(tmp_path / "c", solution="test -f nowhere.txt\n")
    module = load_course(root).module("0-intro")
    work = tmp_path / "lesson"
    work.mkdir()

    results = run_lesson(module, work)

    assert [r.ok for r in results] == [True, False]
    assert explain(results[-1]) == "line 9: exercise 'shout': its solution exited 1"


def test_readers_get_the_task_and_hints_and_only_the_instructor_the_solution(
    tmp_path: Path,
) -> None:
    root = course_with_exercise(tmp_path / "c")
    course = load_course(root)
    module = course.module("0-intro")

    page = lesson_page(course, module)
    instructor = lesson_page(course, module, solutions=True)
    terminal = as_markdown(module.body, module.folder, False, collapsible=False)

    assert '!!! question "Exercise 1: Make the greeting loud"' in page
    assert '??? tip "Hint 2"\n\n    tr a-z A-Z' in page
    assert "```exercise" not in page and "loud.txt\ntest" not in page
    assert (
        '??? success "Solution"' in instructor and "tr a-z A-Z < greeting" in instructor
    )
    assert "**Exercise 1: Make the greeting loud**" in terminal
    assert "2. tr a-z A-Z" in terminal and "< greeting.txt" not in terminal


def test_validate_names_a_missing_solution(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    root = course_with_exercise(tmp_path / "c", solution=None)
    result = cli("course", "validate", "--course", root)
    assert result.code != 0
    assert "0-intro/instructor/exercises/shout.sh: missing" in result.err
    (root / WITHHELD_NOTE).write_text("keys and solutions stay with the instructor\n")
    assert cli("course", "validate", "--course", root).code == 0


def test_a_students_copy_cannot_build_the_solutions_site(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    root = course_with_exercise(tmp_path / "c", solution=None)
    result = cli(
        "course", "site", "--course", root, "--solutions", "--out", tmp_path / "s"
    )
    assert result.code != 0
    assert "has no exercise solutions (a students' copy)" in result.err
    assert not (tmp_path / "s").exists()
