"""Who is asking: the roster member behind a session or a token."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from mlopslab.course.classroom.models import Member, Token

View = Callable[..., HttpResponse]


def member_of(request: HttpRequest) -> Member | None:
    user = request.user
    if not user.is_authenticated:
        return None
    try:
        return user.member  # cached on the user: the page's header reads it too
    except Member.DoesNotExist:
        return None


def signed_in(view: View) -> View:
    """A page for any roster member; others go to the login page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = member_of(request)
        if member is None:  # never signed in, or the session expired
            if request.headers.get("HX-Request"):
                # A fragment request: send the whole page to the login form.
                response = HttpResponse(status=401)
                response["HX-Redirect"] = f"{settings.LOGIN_URL}?next=/"
                return response
            return redirect_to_login(request.get_full_path())
        request.member = member
        return view(request, *args, **kwargs)

    return wrapped


def instructors(view: View) -> View:
    """A page for instructors only: a student gets 403."""

    @signed_in
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.member.role != "instructor":
            raise PermissionDenied("instructors only")
        return view(request, *args, **kwargs)

    return wrapped


def new_token(member: Member) -> str:
    """A fresh token for `course submit`: shown once, only its hash is kept."""
    token = "mlt_" + secrets.token_urlsafe(32)
    Token.objects.create(member=member, digest=_digest(token))
    return token


def token_member(request: HttpRequest) -> Member | None:
    """The member a `Authorization: Bearer` token belongs to, unless revoked."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = (
        Token.objects.select_related("member")
        .filter(digest=_digest(token.strip()), revoked__isnull=True)
        .first()
    )
    return found.member if found else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
