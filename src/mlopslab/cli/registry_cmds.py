"""`mlopslab registry list|show|approve|reject|promote|rollback`."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mlopslab.cli.context import (
    ConfigOpt,
    HomeOpt,
    existing_workspace,
    open_registry,
    resolve_config,
    tracking_uri,
)
from mlopslab.errors import RegistryError
from mlopslab.stores.registry.embedded import local_version, local_versions
from mlopslab.stores.registry.versions import CHAMPION, REPEATS

if TYPE_CHECKING:
    from mlopslab.stores.registry.client import Registry

app = typer.Typer(
    no_args_is_help=True, help="Inspect and manage registered model versions."
)
NameArg = Annotated[str, typer.Argument(help="Registered model name, e.g. penguins.")]
VersionArg = Annotated[
    str, typer.Argument(help="Version number or alias (champion, previous).")
]


def _registry(home: HomeOpt, config: ConfigOpt) -> Registry:
    return open_registry(existing_workspace(resolve_config(config, home)))


@app.command("list")
def list_versions(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Every version with its status and aliases, newest first."""
    workspace = existing_workspace(resolve_config(config, home))
    # The embedded store answers without importing MLflow (about 2 s less).
    versions = local_versions(tracking_uri(workspace), name)
    if versions is None:
        versions = open_registry(workspace).versions(name)
    table = Table(title="registered model versions")
    for column in ("model", "version", "status", "aliases", "accuracy", "family"):
        table.add_column(column, no_wrap=True)
    table.add_column("created", no_wrap=True)
    for v in versions:
        created = dt.datetime.fromtimestamp(v.created_ms / 1000).strftime("%m-%d %H:%M")
        table.add_row(
            v.name,
            v.version,
            v.status,
            ",".join(v.aliases),
            v.tags.get("test_accuracy", ""),
            v.tags.get("family", ""),
            created,
        )
    Console(highlight=False).print(
        table if versions else "no registered models yet: run `mlopslab run`"
    )


@app.command()
def show(
    name: NameArg,
    version: Annotated[str, typer.Argument(help="Version or alias.")] = CHAMPION,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One version's status, aliases, tags, description and model card, as JSON."""
    workspace = existing_workspace(resolve_config(config, home))
    local = local_version(tracking_uri(workspace), name, version)
    info = local.info if local else open_registry(workspace).version(name, version)
    shown = dict(info.__dict__)
    card = workspace.run_dir(info.run_id) / "model_card.md"
    shown["model_card"] = str(card) if card.exists() else None
    typer.echo(json.dumps(shown, indent=2))


@app.command()
def approve(
    name: NameArg, version: VersionArg, home: HomeOpt = None, config: ConfigOpt = None
) -> None:
    """Mark a version approved (a person overrules or confirms the gate)."""
    registry = _registry(home, config)
    info = registry.version(name, version)
    registry.set_status(name, info.version, "approved")
    typer.echo(f"{name} v{info.version}: approved (promote it to make it the champion)")


@app.command()
def reject(
    name: NameArg, version: VersionArg, home: HomeOpt = None, config: ConfigOpt = None
) -> None:
    """Mark a version rejected; the serving champion cannot be rejected."""
    registry = _registry(home, config)
    info = registry.version(name, version)
    if CHAMPION in info.aliases:
        raise RegistryError(
            f"{name} v{info.version} is the champion",
            "roll back or promote another version first",
        )
    registry.set_status(name, info.version, "rejected")
    typer.echo(f"{name} v{info.version}: rejected")


@app.command()
def promote(
    name: NameArg,
    version: VersionArg,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even a rejected version.")
    ] = False,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a version the champion; the old champion becomes `previous`."""
    registry = _registry(home, config)
    info = registry.version(name, version)
    if info.status == "rejected" and not force:
        raise RegistryError(
            f"{name} v{info.version} was rejected ({info.description.strip()})",
            "pass --force to overrule, or approve it first",
        )
    if info.status == "rejected":
        # An overruled gate stays visible in the registry, not only in a log.
        registry.set_tag(name, info.version, "forced_promotion", "true")
    old = registry.promote(name, info.version)
    twin = info.tags.get(REPEATS)
    typer.echo(
        f"{name} v{info.version} is the champion"
        + (f"; previous: v{old}" if old else "")
        + (f" (v{info.version} is the same model as v{twin})" if twin else "")
    )


@app.command()
def rollback(name: NameArg, home: HomeOpt = None, config: ConfigOpt = None) -> None:
    """Give the champion alias back to the previous champion."""
    old, new = _registry(home, config).rollback(name)
    typer.echo(f"{name}: champion v{old} -> v{new}")
