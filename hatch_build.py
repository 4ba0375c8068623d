"""Wheel build hook: the course ships in the package, minus what grades students.

Students read everything shipped to them, so the wheel carries only the public
part of `course/`: lessons, assignment READMEs and public checks, templates,
the glossary. Left out: every `instructor/` folder (hidden checks, solutions,
sample submissions) and every `quiz.yaml` (answer keys and explanations). The
course's README is the students' guide (`STUDENT_README.md`, shipped as
`README.md`), as in `course export --student`; the authors' is not shipped.

hatchling's `force-include` is exempt from every exclude rule, so the public
files are force-included here one by one. This runs in the build environment,
where only hatchling is installed: standard library only.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TARGET = "mlopslab/_course"
WITHHELD_PARTS = {"instructor", "__pycache__"}
WITHHELD_NAMES = {"quiz.yaml"}
# Top-level files of `course/`: in the wheel, the students' README is README.md.
RENAMED = {"STUDENT_README.md": "README.md", "README.md": None}
# Must match mlopslab.course.content.WITHHELD_NOTE (this hook cannot import it):
# its presence tells the course loader that quiz keys are withheld on purpose.
WITHHELD_NOTE = "WITHHELD.md"
NOTE_TEXT = """\
# Withheld from this copy

Quiz keys and explanations, hidden checks, reference solutions and sample
submissions stay with the instructor. Take quizzes on the course server
(`mlopslab course quiz MODULE --server URL`) and submit assignments there.
"""


def public_course_files(course: Path) -> list[Path]:
    """Every file under `course` that students may read, relative to it."""
    found = []
    for path in sorted(course.rglob("*")):
        relative = path.relative_to(course)
        if not path.is_file() or _withheld(relative):
            continue
        found.append(relative)
    return found


def shipped_name(relative: Path) -> str | None:
    """Where a public course file goes in the wheel's course (None: not shipped)."""
    name = relative.as_posix()
    return RENAMED.get(name, name)


def _withheld(relative: Path) -> bool:
    if WITHHELD_PARTS.intersection(relative.parts):
        return True
    # Dotfiles are never course content (editor and OS droppings).
    hidden = any(part.startswith(".") for part in relative.parts)
    return hidden or relative.name in WITHHELD_NAMES or relative.suffix == ".pyc"


class CustomBuildHook(BuildHookInterface):
    """Force-include the public course files, and the note saying what is not."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        course = Path(self.root) / "course"
        for relative in public_course_files(course):
            shipped = shipped_name(relative)
            if shipped is not None:
                target = f"{TARGET}/{shipped}"
                build_data["force_include"][str(course / relative)] = target
        self._scratch = Path(tempfile.mkdtemp(prefix="mlopslab-build-"))
        note = self._scratch / WITHHELD_NOTE
        note.write_text(NOTE_TEXT, encoding="utf-8")
        build_data["force_include"][str(note)] = f"{TARGET}/{WITHHELD_NOTE}"

    def finalize(
        self, version: str, build_data: dict[str, Any], artifact_path: str
    ) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)
