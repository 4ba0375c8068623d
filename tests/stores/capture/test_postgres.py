"""The capture store on a real PostgreSQL: same behaviour as SQLite, own schema."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from mlopslab.errors import StoreError
from mlopslab.stores.capture import open_capture_store
from mlopslab.stores.capture.postgres import PostgresCaptureStore, migrate
from mlopslab.stores.capture.writer import CaptureWriter
from tests.postgres import needs_postgres, postgres_url  # noqa: F401
from tests.stores.capture.test_sqlite import check_round_trip_with_labels, record

pytestmark = [pytest.mark.integration, needs_postgres]


def test_round_trip_with_labels_like_sqlite(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    for store in (
        open_capture_store(postgres_url),
        open_capture_store(tmp_path / "c.db"),
    ):
        check_round_trip_with_labels(store)
        store.close()


def test_writer_flushes_into_postgres(postgres_url: str) -> None:  # noqa: F811
    store = PostgresCaptureStore(postgres_url)
    writer = CaptureWriter(store, max_queue=10_000, linger_seconds=0.05)
    for n in range(2_000):
        assert writer.submit(record(n))
    writer.close()
    assert store.count() == 2_000 == writer.written
    store.close()


def test_schema_is_migrated_once_even_by_concurrent_openers(postgres_url: str) -> None:  # noqa: F811
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            PostgresCaptureStore(postgres_url).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute(
            "SELECT version FROM mlopslab_capture_schema"
        ).fetchall()
        assert versions == [(1,)]
        assert migrate(conn) == 1  # idempotent


def test_a_newer_schema_is_refused(postgres_url: str) -> None:  # noqa: F811
    PostgresCaptureStore(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO mlopslab_capture_schema VALUES (9)")
    with pytest.raises(StoreError, match="newer than this mlopslab"):
        PostgresCaptureStore(postgres_url)


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        PostgresCaptureStore("postgresql://someone:s3cret@127.0.0.1:1/nothing")
    assert "s3cret" not in caught.value.one_line()
    assert (
        "check --capture-url and that PostgreSQL is running" in caught.value.one_line()
    )


def test_a_dropped_connection_is_reopened(postgres_url: str) -> None:  # noqa: F811
    store = PostgresCaptureStore(postgres_url)
    store.write([record(1)])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    store.write([record(2)])  # reconnects instead of killing the writer
    assert store.count() == 2
    store.close()


def test_a_failed_commit_does_not_stop_the_writer(postgres_url: str) -> None:  # noqa: F811
    store = PostgresCaptureStore(postgres_url)
    writer = CaptureWriter(store, max_queue=100, linger_seconds=0.0)
    store.url = "postgresql://nobody:x@127.0.0.1:1/none"  # reconnects will fail
    store._conn.close()
    failed = writer.submit_and_wait(record(1))
    assert failed is not None
    with pytest.raises(StoreError):
        failed.result(timeout=30)
    store.url = postgres_url
    ok = writer.submit_and_wait(record(2))
    assert ok is not None and ok.result(timeout=30) is None
    writer.close()
    assert store.count() == 1
    store.close()
