"""A student's standing per module, in as few queries as a page can afford."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from mlopslab.course.classroom.models import (
    Attempt,
    Extension,
    LessonView,
    Submission,
)
from mlopslab.course.gradebook import Attempt as Scored
from mlopslab.course.gradebook import Policy, counted
from mlopslab.course.server.syllabus import Unit, units


@dataclass(frozen=True)
class Cell:
    """One student in one module: what the home page and the grid show."""

    module: Unit
    due: datetime | None
    opened: bool
    quiz: Scored | None
    quiz_attempts: int
    assignment: Scored | None
    latest: Submission | None
    demos_done: int

    @property
    def days_late(self) -> int:
        return self.latest.days_late if self.latest else 0


def cells(students: list[str], policy: Policy) -> dict[str, list[Cell]]:
    """Every student's row of cells, from four queries whatever the class size."""
    opened = set(
        LessonView.objects.filter(student__in=students).values_list("student", "module")
    )
    attempts: dict[tuple[str, str], list[Scored]] = defaultdict(list)
    for row in Attempt.objects.filter(student__in=students).order_by("id"):
        attempts[(row.student, row.module)].append(_scored(row))
    latest: dict[tuple[str, str], Submission] = {}
    for sub in Submission.objects.filter(student__in=students).order_by("id"):
        latest[(sub.student, sub.module)] = sub
    extensions = {
        (e.student, e.module): e.due
        for e in Extension.objects.filter(student__in=students)
    }
    return {
        student: [
            _cell(student, unit, opened, attempts, latest, extensions, policy)
            for unit in units()
        ]
        for student in students
    }


def _cell(
    student: str,
    unit: Unit,
    opened: set[tuple[str, str]],
    attempts: dict[tuple[str, str], list[Scored]],
    latest: dict[tuple[str, str], Submission],
    extensions: dict[tuple[str, str], datetime],
    policy: Policy,
) -> Cell:
    mine = attempts.get((student, unit.id), [])
    quizzes = [a for a in mine if a.kind == "quiz" and a.demo is None]
    tasks = [a for a in mine if a.kind == "assignment"]
    demos = {a.demo for a in mine if a.kind == "quiz" and a.demo}
    return Cell(
        module=unit,
        due=extensions.get((student, unit.id), unit.due),
        opened=(student, unit.id) in opened,
        quiz=counted(quizzes, policy),
        quiz_attempts=len(quizzes),
        assignment=counted(tasks, "last"),
        latest=latest.get((student, unit.id)),
        demos_done=len(demos & set(unit.demos)),
    )


def participation(row: list[Cell]) -> tuple[int, int]:
    """(demo quizzes taken, demo quizzes in the course)."""
    return sum(c.demos_done for c in row), sum(len(c.module.demos) for c in row)


def _scored(row: Attempt) -> Scored:
    return Scored(
        student=row.student,
        module=row.module,
        kind=row.kind,
        score=row.score,
        max_score=row.max_score,
        demo=row.demo,
        id=row.pk,
    )
