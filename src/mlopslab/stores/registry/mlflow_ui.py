"""MLflow's own UI, opened on the classic machine-learning view.

MLflow 3's UI starts a new browser on its GenAI view, with an assistant panel
open and a telemetry notice: nothing a learner of tabular MLOps needs first.
Those are browser settings (localStorage), not server ones, so this app, run
by `mlflow ui --app-name mlopslab` (the `mlflow.app` entry point MLflow offers
for plugins), serves MLflow's app unchanged except for one script in its page
that sets the defaults a user has not set yet. A choice the user makes in the
UI afterwards stays.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The UI keeps each setting as JSON under "<key>_v<version>" (MLflow 3.17).
DEFAULTS = {
    "mlflow.workflowType_v1": "machine_learning",
    "mlflow.assistant.panelOpen_v1": False,
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": True,
    "mlflow.settings.telemetry.enabled_v1": False,
    "mlflow.telemetry.info.alert.dismissed_v1": True,
}
PAGES = ("/", "/index.html")


def defaults_script() -> bytes:
    """A script that sets each default the browser does not hold yet."""
    settings = json.dumps({key: json.dumps(value) for key, value in DEFAULTS.items()})
    return (
        "<script>(function(d){for(var k in d){try{"
        "if(localStorage.getItem(k)===null){localStorage.setItem(k,d[k]);}"
        "}catch(e){}}})(" + settings + ");</script>"
    ).encode()


def with_defaults(page: bytes) -> bytes:
    """The page with the script first in its head, before MLflow's own scripts."""
    head = page.find(b"<head>")
    if head < 0:
        return page
    cut = head + len(b"<head>")
    return page[:cut] + defaults_script() + page[cut:]


def preset(inner: ASGIApp) -> ASGIApp:
    """`inner`, with the script added to the UI's page and nothing else changed."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        page = scope.get("path") in PAGES and scope.get("method") == "GET"
        if scope["type"] != "http" or not page:
            await inner(scope, receive, send)
            return
        start: Message = {}
        body = bytearray()

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = _edited(start, bytes(body))
            headers = [
                (name, value)
                for name, value in start.get("headers", [])
                if name.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await inner(scope, receive, buffered)

    return app


def _edited(start: Message, body: bytes) -> bytes:
    headers = {name.lower(): value for name, value in start.get("headers", [])}
    html = headers.get(b"content-type", b"").startswith(b"text/html")
    plain = b"content-encoding" not in headers  # never edit a compressed page
    return with_defaults(body) if html and plain and start["status"] == 200 else body


class _MlflowUi:
    """MLflow's app with the defaults, built at the first request.

    An object, not a function: MLflow takes a plain function for an app
    factory. Built late because MLflow's app reads the settings `mlflow ui`
    puts in the server's environment, and importing it costs a second.
    """

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            from mlflow.server.fastapi_app import app as mlflow_app

            self._app = preset(mlflow_app)
        await self._app(scope, receive, send)


app = _MlflowUi()
