"""A student's standing per module, in as few queries as a page can afford."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from mlopslab.course.classroom.models import (
    Attempt,
    Extension,
    LessonView,
    Submission,
)
from mlopslab.course.gradebook import Policy
from mlopslab.course.server.syllabus import Unit, units


class Score(NamedTuple):
    """An attempt as a cell shows it (a light tuple: a class has thousands)."""

    pk: int
    kind: str
    demo: str | None
    score: float
    max_score: float

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


class Latest(NamedTuple):
    """A student's latest hand-in in a module, as the grid and home show it."""

    pk: int
    status: str
    days_late: int


class Cell(NamedTuple):
    """One student in one module: what the home page and the grid show."""

    module: Unit
    due: datetime | None
    opened: bool
    quiz: Score | None
    quiz_attempts: int
    assignment: Score | None
    latest: Latest | None
    demos_done: int

    @property
    def days_late(self) -> int:
        return self.latest.days_late if self.latest else 0


class _Tally:
    """One student's attempts in one module, summed up as they stream by."""

    __slots__ = ("assignment", "demos", "quiz", "quizzes")

    def __init__(self) -> None:
        self.quiz: Score | None = None
        self.quizzes = 0
        self.assignment: Score | None = None
        self.demos: set[str] = set()

    def add(self, score: Score, policy: Policy) -> None:
        if score.kind == "assignment":
            self.assignment = score  # rows come oldest first: the last counts
        elif score.demo:
            self.demos.add(score.demo)
        else:
            self.quizzes += 1
            if (
                self.quiz is None
                or policy == "last"
                or score.percent > self.quiz.percent
            ):
                self.quiz = score  # best (earliest of ties), as gradebook.counted


def cells(students: list[str], policy: Policy) -> dict[str, list[Cell]]:
    """Every student's row of cells, from four queries whatever the class size.

    Only the columns a cell shows are read, and each row is summed once: decoding
    every attempt's JSON, or a cell sifting all its attempts, was most of the
    grid's time in a class of 200.
    """
    opened = set(
        LessonView.objects.filter(student__in=students).values_list("student", "module")
    )
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    rows = Attempt.objects.filter(student__in=students).order_by("id")
    for pk, student, module, kind, demo, score, top in rows.values_list(
        "id", "student", "module", "kind", "demo", "score", "max_score"
    ):
        tallies[(student, module)].add(Score(pk, kind, demo, score, top), policy)
    latest: dict[tuple[str, str], Latest] = {}
    subs = Submission.objects.filter(student__in=students).order_by("id")
    for pk, student, module, status, late in subs.values_list(
        "id", "student", "module", "status", "days_late"
    ):
        latest[(student, module)] = Latest(pk, status, late)
    extensions = {
        (e.student, e.module): e.due
        for e in Extension.objects.filter(student__in=students)
    }
    empty = _Tally()
    return {
        student: [
            Cell(
                module=unit,
                due=extensions.get((student, unit.id), unit.due),
                opened=(student, unit.id) in opened,
                quiz=(tally := tallies.get((student, unit.id), empty)).quiz,
                quiz_attempts=tally.quizzes,
                assignment=tally.assignment,
                latest=latest.get((student, unit.id)),
                demos_done=len(tally.demos.intersection(unit.demos)),
            )
            for unit in units()
        ]
        for student in students
    }


def participation(row: list[Cell]) -> tuple[int, int]:
    """(demo quizzes taken, demo quizzes in the course)."""
    return sum(c.demos_done for c in row), sum(len(c.module.demos) for c in row)
