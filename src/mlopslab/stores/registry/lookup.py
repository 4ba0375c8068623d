"""Which registered model a command means, and the tasks that fetch it.

`serve`, `predict` and `monitor` take the configured model name, else the only
registered model, else `penguins`: the choice embedded.py makes without MLflow.
The functions taking a `Registry` first are registry-agent tasks (agent.py):
they run in the agent's process and return plain values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlopslab.errors import RegistryError
from mlopslab.stores.registry.agent import fetch_model, load_baseline
from mlopslab.stores.registry.embedded import local_baseline, local_version
from mlopslab.stores.registry.versions import (
    CHAMPION,
    Baseline,
    ModelFiles,
    VersionInfo,
)

if TYPE_CHECKING:
    from mlopslab.stores.registry.client import Registry


def pick_model_name(registry: Registry, name: str | None) -> str:
    """`name` when given, else the only registered model, else penguins."""
    if name:
        return name
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


def find_version(registry: Registry, name: str | None, ref: str) -> VersionInfo:
    """Agent task: version `ref` (number or alias) of the model `name` means."""
    return registry.version(pick_model_name(registry, name), ref)


def fetch_version(registry: Registry, name: str | None, ref: str) -> ModelFiles:
    """Agent task: that version's files, in a temporary folder the caller removes."""
    return fetch_model(registry, find_version(registry, name, ref))


def champion_baseline(
    registry: Registry, name: str | None
) -> tuple[VersionInfo, Baseline]:
    """Agent task: the champion of the model `name` means, and its baseline."""
    champion = find_version(registry, name, CHAMPION)
    return champion, load_baseline(registry, champion)


def embedded_champion_baseline(
    tracking_uri: str, name: str | None
) -> tuple[VersionInfo, Baseline] | None:
    """The same, read from the embedded store without MLflow; None: ask the agent."""
    champion = local_version(tracking_uri, name, CHAMPION)
    baseline = local_baseline(champion) if champion else None
    return (champion.info, baseline) if champion and baseline else None
