import dataclasses
import json
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from mlopslab.monitor.cbpe import Estimate, PerformanceEstimate, estimate_performance

CLASSES = ["a", "b", "c"]


def realised(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Accuracy and macro F1 over the classes present or predicted, as the
    monitor's quality check scores a labelled window."""
    return (
        float(accuracy_score(truth, predicted)),
        float(f1_score(truth, predicted, average="macro", zero_division=0)),
    )


HAND = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.4, 0.0]])


def test_expected_accuracy_and_macro_f1_on_a_hand_example() -> None:
    result = estimate_performance(HAND, CLASSES)
    assert result.rows == 4
    assert result.accuracy.value == pytest.approx((0.9 + 0.5 + 0.8 + 0.6) / 4)
    # Expected counts: TP = (1.5, 0.5, 0.8); predicted (2, 1, 1); expected
    # class totals (1.8, 1.1, 1.1); F1_k = 2 TP_k / (predicted_k + expected_k).
    f1 = [3.0 / 3.8, 1.0 / 2.1, 1.6 / 2.1]
    assert result.macro_f1.value == pytest.approx(np.mean(f1))
    assert result.reference_accuracy is None
    assert result.accuracy.realised is None


def test_intervals_contain_the_value_and_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    result = estimate_performance(rng.dirichlet([1, 1, 1], 500), CLASSES)
    for estimate in (result.accuracy, result.macro_f1):
        assert 0.0 <= estimate.low < estimate.value < estimate.high <= 1.0
        assert estimate.high - estimate.low < 0.15  # 500 rows: a few points wide


def test_same_seed_same_result() -> None:
    proba = np.random.default_rng(1).dirichlet([1, 1, 1], 200)
    assert estimate_performance(proba, CLASSES, seed=4) == estimate_performance(
        proba, CLASSES, seed=4
    )
    other = estimate_performance(proba, CLASSES, seed=5)
    assert other.accuracy.value == estimate_performance(proba, CLASSES).accuracy.value
    assert other != estimate_performance(proba, CLASSES, seed=4)


def test_unusable_rows_are_dropped_and_rounded_rows_rescaled() -> None:
    proba = np.vstack([HAND, [[np.nan, np.nan, np.nan], [0.5, np.nan, 0.5]]])
    assert estimate_performance(proba, CLASSES) == estimate_performance(HAND, CLASSES)
    rounded = np.array([[0.45, 0.45, 0.05]])  # sums to 0.95
    assert estimate_performance(rounded, CLASSES).accuracy.value == pytest.approx(
        0.45 / 0.95
    )
    with pytest.raises(ValueError, match="no row"):
        estimate_performance(np.full((3, 3), np.nan), CLASSES)
    with pytest.raises(ValueError, match="do not match"):
        estimate_performance(HAND, ["a", "b"])


def test_a_class_unlikely_to_occur_is_not_averaged() -> None:
    # "c" is never predicted and has a 1% chance per row: the realised macro
    # F1 would average "a" and "b" only, and so does the estimate.
    proba = np.array([[0.9, 0.09, 0.01], [0.1, 0.89, 0.01]])
    result = estimate_performance(proba, CLASSES)
    f1_a = 2 * 0.9 / (1 + 1.0)
    f1_b = 2 * 0.89 / (1 + 0.98)
    assert result.macro_f1.value == pytest.approx((f1_a + f1_b) / 2)


def test_the_interval_covers_labels_drawn_from_the_probabilities() -> None:
    rng = np.random.default_rng(2)
    covered = {"accuracy": 0, "macro_f1": 0}
    trials = 100
    for trial in range(trials):
        proba = rng.dirichlet([0.8, 0.8, 0.8], 300)
        truth = (rng.random(300)[:, None] > proba.cumsum(axis=1)).sum(axis=1)
        predicted = proba.argmax(axis=1)
        accuracy, macro_f1 = realised(truth, predicted)
        result = estimate_performance(proba, CLASSES, seed=trial)
        covered["accuracy"] += result.accuracy.low <= accuracy <= result.accuracy.high
        covered["macro_f1"] += result.macro_f1.low <= macro_f1 <= result.macro_f1.high
    assert 0.88 <= covered["accuracy"] / trials <= 1.0
    assert 0.88 <= covered["macro_f1"] / trials <= 1.0


