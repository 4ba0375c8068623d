"""Error pages: a plain sentence and a way back, never a traceback."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def _page(title: str, message: str, status: int) -> HttpResponse:
    html = render_to_string(
        "classroom/error.html", {"title": title, "message": message}
    )
    return HttpResponse(html, status=status)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        "Not yours to see", "This page is for someone else's account or role.", 403
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page("Not found", "There is nothing here for your account.", 404)


def broken(request: HttpRequest) -> HttpResponse:
    return _page(
        "Something went wrong",
        "The server could not finish this request. Tell your instructor.",
        500,
    )
