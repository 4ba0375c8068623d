"""`mlopslab serve`, `mlopslab predict` and `mlopslab labels add`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlopslab.cli.context import (
    CaptureUrlOpt,
    ConfigOpt,
    ExecutorOpt,
    HomeOpt,
    RayAddressOpt,
    capture_location,
    check_port,
    open_workspace,
    registry_agent,
    registry_location,
    resolve_config,
    tracking_uri,
)
from mlopslab.config import Config
from mlopslab.errors import DataError, RegistryError
from mlopslab.serving.snapshot import read_snapshot, save_snapshot, snapshot_dir
from mlopslab.stores.registry.versions import ModelFiles, VersionInfo

if TYPE_CHECKING:
    from mlopslab.stores.registry.client import Registry
    from mlopslab.stores.workspace import Workspace

labels_app = typer.Typer(
    no_args_is_help=True, help="Attach ground truth to captured rows."
)
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Alias or version to use (default champion)."),
]
NameOpt = Annotated[
    str | None,
    typer.Option(
        "--model-name", help="Registered model (default: the only one, or penguins)."
    ),
]


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="uvicorn worker processes.")
    ] = None,
    model: ModelOpt = None,
    model_name: NameOpt = None,
    capture_rate: Annotated[
        float | None, typer.Option(help="Share of requests captured, 0 to 1.")
    ] = None,
    capture_sync: Annotated[
        bool | None,
        typer.Option(
            "--capture-sync/--capture-async",
            help="Acknowledge only after the capture record is committed.",
        ),
    ] = None,
    poll_seconds: Annotated[
        float | None,
        typer.Option(help="How often to check the alias for a new version (0: never)."),
    ] = None,
    capture_url: CaptureUrlOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Serve the champion over HTTP, with validation, capture and live model swaps."""
    cfg = resolve_config(
        config,
        home,
        **{
            "serve.host": host,
            "serve.port": port,
            "serve.workers": workers,
            "serve.model": model,
            "registry.model_name": model_name,
            "serve.capture_rate": capture_rate,
            "serve.capture_sync": capture_sync,
            "serve.poll_seconds": poll_seconds,
            "serve.capture_url": capture_url,
        },
    )
    workspace = open_workspace(cfg)
    agent = registry_agent(workspace)
    cache = snapshot_dir(
        workspace.cache,
        tracking_uri(workspace),
        cfg.registry.model_name,
        cfg.serve.model,
    )
    cached = read_snapshot(cache)
    # A restart serves the copy cached by the last one at once and lets the
    # server confirm the alias (serving/snapshot.py). A first start reads the
    # embedded store directly (registry_local.py), or else the agent resolves
    # and fetches the model while this process imports the server. Otherwise
    # the agent starts only after the server is ready: importing MLflow on the
    # other core slows this process's own imports by about a third.
    unconfirmed = cached is not None
    cached = cached or snapshot_from_store(cache, workspace, cfg)
    fetching = agent.submit(serving_files, cfg) if cached is None else None
    import uvicorn

    from mlopslab.serving.entry import RUNTIME_ENV, build_app, runtime_spec
    from mlopslab.serving.model import preload

    preload()
    if fetching is not None:
        fetched = agent.wait(fetching)  # fail now, in one line, not in a worker
        save_snapshot(cache, fetched)
        cached_now = read_snapshot(cache)
        if cached_now is not None:
            shutil.rmtree(fetched.directory, ignore_errors=True)
        files = cached_now or fetched
    else:
        assert cached is not None
        files = cached
    info, name = files.info, files.info.name
    check_port(cfg.serve.host, cfg.serve.port)
    typer.echo(
        f"serving {name}@{cfg.serve.model} (now v{info.version}"
        + (", as last time; checking the registry" if unconfirmed else "")
        + f") at http://{cfg.serve.host}:{cfg.serve.port}  docs: /docs  Ctrl-C stops"
    )
    options: dict[str, Any] = {
        "host": cfg.serve.host,
        "port": cfg.serve.port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 30,
    }
    if cfg.serve.workers == 1:
        # One process: the app keeps this agent for its alias checks.
        capture = capture_location(cfg, workspace)
        owned = files.directory != cache / "files"  # the snapshot could not be saved
        app = build_app(
            cfg.serve,
            agent,
            name,
            capture,
            files,
            owns_prefetched=owned,
            unconfirmed=unconfirmed,
            snapshot=cache,
        )
        uvicorn.run(app, **options)
        return 0
    # Several worker processes each build the same app from one spec, and load
    # the files fetched above first.
    agent.close()
    os.environ[RUNTIME_ENV] = runtime_spec(
        cfg.serve,
        name,
        *registry_location(workspace),
        capture_location(cfg, workspace),
        files,
        unconfirmed,
    )
    try:
        uvicorn.run(
            "mlopslab.serving.entry:build",
            factory=True,
            workers=cfg.serve.workers,
            **options,
        )
    finally:
        if files.directory != cache / "files":
            shutil.rmtree(files.directory, ignore_errors=True)
    return 0


