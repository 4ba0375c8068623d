"""A database that is locked or unreachable is a 503 page, not a 500; a body
too large is a 413 before Django reads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class DatabaseDown:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, DatabaseError):
            return None
        page = render_to_string(
            "classroom/error.html",
            {
                "title": "The course database is unavailable",
                "message": "The server cannot reach its database just now. "
                "Try again in a minute; tell your instructor if it lasts.",
            },
        )
        return HttpResponse(page, status=503)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """An ASGI wrapper that refuses a request body over `limit` bytes with 413.

    Django reads a whole body into a temporary file before any view runs, so
    a view's own size check comes too late to spare the disk: this one counts
    the bytes as they arrive (Content-Length, or chunk by chunk).
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        mb = self.limit // 2**20
        body = (
            f"The request is larger than {mb} MB: hand in at most 20 MB"
            " (leave out data and the workspace, .mlopslab)."
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})
