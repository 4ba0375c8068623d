"""Registration under concurrency: the champion ends on the better model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sklearn.base import clone

from mlopslab.config import load_config
from mlopslab.errors import RegistryError
from mlopslab.evaluate import evaluate, gate
from mlopslab.flows.registration import record_run
from mlopslab.flows.run import Stages
from mlopslab.flows.training import train_and_gate
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.workspace import Workspace

pytestmark = pytest.mark.slow


def test_a_worse_run_finishing_last_does_not_take_the_champion(workspace: Path) -> None:
    cfg = load_config(
        overrides={"home": workspace, "tune.trials": 2, "gate.thresholds": {}}
    )
    space = Workspace(workspace).ensure()
    registry = Registry.connect(space.local_tracking_uri(), space.artifact_location())
    # Two runs gate against the same (empty) registry, as if started together.
    good = train_and_gate(cfg, registry, Stages())
    other = train_and_gate(cfg, registry, Stages())
    split = other.split
    noisy = split.y_train.sample(frac=1.0, random_state=1).to_numpy()
    weak_model = clone(other.model).fit(split.X_train, noisy)
    weak_metrics = evaluate(weak_model, split.X_test, split.y_test)
    assert weak_metrics.accuracy < good.metrics.accuracy
    weak = dataclasses.replace(
        other,
        model=weak_model,
        metrics=weak_metrics,
        decision=gate(weak_metrics, cfg.gate),
    )
    assert weak.decision.approved  # no threshold, no champion seen: approved
    first = record_run(cfg, space, registry, good, [])
    last = record_run(cfg, space, registry, weak, [])
    assert (first.version, last.version) == ("1", "2")
    assert registry.version("penguins", "2").status == "approved"
    champion = registry.champion("penguins")
    assert champion is not None and champion.version == "1"
    assert last.champion_after == "1"
    # No champion before either run: nothing to roll back to, not the loser.
    with pytest.raises(RegistryError):
        registry.version("penguins", "previous")
