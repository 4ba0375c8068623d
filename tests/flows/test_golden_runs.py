"""Golden test sets across real runs: a temporary workspace with its MLflow store."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from palmerpenguins import load_penguins

from mlopslab.cli.main import main
from mlopslab.config import Config, DataConfig, load_config
from mlopslab.data import Dataset, load_dataset
from mlopslab.errors import StageError, StoreError
from mlopslab.flows import training
from mlopslab.flows.monitoring import Window, retraining_dataset
from mlopslab.flows.run import Stages, Trained
from mlopslab.flows.training import prepare, run_pipeline
from mlopslab.stores.datasets import DatasetStore
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.registry.embedded import local_baseline, local_version
from mlopslab.stores.registry.versions import GOLDEN, REPEATS, TRAINING_DIGEST, Baseline
from mlopslab.stores.workspace import Workspace
from tests.conftest import Cli
from tests.test_cli import one_line_error

TRIALS = ("--trials", "2")
LOGREG = '["logreg"]'  # one quick family: these tests are about the data


@pytest.fixture(autouse=True)
def logreg_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPSLAB_TUNE__FAMILIES", LOGREG)


@dataclass(frozen=True)
class FirstRun:
    home: Path
    out: str


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> FirstRun:
    """Penguins v1, the first run on the source, in a workspace that the
    tests using it only read."""
    home = tmp_path_factory.mktemp("golden") / ".mlopslab"
    home.mkdir()
    shutil.copy(migrated_db, home / "mlflow.db")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out):
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLOPSLAB_TUNE__FAMILIES", LOGREG)
        code = main(["run", *TRIALS, "--home", str(home)])
    assert code == 0, out.getvalue()
    return FirstRun(home, out.getvalue())


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Trained]:
    """Each run's trained result as `register` got it (the real record_run runs)."""
    seen: list[Trained] = []
    record_run = training.record_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[3])
        return record_run(*args, **kwargs)

    monkeypatch.setattr(training, "record_run", spy)
    return seen


def registry(home: Path) -> Registry:
    return Registry.connect(f"sqlite:///{(home / 'mlflow.db').resolve()}")


def card(home: Path, version: str, name: str = "penguins") -> dict[str, Any]:
    run_id = registry(home).version(name, version).run_id
    content: dict[str, Any] = json.loads(
        (home / "runs" / run_id / "model_card.json").read_text()
    )
    return content


