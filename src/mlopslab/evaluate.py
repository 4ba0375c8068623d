"""Score a model on the held-out test set and decide whether it may ship.

The gate has two parts: absolute thresholds, then the candidate against the
current champion re-scored on the same test set, with MLflow-style
`min_absolute_change` / `min_relative_change`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from mlopslab.config import GateConfig

LOWER_IS_BETTER = {"log_loss"}


class Classifier(Protocol):
    classes_: np.ndarray

    def predict(self, X: pd.DataFrame) -> np.ndarray: ...

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class Metrics:
    accuracy: float
    macro_f1: float
    log_loss: float
    per_class: dict[str, dict[str, float]]
    labels: list[str]
    confusion_matrix: list[list[int]]
    prediction_counts: dict[str, int]
    n_rows: int

    def headline(self) -> dict[str, float]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "log_loss": self.log_loss,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.headline(),
            "per_class": self.per_class,
            "labels": self.labels,
            "confusion_matrix": self.confusion_matrix,
            "prediction_counts": self.prediction_counts,
            "n_rows": self.n_rows,
        }


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    reasons: list[str]
    champion_version: str | None = None
    champion_metrics: dict[str, float] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "approved" if self.approved else "rejected"


def evaluate(model: Classifier, X: pd.DataFrame, y: pd.Series) -> Metrics:
    """Accuracy, macro F1, per-class precision/recall, log loss, confusion matrix."""
    labels = sorted(set(map(str, y)) | set(map(str, model.classes_)))
    predicted = np.asarray(model.predict(X)).astype(str)
    proba = model.predict_proba(X)
    truth = y.astype(str).to_numpy()
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_class = {
        label: {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(
            labels, precision, recall, f1, support, strict=True
        )
    }
    counts = pd.Series(predicted).value_counts()
    return Metrics(
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(
            f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
        ),
        log_loss=float(log_loss(truth, proba, labels=[str(c) for c in model.classes_])),
        per_class=per_class,
        labels=labels,
        confusion_matrix=confusion_matrix(truth, predicted, labels=labels).tolist(),
        prediction_counts={label: int(counts.get(label, 0)) for label in labels},
        n_rows=len(truth),
    )


def gate(
    candidate: Metrics,
    cfg: GateConfig,
    champion: Metrics | None = None,
    champion_version: str | None = None,
    champion_error: str | None = None,
) -> GateDecision:
    """Approve only if every threshold holds and the champion is matched or beaten."""
    checks = [
        _threshold_check(candidate, metric, bound)
        for metric, bound in cfg.thresholds.items()
    ]
    if champion is not None:
        checks.extend(_champion_checks(candidate, champion, cfg, champion_version))
    elif champion_error is not None:
        checks.append({"check": "champion", "passed": False, "reason": champion_error})
    else:
        checks.append(
            {
                "check": "champion",
                "passed": True,
                "reason": "no champion yet: nothing to compare with",
            }
        )
    approved = all(check["passed"] for check in checks)
    return GateDecision(
        approved=approved,
        reasons=[check["reason"] for check in checks],
        champion_version=champion_version,
        champion_metrics=champion.headline() if champion else None,
        checks=checks,
    )


def _threshold_check(candidate: Metrics, metric: str, bound: float) -> dict[str, Any]:
    value = candidate.headline()[metric]
    if metric in LOWER_IS_BETTER:
        passed, relation = value <= bound, "<="
    else:
        passed, relation = value >= bound, ">="
    verb = "meets" if passed else "fails"
    return {
        "check": f"threshold:{metric}",
        "passed": passed,
        "reason": f"{metric} {value:.4f} {verb} the threshold {relation} {bound:g}",
    }


def _champion_checks(
    candidate: Metrics, champion: Metrics, cfg: GateConfig, version: str | None
) -> list[dict[str, Any]]:
    metric = cfg.compare_metric
    new, old = candidate.headline()[metric], champion.headline()[metric]
    # Improvement is positive when the candidate is better, whatever the direction.
    gain = (old - new) if metric in LOWER_IS_BETTER else (new - old)
    label = f"champion v{version}" if version else "the champion"
    checks = []
    if cfg.min_absolute_change is not None:
        passed = gain >= cfg.min_absolute_change - 1e-12
        checks.append(
            {
                "check": "champion:min_absolute_change",
                "passed": passed,
                "reason": (
                    f"{metric} {new:.4f} vs {label} {old:.4f}: change {gain:+.4f} "
                    f"{'meets' if passed else 'is below'} min_absolute_change "
                    f"{cfg.min_absolute_change:g}"
                ),
            }
        )
    if cfg.min_relative_change is not None:
        relative = gain / abs(old) if old else float("inf") if gain > 0 else 0.0
        passed = relative >= cfg.min_relative_change - 1e-12
        checks.append(
            {
                "check": "champion:min_relative_change",
                "passed": passed,
                "reason": (
                    f"{metric} relative change {relative:+.2%} vs {label} "
                    f"{'meets' if passed else 'is below'} min_relative_change "
                    f"{cfg.min_relative_change:.2%}"
                ),
            }
        )
    return checks


def add_checks(decision: GateDecision, checks: list[dict[str, Any]]) -> GateDecision:
    """The decision with more checks (significance, fairness): each must pass too."""
    if not checks:
        return decision
    every = [*decision.checks, *checks]
    return GateDecision(
        approved=decision.approved and all(check["passed"] for check in checks),
        reasons=[check["reason"] for check in every],
        champion_version=decision.champion_version,
        champion_metrics=decision.champion_metrics,
        checks=every,
    )
