"""The gradebook: quiz and assignment attempts and lesson views, in SQLite.

One file in the workspace (`gradebook.db`). The autograder and a future course
server write through the same small interface: `record_attempt`,
`record_view`, `attempts` and `standing`. Open it as a context manager,
`with Gradebook(path) as book:`, so its connection is closed however the block
ends.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from mlopslab.errors import StoreError

Kind = Literal["quiz", "assignment"]
Policy = Literal["best", "last"]
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    module TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('quiz', 'assignment')),
    variant_seed INTEGER,
    demo TEXT,                    -- a quiz on one demo only: not the module's score
    answers TEXT NOT NULL,        -- JSON: question id -> given answer
    details TEXT NOT NULL,        -- JSON: question id -> points
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts (student, module, kind);
CREATE TABLE IF NOT EXISTS lesson_views (
    student TEXT NOT NULL,
    module TEXT NOT NULL,
    first_opened REAL NOT NULL,
    last_opened REAL NOT NULL,
    PRIMARY KEY (student, module)
);
"""


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
    """One connection to the gradebook; `with Gradebook(path) as book:` closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise _cannot_open(path, exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise _cannot_open(path, exc) from exc
        except StoreError:
            self._db.close()
            raise

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
        self._db.close()

    def record_attempt(self, attempt: Attempt) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO attempts (student, module, kind, variant_seed, demo,"
                " answers, details, score, max_score, started_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt.student,
                    attempt.module,
                    attempt.kind,
                    attempt.variant_seed,
                    attempt.demo,
                    json.dumps(attempt.answers),
                    json.dumps(attempt.details),
                    attempt.score,
                    attempt.max_score,
                    attempt.started_at,
                    attempt.finished_at,
                ),
            )
        return int(cursor.lastrowid or 0)

    def record_view(self, student: str, module: str) -> None:
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT INTO lesson_views VALUES (?, ?, ?, ?) ON CONFLICT (student,"
                " module) DO UPDATE SET last_opened = excluded.last_opened",
                (student, module, now, now),
            )

    def attempts(
        self,
        student: str | None = None,
        module: str | None = None,
        kind: Kind | None = None,
    ) -> list[Attempt]:
        """Attempts, oldest first, filtered by whatever is given."""
        clauses, args = [], []
        for column, value in (("student", student), ("module", module), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            "SELECT id, student, module, kind, variant_seed, demo, answers, details,"
            f" score, max_score, started_at, finished_at FROM attempts{where}"
            " ORDER BY id",
            args,
        ).fetchall()
        return [_attempt(row) for row in rows]

    def standing(
        self, student: str, modules: list[str], policy: Policy
    ) -> list[Standing]:
        """Per module: lesson opened, and the quiz and assignment attempt counted."""
        opened = {
            module
            for (module,) in self._db.execute(
                "SELECT module FROM lesson_views WHERE student = ?", (student,)
            )
        }
        attempts = self.attempts(student)
        result = []
        for module in modules:
            quizzes = [
                a
                for a in attempts
                if a.module == module and a.kind == "quiz" and a.demo is None
            ]
            tasks = [
                a for a in attempts if a.module == module and a.kind == "assignment"
            ]
            result.append(
                Standing(
                    module,
                    module in opened,
                    counted(quizzes, policy),
                    counted(tasks, policy),
                    len(quizzes),
                )
            )
        return result

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the gradebook {self.path} is from a newer mlopslab",
                "upgrade mlopslab",
            )
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _cannot_open(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    return StoreError(
        f"cannot open the gradebook {path}: {exc}",
        "move the damaged file aside; a new one is created",
    )


def counted(attempts: list[Attempt], policy: Policy) -> Attempt | None:
    """The attempt that counts: the best score (earliest of ties) or the last."""
    if not attempts:
        return None
    if policy == "last":
        return attempts[-1]
    return max(attempts, key=lambda a: (a.percent, -(a.id or 0)))


def _attempt(row: tuple[Any, ...]) -> Attempt:
    (
        id_,
        student,
        module,
        kind,
        seed,
        demo,
        answers,
        details,
        score,
        max_score,
        started,
        finished,
    ) = row
    return Attempt(
        student=student,
        module=module,
        kind=kind,
        score=score,
        max_score=max_score,
        answers=json.loads(answers),
        details=json.loads(details),
        variant_seed=seed,
        demo=demo,
        started_at=started,
        finished_at=finished,
        id=id_,
    )
