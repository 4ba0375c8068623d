"""The capture store on PostgreSQL, for a class or a team sharing one database.

The same interface as `SQLiteCaptureStore`; selected with `--capture-url
postgresql://...`. The tool creates and migrates its own tables: versioned
migrations run under an advisory lock, so two servers starting at once do not
race.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from mlopslab.errors import StoreError, first_line
from mlopslab.stores.capture.record import CaptureRecord

T = TypeVar("T")
MIGRATION_LOCK = 0x6D6C6F7073  # "mlops": one advisory lock id for migrations
MIGRATIONS = (
    # 1: captures and labels, inputs and probabilities as JSONB.
    """
    CREATE TABLE captures (
        inference_id TEXT PRIMARY KEY,
        captured_at DOUBLE PRECISION NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        input JSONB NOT NULL,
        prediction TEXT NOT NULL,
        probabilities JSONB NOT NULL
    );
    CREATE INDEX captures_by_time ON captures (captured_at);
    CREATE TABLE labels (
        inference_id TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        labelled_at DOUBLE PRECISION NOT NULL
    );
    """,
)


class PostgresCaptureStore:
    """Captures and labels in PostgreSQL tables, created and migrated on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._conn = psycopg.connect(url, connect_timeout=10)
            migrate(self._conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the capture store at {safe_url(url)}: {first_line(exc)}",
                "check --capture-url and that PostgreSQL is running",
            ) from exc
        self._lock = threading.Lock()

    def write(self, records: Sequence[CaptureRecord]) -> None:
        rows = [record.as_row(Jsonb) for record in records]
        self._transact(
            lambda cursor: cursor.executemany(
                "INSERT INTO captures VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (inference_id) DO UPDATE SET "
                "captured_at = excluded.captured_at, input = excluded.input, "
                "prediction = excluded.prediction, "
                "probabilities = excluded.probabilities",
                rows,
            )
        )

    def add_labels(
        self, labels: Iterable[tuple[str, str]], *, only_if_matched: bool = False
    ) -> int:
        """Attach ground truth by inference_id; returns how many matched a capture."""
        now = time.time()
        pairs = [(inference_id, str(label), now) for inference_id, label in labels]

        def work(cursor: psycopg.Cursor[Any]) -> int:
            cursor.execute(
                "SELECT COUNT(*) FROM captures WHERE inference_id = ANY(%s)",
                ([p[0] for p in pairs],),
            )
            row = cursor.fetchone()
            matched = int(row[0]) if row else 0
            if matched or not only_if_matched:
                cursor.executemany(
                    "INSERT INTO labels VALUES (%s, %s, %s) ON CONFLICT "
                    "(inference_id) DO UPDATE SET label = excluded.label, "
                    "labelled_at = excluded.labelled_at",
                    pairs,
                )
            return matched

        return self._transact(work)

    def recent(self, limit: int) -> list[tuple[CaptureRecord, str | None]]:
        """The newest `limit` captures, oldest first, each with its label if any."""

        def work(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
            cursor.execute(
                "SELECT c.inference_id, c.captured_at, c.model_name, c.model_version,"
                " c.input, c.prediction, c.probabilities, l.label FROM captures c"
                " LEFT JOIN labels l USING (inference_id)"
                " ORDER BY c.captured_at DESC LIMIT %s",
                (limit,),
            )
            return cursor.fetchall()

        rows = self._transact(work)
        return [(CaptureRecord(*r[:7]), r[7]) for r in reversed(rows)]

    def count(self) -> int:
        def work(cursor: psycopg.Cursor[Any]) -> int:
            cursor.execute("SELECT COUNT(*) FROM captures")
            row = cursor.fetchone()
            return int(row[0]) if row else 0

        return self._transact(work)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _transact(self, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        """Run `work` in one transaction; reconnect once if the connection broke."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._conn.transaction(), self._conn.cursor() as cursor:
                        return work(cursor)
                except psycopg.OperationalError as exc:
                    if attempt == 2:
                        raise self._failed(exc) from exc
                    try:
                        self._conn = psycopg.connect(self.url, connect_timeout=10)
                    except psycopg.Error as again:
                        raise self._failed(again) from again
                except psycopg.Error as exc:
                    raise self._failed(exc) from exc
        raise AssertionError("unreachable")

    def _failed(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"capture store {safe_url(self.url)}: {first_line(exc)}",
            "check that PostgreSQL is running and reachable",
        )


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Bring the schema to the newest version; return that version."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS mlopslab_capture_schema (version INTEGER)"
        )
        cursor.execute("SELECT MAX(version) FROM mlopslab_capture_schema")
        row = cursor.fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > len(MIGRATIONS):
            raise StoreError(
                f"the capture database is at schema {current}, newer than this "
                f"mlopslab ({len(MIGRATIONS)})",
                "upgrade mlopslab",
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            cursor.execute(MIGRATIONS[version - 1].encode())
            cursor.execute(
                "INSERT INTO mlopslab_capture_schema VALUES (%s)", (version,)
            )
    return len(MIGRATIONS)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the given URL"
    shown = {key: str(value) for key, value in info.items() if value is not None}
    if "password" in shown:
        shown["password"] = "***"
    return psycopg.conninfo.make_conninfo("", **shown)
