"""Datasets kept in the workspace: golden test sets and each run's training data.

A golden test set is frozen the first time a data source is trained on and
reused by every later run and retrain on that source, so that candidates and
champions are always scored on the same rows and new (captured, labelled)
rows can only ever join training. Versions live under
`datasets/golden/<key>/`: `v1.parquet`, `v2.parquet` ... and `current.json`
naming the one in use. A run's exact training rows are kept once per digest
under `datasets/training/`, with what they came from in the parquet file's
own metadata, so `mlopslab run --data <that file>` rebuilds the run.

Files are written to a temporary name and renamed: a reader never sees half
a file, and a run that fails before registering takes its new files back.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from mlopslab.errors import StoreError

# Parquet schema metadata: where the rows came from (data.py reads it back).
METADATA_KEY = b"mlopslab"


@dataclass(frozen=True)
class GoldenRef:
    """One version of a source's golden test set (and, optionally, its pool of
    rows held back as production traffic)."""

    key: str
    version: int
    digest: str
    rows: int
    source: str
    target: str
    path: Path
    pool_rows: int = 0

    @property
    def pool_path(self) -> Path:
        return self.path.with_name(f"pool-v{self.version}.parquet")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> GoldenRef:
        """Read back `to_dict` (a card's copy may carry more keys)."""
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in content.items() if k in names}
        return cls(**{**known, "path": Path(content["path"])})


class DatasetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def golden(self, key: str) -> GoldenRef | None:
        """The golden set in use for `key`, or None before the first run."""
        pointer = self.root / "golden" / key / "current.json"
        if not pointer.exists():
            return None
        try:
            content = json.loads(pointer.read_text(encoding="utf-8"))
            return GoldenRef.from_dict(content)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StoreError(
                f"golden test set record {pointer} is unreadable: {exc}",
                "run with --new-test-set to freeze a new one",
            ) from exc

    def read(self, path: Path, what: str) -> pd.DataFrame:
        return read_frame(path, what)

    def freeze(
        self,
        key: str,
        test: pd.DataFrame,
        pool: pd.DataFrame,
        *,
        digest: str,
        source: str,
        target: str,
    ) -> tuple[GoldenRef, GoldenRef | None]:
        """Write the next version and make it current; return it and the one
        it replaces (for `restore`)."""
        folder = self.root / "golden" / key
        try:
            previous = self.golden(key)
        except StoreError:
            previous = None  # a damaged record: the files still number versions
        version = max([previous.version if previous else 0, *_versions(folder)]) + 1
        ref = GoldenRef(
            key=key,
            version=version,
            digest=digest,
            rows=len(test),
            source=source,
            target=target,
            path=(folder / f"v{version}.parquet").resolve(),
            pool_rows=len(pool),
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_parquet(test, ref.path, {"golden": key, "version": version})
            if len(pool):
                _write_parquet(pool, ref.pool_path, {"pool": key, "version": version})
            _write_text(folder / "current.json", json.dumps(ref.to_dict(), indent=2))
        except OSError as exc:
            raise StoreError(
                f"cannot write the golden test set under {folder}: {exc.strerror}",
                "check that the workspace is writable",
            ) from exc
        return ref, previous

    def restore(self, frozen: GoldenRef, previous: GoldenRef | None) -> None:
        """Take back a version `freeze` wrote (its run failed)."""
        pointer = frozen.path.parent / "current.json"
        frozen.path.unlink(missing_ok=True)
        frozen.pool_path.unlink(missing_ok=True)
        if previous is None:
            pointer.unlink(missing_ok=True)
        else:
            _write_text(pointer, json.dumps(previous.to_dict(), indent=2))

    def training_path(self, digest: str) -> Path:
        return (self.root / "training" / f"{digest[:16]}.parquet").resolve()

    def save_training(
        self, frame: pd.DataFrame, digest: str, metadata: dict[str, Any]
    ) -> Path:
        """Keep a run's training rows once per digest; return the file."""
        path = self.training_path(digest)
        if path.exists():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_parquet(frame, path, metadata)
        except OSError as exc:
            raise StoreError(
                f"cannot save the training data to {path}: {exc.strerror}",
                "check that the workspace is writable",
            ) from exc
        return path


def _versions(folder: Path) -> list[int]:
    """The version numbers of the golden files in a folder."""
    found = []
    for path in folder.glob("v*.parquet"):
        number = path.stem[1:]
        if number.isdigit():
            found.append(int(number))
    return found


def read_frame(path: Path, what: str) -> pd.DataFrame:
    """A frame this store wrote; a missing or damaged file is one clear line."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{what} {path} is unreadable: {str(exc).splitlines()[0]}",
            "run with --new-test-set to freeze a new golden test set",
        ) from exc


def _write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(metadata)}
    table = table.replace_schema_metadata(merged)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial)
    os.replace(partial, path)


def _write_text(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
