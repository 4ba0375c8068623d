"""The evaluation report of a recorded run: its date, data digest and trials."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlopslab.config import load_config
from mlopslab.flows.registration import record_run
from mlopslab.flows.run import Stages
from mlopslab.flows.training import train_and_gate
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.workspace import Workspace

pytestmark = pytest.mark.slow


def test_the_report_matches_the_card_and_the_tuning(workspace: Path) -> None:
    cfg = load_config(overrides={"home": workspace, "tune.trials": 3})
    space = Workspace(workspace).ensure()
    registry = Registry.connect(space.local_tracking_uri(), space.artifact_location())
    trained = train_and_gate(cfg, registry, Stages())
    summary = record_run(cfg, space, registry, trained, [])
    run_dir = space.run_dir(summary.run_id)
    html = (run_dir / "evaluation.html").read_text()
    card = json.loads((run_dir / "model_card.json").read_text())
    tuning = json.loads((run_dir / "tuning.json").read_text())
    assert f"<code>{card['data']['fingerprint']}</code>" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", html)
    trials = html.split("<h2>Tuning trials</h2>", 1)[1]
    numbers = re.findall(r"<tr(?: class=\"chosen\")?>\s*<td>(\d+)</td>", trials)
    assert sorted(numbers) == sorted(str(t["number"]) for t in tuning)
    chosen = re.search(r'<tr class="chosen">\s*<td>(\d+)</td>', trials)
    assert chosen and int(chosen.group(1)) == trained.tuning.best.number
    for name in card["model"]["params"]:
        assert f'<td class="text">{name}</td>' in html
