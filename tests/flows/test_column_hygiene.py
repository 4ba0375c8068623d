"""Column hygiene through a real run: the data line, the card, the model's input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

from mlopslab.config import DataConfig
from mlopslab.data import load_dataset
from mlopslab.stores.registry.client import Registry
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def logreg_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPSLAB_TUNE__FAMILIES", '["logreg"]')


def penguins_with_an_id_and_a_time(path: Path) -> None:
    frame = load_penguins()
    frame.insert(0, "pid", np.arange(len(frame)) + 100)
    frame["observed"] = [
        f"2008-{1 + i % 12:02d}-{1 + i % 27:02d} {i % 24:02d}:00"
        for i in range(len(frame))
    ]
    frame.to_csv(path, index=False)


def test_a_run_reports_its_columns_and_serves_the_raw_timestamp(
    cli: Cli, workspace: Path, isolated: Path
) -> None:
    data = Path("data")
    data.mkdir()
    penguins_with_an_id_and_a_time(data / "peng.csv")
    result = cli("run", "--data", "data/peng.csv", "--target", "species", "--trials", 2)
    assert result.code == 0, result.out + result.err
    assert (
        "344 rows, 8 features, 3 classes; dropped pid (identifier); observed "
        "expanded (timestamp)"
    ) in " ".join(result.out.split())
    registry = Registry.connect(f"sqlite:///{(workspace / 'mlflow.db').resolve()}")
    run_id = registry.version("peng", "1").run_id
    run_dir = workspace / "runs" / run_id
    card = json.loads((run_dir / "model_card.json").read_text())
    # The source as an absolute path: a retrain finds it from anywhere.
    assert card["data"]["source"] == str((isolated / "data" / "peng.csv").resolve())
    assert [(c["column"], c["action"]) for c in card["data"]["columns"]] == [
        ("pid", "dropped"),
        ("observed", "expanded"),
    ]
    markdown = (run_dir / "model_card.md").read_text()
    assert "## Columns\n- `pid` dropped (identifier: 344 distinct values" in markdown
    # The model takes the raw timestamp text, as a request sends it.
    model = registry.load_model("peng", "1")
    row = load_penguins().drop(columns="species").head(2)
    row["observed"] = ["2009-06-01 08:00", "not a date"]
    assert model.predict_proba(row).shape == (2, 3)
    # The run's saved training rows keep the record, and the timestamp.
    saved = load_dataset(DataConfig(source=card["data"]["training"]["path"]))
    assert saved.notes == ["dropped pid (identifier); observed expanded (timestamp)"]
    assert "pid" not in saved.frame and "observed" in saved.frame
    assert pd.api.types.is_string_dtype(saved.frame["observed"])
