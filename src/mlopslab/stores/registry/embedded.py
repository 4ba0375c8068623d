"""A read-only look at the workspace's own MLflow store, without importing MLflow.

`mlopslab serve` and `mlopslab monitor` need one alias lookup and a few small
files before they can start, and importing MLflow and opening its SQL store
costs 1.5-2.5 s: most of their 3 s budget. For the embedded store (SQLite, with
artifacts on local disk) this module reads the rows MLflow's registry reads
(`registered_model_aliases`, `model_versions`, `model_version_tags`,
`runs.artifact_uri`) through a read-only connection, and the files from disk.

It never writes, and it never answers for another store: a server URI, a
different schema (an MLflow upgrade), a missing file or a locked database all
return None, and the caller asks MLflow through the registry agent instead.
`tests/test_registry_local.py` keeps its answers equal to MLflow's own.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlopslab.stores.registry.versions import (
    BASELINE_FILES,
    Baseline,
    ModelFiles,
    VersionInfo,
)

_SQLITE = "sqlite:///"
_READ_ERRORS = (sqlite3.Error, OSError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class LocalVersion:
    """A registered version, with where its model and its run keep their files."""

    info: VersionInfo
    model_dir: Path
    run_dir: Path


def local_version(tracking_uri: str, name: str | None, ref: str) -> LocalVersion | None:
    """Version `ref` (number or alias) of `name` (None: pick as serve does)."""
    if not tracking_uri.startswith(_SQLITE):
        return None
    database = Path(tracking_uri[len(_SQLITE) :])
    if not database.is_file():
        return None
    try:
        with _read_only(database) as db:
            return _lookup(db, name, ref.lstrip("@"))
    except _READ_ERRORS:
        return None


def local_model_files(version: LocalVersion) -> ModelFiles | None:
    """The scikit-learn flavor's files, described from the model's MLmodel file."""
    import yaml

    try:
        mlmodel = yaml.safe_load((version.model_dir / "MLmodel").read_text("utf-8"))
        flavor = mlmodel["flavors"]["sklearn"]
        inputs = json.loads(mlmodel["signature"]["inputs"])
        files = ModelFiles(
            info=version.info,
            directory=version.model_dir,
            pickled_model=str(flavor["pickled_model"]),
            serialization_format=str(flavor.get("serialization_format", "pickle")),
            inputs=inputs,
            card=_card(version.run_dir),
        )
    except (*_READ_ERRORS, yaml.YAMLError):
        return None
    model = files.directory / files.pickled_model
    return files if isinstance(inputs, list) and model.is_file() else None


def local_baseline(version: LocalVersion) -> Baseline | None:
    """The version's baseline, evaluation and card, read from its run's folder."""
    try:
        return Baseline(*(_json(version.run_dir / name) for name in BASELINE_FILES))
    except _READ_ERRORS:
        return None


def _read_only(database: Path) -> sqlite3.Connection:
    # mode=ro: never create, migrate or lock the store for writing.
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
    db.row_factory = sqlite3.Row
    return db


def _lookup(db: sqlite3.Connection, name: str | None, ref: str) -> LocalVersion | None:
    name = name or _only_model(db)
    if name is None:
        return None
    if ref.isdigit():
        version = int(ref)
    else:
        row = db.execute(
            "SELECT version FROM registered_model_aliases"
            " WHERE workspace = 'default' AND name = ? AND alias = ?",
            (name, ref),
        ).fetchone()
        if row is None:
            return None  # let MLflow say so, in its words
        version = int(row["version"])
    return _version(db, name, version)


def _only_model(db: sqlite3.Connection) -> str | None:
    """The model serve picks when none is configured: the only one, else penguins."""
    names = [
        row["name"]
        for row in db.execute(
            "SELECT name FROM registered_models WHERE workspace = 'default'"
        )
    ]
    if len(names) == 1:
        return str(names[0])
    return "penguins" if "penguins" in names else None


def _version(db: sqlite3.Connection, name: str, version: int) -> LocalVersion | None:
    row = db.execute(
        "SELECT v.creation_time, v.description, v.run_id, v.status,"
        " v.storage_location, r.artifact_uri"
        " FROM model_versions v JOIN runs r ON r.run_uuid = v.run_id"
        " WHERE v.workspace = 'default' AND v.name = ? AND v.version = ?",
        (name, version),
    ).fetchone()
    if row is None or row["status"] != "READY":
        return None
    key = (name, version)
    tags = {
        str(tag["key"]): str(tag["value"])
        for tag in db.execute(
            "SELECT key, value FROM model_version_tags"
            " WHERE workspace = 'default' AND name = ? AND version = ?",
            key,
        )
    }
    aliases = db.execute(
        "SELECT alias FROM registered_model_aliases"
        " WHERE workspace = 'default' AND name = ? AND version = ?",
        key,
    )
    info = VersionInfo(
        name=name,
        version=str(version),
        status=tags.get("status", "unknown"),
        aliases=tuple(sorted(str(alias["alias"]) for alias in aliases)),
        run_id=str(row["run_id"]),
        created_ms=int(row["creation_time"] or 0),
        tags=tags,
        description=str(row["description"] or ""),
    )
    return LocalVersion(
        info, _local_path(row["storage_location"]), _local_path(row["artifact_uri"])
    )


def _local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise ValueError(f"not a local artifact location: {uri}")
    return Path(unquote(parsed.path))


def _card(run_dir: Path) -> dict[str, Any]:
    try:
        card = _json(run_dir / "model_card.json")
    except (OSError, ValueError):
        return {}  # as the agent does: a card is never a reason not to serve
    return card if isinstance(card, dict) else {}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
