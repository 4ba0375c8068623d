"""The syllabus: weeks, dates, weights and hours from course.yaml's plans."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from mlopslab.course.content import Course, load_course
from mlopslab.course.syllabus import render, study_hours, weeks_of
from mlopslab.errors import CourseError
from tests.conftest import CliResult

COURSE = Path(__file__).resolve().parents[1] / "course"


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(COURSE)


def week_section(text: str, number: int) -> str:
    return text.split(f"### Week {number}")[1].split("### Week")[0]


def test_every_core_module_is_taught_once_in_every_plan(course: Course) -> None:
    core = {m.id for m in course.modules if m.core}
    for weeks in (13, 3):
        taught = [
            m.id for w in weeks_of(course, course.plan(weeks), None) for m in w.modules
        ]
        assert core <= set(taught) and len(taught) == len(set(taught))


def test_dates_follow_the_start_and_the_plan(course: Course) -> None:
    text = render(course, course.plan(3), date(2027, 2, 1))

    assert "Week 1 begins on Monday 01 February 2027." in text
    week2 = week_section(text, 2)
    assert week2.startswith(" (from Mon 08 Feb)")
    # due_days 4: a week-2 module's work is due on Friday 12 February.
    assert "- **Take** the 3-evaluation quiz (15 min), due Fri 12 Feb." in week2
    assert "- **Hand in** the capstone, by Sun 21 Feb." in week_section(text, 3)
    assert "| Capstone | 30 % | `capstone.md`, handed in by Sun 21 Feb |" in text


def test_weights_split_over_what_the_plan_teaches_and_grades(course: Course) -> None:
    text = render(course, course.plan(13))
    # 14 modules, each with a quiz and a graded assignment.
    assert "| Quizzes | 20 % | 14 x 1.43 % (on the course server) |" in text
    assert "| Assignments | 50 % | 14 x 3.57 % (graded in a sandbox) |" in text
    assert "Practice assignments" not in text and "practice, not graded" not in text
    # The 3-week plan grades what it teaches: the seven core modules.
    three = render(course, course.plan(3))
    assert "| Assignments | 50 % | 7 x 7.14 % (graded in a sandbox) |" in three
    assert "1-data assignment (graded, 3.5 h)" in text


def test_an_assignment_without_checks_is_practice(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "course"
    shutil.copytree(COURSE, copy, ignore=shutil.ignore_patterns("*.patch"))
    (copy / "11-containers" / "assignment" / "checks.py").unlink()
    text = render(load_course(copy), load_course(copy).plan(13))
    assert "| Assignments | 50 % | 13 x 3.85 % (graded in a sandbox) |" in text
    assert "Practice assignments (not graded): 11-containers." in text
    assert "11-containers assignment (practice, not graded, 3 h)" in text


def test_a_plan_without_some_modules_names_them(course: Course) -> None:
    text = render(course, course.plan(3))
    optional = text.split("## Not in this plan")[1]
    assert re.findall(r"^- (\S+):", optional, re.M) == [
        "7-cicd",
        "8-scaling",
        "9-pytorch",
        "10-responsible",
        "11-containers",
        "12-design",
        "13-llm",
    ]


def test_weeks_without_modules_are_capstone_work(course: Course) -> None:
    text = render(course, course.plan(13))
    assert week_section(text, 12).strip() == "- Capstone work."


def test_study_hours_add_lesson_quiz_and_assignment(course: Course) -> None:
    data = course.module("1-data")
    # Lesson 45 min, two exercises of 15 min, quiz 15 min, assignment 3.5 h.
    assert study_hours(data) == pytest.approx((45 + 30 + 15) / 60 + 3.5)
    text = render(course, course.plan(13))
    assert "| 1-data | 45 min | 30 min | 15 min | 3.5 h | 5.0 h |" in text
    assert "(lesson 45 min, 2 exercises)" in text
    total = sum(study_hours(m) for m in course.modules)
    assert f"This plan: about {total:.0f} h, without the capstone." in text


def test_the_site_links_each_lesson(course: Course) -> None:
    text = render(course, course.plan(13), site=True)
    assert "[0-setup: Setup and reproducibility](lessons/0-setup.md)" in text


def test_a_course_without_that_plan_says_which_it_has(course: Course) -> None:
    with pytest.raises(CourseError) as caught:
        course.plan(5)
    assert "has no 5-week plan (plans: 13 and 3)" in caught.value.one_line()


def test_the_command_writes_the_file_whole(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "syllabus.md"
    args = ("course", "syllabus", "--course", COURSE, "--weeks", "3")
    result = cli(*args, "--start", "2027-02-01", "--out", out)
    assert result.code == 0, result.err
    assert result.out == f"syllabus written: {out} (3 weeks)\n"
    assert out.read_text().startswith(
        "# mlopslab: MLOps by running it: 3-week syllabus"
    )
    assert [p.name for p in out.parent.iterdir()] == ["syllabus.md"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--weeks", "5"), "has no 5-week plan (plans: 13 and 3); choose one of those"),
        (("--start", "2027-13-01"), "--start '2027-13-01' is not a date; give it as"),
        (("--start", "next monday"), "--start 'next monday' is not a date"),
        (("--out", "/no/such/folder/s.md"), "its parent folder /no/such/folder"),
    ],
)
def test_bad_input_is_one_line(
    flags: tuple[str, ...], message: str, cli: Callable[..., CliResult]
) -> None:
    result = cli("course", "syllabus", "--course", COURSE, *flags)
    assert result.code != 0
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert message in line and "Traceback" not in result.err
