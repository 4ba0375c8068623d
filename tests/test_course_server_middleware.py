"""The course server's body limit, on a bare ASGI app: no server, no Django."""

from __future__ import annotations

import asyncio
from typing import Any

from mlopslab.course.server.middleware import BodyLimit


def call(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Run BodyLimit(limit 10) over an app that reads the whole body, as Django does."""
    sent: list[dict[str, Any]] = []
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    queue.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message["body"]
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    scope = {"type": "http", "headers": headers}
    asyncio.run(BodyLimit(app, 10)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_a_body_within_the_limit_passes_whole() -> None:
    assert call([b"12345", b"67890"], [(b"content-length", b"10")]) == (
        200,
        b"1234567890",
    )


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    status, body = call([b"x" * 5], [(b"content-length", b"11")])
    assert status == 413 and b"hand in at most" in body


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    status, _ = call([b"x" * 6, b"x" * 6, b"x" * 6], [])
    assert status == 413
