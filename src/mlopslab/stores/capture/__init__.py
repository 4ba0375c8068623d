"""Captured requests and labels: SQLite by default, PostgreSQL for a team.

`open_capture_store` picks the store from its location. PostgreSQL is imported
only when asked for: psycopg costs start-up time that serving on SQLite saves.
"""

from __future__ import annotations

from pathlib import Path

from mlopslab.stores.capture.record import CaptureStore
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore


def open_capture_store(location: str | Path) -> CaptureStore:
    """A postgresql:// URL opens PostgreSQL; anything else is a SQLite file."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from mlopslab.stores.capture.postgres import PostgresCaptureStore

        return PostgresCaptureStore(text)
    return SQLiteCaptureStore(Path(text))
