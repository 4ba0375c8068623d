"""A submission's private copy: unpacked inside the fence, within a budget.

Each submission is unpacked into a folder of its own. When the grader is root
that folder is a tmpfs of DISK_BYTES and INODES files, so a submission that
fills its disk fills only its own, and removing the copy is one `umount`,
which no folder depth or file mode can make fail. Without root the folder is
plain and goes with `rm -rf` (which, unlike Python's `shutil.rmtree`, does
not recurse on the stack). A copy that cannot be removed is the class's
problem, not the student's: `Copy.alarm` says so, and the grade stands.

A git bundle is cloned and archived inside the sandbox, under its limits, and
its tree is cut at SUBMISSION_LIMIT bytes while it streams.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlopslab.course.sandbox import Limits, Sandbox
from mlopslab.errors import CourseError

SUBMISSION_LIMIT = 200 * 2**20  # bytes, unpacked
DISK_BYTES = 2 * 2**30  # each submission's disk: its files and what it writes
INODES = 200_000  # and its number of files and folders
SKIPPED = {".git", ".venv", ".mlopslab", "__pycache__", "node_modules", ".mypy_cache"}
PREFIX = "mlopslab-grade-"  # then the grader's pid: a dead grader's copies go
_UNPACK_LIMITS = Limits(cpu_seconds=120, file_bytes=SUBMISSION_LIMIT + 1)


class Ungradable(CourseError):
    """The submission cannot be graded; the message says why, for the learner.

    The grader catches it and scores the submission "ungradable" with this
    message; it never ends a class's grading.
    """


@dataclass
class Copy:
    """Where a submission was unpacked, and what went wrong, if anything."""

    folder: Path
    problem: Ungradable | None = None
    alarm: str | None = None  # set when the copy could not be removed
    mounted: bool = False  # on a tmpfs of its own

    @property
    def disk_fence(self) -> str:
        """What bounded this copy's disk, for the results' list of fences."""
        if self.mounted:
            return f"disk at most {DISK_BYTES / 2**30:g} GiB and {INODES} files (tmpfs)"
        return "disk NOT bounded per submission (no tmpfs: it needs root)"


@contextmanager
def private_copy(submission: Path, hidden: tuple[Path, ...] = ()) -> Iterator[Copy]:
    """Unpack `submission` into a budgeted folder; remove it after, whatever happens."""
    _sweep_once()
    scratch = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    copy = Copy(scratch / "submission", mounted=_mount(scratch))
    try:
        try:
            _unpack(submission, copy.folder, hidden)
            _check_layout(copy.folder)
        except Ungradable as reason:
            copy.problem = reason
        except (OSError, ValueError, RuntimeError, zlib.error, shutil.Error) as exc:
            copy.problem = Ungradable(f"{submission.name} cannot be unpacked ({exc})")
        yield copy
    finally:
        copy.alarm = _remove(scratch, copy.mounted)


@cache
def _sweep_once() -> None:
    """Remove the copies of graders that died before removing them (killed)."""
    for scratch in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = scratch.name.removeprefix(PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(scratch, os.path.ismount(scratch))  # what stays is ours no more


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mount(scratch: Path) -> bool:
    """A sized tmpfs on `scratch` when the grader may mount one (root)."""
    scratch.chmod(0o711)  # the sandbox's uid walks through, never lists
    if os.geteuid() != 0:
        return False
    options = f"size={DISK_BYTES},nr_inodes={INODES},mode=0711"
    command = ["mount", "-t", "tmpfs", "-o", options, "mlopslab-grade", str(scratch)]
    return subprocess.run(command, capture_output=True).returncode == 0


def _remove(scratch: Path, mounted: bool) -> str | None:
    """Remove a copy; the reason it could not be, if it could not."""
    if mounted:
        done = subprocess.run(["umount", str(scratch)], capture_output=True)
        if done.returncode != 0:  # a process still holds it: detach now
            done = subprocess.run(
                ["umount", "--lazy", str(scratch)], capture_output=True
            )
        if done.returncode != 0:
            return f"cannot unmount {scratch}: {done.stderr.decode().strip()}"
    subprocess.run(["chmod", "-R", "u+rwx", str(scratch)], capture_output=True)
    done = subprocess.run(
        ["rm", "-rf", "--one-file-system", str(scratch)], capture_output=True
    )
    if done.returncode != 0 or scratch.exists():
        return f"cannot remove {scratch}: {done.stderr.decode().strip()[-300:]}"
    return None


def _unpack(submission: Path, copy: Path, hidden: tuple[Path, ...]) -> None:
    if submission.is_dir() and not submission.is_symlink():
        _copy_tree(submission, copy)
    elif submission.suffix == ".zip":
        _unzip(submission, copy)
    elif submission.suffix == ".bundle":
        _clone_bundle(submission, copy, hidden)
    else:
        raise Ungradable(f"{submission.name} is not a folder, a .zip or a git .bundle")


def _copy_tree(source: Path, copy: Path) -> None:
    total = 0

    def skip(folder: str, names: list[str]) -> list[str]:
        nonlocal total
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        if total > SUBMISSION_LIMIT:
            raise Ungradable(f"the submission is larger than {SUBMISSION_LIMIT} bytes")
        return [n for n in names if n in SKIPPED]

    # symlinks=True copies links as links: nothing outside the submission is read.
    shutil.copytree(source, copy, symlinks=True, ignore=skip)


def _unzip(archive: Path, copy: Path) -> None:
    copy.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if sum(m.file_size for m in members) > SUBMISSION_LIMIT:
                raise Ungradable(
                    f"the archive unpacks to over {SUBMISSION_LIMIT} bytes"
                )
            for member in members:
                target = (copy / member.filename).resolve()
                if not target.is_relative_to(copy.resolve()):
                    raise Ungradable(
                        f"the archive writes outside itself: {member.filename}"
                    )
            zipped.extractall(copy)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise Ungradable(f"{archive.name} is not a readable zip ({exc})") from exc
    _lift_single_folder(copy)


# Runs in the sandbox, on the copy: clone without a checkout (no filters or
# hooks run), and the tree streamed through `head`, cut one byte past the limit.
# (git archive ends on SIGPIPE, 141, when head has cut it.)
_BUNDLE = f"""
set -e
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_LFS_SKIP_SMUDGE=1
git -c core.hooksPath=/dev/null clone --bare --quiet .incoming/in.bundle .incoming/git
git --git-dir .incoming/git archive --format=tar HEAD \\
  | head -c {SUBMISSION_LIMIT + 1} > .incoming/tree.tar
