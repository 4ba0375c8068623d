"""The capture store: what the endpoint saw and said, and the ground truth later.

`CaptureStore` is the interface that serving writes to and monitoring reads
from; `SQLiteCaptureStore` is the embedded default (one file in the workspace,
WAL mode so readers never block the writer).

`CaptureWriter` takes records off the request path: a bounded queue drained by
one background thread that commits in batches.

Queue-full policy (async mode): the new record is dropped, never the request;
every drop is counted (`dropped`) and exported as a metric. In sync mode
(`--capture-sync`) the request waits for its record's commit instead, and a
full queue makes the request fail with 503 rather than be acknowledged unsaved.

What an abrupt SIGKILL can lose:
- async mode: records accepted but not yet committed, at most the queue size
  plus one batch; acknowledged requests may therefore be missing.
- sync mode: nothing that was acknowledged; a request in flight is lost along
  with its response, so its client saw no acknowledgement.
A clean stop (SIGTERM, Ctrl-C) drains the queue and commits every record.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlopslab.errors import StoreError

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


@dataclass(frozen=True)
class CaptureRecord:
    inference_id: str
    captured_at: float
    model_name: str
    model_version: str
    input: dict[str, Any]
    prediction: str
    probabilities: dict[str, float]

    def as_row(self, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
        """The record as a `captures` row, `input` and `probabilities` encoded."""
        return (
            self.inference_id,
            self.captured_at,
            self.model_name,
            self.model_version,
            encode(self.input),
            self.prediction,
            encode(self.probabilities),
        )


class CaptureStore(Protocol):
    def write(self, records: Sequence[CaptureRecord]) -> None: ...

    def add_labels(self, labels: Iterable[tuple[str, str]]) -> int: ...

    def recent(self, limit: int) -> list[tuple[CaptureRecord, str | None]]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def open_capture_store(location: str | Path) -> CaptureStore:
    """A postgresql:// URL opens PostgreSQL; anything else is a SQLite file."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from mlopslab.capture_pg import PostgresCaptureStore

        return PostgresCaptureStore(text)
    return SQLiteCaptureStore(Path(text))


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

    def add_labels(self, labels: Iterable[tuple[str, str]]) -> int:
        """Attach ground truth by inference_id; returns how many matched a capture."""
        now = time.time()
        pairs = [(inference_id, str(label), now) for inference_id, label in labels]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?)", pairs
            )
            placeholders = ",".join("?" * len(pairs)) or "''"
            matched = self._conn.execute(
                f"SELECT COUNT(*) FROM captures WHERE inference_id IN ({placeholders})",
                [p[0] for p in pairs],
            ).fetchone()[0]
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


@dataclass
class _Pending:
    record: CaptureRecord
    done: Future[None] | None = None


@dataclass
class CaptureWriter:
    """A bounded queue drained by one thread that commits in batches."""

    store: CaptureStore
    max_queue: int = 10_000
    max_batch: int = 1000
    # How long to gather records before a commit: fewer, larger transactions.
    # Sync mode passes 0, since each request waits for its own commit.
    linger_seconds: float = 0.05
    dropped: int = 0
    written: int = 0
    _queue: queue.Queue[_Pending | None] = field(init=False)
    _thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.max_queue)
        self._thread = threading.Thread(
            target=self._run, name="capture-writer", daemon=True
        )
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, record: CaptureRecord) -> bool:
        """Queue a record without waiting; False (and counted) if the queue is full."""
        try:
            self._queue.put_nowait(_Pending(record))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def submit_and_wait(
        self, record: CaptureRecord, timeout: float = 30.0
    ) -> Future[None] | None:
        """Queue a record whose commit the caller awaits; None if the queue is full."""
        done: Future[None] = Future()
        try:
            self._queue.put_nowait(_Pending(record, done))
        except queue.Full:
            return None
        return done

    def close(self) -> None:
        """Drain every queued record, commit it, and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.linger_seconds
            while len(batch) < self.max_batch:
                wait = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=wait)
                        if wait > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
        self._drain()

    def _drain(self) -> None:
        """After the stop marker: commit whatever is still queued."""
        rest: list[_Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                rest.append(item)
        if rest:
            self._commit(rest)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self.store.write([p.record for p in batch])
        except (sqlite3.Error, StoreError, OSError) as exc:
            # The writer thread must outlive a failed commit: a dead writer
            # would leave sync requests waiting forever.
            for pending in batch:
                if pending.done is not None:
                    pending.done.set_exception(exc)
            self.dropped += len(batch)
            return
        self.written += len(batch)
        for pending in batch:
            if pending.done is not None:
                pending.done.set_result(None)
