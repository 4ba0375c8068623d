"""Reading a roster: every line checked, and the first bad one named."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlopslab.course.classroom.roster import Entry, read_roster
from mlopslab.errors import CourseError


def roster(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_roster_reads_ids_names_roles_and_passwords(tmp_path: Path) -> None:
    path = roster(
        tmp_path,
        "student,name,role,password\nana,Ana A,,secret-1\nprof,P,instructor,\n",
    )
    assert read_roster(path) == [
        Entry("ana", "Ana A", "student", "secret-1"),
        Entry("prof", "P", "instructor", ""),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name\nAna\n", "line 1: the header"),
        ("student,email\nana,a@b\n", "line 1: the header"),
        ("student\nana\nana\n", "line 3: student 'ana' is also on line 2"),
        ("student,role\nana,teacher\n", "line 2: role 'teacher'"),
        ("student\nana bob\n", "line 2: 'ana bob' is not a usable student id"),
        ("student,name\nana,Ana,extra\n", "line 2: too many fields"),
    ],
)
def test_a_bad_roster_names_its_line(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(CourseError, match=says):
        read_roster(roster(tmp_path, text))


def test_an_unreadable_roster_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="cannot read the roster"):
        read_roster(tmp_path / "missing.csv")
