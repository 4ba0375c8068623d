"""`mlopslab serve`, `mlopslab predict` and `mlopslab labels add`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mlopslab.cli.context import (
    CaptureUrlOpt,
    ConfigOpt,
    ExecutorOpt,
    HomeOpt,
    RayAddressOpt,
    capture_location,
    check_port,
    existing_workspace,
    open_workspace,
    registry_agent,
    registry_location,
    resolve_config,
    tracking_uri,
)
from mlopslab.cli.render import RichReporter
from mlopslab.config import Config
from mlopslab.errors import DataError
from mlopslab.serving.startup import Acquired, ModelAcquirer
from mlopslab.stores.registry.lookup import find_version

if TYPE_CHECKING:
    from mlopslab.serving.model import ServedModel
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
StrictNullsOpt = Annotated[
    bool | None,
    typer.Option(
        "--strict-nulls/--impute-nulls",
        help="Refuse null in a column that had no gaps in training, or let the "
        "model impute it (the default).",
    ),
]
OnBadRowOpt = Annotated[
    str | None,
    typer.Option(
        "--on-bad-row",
        help="refuse_row: a bad row gets its own error, the others are scored "
        "(the default); refuse_batch: the whole batch is refused.",
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
    strict_nulls: StrictNullsOpt = None,
    on_bad_row: OnBadRowOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Serve the champion over HTTP, with validation, capture and live model swaps."""
    cfg = resolve_config(
        config,
        home,
        **{
            "serve.strict_nulls": strict_nulls,
            "serve.on_bad_row": on_bad_row,
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
    workspace = existing_workspace(cfg)
    agent = registry_agent(workspace)
    acquirer = ModelAcquirer(
        agent,
        tracking_uri(workspace),
        workspace.cache,
        cfg.registry.model_name,
        cfg.serve.model,
    )
    # When only the agent can fetch the model, it does so while this process
    # imports the server. Otherwise it starts only after the server is ready:
    # importing MLflow on the other core slows this process's own imports by
    # about a third.
    acquirer.start()
    from mlopslab.serving.entry import run_server
    from mlopslab.serving.model import preload

    preload()
    acquired = acquirer.result()  # fail now, in one line, not in a worker
    check_port(cfg.serve.host, cfg.serve.port)
    typer.echo(_serving_line(cfg, acquired))
    run_server(
        cfg.serve,
        agent,
        acquired,
        registry_location(workspace),
        capture_location(cfg, workspace),
    )
    return 0


def _serving_line(cfg: Config, acquired: Acquired) -> str:
    info = acquired.files.info
    return (
        f"serving {info.name}@{cfg.serve.model} (now v{info.version}"
        + (", as last time; checking the registry" if acquired.unconfirmed else "")
        + f") at http://{cfg.serve.host}:{cfg.serve.port}  docs: /docs  Ctrl-C stops"
    )


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
    strict_nulls: StrictNullsOpt = None,
    on_bad_row: OnBadRowOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score a file with the same model loading and validation as the endpoint.

    A bad row gets its reason in an `error` column and no prediction, and the
    others are scored; it fails (writing nothing) only when no row could be
    scored, or at the first bad row with --on-bad-row refuse_batch.
    """
    from mlopslab.flows.executor import trial_executor
    from mlopslab.serving.batch import score_file

    cfg = resolve_config(
        config,
        home,
        **{
            "serve.model": model,
            "registry.model_name": model_name,
            "executor.kind": executor,
            "executor.ray_address": ray_address,
            "serve.strict_nulls": strict_nulls,
            "serve.on_bad_row": on_bad_row,
        },
    )
    served = _batch_model(cfg, existing_workspace(cfg))
    reporter = RichReporter(Console(stderr=True))
    reporter.start("predict")
    try:
        with trial_executor(cfg) as cluster:
            done = score_file(
                served,
                input_path,
                output_path,
                cluster,
                cfg.serve.on_bad_row,
                lambda rows, total: reporter.progress("predict", rows, total, "rows"),
            )
    finally:
        reporter.stop()
    typer.echo(
        f"scored {done.scored} {'row' if done.scored == 1 else 'rows'} with "
        f"{served.name} v{served.version} "
        f"-> {output_path}"
    )
    if done.refused:
        typer.echo(
            f"refused {done.refused} {'row' if done.refused == 1 else 'rows'} "
            f"(the 'error' column says why; the first: {done.first_refusal})",
            err=True,
        )


def _batch_model(cfg: Config, workspace: Workspace) -> ServedModel:
    """The model to score with: read from the embedded store when it can be
    (no MLflow), else fetched by the registry agent."""
    from mlopslab.serving.model import AgentSource, served_model
    from mlopslab.stores.registry.embedded import local_files

    name, ref = cfg.registry.model_name, cfg.serve.model
    files = local_files(tracking_uri(workspace), name, ref)
    if files is not None:
        # Read once, in this process: nothing to own.
        return served_model(files, cfg.serve.strict_nulls)
    with registry_agent(workspace) as agent:
        info = agent.call(find_version, name, ref)
        loaded = AgentSource(agent, info.name, info.version).load(info)
    return loaded.with_strict_nulls(cfg.serve.strict_nulls)


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
    # With a capture store elsewhere, labels need no local workspace.
    workspace = (open_workspace if cfg.serve.capture_url else existing_workspace)(cfg)
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
    if frame.empty:
        raise DataError(
            f"labels file {path} has no rows", "add rows of inference_id,label"
        )
    if not cfg.serve.capture_url and not workspace.capture_db.exists():
        raise DataError(
            f"no captured requests in {workspace.home} to label",
            "check --home (or pass --capture-url), or serve and send requests first",
        )
    store = open_capture_store(capture_location(cfg, workspace))
    try:
        matched = store.add_labels(
            zip(frame["inference_id"], frame["label"], strict=True),
            only_if_matched=True,
        )
    finally:
        store.close()
    if not matched:
        # Wrong ids or the wrong capture store: storing them would only hide that.
        raise DataError(
            f"no label in {path} matches a captured inference_id "
            f"({len(frame)} checked); nothing was stored",
            "use the inference_id values the server answered with, and check "
            "--home or --capture-url",
        )
    unmatched = frame["inference_id"].nunique() - matched
    typer.echo(
        f"{len(frame)} labels stored; {matched} match captured rows"
        + (
            f", {unmatched} {'does' if unmatched == 1 else 'do'} not (a wrong "
            "inference_id, or a request that was not captured)"
            if unmatched > 0
            else ""
        )
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(predict)
    labels_app.command("add")(labels_add)
    app.add_typer(labels_app, name="labels")
