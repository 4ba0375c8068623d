"""Batch scoring of a file with a served model: same loading, same validation.

Each row is judged on its own, as the endpoint judges a batch
(`serve.on_bad_row`): a bad row gets its reason in an `error` column (with no
prediction), the others are scored. With "refuse_batch" the first bad row
refuses the whole file. Nothing is written when no row could be scored, and
the output is written atomically.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mlopslab.errors import DataError, first_line
from mlopslab.serving.model import NOT_FINITE, UNSCORABLE, Prediction, ServedModel
from mlopslab.serving.schema import RowError

CHUNK_ROWS = 10_000
# What a CSV cell of a boolean column may say (any case): True/False or 1/0.
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}
TEXT_KINDS = ("string", "datetime")


@dataclass(frozen=True)
class BatchResult:
    """What `score_file` wrote: rows scored, and rows refused with the first's
    reason (`row N, field 'F': problem`)."""

    scored: int
    refused: int = 0
    first_refusal: str | None = None


def score_file(
    model: ServedModel,
    input_path: Path,
    output_path: Path,
    cluster: Any = None,
    on_bad_row: Literal["refuse_row", "refuse_batch"] = "refuse_row",
) -> BatchResult:
    """Validate every row, predict in chunks, write atomically.

    With a `cluster` (a RayExecutor) the chunks are scored on its workers and
    the predictions come back in input order.
    """
    frame = _read(input_path, model)
    _check_columns(frame, model, input_path)
    records = _records(_prepared(frame, model))
    whole = on_bad_row == "refuse_batch"
    clean, positions, errors = [], [], []
    for index, record in enumerate(records):
        try:
            clean.append(model.schema.validate_row(index, record))
        except RowError as exc:
            if whole:
                raise DataError(
                    f"{input_path}: {exc}", "fix that row and score again"
                ) from exc
            errors.append(exc)
        else:
            positions.append(index)
    _refuse_if_none_left(input_path, clean, errors)
    predictions = _predict(model, clean, cluster, input_path, whole)
    scored: dict[int, Prediction] = {}
    for position, prediction in zip(positions, predictions, strict=True):
        if isinstance(prediction, str) or not prediction.finite:
            problem = prediction if isinstance(prediction, str) else NOT_FINITE
            if whole:
                raise DataError(
                    f"{input_path}: row {position}: {problem}",
                    "fix that row and score again",
                )
            errors.append(RowError(position, None, problem))
        else:
            scored[position] = prediction
    errors.sort(key=lambda e: e.row or 0)
    _refuse_if_none_left(input_path, scored, errors)
    _write_atomically(_output(frame, model, scored, errors), output_path)
    return BatchResult(len(scored), len(errors), str(errors[0]) if errors else None)


def _refuse_if_none_left(path: Path, scored: Any, errors: list[RowError]) -> None:
    """Fail, writing nothing, when every row was refused (a file with no rows
    is scored: its output has no rows either)."""
    if not scored and errors:
        first = str(errors[0])
        raise DataError(
            f"{path}: every row was refused"
            + (f" ({len(errors)} rows); the first: " if len(errors) > 1 else ": ")
            + first,
            "fix the rows and score again",
        )


def _predict(
    model: ServedModel,
    rows: list[dict[str, Any]],
    cluster: Any,
    path: Path,
    whole: bool,
) -> list[Prediction | str]:
    """Predictions in row order; with refuse_row, a row the model cannot score
    gets the reason instead (found by scoring its chunk row by row)."""
    chunks = [
        rows[start : start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS)
    ]
    if cluster is not None:
        return list(cluster.predict(model, chunks))
    predictions: list[Prediction | str] = []
    for chunk in chunks:
        try:
            predictions.extend(model.predict(chunk))
        except (ValueError, TypeError, KeyError) as exc:
            if whole:
                raise DataError(
                    f"{path}: {UNSCORABLE.replace('row', 'file')}: "
                    f"{first_line(exc, 300)}",
                    "check the rows the message names and score again",
                ) from exc
            predictions.extend(_one_by_one(model, chunk))
    return predictions


def _one_by_one(
    model: ServedModel, rows: list[dict[str, Any]]
) -> list[Prediction | str]:
    found: list[Prediction | str] = []
    for row in rows:
        try:
            found.extend(model.predict([row]))
        except (ValueError, TypeError, KeyError) as exc:
            found.append(f"{UNSCORABLE}: {first_line(exc, 300)}")
    return found


def _output(
    frame: pd.DataFrame,
    model: ServedModel,
    scored: dict[int, Prediction],
    errors: list[RowError],
) -> pd.DataFrame:
    """The input, then `prediction` and `proba_<class>` (empty for a refused
    row), then, when a row was refused, `error`: each refused row's reason."""
    out = frame.copy()
    rows = range(len(frame))
    out["prediction"] = [scored[i].label if i in scored else None for i in rows]
    for label in model.classes:
        out[f"proba_{label}"] = [
            scored[i].probabilities[label] if i in scored else float("nan")
            for i in rows
        ]
    if errors:
        reasons: list[str | None] = [None] * len(frame)
        for error in errors:
            assert error.row is not None  # every row error names its row
            reasons[error.row] = _reason(error)
        out["error"] = reasons
    return out


def _reason(error: RowError) -> str:
    """The error without its row (the row it sits on says that)."""
    if error.field is None:
        return error.problem
    return f"field '{error.field}': {error.problem}"


def _read(path: Path, model: ServedModel) -> pd.DataFrame:
    """The file's rows. A CSV's text columns are read as text whatever their
    cells look like (a category "01" stays "01", as training read it)."""
    if not path.exists():
        raise DataError(f"input not found: {path}", "check the --input path")
    suffix = path.suffix.lower()
    text = {f.name: str for f in model.schema.fields if f.kind in TEXT_KINDS}
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype=text)
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


def _prepared(frame: pd.DataFrame, model: ServedModel) -> pd.DataFrame:
    """Cells as JSON would carry them: numbers parsed, booleans as True and
    False, date-times as ISO 8601 text."""
    fixed = _numbers_as_numbers(frame, model)
    for spec in model.schema.fields:
        column = fixed.get(spec.name)
        if column is None:
            continue
        if spec.kind == "boolean":
            fixed[spec.name] = column.astype(object).map(_boolean)
        elif spec.kind == "datetime":
            fixed[spec.name] = column.astype(object).map(_iso)
    return fixed


def _boolean(value: Any) -> Any:
    """True/False/true/false/1/0 as a bool; anything else as it was (the
    schema then names the row)."""
    if isinstance(value, str):
        return BOOLEAN_TEXT.get(value.strip().lower(), value)
    if isinstance(value, bool) or pd.isna(value):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return value


def _iso(value: Any) -> Any:
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value.isoformat()
    return value


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
