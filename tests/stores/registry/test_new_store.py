"""A new embedded store made from mlflow_schema.sql is the store MLflow makes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mlopslab.stores.registry import new_store
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.registry.new_store import (
    SCHEMA,
    create,
    create_for,
    dump,
    migrated_by_mlflow,
    schema_release,
)


def test_the_script_is_what_the_installed_mlflow_migrates_to(tmp_path: Path) -> None:
    """Fails when the pinned MLflow changes its schema: run `make mlflow-schema`."""
    ours = tmp_path / "ours.db"
    assert create(ours)
    theirs = migrated_by_mlflow(tmp_path / "mlflow.db")
    assert canonical(dump(ours)) == canonical(theirs), (
        "mlflow_schema.sql is not the store the installed MLflow makes: "
        "run `make mlflow-schema` and review the difference"
    )


def canonical(statements: list[str]) -> list[tuple[str, ...]]:
    """The statements sorted, each with its table constraints sorted.

    MLflow's migrations create some indexes, and write a recreated table's
    constraints, in set order, which differs from one process to the next.
    """
    out = []
    for statement in statements:
        lines = [line.rstrip().rstrip(",") for line in statement.split("\n")]
        fixed = [line for line in lines if not line.startswith(CONSTRAINTS)]
        out.append((*fixed, *sorted(set(lines) - set(fixed))))
    return sorted(out)


CONSTRAINTS = ("\tCONSTRAINT ", "\tCHECK ", "\tFOREIGN KEY", "\tUNIQUE ")


def test_two_orders_of_constraints_are_one_schema() -> None:
    one = "CREATE TABLE t (\n\ta INT, \n\tCHECK (a > 0), \n\tUNIQUE (a)\n);"
    two = "CREATE TABLE t (\n\ta INT, \n\tUNIQUE (a), \n\tCHECK (a > 0)\n);"
    assert canonical([one]) == canonical([two])
    assert canonical([one]) != canonical([one.replace("a > 0", "a > 1")])


def test_mlflow_opens_a_new_store_as_its_own_and_records_in_it(tmp_path: Path) -> None:
    database = tmp_path / "ws" / "mlflow.db"
    database.parent.mkdir()
    registry = Registry.connect(f"sqlite:///{database}", (tmp_path / "a").as_uri())

    experiment = registry.experiment_id("penguins")
    run = registry.client.create_run(experiment)
    registry.client.log_metric(run.info.run_id, "accuracy", 0.9)
    registry.client.create_registered_model("penguins")

    with sqlite3.connect(database) as db:
        [(revision,)] = db.execute("SELECT version_num FROM alembic_version")
    assert SCHEMA.read_text().startswith(f"-- mlflow {_installed()} {revision}\n")
    got = registry.client.get_run(run.info.run_id)
    assert got.data.metrics == {"accuracy": 0.9}
    assert [f for f in os.listdir(database.parent) if f != "mlflow.db"] == []


def test_an_existing_store_is_left_alone(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"someone else's")
    assert not create(database)
    assert database.read_bytes() == b"someone else's"


def test_another_mlflow_release_migrates_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(new_store.metadata, "version", lambda name: "0.0.1")
    assert not create(tmp_path / "mlflow.db")
    assert not (tmp_path / "mlflow.db").exists()


def test_a_store_another_process_made_first_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "ws" / "mlflow.db"
    database.parent.mkdir()
    link = os.link

    def racing(source: Path, target: Path) -> None:
        Path(target).write_bytes(b"theirs")  # made between our check and our link
        link(source, target)

    monkeypatch.setattr(new_store.os, "link", racing)
    assert not create(database)
    assert database.read_bytes() == b"theirs"
    assert os.listdir(database.parent) == ["mlflow.db"]  # no temporary file left


@pytest.mark.parametrize(
    "uri",
    ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=ro", "http://127.0.0.1:1"],
)
def test_only_a_plain_sqlite_file_is_made(uri: str, tmp_path: Path) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    os.chdir(folder)
    assert not create_for(uri)
    assert os.listdir(folder) == []


def test_the_release_is_read_from_the_first_line() -> None:
    assert schema_release("-- mlflow 3.17.2 dc11669786a5\nBEGIN;") == "3.17.2"
    assert schema_release("BEGIN;") == ""


def _installed() -> str:
    from importlib import metadata

    return metadata.version("mlflow")
