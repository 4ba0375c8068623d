"""The students' starting repository: this project, minus what grades them.

`mlopslab course release --out DIR` writes every file of the last commit of
the instructor's checkout (the one holding the course), except:

- the course folder, replaced by its public copy (`bundle.py`): no
  `instructor/` folders, no `quiz.yaml`; each module's questions, without
  keys, in `quiz.md`, and `WITHHELD.md` saying what is left out;
- the course's own tests (paths under `tests/` that name the course): they
  answer the quizzes, grade the sample submissions and read instructor folders;
- `README.md`, replaced by the students' README (the project's own moves to
  `docs/manual.md`); the course folder's README is the students' guide too
  (`bundle.py`).

The last commit only, so nothing untracked (workspaces, notes, caches) leaks
and what is released is what the authors committed, not half an edit.
Then a fresh `git init` and one commit: none of the authors' history. It is
written into a folder next to DIR and renamed at the end, so a failure leaves
nothing half-written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlopslab.course.bundle import copy_public_course
from mlopslab.course.content import Course, load_course
from mlopslab.errors import CourseError

MANUAL = "docs/manual.md"
# Git as a plain tool: no hooks, templates, signing or identity of the host's.
GIT_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "user.name=mlopslab course release",
    "-c",
    "user.email=course-release@mlopslab.invalid",
)


@dataclass(frozen=True)
class Release:
    out: Path
    files: int
    commit: str  # the fresh repository's one commit
    source: str  # the instructor's commit it was released from


def write_release(course_root: Path, out: Path) -> Release:
    """Write the students' repository to `out` (new or empty), whole or not at all.

    It is made from the last commit of the checkout holding `course_root`, never
    from uncommitted or untracked files: a release is what the authors committed.
    """
    _check_destination(out)
    checkout = _checkout(course_root)
    course_dir = course_root.resolve().relative_to(checkout)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-release-", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="mlopslab-release-") as scratch:
            head = Path(scratch) / "head"
            source = _export_head(checkout, head)
            course = load_course(head / course_dir)
            _copy_code(head, course_dir.as_posix(), staging)
            (staging / "course").mkdir()
            copy_public_course(course, course.root, staging / "course")
            _write_readmes(course, head, staging)
        files = sum(1 for path in staging.rglob("*") if path.is_file())
        commit = _commit(staging)
        staging.chmod(0o755)  # mkdtemp's is 0700: the folder is to be shared
        if out.exists():
            out.rmdir()  # checked empty above; a rename needs it gone
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Release(out, files, commit, source)


def _check_destination(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file", "choose a new or empty folder for --out")
    if out.is_dir() and any(out.iterdir()):
        raise CourseError(
            f"{out} is not empty", "choose a new or empty folder for --out"
        )


def _checkout(course_root: Path) -> Path:
    """The git checkout of mlopslab that holds the course."""
    found = _git(course_root, "rev-parse", "--show-toplevel", check=False)
    top = Path(found.stdout.strip()) if found.returncode == 0 else None
    if top is None or not (top / "pyproject.toml").is_file():
        raise CourseError(
            f"the course at {course_root} is not inside a git checkout of mlopslab",
            "run `course release` in the instructor's checkout (or pass --course)",
        )
    return top.resolve()


def _export_head(checkout: Path, into: Path) -> str:
    """The tracked files of HEAD, unpacked into `into`; returns HEAD's id."""
    commit = _git(checkout, "rev-parse", "--verify", "HEAD").stdout.strip()
    archive = into.parent / "head.tar"
    _git(checkout, "archive", "--format=tar", f"--output={archive}", commit)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")  # no links or paths out of `into`
    return commit


def _copy_code(head: Path, course_dir: str, staging: Path) -> None:
    for source in sorted(head.rglob("*")):
        name = source.relative_to(head).as_posix()
        if source.is_dir() or _withheld(name, course_dir):
            continue
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def _withheld(name: str, course_dir: str) -> bool:
    """Replaced (the course, the README) or instructor-only (the course's tests)."""
    if name == "README.md" or name.startswith((f"{course_dir}/", "course/")):
        return True
    return name.startswith("tests/") and "course" in name


