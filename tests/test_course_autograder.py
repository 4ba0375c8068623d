"""Submissions in, late policy applied: the autograder's bookkeeping."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlopslab.course.autograder import Policy, find_submissions
from mlopslab.errors import CourseError
from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]

DUE = datetime(2026, 12, 14, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("late", "days", "kept"),
    [
        (timedelta(hours=-1), 0, 1.0),
        (timedelta(0), 0, 1.0),
        (timedelta(minutes=1), 1, 0.9),
        (timedelta(days=2, hours=3), 3, 0.7),
        (timedelta(days=3, minutes=1), 4, 0.0),
    ],
)
def test_late_days_cost_a_share_each_then_everything(
    late: timedelta, days: int, kept: float
) -> None:
    policy = Policy(title="a", due=DUE, late_penalty_per_day=0.1, late_days_allowed=3)
    found = policy.multiplier(DUE + late)
    assert found[0] == days and found[1] == pytest.approx(kept)


def test_a_due_date_without_a_zone_is_utc() -> None:
    policy = Policy(title="a", due=datetime(2026, 12, 14, 23, 59))
    assert policy.multiplier(DUE + timedelta(hours=1))[0] == 1


def test_submission_times_come_from_the_csv_only(tmp_path: Path) -> None:
    tmp_path = tmp_path / "submissions"
    tmp_path.mkdir()
    (tmp_path / "ana").mkdir()
    (tmp_path / "bo.zip").write_bytes(b"")
    os.utime(tmp_path / "bo.zip", (0, 1_765_000_000))
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "submitted.csv").write_text("student,time\nana,2026-12-15T10:00:00Z\n")
    found = {name: when for name, _, when in find_submissions(tmp_path)}
    # File times change with every copy and download: never a submission time.
    assert found == {"ana": datetime(2026, 12, 15, 10, tzinfo=UTC), "bo": None}
    (tmp_path / "submitted.csv").write_text("ana;yesterday\n")
    with pytest.raises(CourseError, match="line 1 is not student,ISO-time"):
        find_submissions(tmp_path)
    (tmp_path / "submitted.csv").unlink()
    (tmp_path / "ana.zip").write_bytes(b"")
    with pytest.raises(CourseError, match="two submissions for ana in"):
        find_submissions(tmp_path)


def test_a_copy_left_behind_is_the_classs_alarm_not_a_grade(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlopslab.course import copies

    # The corner under test is what the grader does when removal fails; the
    # copies are removed for real afterwards (a tmpfs each, when root).
    left: list[tuple[Path, bool]] = []
    remove = copies._remove

    def fails(scratch: Path, mounted: bool) -> str:
        left.append((scratch, mounted))
        return "cannot remove /x: busy"

    monkeypatch.setattr(copies, "_remove", fails)
    monkeypatch.setattr(copies, "_sweep_once", lambda: None)
    submissions = tmp_path / "subs"
    (submissions / "ana").mkdir(parents=True)
    out = tmp_path / "grades"

    result = cli(
        "course",
        "grade",
        "3-evaluation",
        submissions,
        "--out",
        out,
        "--course",
        REPO / "course",
        "--allow-unfenced",
    )

    assert result.code != 0
    assert "ALARM: cannot remove /x: busy" in result.err
    assert "grades stand" in result.err
    graded = json.loads((out / "results" / "ana" / "results.json").read_text())
    assert graded["output"].startswith("ungradable: no src/mlopslab")  # its own
    assert left and all(remove(*copy) is None for copy in left)


def test_each_result_is_out_as_soon_as_its_submission_is_graded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlopslab.course import autograder

    # The corner under test is the order results come out in, not grading.
    finished: list[str] = []

    def grade(student: str, *_: object) -> autograder.Graded:
        if student == "slow":
            while "fast" not in finished:  # held until the fast one is out
                time.sleep(0.01)
        return autograder.Graded(student, "m", [], 0.0, [])

    monkeypatch.setattr(autograder, "grade", grade)
    subs: list[tuple[str, Path, datetime | None]] = [
        ("slow", tmp_path, None),
        ("fast", tmp_path, None),
    ]

    graded = autograder.grade_class(
        subs,
        REPO / "course" / "3-evaluation",
        2,
        on_graded=lambda g: finished.append(g.student),
    )

    assert finished == ["fast", "slow"]
    assert [g.student for g in graded] == ["slow", "fast"]  # the class's order
