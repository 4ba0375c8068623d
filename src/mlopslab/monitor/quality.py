"""Model quality in the window, where ground-truth labels have been joined."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlopslab.config import MonitorConfig


@dataclass
class QualityResult:
    labelled: int
    status: str  # ok, degraded or insufficient data
    accuracy: float | None = None
    macro_f1: float | None = None
    per_class_recall: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        return self.status == "degraded"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_quality(
    predicted: pd.Series,
    actual: pd.Series,
    reference: dict[str, float],
    cfg: MonitorConfig,
) -> QualityResult:
    """Compare window metrics with the champion's test metrics, within a tolerance."""
    labelled = actual.notna()
    y_true = actual[labelled].astype(str)
    y_pred = predicted[labelled].astype(str)
    if len(y_true) < cfg.min_labels:
        return QualityResult(
            len(y_true),
            "insufficient data",
            reference=reference,
            reasons=[
                f"{len(y_true)} labelled rows; at least {cfg.min_labels} are needed"
            ],
        )
    accuracy, macro_f1, recall = _scores(y_true.to_numpy(), y_pred.to_numpy())
    result = QualityResult(
        labelled=len(y_true),
        status="ok",
        accuracy=accuracy,
        macro_f1=macro_f1,
        per_class_recall=recall,
        reference=reference,
    )
    for metric in ("accuracy", "macro_f1"):
        now, then = getattr(result, metric), reference.get(metric)
        if then is not None and now < then - cfg.quality_tolerance:
            result.status = "degraded"
            result.reasons.append(
                f"{metric} {now:.4f} is below the champion's {then:.4f} "
                f"by more than {cfg.quality_tolerance:g}"
            )
    return result


def _scores(
    y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[float, float, dict[str, float]]:
    """Accuracy, macro F1 and per-class recall, as scikit-learn defines them.

    Written out with numpy because importing sklearn.metrics costs a third of a
    second, and `mlopslab monitor` is meant to answer within three seconds.
    """
    labels = sorted(set(y_true) | set(y_pred))
    f1s, recall = [], {}
    for label in labels:
        true_positive = float(np.sum((y_true == label) & (y_pred == label)))
        actual, predicted = (
            float(np.sum(y_true == label)),
            float(np.sum(y_pred == label)),
        )
        recall[label] = true_positive / actual if actual else 0.0
        precision = true_positive / predicted if predicted else 0.0
        both = precision + recall[label]
        f1s.append(2 * precision * recall[label] / both if both else 0.0)
    return float(np.mean(y_true == y_pred)), float(np.mean(f1s)), recall
