"""Shared options and the one place the CLI resolves config, workspace and store."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlopslab.config import Config, load_config
from mlopslab.errors import ConfigError
from mlopslab.stores.registry.agent import RegistryAgent
from mlopslab.stores.workspace import Workspace

if TYPE_CHECKING:
    from mlopslab.stores.registry.client import Registry

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Workspace directory (default ./.mlopslab or MLOPSLAB_HOME)."
    ),
]
CaptureUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--capture-url",
        help="postgresql://... capture store (default capture.db in the workspace).",
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option("--executor", help="local (default) or ray."),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="HOST:PORT of a Ray cluster's head."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML config file (default ./mlopslab.toml if present)."
    ),
]


def resolve_config(config_file: Path | None, home: Path | None, **flags: Any) -> Config:
    """Defaults < file < MLOPSLAB_* < flags, resolved once for this command."""
    overrides = {"home": home, **flags}
    return load_config(config_file, environ=os.environ, overrides=overrides)


def open_workspace(cfg: Config) -> Workspace:
    return Workspace(cfg.home).ensure()


def existing_workspace(cfg: Config) -> Workspace:
    """The workspace a command reads: a mistyped --home is an error, not a new one.

    With a shared tracking server (MLFLOW_TRACKING_URI) the models live there,
    and a new machine's first workspace is made as usual.
    """
    workspace = Workspace(cfg.home)
    # A file where the workspace should be is Workspace.ensure's error.
    if not workspace.home.exists() and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise ConfigError(
            f"no workspace at {workspace.home}",
            "check --home (or MLOPSLAB_HOME), or run `mlopslab run` there first",
        )
    return workspace.ensure()


def tracking_uri(workspace: Workspace) -> str:
    """MLFLOW_TRACKING_URI when set (a shared server), else SQLite in the workspace."""
    return os.environ.get("MLFLOW_TRACKING_URI") or workspace.local_tracking_uri()


def open_registry(workspace: Workspace) -> Registry:
    from mlopslab.stores.registry.client import (
        Registry,  # MLflow: about 1.5 s to import
    )

    return Registry.connect(*registry_location(workspace))


def registry_agent(workspace: Workspace) -> RegistryAgent:
    """The registry in a helper process (see registry_agent.py)."""
    return RegistryAgent(*registry_location(workspace))


def registry_location(workspace: Workspace) -> tuple[str, str | None]:
    """The tracking URI, and where new experiments keep their artifacts."""
    uri = tracking_uri(workspace)
    local = uri == workspace.local_tracking_uri()
    # A server decides where artifacts go; locally they stay in the workspace.
    return uri, workspace.artifact_location() if local else None


def capture_location(cfg: Config, workspace: Workspace) -> str:
    """The capture store: serve.capture_url, else capture.db in the workspace."""
    return cfg.serve.capture_url or str(workspace.capture_db)


def check_port(host: str, port: int) -> None:
    """Fail in one line now, rather than in the server later, if the port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                "stop the other server or pass --port",
            ) from exc
