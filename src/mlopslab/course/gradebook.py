"""The gradebook: quiz and assignment attempts and lesson views.

It is the class database (`mlopslab.course.classroom`): the course server, its
grading workers and the CLI's `course grade`, `course gradebook` and
`course progress` all read and write it through this small interface:
`record_attempt`, `record_view`, `attempts` and `standing`. Open it as a
context manager, `with Gradebook(database) as book:`, so its connection is
closed however the block ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from django.db import DatabaseError, connections, transaction

from mlopslab.course.classroom.database import database_url, unreachable, use_database

Kind = Literal["quiz", "assignment"]
Policy = Literal["best", "last"]


@dataclass(frozen=True)
class Attempt:
    student: str
    module: str
    kind: Kind
    score: float
    max_score: float
    answers: dict[str, Any] = field(default_factory=dict)
    details: dict[str, float] = field(default_factory=dict)
    variant_seed: int | None = None
    demo: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float = field(default_factory=time.time)
    id: int | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class Standing:
    """One student's state in one module."""

    module: str
    opened: bool
    quiz: Attempt | None
    assignment: Attempt | None
    quiz_attempts: int


class Gradebook:
    """The class database; `with Gradebook(url_or_sqlite_path) as book:`."""

    def __init__(self, database: str | Path | None = None, home: Path | None = None):
        """Open `database` (a URL or an SQLite path); None: the one in use."""
        if database is None:
            return
        if home is None:
            home = Path(database).parent if "://" not in str(database) else Path()
        use_database(database_url(database), home)

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        connections.close_all()

    def record_attempt(self, attempt: Attempt) -> int:
        from mlopslab.course.classroom.models import Attempt as Row

        with _guarded():
            row = Row.objects.create(
                student=attempt.student,
                module=attempt.module,
                kind=attempt.kind,
                variant_seed=attempt.variant_seed,
                demo=attempt.demo,
                answers=attempt.answers,
                details=attempt.details,
                score=attempt.score,
                max_score=attempt.max_score,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
            )
        return int(row.pk)

    def record_view(self, student: str, module: str) -> None:
        record_view(student, module)

    def attempts(
        self,
        student: str | None = None,
        module: str | None = None,
        kind: Kind | None = None,
    ) -> list[Attempt]:
        """Attempts, oldest first, filtered by whatever is given."""
        from mlopslab.course.classroom.models import Attempt as Row

        wanted = {"student": student, "module": module, "kind": kind}
        rows = Row.objects.filter(**{k: v for k, v in wanted.items() if v is not None})
        with _guarded():
            return [_attempt(row) for row in rows.order_by("id")]

    def standing(
        self, student: str, modules: list[str], policy: Policy
    ) -> list[Standing]:
        """Per module: lesson opened, and the quiz and assignment attempt counted."""
        from mlopslab.course.classroom.models import LessonView

        with _guarded():
            opened = set(
                LessonView.objects.filter(student=student).values_list(
                    "module", flat=True
                )
            )
        attempts = self.attempts(student)
        return [
            _standing(module, module in opened, attempts, policy) for module in modules
        ]


def record_view(student: str, module: str) -> None:
    """A lesson opened: the first and the last time count."""
    from mlopslab.course.classroom.models import LessonView

    now = time.time()
    with _guarded(), transaction.atomic():
        view, made = LessonView.objects.get_or_create(
            student=student,
            module=module,
            defaults={"first_opened": now, "last_opened": now},
        )
        if not made:
            LessonView.objects.filter(pk=view.pk).update(last_opened=now)


def _standing(
    module: str, opened: bool, attempts: list[Attempt], policy: Policy
) -> Standing:
    quizzes = [
        a
        for a in attempts
        if a.module == module and a.kind == "quiz" and a.demo is None
    ]
    tasks = [a for a in attempts if a.module == module and a.kind == "assignment"]
    return Standing(
        module, opened, counted(quizzes, policy), counted(tasks, "last"), len(quizzes)
    )


@contextmanager
def _guarded() -> Iterator[None]:
    """Database trouble (locked, unreachable) as the one-line StoreError."""
    try:
        yield
    except DatabaseError as exc:
        raise unreachable(exc) from exc


def counted_item(kind: Kind, attempts: list[Attempt], policy: Policy) -> Attempt | None:
    """The attempt that counts for a quiz (by `policy`) or an assignment: its
    last graded hand-in, so that a regrade replaces the score, lower or not."""
    return counted(attempts, policy if kind == "quiz" else "last")


def counted(attempts: list[Attempt], policy: Policy) -> Attempt | None:
    """The attempt that counts: the best score (earliest of ties) or the last."""
    if not attempts:
        return None
    if policy == "last":
        return attempts[-1]
    return max(attempts, key=lambda a: (a.percent, -(a.id or 0)))


def _attempt(row: Any) -> Attempt:
    return Attempt(
        student=row.student,
        module=row.module,
        kind=row.kind,
        score=row.score,
        max_score=row.max_score,
        answers=row.answers,
        details=row.details,
        variant_seed=row.variant_seed,
        demo=row.demo,
        started_at=row.started_at,
        finished_at=row.finished_at,
        id=row.pk,
    )
