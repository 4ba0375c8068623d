"""Model quality in the window, where ground-truth labels have been joined."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, recall_score

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
    labels = sorted(set(y_true) | set(y_pred))
    result = QualityResult(
        labelled=len(y_true),
        status="ok",
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        per_class_recall={
            label: float(value)
            for label, value in zip(
                labels,
                recall_score(
                    y_true, y_pred, labels=labels, average=None, zero_division=0
                ),
                strict=True,
            )
        },
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
