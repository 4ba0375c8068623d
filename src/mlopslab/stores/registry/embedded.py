"""A read-only look at the workspace's own MLflow store, without importing MLflow.

`mlopslab serve` and `mlopslab monitor` need one alias lookup and a few small
files before they can start, and importing MLflow and opening its SQL store
costs 1.5-2.5 s: most of their 3 s budget. For the embedded store (SQLite, with
artifacts on local disk) this module reads the rows MLflow's registry reads
(`registered_model_aliases`, `model_versions`, `model_version_tags`,
`runs.artifact_uri`) through a read-only connection, and the files from disk.

It never writes, and it never answers for another store. None means "ask
MLflow instead" (through the registry agent): a server URI, artifacts that are
not on local disk, a version or file that is not there, a locked database, or
a schema it does not know. It checks MLflow's schema revision (the
`alembic_version` table) against `KNOWN_SCHEMAS` before every read; an unknown
one (an MLflow upgrade) is reported once, in one warning line, and then left
to MLflow. What is clearly broken is an error, not None: a file that is not a
SQLite database is a StoreError, an unparseable MLmodel or baseline file a
RegistryError in the words the agent would use.
`tests/stores/registry/test_embedded.py` keeps its answers equal to MLflow's own.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from mlopslab.errors import RegistryError, StoreError, first_line
from mlopslab.stores.registry.versions import (
    BASELINE_FILES,
    Baseline,
    ModelFiles,
    VersionInfo,
)

# MLflow schema revisions (`alembic_version.version_num`) whose tables the
# queries below were checked against. When the pinned MLflow creates another,
# tests/stores/registry/test_embedded.py fails: review the queries against the
# new migrations in mlflow/store/db_migrations/versions/, then add it here.
KNOWN_SCHEMAS: tuple[str, ...] = ("dc11669786a5",)  # MLflow 3.17

log = logging.getLogger("mlopslab.registry")
T = TypeVar("T")
_SQLITE = "sqlite:///"
_reported: set[tuple[str, str]] = set()  # (database, reason): each said once


@dataclass(frozen=True)
class LocalVersion:
    """A registered version, with where its model and its run keep their files."""

    info: VersionInfo
    model_dir: Path
    run_dir: Path


def local_version(tracking_uri: str, name: str | None, ref: str) -> LocalVersion | None:
    """Version `ref` (number or alias) of `name` (None: pick as serve does)."""
    return _reading(tracking_uri, lambda db: _lookup(db, name, ref.lstrip("@")))


def local_versions(tracking_uri: str, name: str | None) -> list[VersionInfo] | None:
    """Every version of `name` (None: of every model), as `Registry.versions`
    lists them; None when MLflow must answer (a model it does not hold
    included, so that MLflow's error names it)."""

    def listing(db: sqlite3.Connection) -> list[VersionInfo] | None:
        rows = db.execute(
            # MLflow keeps a deleted version's row, marked so (and its run
            # redacted); its listing leaves them out, and so does this one.
            "SELECT name, version FROM model_versions WHERE workspace = 'default'"
            " AND current_stage != 'Deleted_Internal'"
            + (" AND name = ?" if name else ""),
            (name,) if name else (),
        ).fetchall()
        if name and not rows:
            return None
        found = [_version(db, str(r["name"]), int(r["version"])) for r in rows]
        if any(version is None for version in found):
            return None  # a version still being registered: MLflow knows best
        infos = [version.info for version in found if version is not None]
        return sorted(infos, key=lambda v: (v.name, -int(v.version)))

    return _reading(tracking_uri, listing)


def _reading(
    tracking_uri: str, read: Callable[[sqlite3.Connection], T | None]
) -> T | None:
    """`read` on the embedded store, or None: not embedded, or MLflow must say."""
    if not tracking_uri.startswith(_SQLITE):
        return None
    database = Path(tracking_uri[len(_SQLITE) :])
    if not database.is_file():
        return None
    try:
        with closing(_read_only(database)) as db:
            if not _known_schema(db, database):
                return None
            return read(db)
    except sqlite3.OperationalError as exc:
        # Locked or busy (MLflow waits longer), or tables that differ from
        # what the revision promised: either way MLflow's answer is the one.
        if "no such" in str(exc):
            _report_once(database, f"its tables differ ({first_line(exc)})")
        else:
            log.debug("embedded store %s not read: %s", database, exc)
        return None
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"the MLflow store {database} is not a readable SQLite database: "
            f"{first_line(exc)}",
            "move it aside (the next `mlopslab run` creates a new one) or restore "
            "it from a backup",
        ) from exc
    except ValueError:
        return None  # artifacts not on local disk: MLflow downloads them


