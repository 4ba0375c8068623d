import json
import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from palmerpenguins import load_penguins
from sklearn.datasets import make_classification
from sklearn.naive_bayes import GaussianNB

from mlopslab.calibration import (
    Calibration,
    ReliabilityBin,
    calibrated,
    measure_calibration,
)
from mlopslab.data import infer_schema
from mlopslab.train import build_pipeline

CLASSES = ["a", "b", "c"]


def sampled_labels(proba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per row, drawn from the row's own probabilities."""
    cumulative = proba.cumsum(axis=1)
    drawn = (rng.random(len(proba))[:, None] > cumulative).sum(axis=1)
    return np.asarray(CLASSES)[np.minimum(drawn, len(CLASSES) - 1)]


def test_ece_is_near_zero_when_probabilities_are_honest() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([0.7, 0.7, 0.7], 100_000)
    result = measure_calibration(sampled_labels(proba, rng), proba, CLASSES)
    assert result.ece < 0.02
    assert result.rows == 100_000
    assert sum(b.rows for b in result.bins) == 100_000
    for b in result.bins:
        if b.rows > 2_000:
            assert abs(b.gap) < 0.03


def test_ece_is_large_when_the_model_is_overconfident() -> None:
    rng = np.random.default_rng(1)
    honest = rng.dirichlet([1.0, 1.0, 1.0], 50_000)
    truth = sampled_labels(honest, rng)
    sharpened = honest**4 / (honest**4).sum(axis=1, keepdims=True)
    result = measure_calibration(truth, sharpened, CLASSES)
    assert result.ece > 0.15
    assert all(b.gap > 0 for b in result.bins if b.rows > 1_000)


def test_bins_on_a_hand_example() -> None:
    proba = np.array(
        [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.5, 0.5], [0.25, 0.75]]
    )
    truth = pd.Series(["a", "b", "b", "b", "a", "a"])
    result = measure_calibration(truth, proba, ["a", "b"], bins=4)
    # Bins are (low, high]: 0.5 falls in (0.25, 0.5], 0.75 in (0.5, 0.75].
    low, middle, high = result.bins
    assert low == ReliabilityBin(0.25, 0.5, 1, 0.5, 1.0)
    assert (middle.low, middle.high, middle.rows) == (0.5, 0.75, 3)
    assert middle.confidence == pytest.approx((0.6 + 0.7 + 0.75) / 3)
    assert middle.accuracy == pytest.approx(2 / 3)
    assert (high.low, high.high, high.rows) == (0.75, 1.0, 2)
    assert (high.confidence, high.accuracy) == (pytest.approx(0.85), 0.5)
    gaps = 1 * 0.5 + 3 * abs((0.6 + 0.7 + 0.75) / 3 - 2 / 3) + 2 * 0.35
    assert result.ece == pytest.approx(gaps / 6)
    assert result.rows == 6


def test_rows_without_label_or_probabilities_are_left_out() -> None:
    proba = np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, 0.8]])
    truth = np.array(["a", "a", None], dtype=object)
    result = measure_calibration(truth, proba, ["a", "b"], bins=10)
    assert result.rows == 1
    assert result.bins == (ReliabilityBin(0.8, 0.9, 1, 0.9, 1.0),)
    assert result.ece == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no row"):
        measure_calibration(truth[1:2], proba[1:2], ["a", "b"])
    with pytest.raises(ValueError, match="do not match"):
        measure_calibration(truth, proba, ["a", "b", "c"])


def test_labels_are_compared_as_strings() -> None:
    proba = np.array([[0.7, 0.3], [0.2, 0.8]])
    result = measure_calibration(np.array([1, 2]), proba, ["1", "2"], bins=2)
    assert [b.accuracy for b in result.bins] == [1.0]


def test_calibration_round_trips_through_json() -> None:
    rng = np.random.default_rng(2)
    proba = rng.dirichlet([1, 1, 1], 300)
    result = measure_calibration(sampled_labels(proba, rng), proba, CLASSES)
    assert Calibration.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def overconfident_task() -> tuple[pd.DataFrame, pd.Series]:
    """Redundant, correlated features: naive Bayes counts the same evidence twice."""
    X, y = make_classification(
        n_samples=3_000,
        n_features=10,
        n_informative=3,
        n_redundant=6,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    return frame, pd.Series(np.asarray(["x", "y", "z"])[y], name="label")


def test_calibrated_lowers_ece_on_held_out_rows() -> None:
    X, y = overconfident_task()
    train, test = slice(0, 2_000), slice(2_000, None)
    model = GaussianNB().fit(X[train], y[train])
    before = measure_calibration(y[test], model.predict_proba(X[test]), model.classes_)
    fixed = calibrated(model, X[train], y[train])
    after = measure_calibration(y[test], fixed.predict_proba(X[test]), fixed.classes_)
    assert before.ece > 0.04
    assert after.ece < before.ece / 2
    assert list(fixed.classes_) == ["x", "y", "z"]
    proba = fixed.predict_proba(X[test])
    assert (fixed.predict(X[test]) == fixed.classes_[proba.argmax(axis=1)]).all()
    # The model given is not touched: calibration fits a clone.
    assert np.array_equal(
        model.predict_proba(X[test]),
        GaussianNB().fit(X[train], y[train]).predict_proba(X[test]),
    )


def test_calibrated_pickles_and_keeps_its_predictions() -> None:
    X, y = overconfident_task()
    fixed = calibrated(GaussianNB(), X[:600], y[:600], method="isotonic", folds=3)
    again = pickle.loads(pickle.dumps(fixed))
    assert np.array_equal(again.predict_proba(X[600:]), fixed.predict_proba(X[600:]))
    assert np.array_equal(again.predict(X[600:]), fixed.predict(X[600:]))


def test_calibrated_takes_any_index_and_every_method() -> None:
    X, y = overconfident_task()
    X, y = X[500:1_500], y[500:1_500]  # no row labelled 0
    methods = ["sigmoid", "isotonic"]
    if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) >= (1, 8):
        methods.append("temperature")  # new in scikit-learn 1.8
    for method in methods:
        fixed = calibrated(GaussianNB(), X, y, method=method)
        assert list(fixed.classes_) == ["x", "y", "z"], method
        assert fixed.predict(X.head(5)).shape == (5,)


def test_calibrated_is_seeded() -> None:
    X, y = overconfident_task()
    one = calibrated(GaussianNB(), X[:800], y[:800], seed=3).predict_proba(X[800:])
    two = calibrated(GaussianNB(), X[:800], y[:800], seed=3).predict_proba(X[800:])
    assert np.array_equal(one, two)


def test_calibrated_wraps_the_project_pipeline_on_penguins() -> None:
    frame = load_penguins()  # missing values and categorical columns included
    X, y = frame.drop(columns="species"), frame["species"]
    schema = infer_schema(frame, "species")
    pipeline = build_pipeline(schema, "logreg", {"C": 1.0}, seed=0, n_rows=len(X))
    fixed = calibrated(pipeline, X, y)
    proba = fixed.predict_proba(X.head(20))
    assert proba.shape == (20, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (fixed.predict(X.head(20)) == fixed.classes_[proba.argmax(axis=1)]).all()
    assert (fixed.predict(X) == y).mean() > 0.95


def test_calibrated_needs_enough_rows_of_every_class() -> None:
    X, y = overconfident_task()
    y = y.copy()
    y.iloc[:3] = "rare"
    with pytest.raises(ValueError, match="class rare has 3"):
        calibrated(GaussianNB(), X, y, folds=4)
