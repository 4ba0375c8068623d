"""Due dates per student (extensions win) and what lateness costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlopslab.course.classroom.models import Extension
from mlopslab.course.server.syllabus import Unit


@dataclass(frozen=True)
class Lateness:
    days: int
    kept: float
    due: datetime | None

    def sentence(self) -> str:
        if self.days == 0:
            return "on time"
        if self.kept == 0:
            return f"{self.days} day(s) late, past the late limit: it scores 0"
        return f"{self.days} day(s) late: {self.kept:.0%} of its score is kept"


def due_for(student: str, module: Unit) -> datetime | None:
    """The module's due date for this student: an extension wins."""
    extension = Extension.objects.filter(student=student, module=module.id).first()
    return extension.due if extension else module.due


def lateness(student: str, module: Unit, when: datetime) -> Lateness:
    if module.policy is None:
        return Lateness(0, 1.0, None)
    due = due_for(student, module)
    days, kept = module.policy.model_copy(update={"due": due}).multiplier(when)
    return Lateness(days, kept, due)
