import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mlopslab.stores.capture.record import CaptureRecord, CaptureStore
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
from mlopslab.stores.capture.writer import CaptureWriter


def record(n: int) -> CaptureRecord:
    return CaptureRecord(
        f"id-{n}", time.time() + n, "m", "1", {"x": n}, "a", {"a": 0.9, "b": 0.1}
    )


def check_round_trip_with_labels(store: CaptureStore) -> None:
    """Three records in (one batch retried), a label on one, the latest two back."""
    store.write([record(1), record(2), record(3)])
    store.write([record(3)])  # a retried batch does not duplicate
    assert store.count() == 3
    assert store.add_labels([("id-2", "b"), ("id-99", "a")]) == 1
    recent = store.recent(2)
    assert [r.inference_id for r, _ in recent] == ["id-2", "id-3"]
    assert recent[0][1] == "b" and recent[1][1] is None
    assert recent[0][0].input == {"x": 2}
    assert recent[0][0].probabilities == {"a": 0.9, "b": 0.1}
    # only_if_matched: labels matching no capture are not stored; one match stores all
    assert store.add_labels([("id-97", "a")], only_if_matched=True) == 0
    assert store.add_labels([("id-3", "a"), ("id-98", "b")], only_if_matched=True) == 1
    store.write([record(97), record(98)])
    labels = {r.inference_id: label for r, label in store.recent(5)}
    assert labels["id-97"] is None and labels["id-98"] == "b" and labels["id-3"] == "a"


def test_store_round_trip_with_labels(tmp_path: Path) -> None:
    store = SQLiteCaptureStore(tmp_path / "capture.db")
    check_round_trip_with_labels(store)
    mode = (
        sqlite3.connect(tmp_path / "capture.db")
        .execute("PRAGMA journal_mode")
        .fetchone()
    )
    assert mode[0] == "wal"
    store.close()


def test_writer_flushes_everything_on_close(tmp_path: Path) -> None:
    store = SQLiteCaptureStore(tmp_path / "capture.db")
    writer = CaptureWriter(store, max_queue=10_000, linger_seconds=0.2)
    for n in range(2_500):
        assert writer.submit(record(n))
    writer.close()
    assert store.count() == 2_500 == writer.written
    assert writer.dropped == 0


class BlockedStore:
    """A store whose first write waits, so the queue fills behind it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.rows = 0

    def write(self, records: Sequence[CaptureRecord]) -> None:
        self.release.wait(10)
        self.rows += len(records)


def test_full_queue_drops_and_counts_in_async_mode() -> None:
    store = BlockedStore()
    # A write-only fake, not a full CaptureStore: the writer calls only write.
    writer = CaptureWriter(store, max_queue=5, linger_seconds=0.0)  # type: ignore[arg-type]
    accepted = sum(writer.submit(record(n)) for n in range(50))
    assert writer.dropped == 50 - accepted
    assert accepted <= 6  # the queue plus the one being written
    store.release.set()
    writer.close()
    assert store.rows == accepted


def test_sync_submission_resolves_after_commit(tmp_path: Path) -> None:
    store = SQLiteCaptureStore(tmp_path / "capture.db")
    writer = CaptureWriter(store, linger_seconds=0.0)
    done = writer.submit_and_wait(record(7))
    assert done is not None
    done.result(timeout=5)
    assert store.count() == 1  # committed before the future resolved
    writer.close()
