"""A submission's private copy: unpacked in the fence, bounded, always removed."""

from __future__ import annotations

import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from mlopslab.course.copies import DISK_BYTES, private_copy
from mlopslab.course.sandbox import Sandbox, bwrap_works


@pytest.mark.slow  # a bundle unpacks in the sandbox
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
        with private_copy(path) as copy:
            reasons[path.name] = str(copy.problem)
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


@pytest.mark.slow  # a bundle unpacks in the sandbox
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
    with private_copy(bundle) as copy:
        assert copy.problem is None
        folder = copy.folder
        assert (folder / "src" / "mlopslab" / "__init__.py").read_text() == "x = 1\n"
        assert (folder / "p" / "p" / "deep.txt").read_text() == "deep"
        assert not (folder / ".git").exists()
        assert not (folder / ".incoming").exists()
    assert not copy.folder.exists() and copy.alarm is None


def test_a_zip_of_one_folder_is_lifted_even_with_its_own_name_inside(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "bo.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("proj/src/mlopslab/__init__.py", "")
        zipped.writestr("proj/proj/notes.txt", "mine")
    with private_copy(archive) as copy:
        assert copy.problem is None
        assert (copy.folder / "proj" / "notes.txt").read_text() == "mine"


def test_a_folder_too_deep_for_python_is_still_removed(tmp_path: Path) -> None:
    submission = tmp_path / "deep"
    (submission / "src" / "mlopslab").mkdir(parents=True)
    (submission / "src" / "mlopslab" / "__init__.py").write_text("")
    with private_copy(submission) as copy:
        assert copy.problem is None
        # Deeper than shutil.rmtree's recursion limit, and unreadable at the end.
        subprocess.run(
            "for i in $(seq 1500); do mkdir d && cd d || exit 1; done; chmod 0 .",
            shell=True,
            cwd=copy.folder,
            check=True,
        )
    assert not copy.folder.parent.exists()
    assert copy.alarm is None


@pytest.mark.skipif(os.geteuid() != 0, reason="a sized tmpfs needs root")
def test_each_copy_has_a_disk_of_its_own(tmp_path: Path) -> None:
    submission = tmp_path / "ana"
    (submission / "src" / "mlopslab").mkdir(parents=True)
    (submission / "src" / "mlopslab" / "__init__.py").write_text("")
    with private_copy(submission) as copy:
        assert copy.mounted and "(tmpfs)" in copy.disk_fence
        disk = os.statvfs(copy.folder)
        assert disk.f_blocks * disk.f_frsize == DISK_BYTES
        assert disk.f_files > 0 and disk.f_files < 10**6  # an inode cap too
    assert not copy.folder.parent.exists()


def git_bomb(tmp_path: Path, copies: int) -> Path:
    """A small bundle whose tree is `copies` entries of one 1 MB blob."""
    repo = tmp_path / "bomb"
    (repo / "src" / "mlopslab").mkdir(parents=True)
    (repo / "src" / "mlopslab" / "__init__.py").write_text("")
    (repo / "blob").write_bytes(b"\0" * 2**20)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    blob = subprocess.run(
        ["git", "-C", str(repo), "hash-object", "blob"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    listing = "".join(f"100644 blob {blob}\tb{i}\n" for i in range(copies))
    subprocess.run(
        ["git", "-C", str(repo), "update-index", "--index-info"],
        input=listing.replace("\tb", "\tbig/b"),
        text=True,
        check=True,
    )
    git(repo, "commit", "-qm", "bomb")
    bundle = tmp_path / "bomb.bundle"
    git(repo, "bundle", "create", "-q", str(bundle), "HEAD")
    return bundle


@pytest.mark.slow
@pytest.mark.skipif(not bwrap_works(), reason="the bundle unpacks in the sandbox")
def test_a_git_bomb_is_cut_at_the_size_limit_inside_the_fence(tmp_path: Path) -> None:
    bundle = git_bomb(tmp_path, copies=260)  # a 260 MB tree from a small file
    assert bundle.stat().st_size < 2**20
    with private_copy(bundle) as copy:
        assert "tree is larger than" in str(copy.problem)
    assert not copy.folder.parent.exists()
    assert Sandbox(tmp_path).isolation  # the fence it ran in is the graders'


def test_copies_a_killed_grader_left_are_swept(tmp_path: Path) -> None:
    from mlopslab.course import copies

    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is free now: a grader that died
    stale = Path(tempfile.gettempdir()) / f"{copies.PREFIX}{dead.pid}-abc"
    (stale / "submission" / "deep").mkdir(parents=True)
    mine = Path(tempfile.gettempdir()) / f"{copies.PREFIX}{os.getpid()}-live"
    mine.mkdir()  # a live grader's (this one's): kept
    copies._sweep_once.cache_clear()
    submission = tmp_path / "ana"
    submission.mkdir()
    with private_copy(submission):
        pass
    assert not stale.exists() and mine.exists()
    mine.rmdir()