MEANS = np.array([[0.0, 0.0, 0.0, 0.0], [2.4, 0.8, 0.0, 0.0], [0.8, 2.4, 0.8, 0.0]])


def gaussian_task(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian classes sharing one covariance: the true P(y | x) is a
    softmax of linear functions, so logistic regression is well specified and,
    fitted on enough rows, calibrated."""
    y = rng.integers(0, len(MEANS), rows)
    X = MEANS[y] + rng.normal(size=(rows, MEANS.shape[1]))
    return X, np.asarray(CLASSES)[y]


def windows(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A clean window and a covariate-shifted one: probabilities, truth, predicted.

    The shifted window samples the pool towards rows where the model is unsure
    (weights a function of x alone, so P(y | x) is unchanged): true accuracy
    falls by about 20 points (0.83 to 0.63 at seed 1), and the labels still
    follow the model.
    """
    rng = np.random.default_rng(seed)
    X, y = gaussian_task(3_000, rng)
    model = LogisticRegression().fit(X, y)
    pool, truth = gaussian_task(20_000, rng)
    proba = model.predict_proba(pool)
    clean = rng.choice(len(pool), 500, replace=False)
    unsure = (1.0 - proba.max(axis=1)) ** 2
    shifted = rng.choice(len(pool), 500, replace=False, p=unsure / unsure.sum())
    predicted = model.classes_[proba.argmax(axis=1)]
    return {
        name: (proba[rows], truth[rows], predicted[rows])
        for name, rows in (("clean", clean), ("shifted", shifted))
    }


def test_the_estimate_follows_covariate_shift() -> None:
    results = {}
    for name, (proba, truth, predicted) in windows(seed=1).items():
        accuracy, macro_f1 = realised(truth, predicted)
        estimate = estimate_performance(proba, CLASSES)
        assert estimate.accuracy.low <= accuracy <= estimate.accuracy.high, name
        assert estimate.macro_f1.low <= macro_f1 <= estimate.macro_f1.high, name
        results[name] = (accuracy, estimate)
    (clean_accuracy, clean), (shifted_accuracy, shifted) = results.values()
    assert clean_accuracy - shifted_accuracy > 0.15  # the shift is real
    assert clean.accuracy.value - shifted.accuracy.value > 0.15
    assert shifted.accuracy.high < clean.accuracy.low
    assert shifted.macro_f1.value < clean.macro_f1.value


def test_the_estimate_covers_the_realised_metric_across_seeds() -> None:
    covered, trials = 0, 0
    for seed in range(10):
        for proba, truth, predicted in windows(seed).values():
            accuracy, macro_f1 = realised(truth, predicted)
            estimate = estimate_performance(proba, CLASSES, seed=seed)
            covered += estimate.accuracy.low <= accuracy <= estimate.accuracy.high
            covered += estimate.macro_f1.low <= macro_f1 <= estimate.macro_f1.high
            trials += 2
    assert covered / trials >= 0.8


def test_estimate_round_trips_through_json() -> None:
    result = estimate_performance(HAND, CLASSES, reference_accuracy=0.93)
    filled = dataclasses.replace(
        result, accuracy=dataclasses.replace(result.accuracy, realised=0.75)
    )
    again = PerformanceEstimate.from_dict(json.loads(json.dumps(filled.to_dict())))
    assert again == filled
    assert again.reference_accuracy == 0.93
    assert again.macro_f1.realised is None


def test_covers_realised() -> None:
    estimate = Estimate("accuracy", 0.8, 0.75, 0.85)
    assert estimate.covers_realised is None
    assert dataclasses.replace(estimate, realised=0.77).covers_realised is True
    assert dataclasses.replace(estimate, realised=0.70).covers_realised is False


def test_500_rows_take_milliseconds() -> None:
    proba = np.random.default_rng(3).dirichlet([1, 1, 1], 500)
    estimate_performance(proba, CLASSES)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        estimate_performance(proba, CLASSES)
        best = min(best, time.perf_counter() - started)
    assert best < 0.1  # about 7 ms here; the budget is 50 ms
