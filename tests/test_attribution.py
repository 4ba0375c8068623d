"""Attribution drift: the importance ranking compared, and said in one sentence."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.pipeline import Pipeline

from mlopslab.config import SplitConfig
from mlopslab.data import build_dataset
from mlopslab.errors import StageError
from mlopslab.explain import ColumnImportance, Importance, permutation_importance
from mlopslab.monitor.attribution import attribution_drift
from mlopslab.preprocess import split_dataset
from mlopslab.train import fit_final


def importance(
    values: dict[tuple[str, ...], float], rows: int = 100, labelled: bool = False
) -> Importance:
    items = sorted(
        (
            ColumnImportance(columns, mean, 0.01, 0.0)
            for columns, mean in values.items()
        ),
        key=lambda item: (-item.mean, item.columns),
    )
    return Importance(tuple(items), 5, rows, 0.8, labelled)


BASELINE = importance({("a",): 0.5, ("b",): 0.4, ("c",): 0.3, ("d",): 0.2, ("e",): 0.1})


def test_identical_importances_are_stable_with_correlation_one() -> None:
    drift = attribution_drift(BASELINE, BASELINE)
    assert drift.correlation == pytest.approx(1.0)
    assert not drift.drifted and not drift.insufficient
    assert drift.top_baseline == drift.top_window == ("a", "b", "c")
    assert drift.rows == 100
    assert (
        drift.reason == "importance ranking stable: Spearman 1.00 >= 0.5 (top a, b, c)"
    )


def test_a_reversed_ranking_is_drift_and_says_what_moved() -> None:
    window = importance(
        {("a",): 0.1, ("b",): 0.2, ("c",): 0.3, ("d",): 0.4, ("e",): 0.5}, rows=80
    )
    drift = attribution_drift(BASELINE, window)
    assert drift.correlation == pytest.approx(-1.0)
    assert drift.drifted and not drift.insufficient
    assert drift.top_window == ("e", "d", "c")
    assert drift.reason == (
        "importance ranking moved: Spearman -1.00 < 0.5 (top was a, b, c; now e, d, c)"
    )
    # Biggest absolute change first; ties by name.
    assert drift.changes == (
        ("a", 0.5, 0.1),
        ("e", 0.1, 0.5),
        ("b", 0.4, 0.2),
        ("d", 0.2, 0.4),
        ("c", 0.3, 0.3),
    )


def test_the_threshold_decides_between_stable_and_moved() -> None:
    # One swap of neighbours among five columns: Spearman 0.9.
    window = importance(
        {("a",): 0.4, ("b",): 0.5, ("c",): 0.3, ("d",): 0.2, ("e",): 0.1}
    )
    assert attribution_drift(BASELINE, window).correlation == pytest.approx(0.9)
    assert not attribution_drift(BASELINE, window, threshold=0.85).drifted
    assert attribution_drift(BASELINE, window, threshold=0.95).drifted


def test_a_window_with_too_few_rows_is_insufficient() -> None:
    window = importance(
        {("a",): 0.1, ("b",): 0.2, ("c",): 0.3, ("d",): 0.4, ("e",): 0.5}, rows=12
    )
    drift = attribution_drift(BASELINE, window)
    assert drift.insufficient and not drift.drifted and drift.correlation is None
    assert drift.reason == "insufficient data: 12 rows < 30"
    assert not attribution_drift(BASELINE, window, min_rows=10).insufficient


def test_equal_importances_have_no_ranking_to_compare() -> None:
    window = importance({(c,): 0.0 for c in "abcde"})
    drift = attribution_drift(BASELINE, window)
    assert drift.insufficient and not drift.drifted and drift.correlation is None
    assert drift.reason == (
        "insufficient data: every column has the same importance in the window, "
        "so there is no ranking to compare"
    )


def test_too_few_shared_columns_are_insufficient() -> None:
    window = importance({("a",): 0.5, ("b",): 0.1, ("z",): 0.3})
    drift = attribution_drift(BASELINE, window)
    assert drift.insufficient
    assert drift.reason == "insufficient data: 2 columns in common, 3 needed to rank"
    assert [change[0] for change in drift.changes] == ["b", "a"]


def test_grouped_columns_are_compared_column_by_column() -> None:
    # The window grouped a and b (they now correlate); each keeps the value.
    window = importance({("a", "b"): 0.45, ("c",): 0.3, ("d",): 0.2, ("e",): 0.1})
    drift = attribution_drift(BASELINE, window)
    assert drift.correlation is not None and drift.correlation > 0.95
    assert not drift.drifted
    assert drift.top_window == ("a", "b", "c")


def test_importances_measured_differently_are_refused() -> None:
    with pytest.raises(StageError, match="measured differently"):
        attribution_drift(BASELINE, importance({("a",): 0.5}, labelled=True))


def test_to_dict_is_json_with_the_reason() -> None:
    content = json.loads(json.dumps(attribution_drift(BASELINE, BASELINE).to_dict()))
    assert content["drifted"] is False and content["correlation"] == pytest.approx(1)
    assert content["reason"].startswith("importance ranking stable")
    assert content["changes"][0] == {"column": "a", "baseline": 0.5, "window": 0.5}
    assert content["top_window"] == ["a", "b", "c"]


@pytest.fixture(scope="module")
def penguins() -> tuple[Pipeline, pd.DataFrame, pd.DataFrame, list[str]]:
    """A real logistic-regression pipeline, its test set and its training rows."""
    frame = load_penguins().dropna(subset=["species"])
    dataset = build_dataset("penguins", "penguins", frame, "species")
    split = split_dataset(dataset, SplitConfig(), cv_folds=5, seed=0)
    pipeline = fit_final(
        split.X_train, split.y_train, dataset.schema, "logreg", {"C": 1.0}, seed=0
    )
    return pipeline, split.X_test, split.X_train, dataset.schema.numeric


def test_penguins_a_stuck_bill_sensor_moves_the_ranking_and_normal_rows_do_not(
    penguins: tuple[Pipeline, pd.DataFrame, pd.DataFrame, list[str]],
) -> None:
    pipeline, X_test, X_train, numeric = penguins
    baseline = permutation_importance(pipeline, X_test, None, numeric)
    normal = X_train.sample(100, random_state=0)
    window = permutation_importance(pipeline, normal, None, numeric)
    assert not attribution_drift(baseline, window).drifted
    stuck = normal.assign(bill_length_mm=normal["bill_length_mm"].median())
    window = permutation_importance(pipeline, stuck, None, numeric)
    drift = attribution_drift(baseline, window)
    assert drift.drifted
    assert drift.top_baseline[0] == "bill_length_mm"
    assert "bill_length_mm" not in drift.top_window
    assert drift.changes[0][0] == "bill_length_mm"
