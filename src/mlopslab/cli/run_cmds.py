"""`mlopslab run`, `mlopslab config show` and `mlopslab ui`."""

from __future__ import annotations

import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlopslab.cli.context import (
    ConfigOpt,
    ExecutorOpt,
    HomeOpt,
    RayAddressOpt,
    check_port,
    existing_workspace,
    open_registry,
    open_workspace,
    resolve_config,
    tracking_uri,
)
from mlopslab.cli.render import RichReporter, render_summary
from mlopslab.cli.stopping import STOPPED_RUN, stoppable
from mlopslab.errors import GATE_REJECTED_EXIT_CODE, ConfigError

config_app = typer.Typer(
    no_args_is_help=True, help="Inspect the resolved configuration."
)


def run(
    data: Annotated[
        str | None,
        typer.Option(help="penguins, digits, a CSV/parquet file or an IDX folder."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column (required for your own files).")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Optuna trials.")] = None,
    jobs: Annotated[
        int | None, typer.Option(help="Parallel trial workers (-1: every core).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for split, sampler and models.")
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(help="Registered model name (default: the data's name)."),
    ] = None,
    promotion: Annotated[
        str | None,
        typer.Option(help="auto, or manual to leave approved models pending."),
    ] = None,
    fail_on_reject: Annotated[
        bool,
        typer.Option("--fail-on-reject", help="Exit 3 when the gate rejects (for CI)."),
    ] = False,
    new_test_set: Annotated[
        bool,
        typer.Option(
            "--new-test-set",
            help="Freeze a new golden test set for this data (the next version).",
        ),
    ] = False,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Run the pipeline: data, preprocess, tune, train, evaluate+gate, register."""
    started = time.perf_counter()
    cfg = resolve_config(
        config,
        home,
        **{
            "data.source": data,
            "data.target": target,
            "tune.trials": trials,
            "tune.jobs": jobs,
            "seed": seed,
            "registry.model_name": model_name,
            "registry.promotion": promotion,
            "executor.kind": executor,
            "executor.ray_address": ray_address,
        },
    )
    workspace = open_workspace(cfg)
    console = Console(highlight=False, soft_wrap=True)
    # Say what is starting before the libraries load (about 2 s), so that the
    # first line comes at once.
    console.print(
        f"mlopslab run: data {cfg.data.source}, "
        f"{cfg.tune.trials} trials, workspace {cfg.home}"
    )
    from mlopslab.flows.training import run_pipeline

    # The registry opens once the data has passed its checks (MLflow: 1.5 s
    # to import, more to create a store).
    connect = partial(open_registry, workspace)
    with stoppable(STOPPED_RUN):
        summary = run_pipeline(
            cfg, workspace, connect, RichReporter(console), new_test_set=new_test_set
        )
    render_summary(console, summary, time.perf_counter() - started)
    if fail_on_reject and not summary.decision.approved:
        return GATE_REJECTED_EXIT_CODE
    return 0


def config_show(home: HomeOpt = None, config: ConfigOpt = None) -> None:
    """Print the resolved configuration as JSON (passwords and tokens masked)."""
    from mlopslab.config import public_dump

    cfg = resolve_config(config, home)
    typer.echo(json.dumps(public_dump(cfg), indent=2))


def ui(
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Start the MLflow UI on this workspace's runs and registry."""
    cfg = resolve_config(config, home)
    workspace = existing_workspace(cfg)
    uri = tracking_uri(workspace)
    if uri.startswith(("http://", "https://")):
        raise ConfigError(
            f"MLFLOW_TRACKING_URI is a tracking server ({uri}) with its own UI",
            f"open {uri} in a browser, or unset MLFLOW_TRACKING_URI",
        )
    check_port(host, port)
    typer.echo(f"MLflow UI for {uri} at http://{host}:{port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--registry-store-uri",
        uri,
        "--default-artifact-root",
        workspace.artifact_location(),
        *_classic_view(),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",  # one learner: four workers only slow the start (8-28 s on 2 cores)
    ]
    # The UI needs no background job runners (they start several Python processes).
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        # MLflow's own imports warn about Starlette's future; not the user's concern.
        "PYTHONWARNINGS": ",".join(
            filter(None, [os.environ.get("PYTHONWARNINGS"), STARLETTE_WARNING])
        ),
    }
    sys.stdout.flush()
    # Become the UI process, so that a signal sent to our pid reaches MLflow.
    os.execve(sys.executable, command, env)


STARLETTE_WARNING = "ignore:starlette.middleware.wsgi is deprecated"


def _classic_view() -> list[str]:
    """MLflow's UI through our app (stores/registry/mlflow_ui.py), where the
    installed package declares it; else MLflow's own app, as it comes."""
    from importlib.metadata import entry_points

    found = entry_points(group="mlflow.app", name="mlopslab")
    return ["--app-name", "mlopslab"] if found else []


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(ui)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")


__all__ = ["Path", "register"]
