"""`CaptureWriter` takes records off the request path: a bounded queue drained by
one background thread that commits in batches to any `CaptureStore`.

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

import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from mlopslab.errors import StoreError
from mlopslab.stores.capture.record import CaptureRecord, CaptureStore


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
