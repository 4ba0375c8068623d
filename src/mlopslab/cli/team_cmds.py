"""`mlopslab team up`: one MLflow tracking server on PostgreSQL for a class or team."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlopslab.cli.context import (
    ConfigOpt,
    HomeOpt,
    check_port,
    open_workspace,
    resolve_config,
)
from mlopslab.errors import ConfigError, StoreError, first_line

app = typer.Typer(no_args_is_help=True, help="Shared tracking for a class or a team.")


@app.command()
def up(
    postgres: Annotated[
        str,
        typer.Option(
            help="postgresql://user:password@host:port/db for runs and registry."
        ),
    ],
    port: Annotated[int, typer.Option(help="Port of the tracking server.")] = 5000,
    host: Annotated[
        str, typer.Option(help="Interface to bind (0.0.0.0 to share on a network).")
    ] = "127.0.0.1",
    artifacts: Annotated[
        Path | None,
        typer.Option(
            help="Where the server keeps artifacts (default WORKSPACE/team-artifacts)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 2,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Names clients reach the server by, comma-separated "
            "(e.g. mlflow.lab.edu:5000); localhost stays allowed. Without it, "
            "MLflow answers only localhost and private addresses."
        ),
    ] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run `mlflow server` with a PostgreSQL backend store and an artifact root."""
    if not postgres.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "--postgres is not a postgresql:// URL",
            "e.g. --postgres postgresql://user:password@127.0.0.1:5432/mlflow",
        )
    _check_database(postgres)
    cfg = resolve_config(config, home)
    root = (artifacts or open_workspace(cfg).home / "team-artifacts").resolve()
    root.mkdir(parents=True, exist_ok=True)
    check_port(host, port)
    # 0.0.0.0 listens everywhere; others reach it by this machine's address.
    shown = "THIS-MACHINE" if host == "0.0.0.0" else host
    typer.echo(
        f"MLflow tracking server on PostgreSQL at http://{shown}:{port}\n"
        f"  artifacts in {root}\n"
        f"  everyone runs: export MLFLOW_TRACKING_URI=http://{shown}:{port}"
    )
    sys.stdout.flush()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--artifacts-destination", str(root),
        "--serve-artifacts",
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
        *_allowed(allowed_hosts),
    ]  # fmt: skip
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        # In the environment, not on the command line, where `ps` shows it.
        "MLFLOW_BACKEND_STORE_URI": backend_uri(postgres),
    }
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # Become the server, so Ctrl-C and SIGTERM reach it directly.
    os.execve(sys.executable, command, env)


def _allowed(names: str | None) -> list[str]:
    """MLflow refuses a Host it was not told (DNS rebinding): add the team's names.

    The list replaces MLflow's default, so localhost is named again for the
    machine's own clients.
    """
    given = [n.strip() for n in (names or "").split(",") if n.strip()]
    if not given:
        return []
    return ["--allowed-hosts", ",".join(["localhost:*", "127.0.0.1:*", *given])]


def backend_uri(url: str) -> str:
    """SQLAlchemy's URL for psycopg 3, the driver mlopslab ships."""
    scheme, rest = url.split("://", 1)
    return (
        f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres"} else url
    )


def _check_database(url: str) -> None:
    """Fail in one line now rather than in the server's log later."""
    import psycopg

    from mlopslab.stores.capture.postgres import safe_url

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot reach PostgreSQL at {safe_url(url)}: {first_line(exc)}",
            "check the URL, the password and that the database exists",
        ) from exc


def register(main_app: typer.Typer) -> None:
    main_app.add_typer(app, name="team")