def files(home: Path) -> dict[str, bytes]:
    """Every file under the workspace's datasets, with its content."""
    root = home / "datasets"
    return {
        str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def golden_folder(home: Path) -> Path:
    [folder] = (home / "datasets" / "golden").iterdir()
    return folder


def test_the_first_run_freezes_v1(first_run: FirstRun) -> None:
    home = first_run.home
    assert (
        "golden test set v1 frozen (69 rows, first run on this source)" in first_run.out
    )
    assert "froze golden test set v1 for penguins: 69 rows" in first_run.out
    folder = golden_folder(home)
    assert folder.name.startswith("penguins-")
    assert sorted(p.name for p in folder.iterdir()) == ["current.json", "v1.parquet"]
    data = card(home, "1")["data"]
    assert data["golden"]["version"] == 1 and data["golden"]["frozen_by_this_run"]
    assert data["golden"]["path"] == str((folder / "v1.parquet").resolve())
    assert data["training"]["rows"] == 344 - 69
    assert data["training"]["labelled_rows"] == 0
    saved = Path(data["training"]["path"])
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    # The training rows and the golden rows are all the data, none in both.
    golden, trained = pd.read_parquet(folder / "v1.parquet"), pd.read_parquet(saved)
    assert overlap(golden, trained) == 0
    everything = pd.concat([golden, trained])
    assert overlap(everything, load_penguins()) == 344
    tags = registry(home).version("penguins", "1").tags
    assert tags[GOLDEN] == f"{folder.name} v1"
    assert tags[TRAINING_DIGEST] == data["training"]["digest"]


def test_the_mlflow_run_lists_its_test_and_training_data(first_run: FirstRun) -> None:
    from mlflow import MlflowClient

    home = first_run.home
    data = card(home, "1")["data"]
    uri = f"sqlite:///{(home / 'mlflow.db').resolve()}"
    run = MlflowClient(uri).get_run(registry(home).version("penguins", "1").run_id)
    assert run.inputs is not None
    inputs = {
        {tag.key: tag.value for tag in given.tags}["mlflow.data.context"]: given.dataset
        for given in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"testing", "training"}
    golden, trained = inputs["testing"], inputs["training"]
    assert golden.name == f"golden-{data['golden']['key']}-v1"
    assert golden.digest == data["golden"]["digest"][:16]
    assert Path(data["golden"]["path"]).as_uri() in golden.source
    assert json.loads(str(golden.profile))["num_rows"] == 69
    digest = data["training"]["digest"]
    assert trained.name == f"training-{digest[:12]}"
    assert trained.digest == digest[:16]
    assert Path(data["training"]["path"]).as_uri() in trained.source
    assert json.loads(str(trained.profile))["num_rows"] == 344 - 69


@pytest.mark.slow
def test_a_later_run_is_scored_on_v1_and_significance_can_be_required(
    cli: Cli, workspace: Path, recorded: list[Trained], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run", *TRIALS).code == 0
    before = files(workspace)
    folder = golden_folder(workspace)
    # Another seed would carve other rows: the second run is scored on v1's.
    monkeypatch.setenv("MLOPSLAB_GATE__REQUIRE_SIGNIFICANCE", "true")
    second = cli("run", *TRIALS, "--seed", "5")
    assert second.code == 0, second.err
    assert "golden test set v1 (69 rows)" in second.out
    assert "froze" not in second.out and "frozen" not in second.out
    golden = card(workspace, "2")["data"]["golden"]
    assert (golden["version"], golden["frozen_by_this_run"]) == (1, False)
    assert golden["path"] == str((folder / "v1.parquet").resolve())
    one, two = (trained.split for trained in recorded)
    pd.testing.assert_series_equal(one.y_test, two.y_test)
    pd.testing.assert_frame_equal(one.X_test, two.X_test, check_dtype=False)
    frozen = pd.read_parquet(folder / "v1.parquet")
    assert frozen["species"].tolist() == one.y_test.tolist()
    # Same rows outside the golden set: the same training rows, kept once.
    assert files(workspace) == before
    tags = registry(workspace).version("penguins", "2").tags
    assert tags[GOLDEN] == f"{folder.name} v1"
    # At most one test row between two good models: never significant.
    assert "Gate: rejected" in second.out
    assert "paired test on 69 golden rows" in second.out
    assert "not significant (p = 1), exact McNemar" in second.out
    assert "informative" not in second.out
    checks = card(workspace, "2")["gate"]["checks"]
    [paired] = [c for c in checks if c["check"] == "champion:significance"]
    assert paired["passed"] is False
    assert paired["paired_test"]["rows"] == 69
    champion = registry(workspace).champion("penguins")
    assert champion is not None and champion.version == "1"


@pytest.mark.slow
def test_run_on_the_saved_training_rows_rebuilds_the_champion(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", *TRIALS).code == 0
    champion = card(workspace, "1")
    saved = champion["data"]["training"]["path"]
    rerun = cli("run", *TRIALS, "--data", saved)
    assert rerun.code == 0, rerun.err
    assert "golden test set v1 (69 rows)" in rerun.out
    assert "v2 repeats champion v1 (same data, same predictions" in rerun.out
    repeat = card(workspace, "2")
    assert repeat["model_name"] == "penguins"  # the data's name came with it
    assert repeat["model"] == champion["model"]
    assert repeat["metrics"]["test"] == champion["metrics"]["test"]
    assert repeat["data"]["source"] == "penguins"
    assert repeat["data"]["training"] == champion["data"]["training"]
    store = registry(workspace)
    assert store.version("penguins", "2").tags[REPEATS] == "1"
    champion_now = store.champion("penguins")
    assert champion_now is not None and champion_now.version == "1"


@pytest.mark.slow
def test_new_test_set_freezes_v2_on_other_rows(cli: Cli, workspace: Path) -> None:
    assert cli("run", *TRIALS).code == 0
    folder = golden_folder(workspace)
    fresh = cli("run", *TRIALS, "--new-test-set")
    assert fresh.code == 0, fresh.err
    assert "golden test set v2 frozen (69 rows, --new-test-set)" in fresh.out
    assert "froze golden test set v2 for penguins" in fresh.out
    assert (
        f"champion v1 was tested on another golden test set ({folder.name} v1)"
        in fresh.out
    )
    v1 = pd.read_parquet(folder / "v1.parquet")
    v2 = pd.read_parquet(folder / "v2.parquet")
    assert len(v2) == 69 and overlap(v1, v2) < 30
    pointer = json.loads((folder / "current.json").read_text())
    assert pointer["version"] == 2
    golden = card(workspace, "2")["data"]["golden"]
    assert (golden["version"], golden["frozen_by_this_run"]) == (2, True)
    assert registry(workspace).version("penguins", "2").tags[GOLDEN] == (
        f"{folder.name} v2"
    )


@pytest.mark.slow
def test_a_failed_register_takes_its_golden_set_back(
    cli: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Registry, name: str, version: str, status: str) -> None:
        raise MlflowException("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(Registry, "set_status", broken)
        failed = cli("run", *TRIALS)
    assert failed.code == StageError.exit_code, failed.err
    assert "register failed: database is locked" in one_line_error(failed.err)
    assert files(workspace) == {}  # no golden set, no pointer, no training rows
    assert cli("run", *TRIALS).code == 0
    before = files(workspace)
    versions = registry(workspace).versions("penguins")
    with monkeypatch.context() as patch:
        patch.setattr(Registry, "set_status", broken)
        failed = cli("run", *TRIALS, "--new-test-set")
    assert failed.code == StageError.exit_code, failed.err
    assert files(workspace) == before  # v1 is current again; no v2
    assert registry(workspace).versions("penguins") == versions


def test_a_register_that_cannot_save_training_rows_leaves_no_golden_set(
    cli: Cli, workspace: Path
) -> None:
    (workspace / "datasets").mkdir()
    (workspace / "datasets" / "training").write_text("a file where a folder goes")
    failed = cli("run", *TRIALS)
    assert failed.code == StoreError.exit_code, failed.err
    assert "cannot save the training data" in one_line_error(failed.err)
    assert registry(workspace).latest_version("penguins") == 0
    assert list(files(workspace)) == ["training"]


# Retraining: the champion's training rows plus labelled captures.


def config(home: Path) -> Config:
    return load_config(
        overrides={"home": home, "tune.trials": 2, "tune.families": ["logreg"]}
    )


def champion_baseline(home: Path) -> Baseline:
    version = local_version(f"sqlite:///{home / 'mlflow.db'}", "penguins", "champion")
    assert version is not None
    baseline = local_baseline(version)
    assert baseline is not None
    return baseline


def window(rows: pd.DataFrame, labels: list[str | None]) -> Window:
    """Captured rows (as JSON brings them back) and their labels."""
    inputs = pd.DataFrame.from_records(
        json.loads(rows.drop(columns="species").to_json(orient="records"))
    )
    answers = pd.Series(labels, dtype=object)
    return Window(inputs, answers, answers, "2026-01-01", "2026-01-02")


def overlap(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows of `a` equal to a row of `b` (pandas' merge: NaN meets NaN)."""
    return len(a.drop_duplicates().merge(b.drop_duplicates(), how="inner"))


def split_of(data: Dataset, home: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The retrain's rows as the pipeline splits them: (train and valid, test)."""
    prepared = prepare(config(home), Stages(), data, DatasetStore(home / "datasets"))
    assert prepared.golden is not None and prepared.golden.new_because is None
    split = prepared.split
    X, y = split.train_and_valid()
    return X.assign(species=y), split.X_test.assign(species=split.y_test)


def golden_and_training(home: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = card(home, "1")["data"]
    golden = pd.read_parquet(data["golden"]["path"])
    return golden, pd.read_parquet(data["training"]["path"])[golden.columns]


def changed(rows: pd.DataFrame, column: str, by: float) -> pd.DataFrame:
    """New rows: the first ten rows with nothing missing, one measurement moved."""
    whole = rows.dropna().head(10)
    return whole.assign(**{column: whole[column] + by})


def test_a_retrain_adds_labelled_rows_once_and_keeps_the_golden_set(
    first_run: FirstRun,
) -> None:
    home = first_run.home
    golden, trained = golden_and_training(home)
    new = changed(trained.iloc[20:], "body_mass_g", 1.5)
    rows = pd.concat([golden.head(10), trained.head(10), new, trained.iloc[40:45]])
    labels: list[str | None] = [*rows["species"].iloc[:30], *[None] * 5]
    data = retraining_dataset(champion_baseline(home), window(rows, labels), "p")
    assert data.lineage is not None
    assert data.lineage.golden == golden_folder(home).name
    assert data.lineage.source == "penguins" and data.name == "p"
    # Rows already trained on, copies of golden rows and unlabelled rows are
    # not added: only the ten new ones.
    assert len(data.frame) == len(trained) + 10
    assert overlap(data.frame, new) == 10
    assert overlap(data.frame, trained) == len(trained)
    assert overlap(data.frame, golden) == 0
    assert data.lineage.labelled_rows == 10
    seen, test = split_of(data, home)
    pd.testing.assert_frame_equal(test[golden.columns], golden, check_dtype=False)
    assert overlap(seen, golden) == 0  # the golden copies do not train
    assert len(seen) == len(trained) + 10


def test_a_mislabelled_window_never_changes_the_test_set(first_run: FirstRun) -> None:
    home = first_run.home
    golden, trained = golden_and_training(home)
    rows = pd.concat([golden.head(20), changed(trained, "bill_depth_mm", 0.05)])
    rng = np.random.default_rng(0)
    labels: list[str | None] = list(rows["species"])
    wrong = set(rng.choice(len(labels), size=len(labels) * 3 // 10, replace=False))
    for row in wrong:  # 30% of the labels are another species
        labels[row] = "Gentoo" if labels[row] != "Gentoo" else "Adelie"
    data = retraining_dataset(champion_baseline(home), window(rows, labels), "p")
    seen, test = split_of(data, home)
    pd.testing.assert_frame_equal(test[golden.columns], golden, check_dtype=False)
    copies = golden.head(20).iloc[[row for row in range(20) if row not in wrong]]
    assert len(copies) < 20 and overlap(seen, copies) == 0


def test_labelled_rows_counts_only_rows_that_train(first_run: FirstRun) -> None:
    home = first_run.home
    golden, trained = golden_and_training(home)
    rows = pd.concat([golden.head(5), changed(trained, "year", 1)])
    labels: list[str | None] = list(rows["species"])
    data = retraining_dataset(champion_baseline(home), window(rows, labels), "p")
    seen, _ = split_of(data, home)
    assert len(seen) == len(trained) + 10
    assert data.lineage is not None and data.lineage.labelled_rows == 10


@pytest.mark.slow
def test_a_retrain_is_scored_on_the_champions_golden_set(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", *TRIALS).code == 0
    golden, trained = golden_and_training(workspace)
    rows = pd.concat([golden.head(5), changed(trained, "year", 1)])
    data = retraining_dataset(
        champion_baseline(workspace),
        window(rows, list(rows["species"])),
        "penguins",
    )
    space = Workspace(workspace).ensure()
    summary = run_pipeline(
        config(workspace),
        space,
        lambda: Registry.connect(space.local_tracking_uri(), space.artifact_location()),
        dataset=data,
    )
    assert not any("froze" in note for note in summary.notes)
    assert not any("another golden test set" in note for note in summary.notes)
    retrained = json.loads(summary.paths["card_json"].read_text())["data"]
    assert retrained["source"] == "penguins"
    golden_record = retrained["golden"]
    assert (golden_record["version"], golden_record["frozen_by_this_run"]) == (1, False)
    assert golden_record["path"] == str(
        (golden_folder(workspace) / "v1.parquet").resolve()
    )
    assert retrained["training"]["rows"] == len(trained) + 10
    again = load_dataset(DataConfig(source=retrained["training"]["path"]))
    assert again.lineage is not None
    assert again.lineage.golden == golden_folder(workspace).name
    assert overlap(again.frame, golden) == 0
    tags = registry(workspace).version("penguins", summary.version).tags
    assert tags[GOLDEN] == f"{golden_folder(workspace).name} v1"


# The command line.


def test_run_documents_new_test_set(cli: Cli) -> None:
    shown = cli("run", "--new-test-set", "--help")
    assert shown.code == 0
    assert "--new-test-set" in shown.out
    words = " ".join(shown.out.replace("│", " ").split())  # rich's boxes wrap
    assert "Freeze a new golden test set for this data (the next version)" in words


@pytest.mark.slow
def test_a_golden_set_the_data_no_longer_fits_stops_the_run(
    cli: Cli, workspace: Path, tmp_path: Path
) -> None:
    source = tmp_path / "birds.csv"
    load_penguins().to_csv(source, index=False)
    args = ("run", *TRIALS, "--data", source, "--target", "species")
    assert cli(*args).code == 0
    before = files(workspace)
    runs = sorted((workspace / "runs").iterdir())
    versions = registry(workspace).versions("birds")
    load_penguins().drop(columns="year").to_csv(source, index=False)
    refused = cli(*args)
    assert refused.code == 4
    line = one_line_error(refused.err)
    assert "golden test set v1 for birds does not match the data's columns" in line
    assert "extra ['year']" in line and "--new-test-set" in line
    assert files(workspace) == before
    assert sorted((workspace / "runs").iterdir()) == runs
    assert registry(workspace).versions("birds") == versions
    fresh = cli(*args, "--new-test-set")
    assert fresh.code == 0, fresh.err
    assert "golden test set v2 frozen (69 rows, --new-test-set)" in fresh.out
