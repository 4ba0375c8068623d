"""The MLflow UI's page gains the defaults script; nothing else changes."""

import asyncio
import json
from typing import Any

from mlopslab.stores.registry.mlflow_ui import DEFAULTS, preset, with_defaults

PAGE = b"<!doctype html><html><head><title>MLflow</title></head><body></body></html>"


def call(
    path: str, body: bytes, headers: list[tuple[bytes, bytes]], method: str = "GET"
) -> list[Any]:
    """Send one GET through `preset` around an app that answers `body`."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = len(body) // 2  # in two parts, as a streaming app may send it
        await send(
            {"type": "http.response.body", "body": body[:half], "more_body": True}
        )
        await send({"type": "http.response.body", "body": body[half:]})

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope = {"type": "http", "path": path, "method": method}

    async def once() -> None:
        await preset(inner)(scope, receive, send)

    asyncio.run(once())
    return sent


def body_of(sent: list[Any]) -> bytes:
    return b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )


def test_the_page_sets_each_default_before_mlflows_scripts() -> None:
    html = [(b"content-type", b"text/html; charset=utf-8")]
    sent = call("/", PAGE, [*html, (b"content-length", str(len(PAGE)).encode())])
    page = body_of(sent)
    assert page.startswith(b"<!doctype html><html><head><script>")
    assert page.index(b"</script>") < page.index(b"<title>")
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(page)).encode()
    settings = json.loads(page.split(b"})(", 1)[1].split(b");</script>", 1)[0])
    assert {k: json.loads(v) for k, v in settings.items()} == DEFAULTS
    # Only where the browser holds nothing: a user's own choice stays.
    assert b"localStorage.getItem(k)===null" in page


def test_everything_else_passes_unchanged() -> None:
    html = [(b"content-type", b"text/html")]
    assert body_of(call("/static-files/app.js", PAGE, html)) == PAGE
    head = call("/", PAGE, [*html, (b"content-length", b"77")], method="HEAD")
    assert dict(head[0]["headers"])[b"content-length"] == b"77"
    gzipped = [*html, (b"content-encoding", b"gzip")]
    assert body_of(call("/", PAGE, gzipped)) == PAGE
    data = [(b"content-type", b"application/json")]
    assert body_of(call("/", b'{"a": 1}', data)) == b'{"a": 1}'
    assert with_defaults(b"no head here") == b"no head here"
