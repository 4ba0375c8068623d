"""How far a model's confidence can be taken at its word, and a fix when it can't.

A classifier is calibrated when, of the rows it predicts with confidence 0.8,
about 80% are right. `measure_calibration` checks that on labelled rows (the
test set, at evaluation): the top-class probability is binned into equal-width
bins, and the expected calibration error (ECE) is the row-weighted mean gap
between each bin's mean confidence and its accuracy. 0 is perfect; an
overconfident model (a random forest, naive Bayes) scores well above it.

`calibrated` wraps a model in scikit-learn's `CalibratedClassifierCV` so that
its probabilities mean what they say, which is what confidence-based
performance estimation (`monitor/cbpe.py`) relies on.

scikit-learn is imported inside `calibrated` only: measuring and reading a
`Calibration` (reports, the monitor) stays numpy-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin, (low, high]: its rows, mean confidence and accuracy."""

    low: float
    high: float
    rows: int
    confidence: float  # mean top-class probability of the bin's rows
    accuracy: float  # share of the bin's rows whose predicted class is right

    @property
    def gap(self) -> float:
        """Confidence minus accuracy: positive when the model is overconfident."""
        return self.confidence - self.accuracy


@dataclass(frozen=True)
class Calibration:
    """Top-label calibration on labelled rows: the ECE and its reliability bins."""

    ece: float  # expected calibration error, weighted by rows per bin
    bins: tuple[ReliabilityBin, ...]  # only the non-empty bins, lowest first
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ece": self.ece,
            "rows": self.rows,
            "bins": [
                {
                    "low": b.low,
                    "high": b.high,
                    "rows": b.rows,
                    "confidence": b.confidence,
                    "accuracy": b.accuracy,
                }
                for b in self.bins
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            ece=float(data["ece"]),
            rows=int(data["rows"]),
            bins=tuple(
                ReliabilityBin(
                    low=float(b["low"]),
                    high=float(b["high"]),
                    rows=int(b["rows"]),
                    confidence=float(b["confidence"]),
                    accuracy=float(b["accuracy"]),
                )
                for b in data["bins"]
            ),
        )


def measure_calibration(
    truth: pd.Series | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    bins: int = 10,
) -> Calibration:
    """The ECE of the top-label confidence and its non-empty reliability bins.

    `proba[i, k]` is the probability of `classes[k]` for row i (the order of
    `model.classes_`); labels are compared as strings. Bins are equal-width and
    closed on the right, (low, high], the first one taking 0 too. Rows whose
    label or probabilities are missing are left out.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    p = np.asarray(proba, dtype=float)
    labels = pd.Series(np.asarray(truth, dtype=object))
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise ValueError(
            f"probabilities of shape {p.shape} do not match {len(classes)} classes"
        )
    if len(labels) != len(p):
        raise ValueError(f"{len(labels)} labels for {len(p)} rows of probabilities")
    usable = np.isfinite(p).all(axis=1) & labels.notna().to_numpy()
    p, actual = p[usable], labels[usable].astype(str).to_numpy()
    if not len(p):
        raise ValueError("no row has both a label and probabilities")

    names = np.asarray([str(c) for c in classes], dtype=object)
    top = p.argmax(axis=1)
    confidence = p[np.arange(len(p)), top]
    correct = (names[top] == actual).astype(float)

    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = np.bincount(index, minlength=bins)
    confidence_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct, minlength=bins)
    filled = rows > 0
    mean_confidence = np.divide(confidence_sum, rows, where=filled, out=np.zeros(bins))
    accuracy = np.divide(correct_sum, rows, where=filled, out=np.zeros(bins))
    ece = float(np.sum(rows * np.abs(mean_confidence - accuracy)) / len(p))
    return Calibration(
        ece=ece,
        bins=tuple(
            ReliabilityBin(
                low=round(float(edges[i]), 12),
                high=round(float(edges[i + 1]), 12),
                rows=int(rows[i]),
                confidence=float(mean_confidence[i]),
                accuracy=float(accuracy[i]),
            )
            for i in np.flatnonzero(filled)
        ),
        rows=len(p),
    )


def calibrated(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    method: str = "sigmoid",
    folds: int = 4,
    seed: int = 0,
) -> Any:
    """A new classifier: a clone of `model`, refit on all rows, with calibrated
    probabilities learnt from out-of-fold predictions.

    scikit-learn's `CalibratedClassifierCV(ensemble=False)`: each of `folds`
    stratified folds predicts the rows it did not train on, the calibrator
    learns from those, and the base model is then refit on every row. So the
    calibration is never fitted on the rows it is judged on, and `model`
    itself is left as it was. The result has `classes_`, `predict_proba`,
    `predict` (the argmax of `predict_proba`, so served classes agree with
    served probabilities) and pickles like any scikit-learn estimator.

    `method`: "sigmoid" fits one Platt curve per class (one-vs-rest) and
    renormalises, which can leave a multiclass model overconfident where it is
    unsure; "temperature" (scikit-learn 1.8+) rescales all classes' logits
    with one parameter, the multiclass fit; "isotonic" is the most flexible
    and needs about a thousand rows or more.

    Raises ValueError when a class has fewer than `folds` rows.
    """
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(y)  # a Series would be indexed by label (y[0]) inside
    counts = pd.Series(labels).value_counts()
    if len(counts) and int(counts.min()) < folds:
        raise ValueError(
            f"calibration with {folds} folds needs at least {folds} rows of every "
            f"class; class {counts.idxmin()!s} has {int(counts.min())}"
        )
    wrapped = CalibratedClassifierCV(
        estimator=clone(model),
        method=method,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
        ensemble=False,
    )
    return wrapped.fit(X, labels)
