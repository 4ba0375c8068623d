"""Request validation against the model's signature.

Each served model gets a row validator built from its MLflow signature: the
exact set of columns, numbers for numeric columns (never strings or booleans),
true or false for boolean ones, ISO 8601 strings for datetime ones, strings for
other categorical ones, and no NaN or infinity.

Null is accepted wherever the model's pipeline fills a gap (its imputer, the
way training's own gaps were filled), and always where training had gaps (the
signature's `required: false`). `strict_nulls` refuses it in the columns that
had no gaps in training. A null reaches the model as NaN and the capture store
as null, so the monitor's completeness check counts it.

`check_rows` judges each row on its own (a bad row gets its own `RowError`
while the others go on to be scored); `validate_rows` stops at the first.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

NUMERIC_TYPES = {"double", "float", "long", "integer"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "number", "integer", "boolean", "datetime" or "string"
    required: bool  # the signature's: training had no gaps in this column
    imputed: bool = False  # the model's pipeline fills a gap here


class RowError(ValueError):
    """A row that breaks the schema: says which row and which field."""

    def __init__(self, row: int | None, field: str | None, problem: str) -> None:
        self.row, self.field, self.problem = row, field, problem
        where = []
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "problem": self.problem,
            "message": str(self),
        }


@dataclass(frozen=True)
class CheckedRows:
    """A batch judged row by row: the rows accepted (cleaned), where each was
    in the batch, and one error for each row refused."""

    rows: list[dict[str, Any]]
    positions: list[int]
    errors: list[RowError]

    @classmethod
    def accepted(cls, rows: list[dict[str, Any]]) -> CheckedRows:
        return cls(rows, list(range(len(rows))), [])

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.errors)


@dataclass(frozen=True)
class RowSchema:
    fields: tuple[Field, ...]
    # Refuse null where training had no gaps, even where the pipeline imputes.
    strict_nulls: bool = False

    @classmethod
    def from_signature(
        cls,
        inputs: list[dict[str, Any]],
        imputed: Collection[str] = (),
        strict_nulls: bool = False,
    ) -> RowSchema:
        """Build from `signature.inputs.to_dict()` of an MLflow model.

        `imputed` names the columns whose gaps the model's pipeline fills
        (serving/model.py finds them); without it, null is accepted only where
        training had gaps.
        """
        fields = []
        for column in inputs:
            mlflow_type = str(column.get("type"))
            if mlflow_type in {"long", "integer"}:
                kind = "integer"
            elif mlflow_type in NUMERIC_TYPES:
                kind = "number"
            elif mlflow_type in {"boolean", "datetime"}:
                kind = mlflow_type
            else:
                kind = "string"
            name = str(column["name"])
            fields.append(
                Field(
                    name,
                    kind,
                    bool(column.get("required", True)),
                    imputed=name in imputed,
                )
            )
        return cls(tuple(fields), strict_nulls)

    def with_strict_nulls(self, strict: bool) -> RowSchema:
        """The same fields under the other null policy (`serve.strict_nulls`)."""
        if strict == self.strict_nulls:
            return self
        return replace(self, strict_nulls=strict)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def nullable(self, spec: Field) -> bool:
        """Whether a null is accepted in this field (and imputed by the model)."""
        return not spec.required or (spec.imputed and not self.strict_nulls)

    def describe(self) -> list[dict[str, Any]]:
        """The fields as /model lists them: `required` is the signature's (no
        gaps in training), `nullable` whether this server accepts null."""
        return [
            {
                "name": f.name,
                "kind": f.kind,
                "required": f.required,
                "nullable": self.nullable(f),
            }
            for f in self.fields
        ]

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of one row, for the OpenAPI document (/docs)."""
        types: dict[str, dict[str, Any]] = {
            "number": {"type": "number"},
            "integer": {"type": "integer"},
            "boolean": {"type": "boolean"},
            "datetime": {"type": "string", "format": "date-time"},
            "string": {"type": "string"},
        }
        properties: dict[str, dict[str, Any]] = {}
        for f in self.fields:
            spec = dict(types[f.kind])
            if self.nullable(f):
                spec["type"] = [spec["type"], "null"]
            properties[f.name] = spec
        return {
            "type": "object",
            "properties": properties,
            "required": self.names,
            "additionalProperties": False,
            "example": self.openapi_example(),
        }

    def openapi_example(self) -> dict[str, Any]:
        examples = {
            "number": 1.0,
            "integer": 1,
            "boolean": True,
            "datetime": "2024-01-31T12:00:00",
            "string": "a",
        }
        return {f.name: examples[f.kind] for f in self.fields}

    def validate_rows(self, rows: Any, max_rows: int) -> list[dict[str, Any]]:
        """Check a batch; raise RowError naming the first bad row and field."""
        self._check_batch(rows, max_rows)
        return [self.validate_row(index, row) for index, row in enumerate(rows)]

    def check_rows(self, rows: Any, max_rows: int) -> CheckedRows:
        """Check a batch row by row: each bad row gets its own RowError.

        A batch that is not a non-empty list, or too long, is refused whole
        (a RowError with no row).
        """
        self._check_batch(rows, max_rows)
        clean, positions, errors = [], [], []
        for index, row in enumerate(rows):
            try:
                clean.append(self.validate_row(index, row))
            except RowError as exc:
                errors.append(exc)
            else:
                positions.append(index)
        return CheckedRows(clean, positions, errors)

    def _check_batch(self, rows: Any, max_rows: int) -> None:
        if not isinstance(rows, list) or not rows:
            raise RowError(None, "rows", "must be a non-empty list of objects")
        if len(rows) > max_rows:
            raise RowError(
                None, "rows", f"{len(rows)} rows exceed the limit of {max_rows}"
            )

    def validate_row(self, index: int, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise RowError(index, None, "must be a JSON object of feature values")
        unknown = sorted(set(row) - set(self.names))
        if unknown:
            raise RowError(index, unknown[0], f"unknown field; expected {self.names}")
        clean: dict[str, Any] = {}
        for spec in self.fields:
            if spec.name not in row:
                raise RowError(index, spec.name, "missing field")
            value = row[spec.name]
            if value is None:
                if not self.nullable(spec):
                    raise RowError(index, spec.name, _null_refused(self, spec))
                clean[spec.name] = None
            else:
                clean[spec.name] = _check_value(index, spec, value)
        return clean


def _null_refused(schema: RowSchema, spec: Field) -> str:
    if spec.imputed and schema.strict_nulls:
        return "must not be null (it had no gaps in training; serve.strict_nulls)"
    return "must not be null"


def _check_value(index: int, spec: Field, value: Any) -> Any:
    if spec.kind == "boolean":
        if not isinstance(value, bool | np.bool_):
            raise RowError(
                index, spec.name, f"must be true or false, got {type(value).__name__}"
            )
        return bool(value)
    if spec.kind == "datetime":
        return _check_datetime(index, spec, value)
    if spec.kind == "string":
        if not isinstance(value, str):
            raise RowError(
                index, spec.name, f"must be a string, got {type(value).__name__}"
            )
        return value
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise RowError(
            index, spec.name, f"must be a number, got {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise RowError(index, spec.name, "must be a finite number, not NaN or infinity")
    if spec.kind == "integer":
        if not float(value).is_integer():
            raise RowError(index, spec.name, "must be a whole number")
        return int(value)
    return float(value)


def _check_datetime(index: int, spec: Field, value: Any) -> str:
    """An ISO 8601 date or date and time, kept as text (naive, or in UTC)."""
    if not isinstance(value, str):
        raise RowError(
            index,
            spec.name,
            f"must be an ISO 8601 date and time string, got {type(value).__name__}",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(
            index,
            spec.name,
            f"must be an ISO 8601 date and time (like 2024-01-31T12:00:00), "
            f"got '{value[:40]}'",
        ) from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC).replace(tzinfo=None).isoformat()
    return value
