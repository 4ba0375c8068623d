"""A database that is locked or unreachable is a 503 page, not a 500."""

from __future__ import annotations

from collections.abc import Callable

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
