"""Gradebook exports in each LMS layout, and a student bundle that leaks nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlopslab.course.bundle import export_student
from mlopslab.course.content import load_course
from mlopslab.course.exports import export
from mlopslab.course.gradebook import Attempt, Gradebook, Kind
from mlopslab.errors import CourseError
from tests.conftest import CliResult

COURSE = Path(__file__).resolve().parents[1] / "course"
MODULES = ["1-data", "3-evaluation"]


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Gradebook]:
    with Gradebook(tmp_path / "gradebook.db") as book:
        rows: list[tuple[str, str, Kind, float, float]] = [
            ("ana", "3-evaluation", "assignment", 6, 11),
            ("ana", "3-evaluation", "assignment", 11, 11),  # best counts
            ("ana", "1-data", "quiz", 10, 12),
            ("bo", "3-evaluation", "assignment", 3, 11),
            ("bo", "9-elsewhere", "quiz", 1, 1),  # not in the course: left out
        ]
        for student, module, kind, score, top in rows:
            book.record_attempt(
                Attempt(student, module, kind, score, top, finished_at=1_765_000_000)
            )
        yield book


def test_canvas_has_its_points_possible_row(book: Gradebook) -> None:
    assert export(book, "best", "canvas", MODULES).splitlines() == [
        "Student,ID,SIS User ID,SIS Login ID,Section,"
        "1-data quiz,3-evaluation assignment",
        "Points Possible,,,,,12,11",
        "ana,,ana,ana,,10,11",
        "bo,,bo,bo,,,3",
    ]


def test_moodle_maps_users_by_id_number(book: Gradebook) -> None:
    assert export(book, "last", "moodle", MODULES).splitlines() == [
        "ID number,1-data quiz,3-evaluation assignment",
        "ana,10,11",
        "bo,,3",
    ]


def test_gradescope_lists_assignments_only(book: Gradebook) -> None:
    assert export(book, "best", "gradescope", MODULES).splitlines() == [
        "Name,SID,Email,Assignment,Total Score,Max Points,Status",
        "ana,ana,,3-evaluation,11,11,Graded",
        "bo,bo,,3-evaluation,3,11,Graded",
    ]


def test_plain_csv_has_percent_and_time(book: Gradebook) -> None:
    lines = export(book, "best", "csv", MODULES).splitlines()
    assert lines[0] == "student,module,kind,score,max_score,percent,finished_at"
    assert "ana,3-evaluation,assignment,11,11,100.0,2025-12-06T05:46:40+00:00" in lines
    assert len(lines) == 4


def test_an_unknown_format_is_one_line(cli: Callable[..., CliResult]) -> None:
    result = cli("course", "gradebook", "--export", "blackboard")
    assert result.code == 8
    assert result.err.strip() == (
        "error: unknown export format 'blackboard'; choose one of "
        "canvas, moodle, gradescope, csv"
    )


def secrets() -> list[str]:
    """Every hidden check's and solution's own lines, and every quiz key's text.

    Lines the public files share (imports, a helper call, a row an exercise's
    solution sends as the lesson did) are not secrets.
    """
    public: set[str] = set()
    found = []
    for path in COURSE.rglob("*"):
        if not path.is_file() or path.name == "quiz.yaml":
            continue
        if "__pycache__" in path.parts:  # bytecode, never shipped
            continue
        lines = [line.strip() for line in path.read_text().splitlines()]
        if "instructor" in path.parts:
            found += lines
        else:
            public.update(lines)
    for module in load_course(COURSE).modules:
        for question in module.quiz_keys().all_questions():
            found.append(question.explanation)
            found += getattr(question, "accept", [])
    shared = "\n".join(public)
    return [
        text
        for text in found
        if len(text) >= 30 and not text.startswith("#") and text not in shared
    ]


def test_the_student_bundle_holds_no_keys_checks_or_solutions(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    out = tmp_path / "dist"

    result = cli("course", "export", "--student", out, "--course", COURSE)

    assert result.code == 0, result.err
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if "instructor" in p.parts or p.name == "quiz.yaml"]
    assert (out / "3-evaluation" / "assignment" / "checks.py").is_file()
    assert (out / "3-evaluation" / "quiz.md").is_file()
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    leaked = [secret for secret in secrets() if secret in text]
    assert leaked == []
    assert len(secrets()) > 200  # the search had something to look for


def test_the_bundle_is_a_course_with_the_students_readme(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    out = tmp_path / "dist"
    assert cli("course", "export", "--student", out, "--course", COURSE).code == 0
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert readme == (COURSE / "STUDENT_README.md").read_text(encoding="utf-8")
    for authors_only in ("solution.patch", "instructor/", "course validate"):
        assert authors_only not in readme
    for how in ("course show 3", "course check 3", "course quiz 3-", "course submit"):
        assert how in readme
    assert not (out / "STUDENT_README.md").exists()
    # The learners' commands read it as a course: keys withheld on purpose.
    listed = cli("course", "list", "--course", out)
    assert listed.code == 0 and "3-evaluation" in listed.out, listed.err
    shown = cli("course", "show", "3", "--course", out)
    assert shown.code == 0, shown.err
    assert "mlopslab course quiz 3-evaluation --server URL --token TOKEN" in shown.out


def test_the_bundle_makes_no_folders_but_its_own(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    out = tmp_path / "missing" / "dist"
    result = cli("course", "export", "--student", out, "--course", COURSE)
    assert result.code == 8 and "Traceback" not in result.err
    assert f"its parent folder {out.parent} does not exist" in result.err
    assert not out.parent.exists()


def test_the_bundle_replaces_only_its_own_folder(tmp_path: Path) -> None:
    course = load_course(COURSE)
    out = tmp_path / "dist"
    first = export_student(course, COURSE, out)
    assert export_student(course, COURSE, out) == first  # a bundle: replaced
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(CourseError, match="is not a student bundle"):
        export_student(course, COURSE, other)
    assert (other / "mine.txt").read_text() == "keep"


def test_bad_destinations_are_one_line(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    result = cli("course", "gradebook", "--export", "csv", tmp_path / "no" / "g.csv")
    assert result.code == 8 and result.err.startswith("error: cannot write")
    afile = tmp_path / "afile"
    afile.write_text("")
    result = cli("course", "export", "--student", afile, "--course", COURSE)
    assert result.code == 8 and "is a file" in result.err
    result = cli("course", "grade", "3-evaluation", tmp_path, "--out", afile)
    assert result.code == 8 and "--out" in result.err and "is a file" in result.err


def test_grading_refuses_without_bubblewrap(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlopslab.course.sandbox

    monkeypatch.setattr(mlopslab.course.sandbox, "bwrap_works", lambda: False)
    result = cli("course", "grade", "3-evaluation", tmp_path, "--out", tmp_path / "g")
    assert result.code == 8 and "Traceback" not in result.err
    assert "bubblewrap is not usable here" in result.err
    assert "--allow-unfenced" in result.err


@pytest.mark.parametrize(
    "command", [("course", "worker"), ("course", "serve", "--port", "8199")]
)
def test_server_workers_refuse_without_bubblewrap(
    command: tuple[str, ...],
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server's graders keep the fences `course grade` keeps."""
    import mlopslab.course.sandbox

    monkeypatch.setattr(mlopslab.course.sandbox, "bwrap_works", lambda: False)
    result = cli(*command, "--course", COURSE, "--home", tmp_path / "ws")
    assert result.code == 8 and "Traceback" not in result.err
    assert "bubblewrap is not usable here" in result.err
    assert not (tmp_path / "ws").exists()  # refused before anything was written
