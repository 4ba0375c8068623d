"""Written answers: read from ANSWERS.md as handed in, as text, within limits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mlopslab.course.autograder import policy_of
from mlopslab.course.written import (
    ANSWER_LIMIT,
    ANSWERS_LIMIT,
    Written,
    read_answers,
)
from mlopslab.errors import CourseError
from tests.conftest import Cli
from tests.course_fixture import write_course

QUESTIONS = [
    Written(id="why-floor", points=2, prompt="Why a floor?"),
    Written(id="trade-off", points=1, prompt="What does it cost?"),
]


def test_each_answer_is_the_text_under_its_heading(tmp_path: Path) -> None:
    (tmp_path / "ANSWERS.md").write_text(
        "# My answers\n\n## why-floor\nAccuracy hides a class.\n\nTwo lines.\n"
        "### `trade-off` ##\nMore rejections.\n## why-floor\nA second try.\n"
    )
    found = read_answers(tmp_path, QUESTIONS)
    assert found == {
        "why-floor": "Accuracy hides a class.\n\nTwo lines.",  # the first counts
        "trade-off": "More rejections.",
    }


def test_missing_linked_and_odd_files_give_empty_answers(tmp_path: Path) -> None:
    assert read_answers(tmp_path, QUESTIONS) == {"why-floor": "", "trade-off": ""}
    secret = tmp_path / "secret.md"
    secret.write_text("## why-floor\nthe grader's file\n")
    (tmp_path / "ANSWERS.md").symlink_to(secret)
    assert read_answers(tmp_path, QUESTIONS)["why-floor"] == ""
    (tmp_path / "ANSWERS.md").unlink()
    os.mkfifo(tmp_path / "ANSWERS.md")  # would block a reader that waits
    assert read_answers(tmp_path, QUESTIONS)["why-floor"] == ""
    assert read_answers(tmp_path, []) == {}


def test_a_huge_file_is_read_only_up_to_its_limits(tmp_path: Path) -> None:
    (tmp_path / "ANSWERS.md").write_text(
        "## why-floor\n" + "x" * (ANSWERS_LIMIT * 4) + "\n## trade-off\nlost\n"
    )
    found = read_answers(tmp_path, QUESTIONS)
    assert len(found["why-floor"]) == ANSWER_LIMIT
    assert found["trade-off"] == ""  # past what is read at all


def test_written_questions_are_checked_in_assignment_yaml(tmp_path: Path) -> None:
    course = write_course(tmp_path / "course")
    settings = course / "0-intro" / "assignment" / "assignment.yaml"
    for written, said in (
        ([{"id": "a", "points": 0, "prompt": "p"}], "greater than 0"),
        ([{"id": "A b", "points": 1, "prompt": "p"}], "should match pattern"),
        ([{"id": "a", "points": 1, "prompt": "p"}] * 2, "used twice: a"),
    ):
        settings.write_text(yaml.safe_dump({"title": "t", "written": written}))
        with pytest.raises(CourseError, match=said):
            policy_of(course / "0-intro")


def test_course_grade_hands_the_answers_to_the_instructor(
    tmp_path: Path, cli: Cli
) -> None:
    course = write_course(tmp_path / "course")
    module = course / "0-intro"
    (module / "assignment" / "checks.py").write_text(
        "from mlopslab.course.grading import Context, check\n\n\n"
        '@check("there", points=1)\ndef there(ctx: Context) -> None:\n'
        '    ctx.file("ANSWERS.md")\n'
    )
    (module / "assignment" / "assignment.yaml").write_text(
        yaml.safe_dump(
            {"title": "t", "written": [{"id": "why", "points": 2, "prompt": "Why?"}]}
        )
    )
    copy = tmp_path / "subs" / "ana"
    (copy / "src" / "mlopslab").mkdir(parents=True)
    (copy / "src" / "mlopslab" / "__init__.py").write_text("")
    (copy / "ANSWERS.md").write_text("## why\nBecause.\n")

    result = cli(
        "course", "grade", "0", tmp_path / "subs", "--out", tmp_path / "out",
        "--course", course, "--allow-unfenced",
    )  # fmt: skip

    assert result.code == 0, result.err
    folder = tmp_path / "out" / "results" / "ana"
    assert json.loads((folder / "answers.json").read_text()) == {"why": "Because."}
    assert json.loads((folder / "results.json").read_text())["score"] == 1
    assert "to grade by hand" in result.out


def test_a_long_heading_line_is_read_in_linear_time(tmp_path: Path) -> None:
    # A learner's line once made the grader's heading pattern backtrack for
    # hours, before any check ran (samples/stall.patch in 6-monitoring).
    (tmp_path / "ANSWERS.md").write_text(
        "# a" + " " * 60_000 + "x\n## why-floor\nBecause.\n"
    )
    found = read_answers(tmp_path, QUESTIONS)
    assert found == {"why-floor": "Because.", "trade-off": ""}
