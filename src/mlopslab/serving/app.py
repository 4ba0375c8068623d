"""The FastAPI app, built by a factory so each test (and worker) builds its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mlopslab import __version__
from mlopslab.config import ServeConfig
from mlopslab.serving.http import (
    ERRORS,
    ApiError,
    ErrorBody,
    check_token,
    fast_json,
    install_error_handlers,
    json_body,
)
from mlopslab.serving.metrics import MetricsMiddleware
from mlopslab.serving.model import ServedModel
from mlopslab.serving.openapi import model_aware_openapi
from mlopslab.serving.protocol import (
    InvocationsResponse,
    LabelsRequest,
    PredictRequest,
    PredictResponse,
    RefusedBody,
    check,
    in_place,
    invocations_answer,
    mlflow_rows,
    predict_rows,
    refused,
)
from mlopslab.serving.runtime import ModelSource, Runtime
from mlopslab.serving.schema import CheckedRows
from mlopslab.stores.capture.record import CaptureStore


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

    # Docs pages with Swagger UI and ReDoc served from the package, not a CDN:
    # /docs must work offline.
    app = FastAPIOffline(
        title="mlopslab endpoint",
        version=__version__,
        description=f"Serves `models:/{source.name}@{cfg.model}` with capture.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.openapi = model_aware_openapi(app, runtime)  # type: ignore[method-assign]
    install_error_handlers(app)
    _prediction_routes(app, runtime, cfg)
    _status_routes(app, runtime)
    _label_and_admin_routes(app, runtime, cfg)
    app.add_middleware(MetricsMiddleware, metrics=runtime.metrics)
    return app


def _prediction_routes(app: FastAPI, runtime: Runtime, cfg: ServeConfig) -> None:
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
        responses={200: {"model": PredictResponse}, **ERRORS, **REFUSED},
        openapi_extra=body_doc,
    )
    async def predict(request: Request) -> Response:
        """Predict one row or a batch; each row gets its class probabilities.

        A bad row in a batch gets its own `error` (row, field, problem) in its
        place while the others are scored (`serve.on_bad_row`): a 200 when at
        least one row was scored, a 422 when none was.

        A model trained on images also takes `images`, each a list of pixel
        values (flat, or row by row): each image is answered as its row.
        """
        body = await json_body(request)
        model = _current(runtime)
        checked = predict_rows(model, body, cfg)
        return await _answer(runtime, model, checked)

    @app.post(
        "/invocations",
        responses={200: {"model": InvocationsResponse}, **ERRORS, **REFUSED},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: dataframe_split, dataframe_records or inputs.

        The answer is MLflow's `{"predictions": [...]}`. A bad row in a batch
        is refused alone (`serve.on_bad_row`): its prediction is null, and an
        `errors` list (row, field, problem) is added beside `predictions`.
        """
        body = await json_body(request)
        model = _current(runtime)
        scored = await runtime.score(model, check(model, mlflow_rows(body), cfg))
        if not scored.rows:
            return refused(scored)
        ids = runtime.new_ids(len(scored.rows))
        # A full sync capture queue raises CaptureFull: a 503 (serving/http.py).
        await runtime.capture(model, scored.rows, scored.predictions, ids)
        return fast_json(invocations_answer(scored))


def _status_routes(app: FastAPI, runtime: Runtime) -> None:
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


def _label_and_admin_routes(app: FastAPI, runtime: Runtime, cfg: ServeConfig) -> None:
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
        # 409: the reference names no loadable version; 503: the registry is down.
        responses={code: {"model": ErrorBody} for code in (401, 403, 409, 503)},
    )
    async def reload(request: Request) -> JSONResponse:
        """Load the version the reference points at now, then swap (token required)."""
        check_token(request, cfg.admin_token)
        old, new = await runtime.reload()
        return JSONResponse(
            {"previous_version": old, "model_version": new, "swapped": old != new}
        )


async def _answer(
    runtime: Runtime, model: ServedModel, checked: CheckedRows
) -> Response:
    scored = await runtime.score(model, checked)
    if not scored.rows:
        return refused(scored)
    rows, predictions = scored.rows, scored.predictions
    ids = runtime.new_ids(len(rows))
    await runtime.capture(model, rows, predictions, ids)  # only the rows scored
    single = len(ids) == 1 and scored.total == 1
    # Refused rows' errors go in their places among the predictions.
    answer = in_place(
        scored,
        {
            "model_name": model.name,
            "model_version": model.version,
            "request_id": ids[0] if single else runtime.new_ids(1)[0],
            "predictions": [
                {
                    "inference_id": i,
                    "prediction": p.label,
                    "probabilities": p.probabilities,
                }
                for i, p in zip(ids, predictions, strict=True)
            ],
        },
    )
    return fast_json(answer)


# Every row of the batch refused: the first row's error, then each row's.
REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": RefusedBody,
        "description": "No row could be scored (`error` is the first row's, "
        "`errors` each row's), or the request itself is not valid",
    }
}


def _current(runtime: Runtime) -> ServedModel:
    if runtime.model is None:
        detail = f": {runtime.load_error}" if runtime.load_error else ""
        raise ApiError(503, f"model not loaded yet{detail}")
    return runtime.model
