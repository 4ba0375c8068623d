"""Drift detection quality with fixed seeds, on penguins against its baseline."""

import numpy as np
import pandas as pd
import pytest

from mlopslab.baseline import compute_statistics
from mlopslab.config import ColumnDrift, DataConfig, MonitorConfig, SplitConfig
from mlopslab.data import infer_schema, load_dataset
from mlopslab.monitor.drift import choose_method, detect_drift
from mlopslab.monitor.reference import Reference, references
from mlopslab.preprocess import split_dataset

Penguins = tuple[pd.DataFrame, dict[str, Reference]]
"""The penguins features and the references built from its training part."""


@pytest.fixture(scope="module")
def penguins() -> Penguins:
    dataset = load_dataset(DataConfig())
    split = split_dataset(dataset, SplitConfig(), 4, 42)
    return dataset.X, references(compute_statistics(split.X_train, dataset.schema))


def test_clean_samples_raise_at_most_one_false_alarm(penguins: Penguins) -> None:
    X, refs = penguins
    flagged = sum(
        len(
            detect_drift(
                X.sample(500, replace=True, random_state=seed), refs, MonitorConfig()
            ).drifted
        )
        for seed in range(20)
    )
    assert flagged <= 1


@pytest.mark.parametrize("seed", range(5))
def test_one_sd_shift_is_found_and_only_it(penguins: Penguins, seed: int) -> None:
    X, refs = penguins
    current = X.sample(500, replace=True, random_state=100 + seed).copy()
    current["body_mass_g"] += X["body_mass_g"].std()
    assert detect_drift(current, refs, MonitorConfig()).drifted == ["body_mass_g"]


@pytest.mark.parametrize("seed", range(5))
def test_thirty_point_category_change_is_found_and_only_it(
    penguins: Penguins, seed: int
) -> None:
    X, refs = penguins
    current = X.sample(500, replace=True, random_state=200 + seed).reset_index(
        drop=True
    )
    others = np.flatnonzero((current["island"] != "Biscoe").to_numpy())
    chosen = np.random.default_rng(seed).choice(others, size=150, replace=False)
    current["island"] = current["island"].astype(object)
    current.loc[chosen, "island"] = "Biscoe"
    assert detect_drift(current, refs, MonitorConfig()).drifted == ["island"]


def test_method_follows_type_and_reference_size(penguins: Penguins) -> None:
    _, refs = penguins
    cfg = MonitorConfig()
    assert choose_method(refs["bill_length_mm"], cfg) == ("ks", 0.05)
    assert choose_method(refs["island"], cfg) == ("chi2", 0.05)
    assert choose_method(refs["year"], cfg)[0] == "chi2"  # three distinct values
    large = MonitorConfig(small_reference=10)
    assert choose_method(refs["bill_length_mm"], large) == ("wasserstein", 0.1)
    assert choose_method(refs["island"], large) == ("jensenshannon", 0.1)
    custom = MonitorConfig(
        columns={"bill_length_mm": ColumnDrift(method="psi", threshold=0.3)}
    )
    assert choose_method(refs["bill_length_mm"], custom) == ("psi", 0.3)


def test_distances_and_psi_on_a_large_reference() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 20_000),
            "c": rng.choice(["a", "b", "c"], 20_000, p=[0.5, 0.3, 0.2]),
            "y": ["p", "q"] * 10_000,
        }
    )
    refs = references(compute_statistics(reference, infer_schema(reference, "y")))
    same = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 5_000),
            "c": rng.choice(["a", "b", "c"], 5_000, p=[0.5, 0.3, 0.2]),
        }
    )
    moved = pd.DataFrame(
        {
            "x": rng.normal(0.5, 1, 5_000),
            "c": rng.choice(["a", "b", "c"], 5_000, p=[0.2, 0.3, 0.5]),
        }
    )
    cfg = MonitorConfig()
    assert detect_drift(same, refs, cfg).drifted == []
    result = detect_drift(moved, refs, cfg)
    assert result.drifted == ["x", "c"]
    assert result.features[0].method == "wasserstein"
    assert result.features[0].statistic == pytest.approx(0.5, abs=0.05)
    psi = MonitorConfig(
        columns={
            "x": ColumnDrift(method="psi", threshold=0.2),
            "c": ColumnDrift(method="psi", threshold=0.2),
        }
    )
    assert detect_drift(same, refs, psi).drifted == []
    assert detect_drift(moved, refs, psi).drifted == ["x", "c"]


def test_small_windows_read_insufficient_data(penguins: Penguins) -> None:
    X, refs = penguins
    result = detect_drift(X.head(10), refs, MonitorConfig())
    assert {f.status for f in result.features} == {"insufficient data"}
    assert result.drift_share == 0.0


def test_prediction_drift(penguins: Penguins) -> None:
    X, refs = penguins
    reference = {"Adelie": 30, "Chinstrap": 14, "Gentoo": 25}
    steady = pd.Series(["Adelie"] * 220 + ["Chinstrap"] * 100 + ["Gentoo"] * 180)
    skewed = pd.Series(["Gentoo"] * 450 + ["Adelie"] * 50)
    calm = detect_drift(X.head(0), refs, MonitorConfig(), steady, reference)
    shifted = detect_drift(X.head(0), refs, MonitorConfig(), skewed, reference)
    assert calm.prediction is not None and not calm.prediction.drifted
    assert shifted.prediction is not None and shifted.prediction.drifted
