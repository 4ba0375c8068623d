"""HTTP plumbing shared by the routes: errors, JSON in and out, the admin token.

Errors map to HTTP in one place: every client mistake is a 4xx JSON body
`{"error": {"status", "message", "field", "row"}}`, never a 500.
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
