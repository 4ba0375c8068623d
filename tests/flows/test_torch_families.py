"""End to end: the PyTorch families through the CLI, the MLflow store and registry."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow
import pandas as pd
import pytest
import torch

from mlopslab.cli.main import main
from mlopslab.config import DataConfig
from mlopslab.data import load_dataset
from mlopslab.stores.registry.client import Registry
from tests.conftest import FAST, Cli


def run_once(home: Path, families: list[str], *args: str, **tune: str) -> int:
    """`mlopslab run --home HOME ARGS` searching `families`, other `tune` settings
    as MLOPSLAB_TUNE__* variables, in a clean environment and folder (module
    fixtures run outside the `isolated` fixture)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("MLOPSLAB_") or name == "MLFLOW_TRACKING_URI":
                patch.delenv(name)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLOPSLAB_TUNE__FAMILIES", json.dumps(families))
        for key, value in tune.items():
            patch.setenv(f"MLOPSLAB_TUNE__{key.upper()}", value)
        patch.chdir(home.parent)
        return main(["run", "--home", str(home), *args])


def only_run(home: Path, name: str) -> dict[str, Any]:
    """The one run's card, evaluation and summary, by file name."""
    (run_dir,) = (home / "runs").iterdir()
    loaded: dict[str, Any] = json.loads((run_dir / f"{name}.json").read_text())
    return loaded


def registry(home: Path) -> Registry:
    return Registry.connect(f"sqlite:///{(home / 'mlflow.db').resolve()}")


@pytest.fixture(scope="module")
def digits_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits with torch_cnn as the champion, trained once."""
    home = tmp_path_factory.mktemp("digits") / ".mlopslab"
    # Seed 7 draws small networks (8 or 16 channels) and two folds halve the
    # search: about 15 s where the defaults take 40 s.
    args = ("--data", "digits", *FAST, "--seed", "7")
    assert run_once(home, ["torch_cnn"], *args, cv_folds="2") == 0
    return home


@pytest.fixture(scope="module")
def penguins_homes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The same torch_mlp run on penguins in two fresh workspaces."""
    homes = [tmp_path_factory.mktemp(f"penguins{i}") / ".mlopslab" for i in (1, 2)]
    for home in homes:
        assert run_once(home, ["torch_mlp"], *FAST) == 0
    return homes


@pytest.mark.slow
@pytest.mark.xdist_group("torch-families")  # one worker builds the fixtures once
def test_digits_cnn_champion_scores_alike_in_predict_and_pyfunc(
    cli: Cli, digits_home: Path, tmp_path: Path
) -> None:
    card = only_run(digits_home, "model_card")
    assert card["model"]["family"] == "torch_cnn"
    assert card["status"] == "approved" and card["gate"]["verdict"] == "approved"
    assert card["data"]["image"] == {"height": 8, "width": 8, "low": 0, "high": 16}
    champion = registry(digits_home).champion("digits")
    assert champion is not None and champion.version == "1"

    digits = load_dataset(DataConfig(source="digits"))
    rows, labels = digits.X.iloc[::9], digits.y.iloc[::9].astype(str).to_numpy()
    rows.to_csv(tmp_path / "in.csv", index=False)
    result = cli(
        "predict",
        "--home",
        digits_home,
        "--input",
        tmp_path / "in.csv",
        "--output",
        tmp_path / "out.csv",
    )
    assert result.code == 0, result.err
    assert f"scored {len(rows)} rows with digits v1" in result.out
    scored = pd.read_csv(tmp_path / "out.csv")
    assert {f"proba_{d}" for d in range(10)} <= set(scored)
    predicted = scored["prediction"].astype(str).to_numpy()
    assert (predicted == labels).mean() > 0.9

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{(digits_home / 'mlflow.db').resolve()}")
    try:
        model = mlflow.pyfunc.load_model("models:/digits@champion")
        from_pyfunc = model.predict(rows)
    finally:
        mlflow.set_tracking_uri(before)
    assert (pd.Series(from_pyfunc).astype(str).to_numpy() == predicted).all()


@pytest.mark.slow
@pytest.mark.xdist_group("torch-families")  # one worker builds the fixtures once
def test_penguins_torch_mlp_is_trained_gated_and_registered(
    penguins_homes: list[Path],
) -> None:
    home = penguins_homes[0]
    card = only_run(home, "model_card")
    assert card["model"]["family"] == "torch_mlp"
    assert set(card["model"]["params"]) == {
        "hidden_units",
        "layers",
        "dropout",
        "learning_rate",
        "weight_decay",
    }
    assert card["data"]["image"] is None
    assert card["gate"]["verdict"] == "approved" and card["status"] == "approved"
    assert only_run(home, "evaluation")["test"]["accuracy"] >= 0.9
    champion = registry(home).champion("penguins")
    assert champion is not None and champion.version == "1"
    assert only_run(home, "summary")["champion_after"] == "1"


@pytest.mark.slow
@pytest.mark.xdist_group("torch-families")  # one worker builds the fixtures once
def test_the_same_torch_run_in_a_fresh_workspace_repeats_itself(
    penguins_homes: list[Path],
) -> None:
    first, second = (only_run(home, "model_card") for home in penguins_homes)
    assert first["run_id"] != second["run_id"]
    assert first["model"] == second["model"]  # family and parameters
    assert first["metrics"] == second["metrics"]
    tests = [only_run(home, "evaluation")["test"] for home in penguins_homes]
    assert tests[0] == tests[1]  # to the last digit


# Loads a registered model's pickle where importing mlopslab fails, as on a
# machine that has only the model's requirements.
WITHOUT_MLOPSLAB = """
import sys
sys.modules["mlopslab"] = None
import cloudpickle
import pandas as pd
model = cloudpickle.load(open(sys.argv[1], "rb"))
rows = pd.read_csv(sys.argv[2])
print(",".join(map(str, model.predict(rows))))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("torch-families")  # one worker builds the fixtures once
@pytest.mark.parametrize("case", ["digits", "penguins"])
def test_a_torch_model_needs_its_requirements_not_mlopslab(
    case: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if case == "digits":
        home: Path = request.getfixturevalue("digits_home")
    else:
        home = request.getfixturevalue("penguins_homes")[0]
    (pickled,) = (home / "artifacts").rglob("model.pkl")
    requirements = (pickled.parent / "requirements.txt").read_text().split()
    assert f"torch=={torch.__version__.split('+')[0]}" in requirements
    assert not any("mlopslab" in line or "+" in line for line in requirements)
    data = load_dataset(DataConfig(source=case))
    data.X.head(20).to_csv(tmp_path / "rows.csv", index=False)
    alone = subprocess.run(
        [sys.executable, "-c", WITHOUT_MLOPSLAB, pickled, tmp_path / "rows.csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    with pickled.open("rb") as handle:
        here = cloudpickle.load(handle).predict(data.X.head(20))
    assert alone.stdout.strip() == ",".join(map(str, here))


def test_torch_cnn_on_a_table_is_refused_before_any_work(
    cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPSLAB_TUNE__FAMILIES", '["torch_cnn"]')
    result = cli("run", *FAST)
    assert result.code == 2  # ConfigError
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.err.rstrip().endswith(errors[0])
    assert "'torch_cnn' needs square images" in errors[0]
    assert "use torch_mlp for tables" in errors[0]
    # No store, no run: at most the workspace's empty folders.
    home = isolated / ".mlopslab"
    assert not (home / "mlflow.db").exists()
    assert [p for p in isolated.rglob("*") if p.is_file()] == []
