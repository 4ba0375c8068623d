"""Estimated accuracy and macro F1 of a window without labels (CBPE).

Confidence-based performance estimation reads the class probabilities the
server captured with each prediction. If row i is predicted as class k with
probability p_ik, it is right with probability p_ik: the expected accuracy is
the mean of the predicted class's probability, and the expected confusion
counts (as NannyML's CBPE counts them for multiclass) are, per row and its
predicted class k, p_ik to TP_k, 1 - p_ik to FP_k and p_ij to FN_j for every
other class j. Macro F1 comes from those expected counts.

The 95% interval is Monte-Carlo: each draw samples a label for every row from
its own probability vector and scores the predictions against it, so it is the
spread of the metric the window's labels would give if the probabilities are
right, sampling noise of a window this size included.

What it assumes, and so what it can and cannot see:

- the probabilities are calibrated (check the champion's ECE, `calibration.py`);
  an overconfident model's estimate is too high;
- no concept drift: P(y | x) is what it was in training. CBPE follows
  covariate shift (traffic moving to regions where the model is less sure, and
  so less often right), not a change in what the right answer is, nor label
  noise: a window whose labels changed meaning gets the same estimate as before.

numpy only: `mlopslab monitor` must answer within seconds, and 500 rows take a
few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

INTERVAL = (2.5, 97.5)  # percentiles of the Monte-Carlo draws: a 95% interval


@dataclass(frozen=True)
class Estimate:
    """One metric estimated without labels, with its 95% interval."""

    metric: str  # "accuracy" or "macro_f1"
    value: float
    low: float
    high: float
    realised: float | None = None  # from labels, when the window has enough

    @property
    def covers_realised(self) -> bool | None:
        """Whether the realised metric lies in the interval; None without one."""
        if self.realised is None:
            return None
        return self.low <= self.realised <= self.high

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        realised = data.get("realised")
        return cls(
            metric=str(data["metric"]),
            value=float(data["value"]),
            low=float(data["low"]),
            high=float(data["high"]),
            realised=None if realised is None else float(realised),
        )


@dataclass(frozen=True)
class PerformanceEstimate:
    """A window's estimated accuracy and macro F1, from its probabilities alone."""

    rows: int  # rows with usable probabilities
    accuracy: Estimate
    macro_f1: Estimate
    reference_accuracy: float | None  # the champion's test accuracy, to compare

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accuracy": self.accuracy.to_dict(),
            "macro_f1": self.macro_f1.to_dict(),
            "reference_accuracy": self.reference_accuracy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerformanceEstimate:
        reference = data.get("reference_accuracy")
        return cls(
            rows=int(data["rows"]),
            accuracy=Estimate.from_dict(data["accuracy"]),
            macro_f1=Estimate.from_dict(data["macro_f1"]),
            reference_accuracy=None if reference is None else float(reference),
        )


def estimate_performance(
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    draws: int = 500,
    seed: int = 0,
    reference_accuracy: float | None = None,
) -> PerformanceEstimate:
    """Estimate accuracy and macro F1 of the rows whose probabilities are given.

    `probabilities[i, k]` is row i's probability of `classes[k]`; the predicted
    class is the argmax (as `predict` serves it). Rows with a missing, NaN,
    negative or all-zero probability are dropped; the others are rescaled to
    sum to 1 (captured values may be rounded). Macro F1 averages the classes
    that are predicted or more likely than not to occur in the window, as the
    realised macro F1 averages the classes predicted or present. Same `seed`,
    same result.

    Raises ValueError when no row is usable or the shape does not match.
    """
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2 or p.shape[1] != len(classes) or not len(classes):
        raise ValueError(
            f"probabilities of shape {p.shape} do not match {len(classes)} classes"
        )
    if draws < 1:
        raise ValueError(f"draws must be at least 1, not {draws}")
    total = p.sum(axis=1)
    usable = np.isfinite(p).all(axis=1) & (p >= 0).all(axis=1) & (total > 0)
    p = p[usable] / total[usable, None]
    rows, count = p.shape
    if not rows:
        raise ValueError("no row has usable class probabilities")

    predicted = p.argmax(axis=1)
    confidence = p[np.arange(rows), predicted]
    predicted_count = np.bincount(predicted, minlength=count).astype(float)
    accuracy = float(confidence.mean())
    macro_f1 = _expected_macro_f1(p, predicted, confidence, predicted_count)

    sampled_accuracy, sampled_f1 = _draws(p, predicted, predicted_count, draws, seed)
    accuracy_low, accuracy_high = np.percentile(sampled_accuracy, INTERVAL)
    f1_low, f1_high = np.percentile(sampled_f1, INTERVAL)
    return PerformanceEstimate(
        rows=rows,
        accuracy=Estimate(
            "accuracy", accuracy, float(accuracy_low), float(accuracy_high)
        ),
        macro_f1=Estimate("macro_f1", macro_f1, float(f1_low), float(f1_high)),
        reference_accuracy=reference_accuracy,
    )


def _expected_macro_f1(
    p: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    predicted_count: np.ndarray,
) -> float:
    """Macro F1 of the expected confusion counts.

    TP_k = sum of p_ik over rows predicted k; FP_k = rows predicted k - TP_k;
    FN_k = sum of p_ik over the other rows, so 2TP + FP + FN is the predicted
    count plus the expected count of class k.
    """
    count = p.shape[1]
    true_positive = np.bincount(predicted, weights=confidence, minlength=count)
    expected = p.sum(axis=0)
    # P(class k occurs at least once) = 1 - prod_i (1 - p_ik), in logs.
    absent = np.exp(np.log1p(-np.minimum(p, 1.0 - 1e-12)).sum(axis=0))
    averaged = (predicted_count > 0) | (absent < 0.5)
    denominator = predicted_count + expected
    f1 = np.divide(
        2 * true_positive, denominator, where=denominator > 0, out=np.zeros(count)
    )
    return float(f1[averaged].mean()) if averaged.any() else 0.0


def _draws(
    p: np.ndarray,
    predicted: np.ndarray,
    predicted_count: np.ndarray,
    draws: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro F1 of `draws` label sets sampled from the probabilities.

    One uniform matrix; a row's label is how many of its cumulative
    probabilities (all classes but the last) the uniform reaches. Per draw,
    macro F1 is scikit-learn's over the classes predicted or drawn
    (`monitor/quality.py` scores labelled rows alike).
    """
    rows, count = p.shape
    uniform = np.random.default_rng(seed).random((draws, rows), dtype=np.float32)
    cumulative = np.cumsum(p, axis=1)[:, :-1].astype(np.float32)
    labels = np.zeros((draws, rows), dtype=np.int16 if count < 2**15 else np.intp)
    # at_least[:, k]: rows drawn as class k or later; the differences count each.
    at_least = np.empty((draws, count + 1))
    at_least[:, 0], at_least[:, count] = rows, 0
    for k in range(count - 1):
        above = uniform >= cumulative[:, k]
        labels += above
        at_least[:, k + 1] = np.count_nonzero(above, axis=1)
    true_count = at_least[:, :-1] - at_least[:, 1:]
    correct = labels == predicted
    accuracy = np.count_nonzero(correct, axis=1) / rows
    # No matrix product: BLAS threads would fight the server's for 2 cores.
    true_positive = np.empty((draws, count))
    for k in range(count):
        true_positive[:, k] = np.count_nonzero(correct[:, predicted == k], axis=1)

    denominator = true_count + predicted_count
    present = denominator > 0
    f1 = np.divide(
        2.0 * true_positive, denominator, where=present, out=np.zeros((draws, count))
    )
    macro_f1 = f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    return accuracy, macro_f1
