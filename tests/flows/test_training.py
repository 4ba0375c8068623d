"""End to end: the real pipeline, MLflow store and registry in a temporary workspace."""

import json
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from palmerpenguins import load_penguins

from mlopslab.errors import GATE_REJECTED_EXIT_CODE
from mlopslab.stores.registry.client import Registry
from tests.conftest import FAST, Cli
from tests.servers import free_port, running

pytestmark = pytest.mark.slow


def registry(home: Path) -> Registry:
    return Registry.connect(f"sqlite:///{(home / 'mlflow.db').resolve()}")


def latest_run_dir(home: Path) -> Path:
    return max((home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)


def test_first_run_then_champion_comparison(cli: Cli, isolated: Path) -> None:
    first = cli("run", *FAST)
    assert first.code == 0, first.err
    home = isolated / ".mlopslab"
    # Everything the tool writes lives in the workspace.
    assert sorted(p.name for p in isolated.iterdir()) == [".mlopslab"]
    for stage in (
        "data",
        "preprocess",
        "tune",
        "train",
        "evaluate",
        "register",
        "total",
    ):
        assert stage in first.out
    assert "penguins v1" in first.out and "evaluation.html" in first.out
    run_dir = latest_run_dir(home)
    for name in (
        "evaluation.html",
        "evaluation.json",
        "model_card.md",
        "model_card.json",
        "config.json",
        "baseline/statistics.json",
        "baseline/constraints.json",
    ):
        assert (run_dir / name).is_file(), name
    report = (run_dir / "evaluation.html").read_text()
    assert "<svg" in report and "Confusion matrix" in report and "approved" in report
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["version"] == "1" and card["gate"]["verdict"] == "approved"
    assert card["split_sizes"] == {"train": 233, "valid": 42, "test": 69}
    assert len(card["data"]["fingerprint"]) == 64
    assert card["config"]["tune"]["trials"] == 4
    assert "git_sha" in card["code_version"]
    assert "## Gate decision: approved" in (run_dir / "model_card.md").read_text()

    # The same run again trains the same model: a record, not a new champion.
    repeat = cli("run", *FAST)
    assert repeat.code == 0, repeat.err
    assert "v2 repeats champion v1" in repeat.out
    assert "Registered penguins v2 status approved; champion: v1" in repeat.out
    store = registry(home)
    repeat_version = store.version("penguins", "2")
    assert repeat_version.status == "approved"
    assert repeat_version.tags["repeats"] == "1"  # recorded, not only printed
    assert store.version("penguins", "champion").version == "1"
    summary = json.loads((latest_run_dir(home) / "summary.json").read_text())
    assert any("repeats champion v1" in note for note in summary["notes"])
    # Two trials find another model, which beats v1 on the same test rows.
    second = cli("run", "--trials", "2")
    assert second.code == 0, second.err
    assert "vs champion v1" in second.out and "repeats" not in second.out
    # Every line of a stage is printed once: no table repeating them.
    assert second.out.count("✓ tune") == 1 and "│" not in second.out
    champion = store.champion("penguins")
    assert champion is not None and champion.version == "3"
    assert store.version("penguins", "previous").version == "1"
    evaluation = json.loads((latest_run_dir(home) / "evaluation.json").read_text())
    assert evaluation["gate"]["champion_version"] == "1"
    assert evaluation["test"]["accuracy"] >= 0.95
    # Promoted by hand, a repeat says what it is.
    promoted = cli("registry", "promote", "penguins", "2")
    assert "(v2 is the same model as v1)" in promoted.out


def test_trials_are_nested_runs(cli: Cli, workspace: Path) -> None:
    assert cli("run", *FAST).code == 0
    client = registry(workspace).client
    experiment = client.get_experiment_by_name("penguins")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {
        parents[0].info.run_id
    }
    assert "cv_log_loss" in children[0].data.metrics
    assert parents[0].data.metrics["test_accuracy"] > 0.9


def test_pyfunc_loads_champion_and_enforces_signature(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", *FAST).code == 0
    mlflow.set_tracking_uri(f"sqlite:///{(workspace / 'mlflow.db').resolve()}")
    model = mlflow.pyfunc.load_model("models:/penguins@champion")
    raw = load_penguins()
    predictions = model.predict(raw.drop(columns="species").head(20))
    assert set(predictions) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert (predictions == raw["species"].head(20).to_numpy()).mean() > 0.9
    with pytest.raises(MlflowException):
        model.predict(raw.drop(columns=["species", "island"]).head(2))


def test_gate_rejects_a_bad_model_and_keeps_the_champion(
    cli: Cli, workspace: Path, tmp_path: Path
) -> None:
    assert cli("run", *FAST).code == 0
    shuffled = load_penguins()
    shuffled["species"] = (
        shuffled["species"].sample(frac=1.0, random_state=0).to_numpy()
    )
    shuffled.to_csv(tmp_path / "noise.csv", index=False)
    bad = cli(
        "run",
        *FAST,
        "--data",
        tmp_path / "noise.csv",
        "--target",
        "species",
        "--model-name",
        "penguins",
        "--fail-on-reject",
    )
    assert bad.code == GATE_REJECTED_EXIT_CODE
    assert "does not beat the majority-class baseline" in bad.out
    store = registry(workspace)
    assert store.version("penguins", "2").status == "rejected"
    champion = store.champion("penguins")
    assert champion is not None and champion.version == "1"


def test_champion_stays_when_challenger_is_not_better(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", *FAST).code == 0
    Path("mlopslab.toml").write_text("[gate]\nmin_absolute_change = 0.05\n")
    second = cli("run", *FAST)
    assert second.code == 0
    assert "is below min_absolute_change" in second.out
    champion = registry(workspace).champion("penguins")
    assert champion is not None and champion.version == "1"


def test_manual_promotion_leaves_pending(cli: Cli, workspace: Path) -> None:
    assert cli("run", *FAST, "--promotion", "manual").code == 0
    store = registry(workspace)
    assert store.version("penguins", "1").status == "pending"
    assert store.champion("penguins") is None
    promoted = cli("registry", "promote", "penguins", "1")
    assert promoted.code == 0 and "v1 is the champion" in promoted.out
    assert registry(workspace).version("penguins", "champion").status == "approved"


def test_failure_in_register_leaves_registry_unchanged(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run", *FAST).code == 0
    before = [(v.version, v.status, v.aliases) for v in registry(workspace).versions()]

    def broken_promote(self: Registry, name: str, version: str) -> None:
        raise MlflowException("database is locked")

    monkeypatch.setattr(Registry, "promote", broken_promote)
    failed = cli("run", "--trials", "2")  # a new model, so promoted
    assert failed.code == 7
    assert "register failed: database is locked" in failed.err
    assert "registry and champion are unchanged" in failed.err
    assert "Traceback" not in failed.err
    after = [(v.version, v.status, v.aliases) for v in registry(workspace).versions()]
    assert after == before


def test_failure_in_an_early_stage_writes_nothing(cli: Cli, workspace: Path) -> None:
    assert cli("run", *FAST).code == 0
    before = registry(workspace).versions()
    runs_before = sorted((workspace / "runs").iterdir())
    failed = cli("run", *FAST, "--data", "missing.csv", "--target", "y")
    assert failed.code == 4
    assert registry(workspace).versions() == before
    assert sorted((workspace / "runs").iterdir()) == runs_before


def test_a_boolean_feature_is_a_feature_everywhere(
    cli: Cli, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """True and False train as two categories, and serve, score a file and
    load through MLflow alike: the feature is never silently dropped."""
    import numpy as np

    from mlopslab.serving.model import served_model
    from mlopslab.stores.registry.embedded import local_model_files, local_version

    rng = np.random.default_rng(0)
    flag = rng.random(600) < 0.5
    noisy = flag ^ (rng.random(600) < 0.1)
    data = pd.DataFrame(
        {"x": rng.normal(size=600), "flag": flag, "y": np.where(noisy, "yes", "no")}
    )
    data.to_csv(tmp_path / "flags.csv", index=False)
    monkeypatch.setenv("MLOPSLAB_GATE__THRESHOLDS", "{ accuracy = 0.7 }")
    trained = cli("run", "--data", tmp_path / "flags.csv", "--target", "y", *FAST)
    assert trained.code == 0, trained.err
    version = local_version(f"sqlite:///{workspace / 'mlflow.db'}", "flags", "1")
    files = local_model_files(version) if version else None
    assert files is not None
    assert {"name": "flag", "type": "boolean", "required": True} in files.inputs
    served = served_model(files)
    rows = [{"x": 0.0, "flag": True}, {"x": 0.0, "flag": False}]
    answers = [p.label for p in served.predict(rows)]
    assert answers == ["yes", "no"]
    mlflow.set_tracking_uri(f"sqlite:///{(workspace / 'mlflow.db').resolve()}")
    pyfunc = mlflow.pyfunc.load_model("models:/flags/1")
    assert list(pyfunc.predict(pd.DataFrame(rows))) == answers
    data.drop(columns="y").head(50).to_csv(tmp_path / "in.csv", index=False)
    scored = cli(
        "predict", "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv",
        "--model-name", "flags", "--model", "1",
    )  # fmt: skip
    assert scored.code == 0, scored.err
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.groupby("flag")["prediction"].agg(lambda s: s.mode()[0]).to_dict() == {
        False: "no",
        True: "yes",
    }


def test_same_seed_same_model_and_metrics(
    cli: Cli, isolated: Path, tmp_path: Path
) -> None:
    outcomes = []
    for name in ("a", "b"):
        home = tmp_path / name
        assert cli("run", "--trials", "6", "--home", home, "--seed", "3").code == 0
        card = json.loads((latest_run_dir(home) / "model_card.json").read_text())
        outcomes.append((card["model"], card["metrics"]["test"]))
    assert outcomes[0] == outcomes[1]


def test_own_csv_end_to_end(cli: Cli, workspace: Path, tmp_path: Path) -> None:
    frame = load_penguins().rename(columns={"species": "kind"})
    frame.to_csv(tmp_path / "birds.csv", index=False)
    result = cli("run", *FAST, "--data", tmp_path / "birds.csv", "--target", "kind")
    assert result.code == 0, result.err
    assert registry(workspace).champion("birds") is not None


def test_digits_end_to_end(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPSLAB_TUNE__FAMILIES", '["logreg"]')
    result = cli("run", "--data", "digits", "--trials", "2")
    assert result.code == 0, result.err
    card = json.loads((latest_run_dir(workspace) / "model_card.json").read_text())
    assert card["metrics"]["test"]["accuracy"] > 0.9
    assert len(card["data"]["classes"]) == 10
    assert isinstance(pd.DataFrame(card["data"]["features"]), pd.DataFrame)


def test_tracking_uri_points_at_a_real_mlflow_server(
    cli: Cli, isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
    ]
    with running(command, f"{uri}/health", tmp_path / "server.log"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        first = cli("run", *FAST)
        assert first.code == 0, first.err
        assert "View run" not in first.out  # MLflow's links do not clutter our summary
        assert cli("run", "--trials", "2").code == 0  # another model: promoted
        remote = Registry.connect(uri)
        champion = remote.champion("penguins")
        assert champion is not None and champion.version == "2"
        assert not (isolated / ".mlopslab" / "mlflow.db").exists()
        assert any((tmp_path / "server-artifacts").rglob("MLmodel"))


def test_the_run_records_the_families_it_searched() -> None:
    """The card's configuration lists torch_cnn when digits' defaults add it."""
    import importlib.util

    from mlopslab.config import DataConfig, load_config
    from mlopslab.data import load_dataset
    from mlopslab.flows.training import with_families

    cfg = load_config(environ={})
    digits = with_families(cfg, load_dataset(DataConfig(source="digits")))
    penguins = with_families(cfg, load_dataset(DataConfig(source="penguins")))
    assert penguins.tune.families == cfg.tune.families
    has_torch = importlib.util.find_spec("torch") is not None
    assert (
        digits.tune.families
        == (*cfg.tune.families, "torch_cnn")[: len(cfg.tune.families) + has_torch]
    )
    assert with_families(digits, load_dataset(DataConfig(source="digits"))) == digits


def test_the_tune_line_counts_pruned_trials_apart_from_lost_ones() -> None:
    from mlopslab.flows.training import _retried
    from mlopslab.tune import TrialRecord, TuneResult

    done = TrialRecord(0, "logreg", {}, 0.1, 0.9, 0.9, 0.01)
    pruned = TrialRecord(
        1, "torch_mlp", {}, None, None, None, 0.2, "pruned after ...", 1, 0.5, True
    )
    lost = TrialRecord(2, "mlp", {}, None, None, None, 0.2, "worker died", retries=1)
    assert _retried(TuneResult([done, pruned, lost], done)) == (
        "; 1 pruned; trials [2] lost with their workers"
    )