def read_version(
    db: sqlite3.Connection, name: str | None, ref: str
) -> LocalVersion | None:
    """`local_version` on a connection the caller opened (rows as sqlite3.Row).

    For a reader that must control how the file is opened: the autograder reads
    a private copy of a learner's store, under its own deadline.
    """
    return _lookup(db, name, ref.lstrip("@"))


def local_files(tracking_uri: str, name: str | None, ref: str) -> ModelFiles | None:
    """Version `ref` of `name`'s model files, in the store's own folder (read
    them, never serve or change them there); None: ask MLflow."""
    version = local_version(tracking_uri, name, ref)
    return local_model_files(version) if version else None


def local_model_files(version: LocalVersion) -> ModelFiles | None:
    """The scikit-learn flavor's files, described from the model's MLmodel file."""
    import yaml

    info = version.info
    try:
        text = (version.model_dir / "MLmodel").read_text("utf-8")
    except OSError:
        return None  # not there (or not ours to read): MLflow says what is wrong
    try:
        mlmodel = yaml.safe_load(text)
        flavor = mlmodel["flavors"]["sklearn"]
        inputs = json.loads(mlmodel["signature"]["inputs"])
        pickled_model = str(flavor["pickled_model"])
        serialization_format = str(flavor.get("serialization_format", "pickle"))
    except (yaml.YAMLError, ValueError) as exc:
        raise RegistryError(
            f"cannot load {info.name} v{info.version}: its MLmodel file is not "
            f"readable: {first_line(exc)}",
            "check that its artifacts are still in the workspace",
        ) from exc
    except (KeyError, TypeError) as exc:
        raise RegistryError(
            f"{info.name} v{info.version} has no scikit-learn flavor or signature",
            "register models with `mlopslab run`, which records both",
        ) from exc
    if (
        not isinstance(inputs, list)
        or not (version.model_dir / pickled_model).is_file()
    ):
        return None
    return ModelFiles(
        info=info,
        directory=version.model_dir,
        pickled_model=pickled_model,
        serialization_format=serialization_format,
        inputs=inputs,
        card=_card(version.run_dir),
    )


def local_baseline(version: LocalVersion) -> Baseline | None:
    """The version's baseline, evaluation and card, read from its run's folder."""
    contents = []
    for name in BASELINE_FILES:
        try:
            contents.append(_json(version.run_dir / name))
        except OSError:
            return None  # not there: MLflow looks in the run's artifact store
        except ValueError as exc:
            raise RegistryError(
                f"run {version.info.run_id} has no readable {name}: {first_line(exc)}",
                "use a model registered by `mlopslab run`",
            ) from exc
    return Baseline(*contents)


def _read_only(database: Path) -> sqlite3.Connection:
    # mode=ro: never create, migrate or lock the store for writing.
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
    db.row_factory = sqlite3.Row
    return db


def _known_schema(db: sqlite3.Connection, database: Path) -> bool:
    """True if MLflow's schema revision is one the queries here were checked on."""
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return False  # no MLflow tables yet: MLflow creates them
    revision = str(row["version_num"]) if row is not None else "none"
    if revision in KNOWN_SCHEMAS:
        return True
    _report_once(database, f"its schema revision {revision} is not one it knows")
    return False


def _report_once(database: Path, reason: str) -> None:
    """One warning line per store and reason, however often it is read."""
    key = (str(database), reason)
    if key in _reported:
        return
    _reported.add(key)
    log.warning(
        "reading the MLflow store %s through MLflow (slower): %s "
        "(stores/registry/embedded.py knows schema revisions %s)",
        database,
        reason,
        ", ".join(KNOWN_SCHEMAS),
    )


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
