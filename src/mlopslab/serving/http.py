"""HTTP plumbing shared by the routes: errors, JSON in and out, the admin token.

Errors map to HTTP in one place (`install_error_handlers`): every client
mistake is a 4xx JSON body `{"error": {"status", "message", "field", "row"}}`,
never a 500. Every `MlopsLabError` gets a status from `status_for`: an
`ApiError` its own, a store that cannot answer 503. Only the model failing to
score the rows it was given is a 422 (`ScoringError`); any other ValueError is
a bug and stays a 500.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlopslab.errors import (
    ConfigError,
    DataError,
    MlopsLabError,
    RegistryError,
    StoreError,
    first_line,
)


class ApiError(MlopsLabError):
    """A request the endpoint refuses, with the HTTP status to answer."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.field, self.row = status, field, row

    def __reduce__(self) -> tuple[type[ApiError], tuple[Any, ...]]:
        # Its own arguments, not the base class's (message, hint).
        return (type(self), (self.status, self.message, self.field, self.row))


class ScoringError(ApiError):
    """The model could not score rows that passed validation: the client's rows."""

    def __init__(self, cause: BaseException, row: int | None = None) -> None:
        super().__init__(
            422,
            f"the model cannot score these rows: {first_line(cause, 300)}",
            row=row,
        )


# Most specific first: the first match gives the status.
STATUS_FOR: tuple[tuple[type[MlopsLabError], int], ...] = (
    (StoreError, 503),  # the capture or registry store cannot answer now: retry
    (RegistryError, 409),  # the reference names no version the server can load
    (DataError, 400),
    (ConfigError, 500),  # the server's own settings: not the client's to fix
)


def status_for(exc: MlopsLabError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next((code for kind, code in STATUS_FOR if isinstance(exc, kind)), 500)


class ErrorBody(BaseModel):
    error: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 413, 415, 422, 503)
}


def fast_json(content: Any) -> Response:
    # The hot paths skip pydantic serialisation: orjson on plain dicts is faster.
    return Response(orjson.dumps(content), media_type="application/json")


async def json_body(request: Request) -> Any:
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


def check_token(request: Request, token: str | None) -> None:
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


def install_error_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(MlopsLabError)
    async def mlopslab_error(request: Request, exc: MlopsLabError) -> JSONResponse:
        if isinstance(exc, ApiError):
            return body(exc.status, exc.message, exc.field, exc.row)
        return body(status_for(exc), exc.one_line())

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return body(422, f"{where}: {first.get('msg')}", field=where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return body(exc.status_code, str(exc.detail))
