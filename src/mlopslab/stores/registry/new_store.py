"""A new embedded MLflow store, made from MLflow's own schema in milliseconds.

MLflow makes a SQLite store by running its alembic migrations one by one: 1.5-2.5 s
of every first `mlopslab run`, and of every workspace a lesson or a graded
session starts. The schema they end in is kept in `mlflow_schema.sql`, dumped
from MLflow's own migration of an empty file by `make mlflow-schema`
(tools/mlflow_schema.py). A new store is that script run into a fresh file,
which MLflow then opens as one it migrated itself.

The script is used only under the MLflow release that wrote it; any other
release migrates as before. tests/stores/registry/test_new_store.py fails when
MLflow's migration and the script disagree.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from importlib import metadata
from pathlib import Path

SCHEMA = Path(__file__).with_name("mlflow_schema.sql")
# The script's first line: "-- mlflow <release> <alembic revision>".
HEADER = "-- mlflow "
SQLITE = "sqlite:///"


def schema_release(script: str) -> str:
    """The MLflow release that wrote `script`, from its first line."""
    first = script.split("\n", 1)[0]
    return first.removeprefix(HEADER).split()[0] if first.startswith(HEADER) else ""


def create_for(tracking_uri: str) -> bool:
    """`create` for the file a `sqlite:///PATH` URI names; False for any other."""
    path = tracking_uri.removeprefix(SQLITE)
    if path == tracking_uri or "?" in path or path in ("", ":memory:"):
        return False
    return create(Path(path))


def create(database: Path) -> bool:
    """Make `database` an empty, migrated MLflow store if there is no file yet.

    False (nothing written) when the file exists, when the installed MLflow is
    not the release the script came from, or when the folder refuses the file:
    MLflow then does what it always does.
    """
    if database.exists():
        return False
    script = SCHEMA.read_text(encoding="utf-8")
    if schema_release(script) != metadata.version("mlflow"):
        return False
    fresh = database.with_name(f".{database.name}.{os.getpid()}.new")
    try:
        with closing(sqlite3.connect(fresh)) as db:
            db.executescript(script)
        # A hard link never replaces a store that another process made first.
        os.link(fresh, database)
    except (OSError, sqlite3.Error):
        return False
    finally:
        fresh.unlink(missing_ok=True)
    return True


def migrated_by_mlflow(database: Path) -> list[str]:
    """Migrate an empty `database` as MLflow does for a new store; its dump.

    The source of `mlflow_schema.sql`, and what the tests hold it to.
    """
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    engine = sqlalchemy.create_engine(f"{SQLITE}{database}")
    _initialize_tables(engine)
    engine.dispose()
    return dump(database)


def dump(database: Path) -> list[str]:
    """Every statement that remakes `database`: its schema and its rows."""
    with closing(sqlite3.connect(database)) as db:
        return list(db.iterdump())
