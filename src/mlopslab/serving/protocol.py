"""The request and response shapes of /predict and MLflow's /invocations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mlopslab.serving.http import ApiError
from mlopslab.serving.images import takes_rows_only
from mlopslab.serving.model import Prediction, ServedModel
from mlopslab.serving.schema import RowError


class PredictRequest(BaseModel):
    rows: list[dict[str, Any]] = Field(
        min_length=1, description="Feature rows, one object each"
    )


class RowPrediction(BaseModel):
    inference_id: str
    prediction: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    request_id: str
    predictions: list[RowPrediction]


class Label(BaseModel):
    inference_id: str
    label: str


class LabelsRequest(BaseModel):
    labels: list[Label] = Field(min_length=1)


def validate(model: ServedModel, rows: Any, limit: int) -> list[dict[str, Any]]:
    try:
        return model.schema.validate_rows(rows, limit)
    except RowError as exc:
        status = (
            413 if exc.field == "rows" and "exceed the limit" in exc.problem else 422
        )
        raise ApiError(status, str(exc), field=exc.field, row=exc.row) from exc


def check_finite(predictions: list[Prediction]) -> None:
    for index, prediction in enumerate(predictions):
        if not prediction.finite:
            raise ApiError(
                422,
                f"row {index}: values are outside the range the model can score "
                "(its probabilities are not finite)",
                row=index,
            )


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


def predict_rows(model: ServedModel, body: Any, limit: int) -> list[dict[str, Any]]:
    """The rows a /predict body asks about: exactly one of `rows` or `images`.

    Images (serving/images.py) become the rows of named pixels they are.
    """
    images = model.image
    if isinstance(body, dict) and "rows" in body and "images" in body:
        raise ApiError(422, "send either 'rows' or 'images', not both", field="body")
    if isinstance(body, dict) and "images" in body:
        if images is None:
            raise ApiError(422, takes_rows_only(model.schema), field="images")
        return images.rows(body["images"], limit)
    if not isinstance(body, dict) or "rows" not in body:
        wanted = "a 'rows' list" + (" or an 'images' list" if images else "")
        raise ApiError(422, f"body must be an object with {wanted}", field="rows")
    return validate(model, body["rows"], limit)
