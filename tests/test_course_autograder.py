"""Submissions in, late policy applied: the autograder's bookkeeping."""

from __future__ import annotations

import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlopslab.course.autograder import Policy, _unpacked, find_submissions
from mlopslab.errors import CourseError

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


def test_malformed_submissions_are_ungradable_not_crashes(tmp_path: Path) -> None:
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as archive:
        archive.writestr("../../escaped.py", "print('out')")
    empty = tmp_path / "empty"
    empty.mkdir()
    bundle = tmp_path / "bad.bundle"
    bundle.write_text("not a bundle")
    nothing = tmp_path / "nothing.zip"
    zipfile.ZipFile(nothing, "w").close()
    reasons = {}
    for path in (slip, empty, bundle, nothing, tmp_path / "notes.txt"):
        with _unpacked(path) as (_, problem):
            reasons[path.name] = str(problem)
    assert reasons["slip.zip"] == "the archive writes outside itself: ../../escaped.py"
    assert reasons["empty"].startswith("no src/mlopslab/__init__.py")
    assert reasons["bad.bundle"].startswith("bad.bundle is not a usable git bundle")
    assert reasons["notes.txt"].startswith("notes.txt is not a folder, a .zip")
    assert reasons["nothing.zip"].startswith("no src/mlopslab/__init__.py")
    assert not (tmp_path.parent / "escaped.py").exists()


def git(folder: Path, *args: str) -> None:
    who = ["-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(
        ["git", *who, "-C", str(folder), *args], check=True, capture_output=True
    )


def test_a_bundle_is_read_without_a_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "mlopslab").mkdir(parents=True)
    (repo / "src" / "mlopslab" / "__init__.py").write_text("x = 1\n")
    (repo / "p" / "p").mkdir(parents=True)
    (repo / "p" / "p" / "deep.txt").write_text("deep")
    # A filter that would run a program on checkout: git archive never runs it.
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    bundle = tmp_path / "ana.bundle"
    git(repo, "bundle", "create", "-q", str(bundle), "HEAD")
    with _unpacked(bundle) as (copy, problem):
        assert problem is None
        assert (copy / "src" / "mlopslab" / "__init__.py").read_text() == "x = 1\n"
        assert (copy / "p" / "p" / "deep.txt").read_text() == "deep"
        assert not (copy / ".git").exists()


def test_a_zip_of_one_folder_is_lifted_even_with_its_own_name_inside(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "bo.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("proj/src/mlopslab/__init__.py", "")
        zipped.writestr("proj/proj/notes.txt", "mine")
    with _unpacked(archive) as (copy, problem):
        assert problem is None
        assert (copy / "proj" / "notes.txt").read_text() == "mine"
