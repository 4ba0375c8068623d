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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlopslab.errors import DataError, first_line
from mlopslab.serving.model import NOT_FINITE, UNSCORABLE, Prediction, ServedModel
from mlopslab.serving.schema import RowError, RowSchema

CHUNK_ROWS = 10_000  # a task's rows on a Ray cluster
# Rows scored at a time here: large enough that the model's per-call cost
# vanishes, small enough to bound the copies a chunk makes (about 50 MB at
# 30 columns).
LOCAL_CHUNK_ROWS = 100_000
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
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Validate every row, predict in chunks, write atomically.

    Locally, each chunk of LOCAL_CHUNK_ROWS rows is checked column by column: the
    rows whose every cell plainly meets the schema go to the model as one
    frame, and only the others are checked one by one (so a bad row is named
    with the endpoint's own message). With a `cluster` (a RayExecutor) the
    chunks are scored on its workers and come back in input order.
    `progress` hears the rows done of the total after each chunk.
    """
    frame = _read(input_path, model)
    _check_columns(frame, model, input_path)
    whole = on_bad_row == "refuse_batch"
    if cluster is not None:
        scores = _score_on_cluster(model, frame, cluster, input_path, whole)
    else:
        scores = _Scores.empty(len(frame), len(model.classes))
        for start in range(0, len(frame), LOCAL_CHUNK_ROWS):
            chunk = frame.iloc[start : start + LOCAL_CHUNK_ROWS]
            _score_chunk(model, chunk, start, scores, input_path, whole)
            if progress is not None:
                progress(start + len(chunk), len(frame))
    errors = sorted(scores.errors, key=lambda e: e.row or 0)
    _refuse_if_none_left(input_path, scores.scored.any(), errors)
    _write_atomically(_output(frame, model, scores, errors), output_path)
    scored = int(scores.scored.sum())
    return BatchResult(scored, len(errors), str(errors[0]) if errors else None)


@dataclass
class _Scores:
    """Each row's predicted class and probabilities, where it was scored."""

    labels: np.ndarray  # object: the class, or None
    proba: np.ndarray  # rows x classes, NaN where not scored
    scored: np.ndarray  # bool
    errors: list[RowError]

    @classmethod
    def empty(cls, rows: int, classes: int) -> _Scores:
        return cls(
            np.full(rows, None, dtype=object),
            np.full((rows, classes), np.nan),
            np.zeros(rows, dtype=bool),
            [],
        )

    def put(self, model: ServedModel, where: np.ndarray, proba: np.ndarray) -> None:
        self.proba[where] = proba
        self.labels[where] = np.asarray(model.classes, dtype=object)[
            proba.argmax(axis=1)
        ]
        self.scored[where] = True


def _score_chunk(
    model: ServedModel,
    chunk: pd.DataFrame,
    start: int,
    scores: _Scores,
    path: Path,
    whole: bool,
) -> None:
    """Score one chunk into `scores`; its bad rows into `scores.errors`."""
    prepared = _prepared(chunk, model)
    plain = np.flatnonzero(_plainly_valid(prepared, model.schema))
    parts, where = [], []
    if len(plain):
        parts.append(_model_frame(prepared.iloc[plain], model.schema))
        where.append(plain)
    others = np.setdiff1d(np.arange(len(chunk)), plain)
    if len(others):
        clean, kept = _checked(
            model, prepared.iloc[others], others, start, scores, path, whole
        )
        if clean:
            parts.append(model.frame(clean))
            where.append(np.asarray(kept))
    if not parts:
        return
    X = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    rows = np.concatenate(where)
    proba, unscorable = _probabilities(model, X, rows + start, path, whole, scores)
    finite = np.isfinite(proba).all(axis=1)
    for row in rows[~finite & ~unscorable]:
        if whole:
            raise DataError(
                f"{path}: row {start + row}: {NOT_FINITE}",
                "fix that row and score again",
            )
        scores.errors.append(RowError(int(start + row), None, NOT_FINITE))
    scores.put(model, rows[finite] + start, proba[finite])


def _checked(
    model: ServedModel,
    rows: pd.DataFrame,
    positions: np.ndarray,
    start: int,
    scores: _Scores,
    path: Path,
    whole: bool,
) -> tuple[list[dict[str, Any]], list[int]]:
    """The endpoint's own check, row by row, for rows the columns could not
    vouch for: the clean rows and their positions in the chunk."""
    clean, kept = [], []
    for position, record in zip(positions, _records(rows), strict=True):
        try:
            clean.append(model.schema.validate_row(int(start + position), record))
        except RowError as exc:
            if whole:
                raise DataError(
                    f"{path}: {exc}", "fix that row and score again"
                ) from exc
            scores.errors.append(exc)
        else:
            kept.append(int(position))
    return clean, kept


def _probabilities(
    model: ServedModel,
    X: pd.DataFrame,
    rows: np.ndarray,
    path: Path,
    whole: bool,
    scores: _Scores,
) -> tuple[np.ndarray, np.ndarray]:
    """predict_proba on the chunk; if the model cannot score it, row by row,
    so that only the rows it cannot score are refused (and marked)."""
    unscorable = np.zeros(len(X), dtype=bool)
    try:
        return model.probabilities(X), unscorable
    except (ValueError, TypeError, KeyError) as exc:
        if whole:
            raise DataError(
                f"{path}: {UNSCORABLE.replace('row', 'file')}: {first_line(exc, 300)}",
                "check the rows the message names and score again",
            ) from exc
    proba = np.full((len(X), len(model.classes)), np.nan)
    for i in range(len(X)):
        try:
            proba[i] = model.probabilities(X.iloc[[i]])[0]
        except (ValueError, TypeError, KeyError) as exc:
            problem = f"{UNSCORABLE}: {first_line(exc, 300)}"
            scores.errors.append(RowError(int(rows[i]), None, problem))
            unscorable[i] = True
    return proba, unscorable


def _plainly_valid(frame: pd.DataFrame, schema: RowSchema) -> np.ndarray:
    """Rows whose every cell meets the schema on its face, found column by
    column: numbers that are finite (and whole, for integers), booleans,
    strings, or a null where one is accepted. Anything else (and date-times,
    which have their own parser) is left to `validate_row`."""
    ok = np.ones(len(frame), dtype=bool)
    for spec in schema.fields:
        column = frame[spec.name]
        null = column.isna().to_numpy()
        fine = _plain_cells(column, spec.kind)
        ok &= fine | (null & schema.nullable(spec))
    return ok


def _plain_cells(column: pd.Series, kind: str) -> np.ndarray:
    if kind in ("number", "integer"):
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(
            column
        ):
            return np.zeros(len(column), dtype=bool)
        values = column.to_numpy(dtype=float, na_value=np.nan)
        fine = np.isfinite(values)
        if kind == "integer":
            fine &= values == np.floor(np.where(fine, values, 0.0))
        return fine
    present = column.notna().to_numpy()
    if kind == "boolean":
        if pd.api.types.infer_dtype(column, skipna=True) == "boolean":
            return present  # one C-level pass; else the mixed column, cell by cell
        return column.map(type).isin([bool, np.bool_]).to_numpy()
    if kind == "string":
        if pd.api.types.infer_dtype(column, skipna=True) == "string":
            return present
        return column.map(type).isin([str]).to_numpy()
    return np.zeros(len(column), dtype=bool)  # datetime: validate_row parses it


def _model_frame(rows: pd.DataFrame, schema: RowSchema) -> pd.DataFrame:
    """Plainly valid rows as `ServedModel.frame` makes them: floats, and
    plain-object strings and booleans, with NaN gaps."""
    columns: dict[str, Any] = {}
    for spec in schema.fields:
        column = rows[spec.name]
        if spec.kind in ("string", "boolean"):
            values = np.array(column.to_numpy(dtype=object), dtype=object)
            values[column.isna().to_numpy()] = np.nan
            columns[spec.name] = pd.Series(values, dtype=object)
        else:
            columns[spec.name] = column.to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(columns, copy=False)


def _score_on_cluster(
    model: ServedModel, frame: pd.DataFrame, cluster: Any, path: Path, whole: bool
) -> _Scores:
    """Rows checked one by one here, scored in chunks on the cluster."""
    scores = _Scores.empty(len(frame), len(model.classes))
    positions = np.arange(len(frame))
    clean, kept = _checked(
        model, _prepared(frame, model), positions, 0, scores, path, whole
    )
    chunks = [clean[i : i + CHUNK_ROWS] for i in range(0, len(clean), CHUNK_ROWS)]
    predictions: list[Prediction] = list(cluster.predict(model, chunks))
    for row, prediction in zip(kept, predictions, strict=True):
        if not prediction.finite:
            if whole:
                raise DataError(
                    f"{path}: row {row}: {NOT_FINITE}", "fix that row and score again"
                )
            scores.errors.append(RowError(row, None, NOT_FINITE))
            continue
        proba = np.array([[prediction.probabilities[c] for c in model.classes]])
        scores.put(model, np.array([row]), proba)
    return scores


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


def _output(
    frame: pd.DataFrame,
    model: ServedModel,
    scores: _Scores,
    errors: list[RowError],
) -> pd.DataFrame:
    """The input, then `prediction` and `proba_<class>` (empty for a refused
    row), then, when a row was refused, `error`: each refused row's reason."""
    out = frame.copy()
    out["prediction"] = scores.labels
    for i, label in enumerate(model.classes):
        out[f"proba_{label}"] = scores.proba[:, i]
    if errors:
        reasons = np.full(len(frame), None, dtype=object)
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
        if spec.kind == "boolean" and pd.api.types.is_bool_dtype(column):
            fixed[spec.name] = column.astype(object)  # True and False already
        elif spec.kind == "boolean":
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
