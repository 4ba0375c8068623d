"""Prometheus metrics for one app (its own registry, so tests can build many)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    def __init__(
        self, queue_depth: Callable[[], float], dropped: Callable[[], float]
    ) -> None:
        disable_created_metrics()  # *_created series only add noise here
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlopslab_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlopslab_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "mlopslab_predictions",
            "Predicted rows by class",
            ["model_version", "predicted_class"],
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "mlopslab_batch_rows",
            "Rows per micro-batched predict call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        depth = Gauge(
            "mlopslab_capture_queue_depth",
            "Capture records waiting to be written",
            registry=self.registry,
        )
        depth.set_function(queue_depth)
        drops = Gauge(
            "mlopslab_capture_dropped",
            "Capture records dropped (queue full)",
            registry=self.registry,
        )
        drops.set_function(dropped)
        self.model_version = Gauge(
            "mlopslab_model_version_info",
            "The model version being served (value 1)",
            ["model_name", "model_version"],
            registry=self.registry,
        )

    def serving(self, name: str, version: str) -> None:
        self.model_version.clear()
        self.model_version.labels(model_name=name, model_version=version).set(1)


class MetricsMiddleware:
    """Counts and times requests by route template and status (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
