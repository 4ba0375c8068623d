"""The learners' copy of the course: everything but what grades them.

Left out: each module's `instructor/` folder (hidden checks, reference
solutions, sample submissions) and its `quiz.yaml` (answer keys and
explanations). In place of the quiz file each module gets `quiz.md`, the
questions as the course site shows them: no keys, options in alphabetical
order. Public checks stay, so `mlopslab course check` works from the bundle,
and `WITHHELD.md` says what is left out (so the bundle loads as a course whose
quiz keys are withheld on purpose). Its README is the students' guide
(`STUDENT_README.md`), not the authors' (`README.md`, which describes the
instructor's files). `course release` puts the same copy in the students'
starting repository.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mlopslab.course.content import WITHHELD_NOTE, Course
from mlopslab.course.site import quiz_page
from mlopslab.errors import CourseError

MARKER = ".mlopslab-student-bundle"
WITHHELD = {"instructor", "quiz.yaml", "__pycache__"}
# The course folder's README for students; hatch_build.py ships it the same way.
STUDENT_README = "STUDENT_README.md"
# hatch_build.py writes the same note into the wheel's copy.
NOTE_TEXT = """\
# Withheld from this copy

Quiz keys and explanations, hidden checks, reference solutions and sample
submissions stay with the instructor. Take quizzes on the course server
(`mlopslab course quiz MODULE --server URL`) and submit assignments there.
"""


def export_student(course: Course, root: Path, out: Path) -> int:
    """Write the bundle to `out` (whole or not at all); return the files written."""
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file", "choose an empty or new folder")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise CourseError(
            f"{out} exists and is not a student bundle",
            "choose an empty or new folder",
        )
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    try:
        copy_public_course(course, root, staging)
        (staging / MARKER).write_text("written by mlopslab course export --student\n")
        count = sum(1 for p in staging.rglob("*") if p.is_file())
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


def copy_public_course(course: Course, root: Path, staging: Path) -> None:
    """Write the learners' copy of `course` (read from `root`) into `staging`."""
    for name in ("course.yaml", "glossary.yaml", "capstone.md"):
        if (root / name).is_file():
            shutil.copy2(root / name, staging / name)
    if (root / STUDENT_README).is_file():
        shutil.copy2(root / STUDENT_README, staging / "README.md")
    for module in course.modules:
        target = staging / module.folder.name
        shutil.copytree(
            module.folder,
            target,
            ignore=lambda _folder, names: [n for n in names if n in WITHHELD],
        )
        page = quiz_page(module, where="--server URL")  # no keys here to take it
        (target / "quiz.md").write_text(page + "\n", encoding="utf-8")
    (staging / WITHHELD_NOTE).write_text(NOTE_TEXT, encoding="utf-8")
