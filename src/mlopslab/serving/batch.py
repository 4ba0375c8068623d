"""Batch scoring of a file with a served model: same loading, same validation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mlopslab.errors import DataError, first_line
from mlopslab.serving.model import ServedModel
from mlopslab.serving.schema import RowError

CHUNK_ROWS = 10_000


def score_file(
    model: ServedModel, input_path: Path, output_path: Path, cluster: Any = None
) -> int:
    """Validate every row, predict in chunks, write atomically; return the count.

    With a `cluster` (a RayExecutor) the chunks are scored on its workers and
    the predictions come back in input order.
    """
    frame = _read(input_path)
    _check_columns(frame, model, input_path)
    records = _records(_numbers_as_numbers(frame, model))
    try:
        clean = [model.schema.validate_row(i, row) for i, row in enumerate(records)]
    except RowError as exc:
        raise DataError(f"{input_path}: {exc}", "fix that row and score again") from exc
    chunks = [
        clean[start : start + CHUNK_ROWS] for start in range(0, len(clean), CHUNK_ROWS)
    ]
    if cluster is not None:
        predictions = cluster.predict(model, chunks)
    else:
        predictions = [p for chunk in chunks for p in model.predict(chunk)]
    scored = frame.copy()
    scored["prediction"] = [p.label for p in predictions]
    for label in model.classes:
        scored[f"proba_{label}"] = [p.probabilities[label] for p in predictions]
    _write_atomically(scored, output_path)
    return len(scored)


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"input not found: {path}", "check the --input path")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read {path}: {first_line(exc)}",
            "check that it is a valid CSV or parquet file",
        ) from exc
    raise DataError(f"unsupported input type '{suffix}'", "use a .csv or .parquet file")


def _check_columns(frame: pd.DataFrame, model: ServedModel, path: Path) -> None:
    """Blame a wrong column on the column, not on its first row."""
    names = model.schema.names
    columns = [str(c) for c in frame.columns]
    target = model.card.get("data", {}).get("target")
    extra = [c for c in columns if c not in names]
    if target in extra:
        raise DataError(
            f"{path}: column '{target}' is what {model.name} predicts, not a feature",
            f"drop the '{target}' column and score again",
        )
    if extra:
        raise DataError(
            f"{path}: unknown {_columns(extra)}; "
            f"{model.name} v{model.version} takes {names}",
            f"drop or rename {'it' if len(extra) == 1 else 'them'} and score again",
        )
    missing = [n for n in names if n not in columns]
    if missing:
        raise DataError(
            f"{path}: no {_columns(missing)}; "
            f"{model.name} v{model.version} takes {names}",
            f"add {'it' if len(missing) == 1 else 'them'} and score again",
        )


def _columns(names: list[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"column {quoted}" if len(names) == 1 else f"columns {quoted}"


def _numbers_as_numbers(frame: pd.DataFrame, model: ServedModel) -> pd.DataFrame:
    """Parse numeric columns cell by cell, so one bad cell is blamed on its own row.

    One text cell makes pandas read a whole CSV column as text; without this,
    the first row would be reported instead of the one that is wrong.
    """
    fixed = frame.copy()
    for spec in model.schema.fields:
        column = fixed.get(spec.name)
        if spec.kind not in ("number", "integer") or column is None:
            continue
        if pd.api.types.is_numeric_dtype(column):
            continue
        parsed = pd.to_numeric(column, errors="coerce")
        fixed[spec.name] = parsed.astype(object).where(
            parsed.notna(), column.astype(object)
        )
    return fixed


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # Missing cells become None (null), as in a JSON request.
    as_objects = frame.astype(object).where(frame.notna(), None)
    return as_objects.to_dict(orient="records")


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise DataError(
            f"unsupported output type '{suffix}'", "use a .csv or .parquet file"
        )
    if not path.parent.exists():
        raise DataError(
            f"output folder does not exist: {path.parent}", "create it first"
        )
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".csv":
            frame.to_csv(temporary, index=False)
        else:
            frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
