"""The MLflow-free read of the embedded store: MLflow's answers, None, or an error."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from mlopslab.errors import RegistryError, StoreError
from mlopslab.stores.registry.agent import fetch_model, load_baseline
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.registry.embedded import (
    KNOWN_SCHEMAS,
    LocalVersion,
    local_baseline,
    local_model_files,
    local_version,
    local_versions,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def store(trained_home: Path, tmp_path: Path) -> Path:
    """A copy of the trained store's database (its artifacts stay where they are)."""
    db = tmp_path / "mlflow.db"
    shutil.copy(trained_home / "mlflow.db", db)
    return db


def uri(db: Path) -> str:
    return f"sqlite:///{db}"


def found(db: Path, ref: str = "champion", name: str | None = None) -> LocalVersion:
    version = local_version(uri(db), name, ref)
    assert version is not None
    return version


def test_reads_what_mlflow_reads(store: Path) -> None:
    registry = Registry.connect(uri(store))
    registry.set_alias("penguins", "previous", "1")
    registry.set_tag("penguins", "1", "reviewer", "ana")
    for ref in ("champion", "@previous", "1"):
        assert found(store, ref).info == registry.version("penguins", ref)
    version = found(store)
    fetched = fetch_model(registry, version.info)
    try:
        files = local_model_files(version)
        assert files is not None
        assert replace(files, directory=Path()) == replace(fetched, directory=Path())
        assert (files.directory / files.pickled_model).read_bytes() == (
            fetched.directory / fetched.pickled_model
        ).read_bytes()
    finally:
        shutil.rmtree(fetched.directory)
    assert local_baseline(version) == load_baseline(registry, version.info)


def test_never_writes_to_the_store(store: Path) -> None:
    before = store.read_bytes()
    version = found(store, name="penguins")
    local_model_files(version)
    local_baseline(version)
    assert store.read_bytes() == before
    assert not Path(f"{store}-wal").exists()


@pytest.mark.parametrize(
    ("name", "ref"), [("penguins", "staging"), ("penguins", "9"), ("iris", "1")]
)
def test_unknown_versions_are_left_to_mlflow(store: Path, name: str, ref: str) -> None:
    assert local_version(uri(store), name, ref) is None


def test_other_stores_are_left_to_mlflow(store: Path, tmp_path: Path) -> None:
    assert local_version("http://127.0.0.1:5000", None, "champion") is None
    assert local_version(uri(tmp_path / "none.db"), None, "champion") is None
    empty = tmp_path / "empty.db"  # not yet migrated: MLflow creates the tables
    sqlite3.connect(empty).close()
    assert local_version(uri(empty), None, "champion") is None


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        local_version(uri(garbage), None, "champion")


def test_the_installed_mlflow_schema_is_known(migrated_db: Path) -> None:
    """Fails when the pinned MLflow migrates its store to a new revision."""
    with sqlite3.connect(migrated_db) as db:
        [(revision,)] = db.execute("SELECT version_num FROM alembic_version")
    assert revision in KNOWN_SCHEMAS, (
        f"the installed MLflow creates schema revision {revision}, which "
        "stores/registry/embedded.py was not checked against: review its queries "
        "against MLflow's new migrations, then add the revision to KNOWN_SCHEMAS"
    )


def test_an_unknown_schema_is_left_to_mlflow_and_said_once(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(store) as db:
        db.execute("UPDATE alembic_version SET version_num = 'from-the-future'")
    with caplog.at_level(logging.WARNING, logger="mlopslab.registry"):
        for _ in range(3):
            assert local_version(uri(store), None, "champion") is None
    [record] = caplog.records
    assert "from-the-future" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_a_different_schema_is_left_to_mlflow(store: Path) -> None:
    with sqlite3.connect(store) as db:
        db.execute(
            "ALTER TABLE model_versions RENAME COLUMN storage_location TO location"
        )
    assert local_version(uri(store), None, "champion") is None


def test_several_models_need_a_name_unless_one_is_penguins(store: Path) -> None:
    registry = Registry.connect(uri(store))
    registry.client.rename_registered_model("penguins", "birds")
    registry.client.create_registered_model("fish")
    assert local_version(uri(store), None, "champion") is None
    assert found(store, name="birds").info.name == "birds"


def test_missing_files_are_left_to_mlflow(store: Path, tmp_path: Path) -> None:
    version = found(store)
    copy = tmp_path / "model"
    shutil.copytree(version.model_dir, copy)
    (copy / "MLmodel").unlink()
    assert local_model_files(replace(version, model_dir=copy)) is None
    assert local_baseline(replace(version, run_dir=tmp_path)) is None


def test_unreadable_files_are_errors_not_none(store: Path, tmp_path: Path) -> None:
    version = found(store)
    model = tmp_path / "model"
    shutil.copytree(version.model_dir, model)
    (model / "MLmodel").write_text("flavors: [unclosed", encoding="utf-8")
    with pytest.raises(RegistryError, match="MLmodel file is not readable"):
        local_model_files(replace(version, model_dir=model))
    (model / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="no scikit-learn flavor or signature"):
        local_model_files(replace(version, model_dir=model))
    run = tmp_path / "run"
    shutil.copytree(version.run_dir, run)
    (run / "evaluation.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"no readable evaluation\.json"):
        local_baseline(replace(version, run_dir=run))


def test_lists_the_versions_mlflow_lists(store: Path, tmp_path: Path) -> None:
    registry = Registry.connect(uri(store))
    registry.set_alias("penguins", "previous", "1")
    registry.set_tag("penguins", "1", "reviewer", "ana")
    for name in ("penguins", None):
        assert local_versions(uri(store), name) == registry.versions(name)
    # A deleted version (a failed run's undo) is left out, as MLflow does.
    experiment = registry.experiment_id("penguins")
    run = registry.client.create_run(experiment)
    source = registry.client.get_model_version("penguins", "1").source
    assert source is not None
    doomed = registry.client.create_model_version("penguins", source, run.info.run_id)
    registry.client.delete_model_version("penguins", doomed.version)
    listed = local_versions(uri(store), "penguins")
    assert listed is not None and listed == registry.versions("penguins")
    assert doomed.version not in {v.version for v in listed}
    # A model it does not hold: MLflow answers, in its words.
    assert local_versions(uri(store), "walrus") is None
    assert local_versions(f"sqlite:///{tmp_path / 'none.db'}", None) is None


def test_registry_list_show_and_predict_answer_without_mlflow(store: Path) -> None:
    """Listing is a query, and scoring a file needs the model only: neither
    need pay MLflow's 1.5-2 s import."""
    import subprocess
    import sys

    from palmerpenguins import load_penguins

    rows = store.parent / "rows.csv"
    load_penguins().drop(columns="species").dropna().head(20).to_csv(rows, index=False)
    home = ["--home", str(store.parent)]
    scored = ["--input", str(rows), "--output", str(store.parent / "out.csv")]
    code = (
        "import sys; from mlopslab.cli.main import main; "
        f"assert main(['registry', 'list', *{home!r}]) == 0; "
        f"assert main(['registry', 'show', 'penguins', *{home!r}]) == 0; "
        f"assert main(['predict', *{scored!r}, *{home!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "penguins" in out and out.strip().endswith("[]")
