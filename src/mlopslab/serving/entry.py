"""The app factory uvicorn calls in each worker process, and uvicorn's start.

`mlopslab serve` resolves the configuration once and hands it to the workers
through one environment variable, so every worker builds the same app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from mlopslab.config import ServeConfig
from mlopslab.serving.app import create_app
from mlopslab.serving.model import AgentSource
from mlopslab.serving.startup import Acquired
from mlopslab.stores.capture import open_capture_store
from mlopslab.stores.registry.agent import RegistryAgent
from mlopslab.stores.registry.versions import ModelFiles, files_from_json, files_to_json

RUNTIME_ENV = "MLOPSLAB_SERVE_RUNTIME"


def runtime_spec(
    cfg: ServeConfig,
    model_name: str,
    tracking_uri: str,
    artifact_location: str | None,
    capture: str,
    prefetched: ModelFiles | None = None,
    unconfirmed: bool = False,
) -> str:
    return json.dumps(
        {
            "serve": cfg.model_dump(mode="json"),
            "model_name": model_name,
            "tracking_uri": tracking_uri,
            "artifact_location": artifact_location,
            "capture": capture,
            "prefetched": files_to_json(prefetched) if prefetched else None,
            "unconfirmed": unconfirmed,
        }
    )


def build() -> FastAPI:
    """Build the app from the spec `mlopslab serve` put in the environment."""
    spec: dict[str, Any] = json.loads(os.environ[RUNTIME_ENV])
    cfg = ServeConfig.model_validate(spec["serve"])
    agent = RegistryAgent(spec["tracking_uri"], spec["artifact_location"])
    fetched = spec.get("prefetched")
    prefetched = files_from_json(fetched) if fetched else None
    # The files belong to `mlopslab serve`, which removes them when it stops.
    return build_app(
        cfg,
        agent,
        spec["model_name"],
        spec["capture"],
        prefetched,
        unconfirmed=bool(spec.get("unconfirmed")),
    )


def build_app(
    cfg: ServeConfig,
    agent: RegistryAgent,
    model_name: str,
    capture: str,
    prefetched: ModelFiles | None = None,
    owns_prefetched: bool = False,
    unconfirmed: bool = False,
    snapshot: Path | None = None,
) -> FastAPI:
    """The app for one model of a registry, capturing into `capture` (path or URL)."""
    source = AgentSource(
        agent, model_name, cfg.model, prefetched, owns_prefetched, unconfirmed, snapshot
    )
    store = open_capture_store(capture) if cfg.capture_rate > 0 else None
    return create_app(cfg, source, store)


def run_server(
    cfg: ServeConfig,
    agent: RegistryAgent,
    acquired: Acquired,
    registry: tuple[str, str | None],
    capture: str,
) -> None:
    """Serve `acquired` with uvicorn until stopped.

    `registry` is the tracking URI and artifact location the workers' own
    agents use; `capture` is the capture store's path or URL.
    """
    options: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 30,
    }
    name = acquired.files.info.name
    if cfg.workers == 1:
        # One process: the app keeps this agent for its alias checks, and takes
        # over temporary files (it removes them once it has loaded them).
        app = build_app(
            cfg,
            agent,
            name,
            capture,
            acquired.files,
            owns_prefetched=acquired.temporary,
            unconfirmed=acquired.unconfirmed,
            snapshot=acquired.snapshot,
        )
        uvicorn.run(app, **options)
        return
    # Several worker processes each build the same app from one spec, and load
    # the acquired files first; they only read them, so they stay ours.
    agent.close()
    os.environ[RUNTIME_ENV] = runtime_spec(
        cfg, name, *registry, capture, acquired.files, acquired.unconfirmed
    )
    try:
        uvicorn.run(
            "mlopslab.serving.entry:build",
            factory=True,
            workers=cfg.workers,
            **options,
        )
    finally:
        acquired.discard()
