"""Captures and labels in one SQLite file in the workspace, the embedded default.

WAL mode, so readers (the monitor) never block the writer (the endpoint).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlopslab.errors import StoreError
from mlopslab.stores.capture.record import CaptureRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    inference_id TEXT PRIMARY KEY,
    captured_at REAL NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    input TEXT NOT NULL,
    prediction TEXT NOT NULL,
    probabilities TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_by_time ON captures (captured_at);
CREATE TABLE IF NOT EXISTS labels (
    inference_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    labelled_at REAL NOT NULL
);
"""


class SQLiteCaptureStore:
    """Captures and labels in one SQLite file, in WAL mode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the capture store {path}: {exc}",
                "move the corrupt file aside; a new one is created on the next start",
            ) from exc
        self._lock = threading.Lock()

    def write(self, records: Sequence[CaptureRecord]) -> None:
        rows = [record.as_row(json.dumps) for record in records]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO captures VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )

    def add_labels(
        self, labels: Iterable[tuple[str, str]], *, only_if_matched: bool = False
    ) -> int:
        """Attach ground truth by inference_id; returns how many matched a capture."""
        now = time.time()
        pairs = [(inference_id, str(label), now) for inference_id, label in labels]
        with self._lock, self._conn:
            placeholders = ",".join("?" * len(pairs)) or "''"
            matched = self._conn.execute(
                f"SELECT COUNT(*) FROM captures WHERE inference_id IN ({placeholders})",
                [p[0] for p in pairs],
            ).fetchone()[0]
            if matched or not only_if_matched:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO labels VALUES (?, ?, ?)", pairs
                )
        return int(matched)

    def recent(self, limit: int) -> list[tuple[CaptureRecord, str | None]]:
        """The newest `limit` captures, oldest first, each with its label if any."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.*, l.label FROM captures c LEFT JOIN labels l "
                "USING (inference_id) ORDER BY c.captured_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            (
                CaptureRecord(
                    r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], json.loads(r[6])
                ),
                r[7],
            )
            for r in reversed(rows)
        ]

    def count(self) -> int:
        with self._lock:
            return int(
                self._conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