def predict(
    input_path: Annotated[
        Path, typer.Option("--input", help="CSV or parquet file of rows.")
    ],
    output_path: Annotated[
        Path,
        typer.Option("--output", help="Where to write predictions (.csv or .parquet)."),
    ],
    model: ModelOpt = None,
    model_name: NameOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score a file with the same model loading and validation as the endpoint."""
    from mlopslab.flows.training import trial_executor
    from mlopslab.serving.batch import score_file
    from mlopslab.serving.model import AgentSource

    cfg = resolve_config(
        config,
        home,
        **{
            "serve.model": model,
            "registry.model_name": model_name,
            "executor.kind": executor,
            "executor.ray_address": ray_address,
        },
    )
    with registry_agent(open_workspace(cfg)) as agent:
        info = agent.call(serving_target, cfg)
        served = AgentSource(agent, info.name, info.version).load(info)
    with trial_executor(cfg) as cluster:
        rows = score_file(served, input_path, output_path, cluster)
    typer.echo(f"scored {rows} rows with {info.name} v{info.version} -> {output_path}")


def labels_add(
    path: Annotated[
        Path, typer.Argument(help="CSV with columns inference_id and label.")
    ],
    capture_url: CaptureUrlOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Attach ground-truth labels to captured rows by inference_id."""
    import pandas as pd

    from mlopslab.stores.capture import open_capture_store

    cfg = resolve_config(config, home, **{"serve.capture_url": capture_url})
    workspace = open_workspace(cfg)
    try:
        frame = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read labels file {path}: {exc}",
            "give a CSV with columns inference_id,label",
        ) from exc
    missing = {"inference_id", "label"} - set(frame.columns)
    if missing:
        raise DataError(
            f"labels file {path} lacks columns {sorted(missing)}",
            "give a CSV with columns inference_id,label",
        )
    bad = frame[frame["inference_id"].isna() | frame["label"].isna()]
    if not bad.empty:
        raise DataError(
            f"labels file row {int(bad.index[0])} has an empty inference_id or label",
            "fill or remove that row",
        )
    store = open_capture_store(capture_location(cfg, workspace))
    try:
        matched = store.add_labels(
            zip(frame["inference_id"], frame["label"], strict=True)
        )
    finally:
        store.close()
    typer.echo(f"{len(frame)} labels stored; {matched} match captured rows")


def snapshot_from_store(
    cache: Path, workspace: Workspace, cfg: Config
) -> ModelFiles | None:
    """The version to serve, read from the embedded store and cached, or None."""
    from mlopslab.stores.registry.embedded import local_model_files, local_version

    version = local_version(
        tracking_uri(workspace), cfg.registry.model_name, cfg.serve.model
    )
    files = local_model_files(version) if version else None
    if files is None:
        return None
    save_snapshot(cache, files)
    return read_snapshot(cache)  # the copy: never serve from the store's folder


def serving_files(registry: Registry, cfg: Config) -> ModelFiles:
    """Agent task: the model to serve, fetched into a temporary folder."""
    from mlopslab.stores.registry.agent import fetch_model

    return fetch_model(registry, serving_target(registry, cfg))


def serving_target(registry: Registry, cfg: Config) -> VersionInfo:
    """Agent task: the version `cfg.serve.model` names, of the model to serve."""
    return registry.version(pick_model_name(cfg, registry), cfg.serve.model)


def pick_model_name(cfg: Config, registry: Registry) -> str:
    """The configured model, else the only registered one, else penguins."""
    if cfg.registry.model_name:
        return cfg.registry.model_name
    names = registry.model_names()
    if not names:
        raise RegistryError("no registered models yet", "run `mlopslab run` first")
    if len(names) == 1:
        return names[0]
    if "penguins" in names:
        return "penguins"
    raise RegistryError(
        f"several registered models: {', '.join(names)}", "choose one with --model-name"
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(predict)
    labels_app.command("add")(labels_add)
    app.add_typer(labels_app, name="labels")
