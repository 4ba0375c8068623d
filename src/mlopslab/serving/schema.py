"""Request validation against the model's signature.

Each served model gets a row validator built from its MLflow signature: the
exact set of columns, numbers for numeric columns (never strings or booleans),
true or false for boolean ones, strings for other categorical ones, no NaN or
infinity, and null only where the training data had missing values (the
signature's `required: false`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

NUMERIC_TYPES = {"double", "float", "long", "integer"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "number", "integer", "boolean" or "string"
    required: bool


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
class RowSchema:
    fields: tuple[Field, ...]

    @classmethod
    def from_signature(cls, inputs: list[dict[str, Any]]) -> RowSchema:
        """Build from `signature.inputs.to_dict()` of an MLflow model."""
        fields = []
        for column in inputs:
            mlflow_type = str(column.get("type"))
            if mlflow_type in {"long", "integer"}:
                kind = "integer"
            elif mlflow_type in NUMERIC_TYPES:
                kind = "number"
            elif mlflow_type == "boolean":
                kind = "boolean"
            else:
                kind = "string"
            fields.append(
                Field(str(column["name"]), kind, bool(column.get("required", True)))
            )
        return cls(tuple(fields))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of one row, for the OpenAPI document (/docs)."""
        types = {
            "number": "number",
            "integer": "integer",
            "boolean": "boolean",
            "string": "string",
        }
        properties = {
            f.name: {"type": types[f.kind] if f.required else [types[f.kind], "null"]}
            for f in self.fields
        }
        return {
            "type": "object",
            "properties": properties,
            "required": self.names,
            "additionalProperties": False,
            "example": self.openapi_example(),
        }

    def openapi_example(self) -> dict[str, Any]:
        examples = {"number": 1.0, "integer": 1, "boolean": True, "string": "a"}
        return {f.name: examples[f.kind] for f in self.fields}

    def validate_rows(self, rows: Any, max_rows: int) -> list[dict[str, Any]]:
        """Check a batch; raise RowError naming the first bad row and field."""
        if not isinstance(rows, list) or not rows:
            raise RowError(None, "rows", "must be a non-empty list of objects")
        if len(rows) > max_rows:
            raise RowError(
                None, "rows", f"{len(rows)} rows exceed the limit of {max_rows}"
            )
        return [self.validate_row(index, row) for index, row in enumerate(rows)]

    def validate_row(self, index: int, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise RowError(index, None, "must be a JSON object of feature values")
        unknown = sorted(set(row) - set(self.names))
        if unknown:
            raise RowError(index, unknown[0], f"unknown field; expected {self.names}")
        clean = {}
        for spec in self.fields:
            if spec.name not in row:
                raise RowError(index, spec.name, "missing field")
            clean[spec.name] = _check_value(index, spec, row[spec.name])
        return clean


def _check_value(index: int, spec: Field, value: Any) -> Any:
    if value is None:
        if spec.required:
            raise RowError(index, spec.name, "must not be null")
        return None
    if spec.kind == "boolean":
        if not isinstance(value, bool | np.bool_):
            raise RowError(
                index, spec.name, f"must be true or false, got {type(value).__name__}"
            )
        return bool(value)
    if spec.kind == "string":
        if not isinstance(value, str):
            raise RowError(
                index, spec.name, f"must be a string, got {type(value).__name__}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(
            index, spec.name, f"must be a number, got {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise RowError(index, spec.name, "must be a finite number, not NaN or infinity")
    if spec.kind == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise RowError(index, spec.name, "must be a whole number")
        return int(value)
    return float(value)