def _write_readmes(course: Course, checkout: Path, staging: Path) -> None:
    project = (checkout / "README.md").read_text(encoding="utf-8")
    (staging / MANUAL).parent.mkdir(exist_ok=True)
    (staging / MANUAL).write_text(_moved_to_docs(project), encoding="utf-8")
    (staging / "README.md").write_text(student_readme(course), encoding="utf-8")


def _moved_to_docs(markdown: str) -> str:
    """The project README's relative links, as seen from `docs/`."""

    def moved(link: re.Match[str]) -> str:
        target = link.group(1)
        if target.startswith("docs/"):
            return f"]({target.removeprefix('docs/')}"
        return f"](../{target}"

    return re.sub(r"\]\((?![a-z]+:|#|/)([^)]*)", moved, markdown)


def student_readme(course: Course) -> str:
    """How students install, work through the modules, submit and take quizzes."""
    modules = [
        f"| `{m.id}` | {m.meta.title} | {'core' if m.core else 'optional'} "
        f"| {m.meta.estimated_minutes} min |"
        for m in course.modules
    ]
    return STUDENT_README.format(
        title=course.title,
        modules="\n".join(modules),
        first=course.modules[0].id,
        manual=MANUAL,
    )


STUDENT_README = """\
# {title}

Your copy of mlopslab, the project this course is built on. You change this
code in the assignments; commit your work as you go.

## Install

    make test-fast    # makes .venv from uv.lock (needs python3), runs the unit tests
    make run          # the whole lifecycle once, in ./.mlopslab

Then use `.venv/bin/mlopslab` (or activate `.venv`). The lab's full manual is
[{manual}]({manual}).

## Work through the modules

| module | title | | time |
|---|---|---|---|
{modules}

For each module, in order:

1. Read the lesson: `mlopslab course show {first}` (or `course/{first}/lesson.md`),
   and run its commands.
2. Do the assignment in `course/MODULE/assignment/README.md`, changing this
   repository's code. `mlopslab course check MODULE` runs the public checks on
   your copy; more checks run when your work is graded.
3. Take the quiz on the course server. Its questions, without answers, are in
   `course/MODULE/quiz.md`.

A MODULE is its id or its number (`mlopslab course show 3`).
`mlopslab course glossary TERM` looks up the course's vocabulary, and
`mlopslab course site` builds the lessons as a website you open from disk.
[course/README.md](course/README.md) has every course command you need.

## Submit and take quizzes

Your instructor gives you the course server's address (URL), a login for its
web pages (your modules, lessons, quizzes, hand-ins and grades) and a token for
the terminal:

    mlopslab course submit MODULE --server URL --token TOKEN   # hand in your commits
    mlopslab course quiz MODULE --server URL --token TOKEN     # the graded quiz

Set `MLOPSLAB_COURSE__SERVER` and `MLOPSLAB_COURSE__TOKEN` once instead of the
flags. Each quiz answer is final when sent; its key and explanation come then.

Quiz answers, hidden checks and reference solutions are not in this repository
(see `course/WITHHELD.md`): the server scores quizzes and grades submissions.
"""


def _commit(staging: Path) -> str:
    """A fresh repository with one commit of everything in `staging`."""
    _git(staging, "init", "--quiet", "--template=", "--initial-branch=main")
    _git(staging, "add", "--all")
    _git(staging, "commit", "--quiet", "--no-verify", "-m", "Course starting point")
    return _git(staging, "rev-parse", "HEAD").stdout.strip()


def _git(
    where: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # The caller's GIT_DIR or GIT_INDEX_FILE must not point these runs elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", *GIT_CONFIG, "-C", str(where), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CourseError(f"git did not run: {exc}", "install git") from exc
    if check and done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CourseError(f"git {args[0]} failed: {reason}", "see git's message")
    return done