archived=${{PIPESTATUS[0]}}
[ "$archived" = 0 ] || [ "$archived" = 141 ]
"""
_UNTAR = "tar -x --no-same-owner --no-same-permissions -f .incoming/tree.tar"


def _clone_bundle(bundle: Path, copy: Path, hidden: tuple[Path, ...]) -> None:
    """The bundle's HEAD tree, unpacked by git and tar inside the sandbox."""
    if bundle.stat().st_size > SUBMISSION_LIMIT:
        raise Ungradable(f"{bundle.name} is larger than {SUBMISSION_LIMIT} bytes")
    incoming = copy / ".incoming"
    incoming.mkdir(parents=True)
    shutil.copyfile(bundle, incoming / "in.bundle")
    sandbox = Sandbox(copy, _UNPACK_LIMITS, hidden=hidden)
    cloned = sandbox.run(["bash", "-c", _BUNDLE], timeout=120)
    if cloned.code != 0:
        reason = cloned.stderr.strip().splitlines() or [cloned.describe()]
        raise Ungradable(f"{bundle.name} is not a usable git bundle ({reason[-1]})")
    if (incoming / "tree.tar").stat().st_size > SUBMISSION_LIMIT:
        raise Ungradable(
            f"{bundle.name}'s tree is larger than {SUBMISSION_LIMIT} bytes"
        )
    untarred = sandbox.run(["bash", "-c", _UNTAR], timeout=120)
    if untarred.code != 0:
        raise Ungradable(
            f"{bundle.name}'s tree does not unpack ({untarred.describe()})"
        )
    subprocess.run(["rm", "-rf", str(incoming)], check=True)


def _lift_single_folder(copy: Path) -> None:
    """A zip of `project/...` is graded as if it held the project's files."""
    entries = list(copy.iterdir())
    if len(entries) != 1 or (copy / "src").exists():
        return
    inner = entries[0]
    if inner.is_symlink() or not inner.is_dir():
        return
    inner = inner.rename(copy.with_name("lifted"))
    for child in inner.iterdir():
        child.rename(copy / child.name)
    inner.rmdir()


def _check_layout(copy: Path) -> None:
    init = copy / "src" / "mlopslab" / "__init__.py"
    if init.is_symlink() or not init.is_file():
        raise Ungradable("no src/mlopslab/__init__.py: submit the whole project folder")
