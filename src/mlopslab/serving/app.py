"""The FastAPI app, built by a factory so each test (and worker) builds its own.

Errors map to HTTP in one place: every client mistake is a 4xx JSON body
`{"error": {"status", "message", "field", "row"}}`, never a 500.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlopslab import __version__
from mlopslab.capture import CaptureStore
from mlopslab.config import ServeConfig
from mlopslab.serving.model import Prediction, ServedModel
from mlopslab.serving.runtime import CaptureFull, ModelSource, Runtime
from mlopslab.serving.schema import RowError


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.row = status, message, field, row


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


class ErrorBody(BaseModel):
    error: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 413, 415, 422, 503)
}


def create_app(
    cfg: ServeConfig, source: ModelSource, store: CaptureStore | None
) -> FastAPI:
    """One endpoint serving `source`'s model, capturing into `store`."""
    runtime = Runtime(cfg, source, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    app = FastAPI(
        title="mlopslab endpoint",
        version=__version__,
        description=f"Serves `models:/{source.name}@{cfg.model}` with capture.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.openapi = _model_aware_openapi(app, runtime)  # type: ignore[method-assign]
    _error_handlers(app)
    _routes(app, runtime, cfg)
    app.add_middleware(MetricsMiddleware, runtime=runtime)
    return app


def _routes(app: FastAPI, runtime: Runtime, cfg: ServeConfig) -> None:
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": PredictRequest.model_json_schema()}
            },
        }
    }

    @app.post(
        "/predict",
        responses={200: {"model": PredictResponse}, **ERRORS},
        openapi_extra=body_doc,
    )
    async def predict(request: Request) -> Response:
        """Predict one row or a batch; each row gets its class probabilities."""
        body = await _json_body(request)
        model = _current(runtime)
        if not isinstance(body, dict) or "rows" not in body:
            raise ApiError(
                422, "body must be an object with a 'rows' list", field="rows"
            )
        rows = _validate(model, body["rows"], cfg.max_batch_rows)
        return await _answer(runtime, model, rows)

    @app.post(
        "/invocations",
        responses=ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: dataframe_split, dataframe_records or inputs."""
        body = await _json_body(request)
        model = _current(runtime)
        rows = _validate(model, _mlflow_rows(body), cfg.max_batch_rows)
        predictions = await runtime.predict(model, rows)
        _check_finite(predictions)
        await _capture(runtime, model, rows, predictions, runtime.new_ids(len(rows)))
        return _fast_json({"predictions": [p.label for p in predictions]})

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"model": ErrorBody}})
    async def ready() -> JSONResponse:
        """Readiness: a model is loaded and warmed."""
        model = _current(runtime)
        return JSONResponse(
            {"ready": True, "model_name": model.name, "model_version": model.version}
        )

    @app.get("/model", responses={503: {"model": ErrorBody}})
    async def model_info() -> JSONResponse:
        """The served version, its signature and a model-card summary."""
        return JSONResponse(_current(runtime).summary())

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(
            generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    @app.post("/labels", responses=ERRORS)
    async def labels(parsed: LabelsRequest) -> JSONResponse:
        """Attach ground truth to captured rows by inference_id."""
        if runtime.store is None:
            raise ApiError(503, "capture is off on this server: no store for labels")
        pairs = [(label.inference_id, label.label) for label in parsed.labels]
        matched = runtime.store.add_labels(pairs)
        return JSONResponse({"received": len(pairs), "matched": matched})

    @app.post(
        "/admin/reload",
        responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    )
    async def reload(request: Request) -> JSONResponse:
        """Load the version the reference points at now, then swap (token required)."""
        _check_token(request, cfg.admin_token)
        old, new = await runtime.reload()
        return JSONResponse(
            {"previous_version": old, "model_version": new, "swapped": old != new}
        )


async def _answer(
    runtime: Runtime, model: ServedModel, rows: list[dict[str, Any]]
) -> Response:
    predictions = await runtime.predict(model, rows)
    _check_finite(predictions)
    ids = runtime.new_ids(len(rows))
    await _capture(runtime, model, rows, predictions, ids)
    return _fast_json(
        {
            "model_name": model.name,
            "model_version": model.version,
            "request_id": ids[0] if len(ids) == 1 else runtime.new_ids(1)[0],
            "predictions": [
                {
                    "inference_id": i,
                    "prediction": p.label,
                    "probabilities": p.probabilities,
                }
                for i, p in zip(ids, predictions, strict=True)
            ],
        }
    )


async def _capture(
    runtime: Runtime,
    model: ServedModel,
    rows: list[dict[str, Any]],
    predictions: list[Any],
    ids: list[str],
) -> None:
    try:
        await runtime.capture(model, rows, predictions, ids)
    except CaptureFull as exc:
        raise ApiError(503, "capture queue is full; retry shortly") from exc


def _model_aware_openapi(
    app: FastAPI, runtime: Runtime
) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with /predict rows described by the served signature."""
    cache: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        model = runtime.model
        version = model.version if model else None
        if version not in cache:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            if model is not None:
                body = document["paths"]["/predict"]["post"]["requestBody"]
                rows = body["content"]["application/json"]["schema"]["properties"][
                    "rows"
                ]
                rows["items"] = model.schema.json_schema()
                rows["maxItems"] = runtime.cfg.max_batch_rows
            cache.clear()
            cache[version] = document
        return cache[version]

    return openapi


def _fast_json(content: Any) -> Response:
    # The hot paths skip pydantic serialisation: orjson on plain dicts is faster.
    return Response(orjson.dumps(content), media_type="application/json")


def _check_finite(predictions: list[Prediction]) -> None:
    for index, prediction in enumerate(predictions):
        if not prediction.finite:
            raise ApiError(
                422,
                f"row {index}: values are outside the range the model can score "
                "(its probabilities are not finite)",
                row=index,
            )


def _current(runtime: Runtime) -> ServedModel:
    if runtime.model is None:
        detail = f": {runtime.load_error}" if runtime.load_error else ""
        raise ApiError(503, f"model not loaded yet{detail}")
    return runtime.model


def _validate(model: ServedModel, rows: Any, limit: int) -> list[dict[str, Any]]:
    try:
        return model.schema.validate_rows(rows, limit)
    except RowError as exc:
        status = (
            413 if exc.field == "rows" and "exceed the limit" in exc.problem else 422
        )
        raise ApiError(status, str(exc), field=exc.field, row=exc.row) from exc


async def _json_body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(
            415, f"content type must be application/json, got '{media or 'none'}'"
        )
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from exc


def _mlflow_rows(body: Any) -> list[Any]:
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


def _check_token(request: Request, token: str | None) -> None:
    if not token:
        raise ApiError(
            403,
            "admin reload is disabled: set serve.admin_token "
            "(MLOPSLAB_SERVE__ADMIN_TOKEN) to enable it",
        )
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise ApiError(
            401, "missing or wrong admin token (Authorization: Bearer TOKEN)"
        )


def _error_handlers(app: FastAPI) -> None:
    def body(
        status: int, message: str, field: str | None = None, row: int | None = None
    ) -> JSONResponse:
        return JSONResponse(
            {
                "error": {
                    "status": status,
                    "message": message,
                    "field": field,
                    "row": row,
                }
            },
            status_code=status,
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return body(exc.status, exc.message, exc.field, exc.row)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return body(422, f"{where}: {first.get('msg')}", field=where or None)

    @app.exception_handler(ValueError)
    async def unscorable(request: Request, exc: ValueError) -> JSONResponse:
        # pydantic's ValidationError (labels) and a model that cannot score a row.
        return body(422, str(exc).splitlines()[0][:300])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return body(exc.status_code, str(exc.detail))


class MetricsMiddleware:
    """Counts and times requests by route template and status (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.metrics = runtime.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
