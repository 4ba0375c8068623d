"""The request and response shapes of /predict and MLflow's /invocations.

A batch is judged row by row (`serve.on_bad_row = "refuse_row"`, the default):
a bad row gets its own error while the others are scored and captured.
/predict answers each row in its place, a refused one as `{"error": {row,
field, problem, message}}`; /invocations keeps MLflow's `{"predictions":
[...]}`, with null for a refused row and an `errors` list beside it. Either
is a 200 when at least one row was scored, and a 422 (`{"error": ...,
"errors": [...]}`) when none was. A problem with the request itself (not a
list, too many rows, malformed JSON) refuses it whole. With "refuse_batch",
the first bad row refuses the whole batch.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mlopslab.config import ServeConfig
from mlopslab.serving.http import ApiError
from mlopslab.serving.images import takes_rows_only
from mlopslab.serving.model import ServedModel
from mlopslab.serving.runtime import Scored
from mlopslab.serving.schema import CheckedRows, RowError


class PredictRequest(BaseModel):
    rows: list[dict[str, Any]] = Field(
        min_length=1, description="Feature rows, one object each"
    )


class RowProblem(BaseModel):
    row: int | None = Field(description="The row's place in the request, from 0")
    field: str | None = Field(description="The field at fault, if one is")
    problem: str
    message: str


class RowRefusal(BaseModel):
    """A row refused on its own, in its place among the predictions."""

    error: RowProblem


class RowPrediction(BaseModel):
    inference_id: str
    prediction: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    request_id: str
    predictions: list[RowPrediction | RowRefusal] = Field(
        description="One per row, in order: a prediction, or the row's error"
    )


class InvocationsResponse(BaseModel):
    predictions: list[str | None] = Field(
        description="One class per row, in order; null for a refused row"
    )
    errors: list[RowProblem] | None = Field(
        None, description="Present only when rows were refused: why each was"
    )


class RefusedBody(BaseModel):
    """Every row refused (422): the first row's error, then each row's."""

    error: dict[str, Any]
    errors: list[RowProblem] | None = None


class Label(BaseModel):
    inference_id: str
    label: str


class LabelsRequest(BaseModel):
    labels: list[Label] = Field(min_length=1)


def validate(model: ServedModel, rows: Any, limit: int) -> list[dict[str, Any]]:
    try:
        return model.schema.validate_rows(rows, limit)
    except RowError as exc:
        raise _api_error(exc) from exc


def check(model: ServedModel, rows: Any, cfg: ServeConfig) -> CheckedRows:
    """Judge a batch as `serve.on_bad_row` says: each row on its own, or the
    whole batch refused at its first bad row (a 422 naming it)."""
    if cfg.on_bad_row == "refuse_batch":
        return CheckedRows.accepted(validate(model, rows, cfg.max_batch_rows))
    try:
        return model.schema.check_rows(rows, cfg.max_batch_rows)
    except RowError as exc:  # the batch itself: not a list, or too long
        raise _api_error(exc) from exc


def _api_error(exc: RowError) -> ApiError:
    status = 413 if exc.field == "rows" and "exceed the limit" in exc.problem else 422
    return ApiError(status, str(exc), field=exc.field, row=exc.row)


def refused(scored: Scored) -> Response:
    """422: no row could be scored. The first row's error, then each row's."""
    first = scored.errors[0]
    message = str(first)
    if len(scored.errors) > 1:
        message = f"all {len(scored.errors)} rows were refused; the first: {message}"
    body = {
        "error": {
            "status": 422,
            "message": message,
            "field": first.field,
            "row": first.row,
        },
        "errors": [error.to_dict() for error in scored.errors],
    }
    return Response(orjson.dumps(body), 422, media_type="application/json")


def in_place(scored: Scored, answer: dict[str, Any]) -> dict[str, Any]:
    """/predict's answer with each refused row's error in that row's place."""
    if scored.errors:
        entries: list[Any] = [None] * scored.total
        for position, entry in zip(
            scored.positions, answer["predictions"], strict=True
        ):
            entries[position] = entry
        for error in scored.errors:
            entries[_row(error)] = {"error": error.to_dict()}
        answer["predictions"] = entries
    return answer


def invocations_answer(scored: Scored) -> dict[str, Any]:
    """MLflow's shape: a class per row (null where refused), and `errors`
    only when a row was refused."""
    if not scored.errors:
        return {"predictions": [p.label for p in scored.predictions]}
    labels: list[str | None] = [None] * scored.total
    for position, prediction in zip(scored.positions, scored.predictions, strict=True):
        labels[position] = prediction.label
    return {
        "predictions": labels,
        "errors": [error.to_dict() for error in scored.errors],
    }


def _row(error: RowError) -> int:
    assert error.row is not None  # row errors always name their row
    return error.row


def mlflow_rows(body: Any) -> list[Any]:
    """Turn MLflow's three input formats into a list of row objects."""
    if not isinstance(body, dict):
        raise ApiError(422, "body must be an object", field="body")
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if (
            not isinstance(split, dict)
            or not isinstance(split.get("columns"), list)
            or not isinstance(split.get("data"), list)
        ):
            raise ApiError(
                422,
                "dataframe_split needs 'columns' and 'data' lists",
                field="dataframe_split",
            )
        columns = split["columns"]
        if not all(
            isinstance(r, list) and len(r) == len(columns) for r in split["data"]
        ):
            raise ApiError(
                422,
                "each dataframe_split row must match 'columns'",
                field="dataframe_split.data",
            )
        return [dict(zip(columns, r, strict=True)) for r in split["data"]]
    if "dataframe_records" in body:
        return (
            list(body["dataframe_records"])
            if isinstance(body["dataframe_records"], list)
            else [body["dataframe_records"]]
        )
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict):  # columnar: {"col": [v1, v2]}
            lengths = {len(v) if isinstance(v, list) else -1 for v in inputs.values()}
            if len(lengths) != 1 or -1 in lengths:
                raise ApiError(
                    422, "columnar inputs need equal-length lists", field="inputs"
                )
            count = lengths.pop()
            return [{k: v[i] for k, v in inputs.items()} for i in range(count)]
        return inputs if isinstance(inputs, list) else [inputs]
    raise ApiError(
        422,
        "expected one of dataframe_split, dataframe_records or inputs",
        field="body",
    )


def predict_rows(model: ServedModel, body: Any, cfg: ServeConfig) -> CheckedRows:
    """The rows a /predict body asks about: exactly one of `rows` or `images`.

    Images (serving/images.py) become the rows of named pixels they are.
    """
    images = model.image
    if isinstance(body, dict) and "rows" in body and "images" in body:
        raise ApiError(422, "send either 'rows' or 'images', not both", field="body")
    if isinstance(body, dict) and "images" in body:
        if images is None:
            raise ApiError(422, takes_rows_only(model.schema), field="images")
        return CheckedRows.accepted(images.rows(body["images"], cfg.max_batch_rows))
    if not isinstance(body, dict) or "rows" not in body:
        wanted = "a 'rows' list" + (" or an 'images' list" if images else "")
        raise ApiError(422, f"body must be an object with {wanted}", field="rows")
    return check(model, body["rows"], cfg)
