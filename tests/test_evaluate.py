import numpy as np
import pandas as pd
import pytest

from mlopslab.config import GateConfig
from mlopslab.evaluate import Metrics, evaluate, gate


class Fixed:
    """A classifier whose predictions are given: to test metrics exactly."""

    classes_ = np.array(["a", "b"])

    def __init__(self, proba: list[list[float]]) -> None:
        self.proba = np.array(proba)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.proba.argmax(axis=1)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.proba


def metrics(accuracy: float, macro_f1: float = 0.9, log_loss: float = 0.2) -> Metrics:
    return Metrics(accuracy, macro_f1, log_loss, {}, [], [], {}, 10)


def test_evaluate_computes_each_metric() -> None:
    model = Fixed([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = pd.Series(["a", "b", "b", "b"])
    result = evaluate(model, pd.DataFrame(index=range(4)), y)
    assert result.accuracy == 0.75
    assert result.confusion_matrix == [[1, 0], [1, 2]]
    assert result.per_class["b"]["recall"] == pytest.approx(2 / 3)
    assert result.per_class["a"]["precision"] == 0.5
    expected_loss = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert result.log_loss == pytest.approx(expected_loss)
    assert result.prediction_counts == {"a": 2, "b": 2}


def test_threshold_rejects_with_reason() -> None:
    decision = gate(metrics(0.85), GateConfig(thresholds={"accuracy": 0.9}))
    assert not decision.approved
    assert any("fails the threshold >= 0.9" in reason for reason in decision.reasons)


def test_first_model_needs_only_thresholds() -> None:
    decision = gate(metrics(0.95), GateConfig())
    assert decision.approved
    assert any("no champion yet" in reason for reason in decision.reasons)


def test_champion_comparison_absolute_and_relative() -> None:
    cfg = GateConfig(min_absolute_change=0.01, min_relative_change=0.02)
    worse = gate(metrics(0.95), cfg, metrics(0.95), "3")
    assert not worse.approved
    assert any("champion v3" in reason for reason in worse.reasons)
    better = gate(metrics(0.99), cfg, metrics(0.95), "3")
    assert better.approved
    assert better.champion_metrics == metrics(0.95).headline()


def test_default_allows_a_tie_but_not_a_regression() -> None:
    assert gate(metrics(0.95), GateConfig(), metrics(0.95), "1").approved
    assert not gate(metrics(0.94), GateConfig(), metrics(0.95), "1").approved


def test_log_loss_lower_is_better() -> None:
    cfg = GateConfig(thresholds={"log_loss": 0.3}, compare_metric="log_loss")
    assert gate(
        metrics(0.9, log_loss=0.1), cfg, metrics(0.9, log_loss=0.2), "1"
    ).approved
    assert not gate(
        metrics(0.9, log_loss=0.25), cfg, metrics(0.9, log_loss=0.2)
    ).approved
    assert not gate(metrics(0.9, log_loss=0.5), cfg).approved


def test_unscorable_champion_rejects() -> None:
    decision = gate(metrics(0.99), GateConfig(), champion_error="schema differs")
    assert not decision.approved
    assert "schema differs" in decision.reasons
