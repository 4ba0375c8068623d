"""Per-feature drift with the test chosen by type and reference size.

Like the best-known drift library's defaults: up to `small_reference` rows,
KS for numbers and chi-squared for categories (p-values, corrected across
features with Benjamini-Hochberg); above it, normed Wasserstein for numbers and
Jensen-Shannon for categories (distances). PSI on request. Numbers with five or
fewer distinct values are tested as categories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlopslab.baseline import QUANTILES
from mlopslab.config import MonitorConfig
from mlopslab.monitor.reference import Reference

P_VALUE_METHODS = {"ks", "chi2"}
EPSILON = 1e-4  # keeps PSI finite for categories one side never saw


@dataclass
class FeatureDrift:
    feature: str
    method: str
    statistic: float | None
    threshold: float
    p_value: float | None = None
    adjusted_p_value: float | None = None
    status: str = "ok"  # ok, drift or insufficient data
    current_rows: int = 0

    @property
    def drifted(self) -> bool:
        return self.status == "drift"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DriftResult:
    features: list[FeatureDrift]
    prediction: FeatureDrift | None

    @property
    def tested(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.status != "insufficient data"]

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.tested) if self.tested else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_share": self.drift_share,
            "drifted_features": self.drifted,
            "features": [f.to_dict() for f in self.features],
            "prediction": self.prediction.to_dict() if self.prediction else None,
        }


def choose_method(reference: Reference, cfg: MonitorConfig) -> tuple[str, float]:
    """The test and threshold for one feature: an override, else the defaults."""
    override = cfg.columns.get(reference.name)
    if override is not None:
        return override.method, override.threshold
    small = reference.count <= cfg.small_reference
    if reference.categorical_like or reference.quantiles is None:
        return ("chi2", cfg.p_value) if small else ("jensenshannon", cfg.distance)
    return ("ks", cfg.p_value) if small else ("wasserstein", cfg.distance)


def detect_drift(
    current: pd.DataFrame,
    refs: dict[str, Reference],
    cfg: MonitorConfig,
    predictions: pd.Series | None = None,
    prediction_reference: dict[str, int] | None = None,
) -> DriftResult:
    """Test every baseline feature present in `current`; correct p-values together."""
    features = [
        test_feature(current[name], ref, cfg)
        for name, ref in refs.items()
        if name in current.columns
    ]
    _benjamini_hochberg(features, cfg)
    prediction = None
    if predictions is not None and prediction_reference:
        reference = Reference(
            "prediction",
            "categorical",
            sum(prediction_reference.values()),
            counts=prediction_reference,
        )
        prediction = test_feature(predictions, reference, cfg)
        _decide_alone(prediction)
    return DriftResult(features, prediction)


def test_feature(
    values: pd.Series, reference: Reference, cfg: MonitorConfig
) -> FeatureDrift:
    method, threshold = choose_method(reference, cfg)
    present = values.dropna()
    result = FeatureDrift(
        reference.name, method, None, threshold, current_rows=len(present)
    )
    if len(present) < cfg.min_rows or reference.count == 0:
        result.status = "insufficient data"
        return result
    if method in P_VALUE_METHODS:
        result.statistic, result.p_value = _p_value_test(method, present, reference)
    else:
        result.statistic = _distance(method, present, reference)
        result.status = "drift" if result.statistic >= threshold else "ok"
    return result


def _p_value_test(
    method: str, present: pd.Series, reference: Reference
) -> tuple[float, float]:
    if method == "ks" and reference.quantiles is not None:
        test = stats.ks_2samp(reference.sample(), present.to_numpy(dtype=float))
        return float(test.statistic), float(test.pvalue)
    table = _contingency(reference.counts, reference.current_counts(present))
    if table.shape[1] < 2:
        return 0.0, 1.0  # one category on both sides: nothing can differ
    statistic, p_value, _, _ = stats.chi2_contingency(table)
    return float(statistic), float(p_value)


def _distance(method: str, present: pd.Series, reference: Reference) -> float:
    if method == "wasserstein" and reference.quantiles is not None:
        current = np.quantile(present.to_numpy(dtype=float), QUANTILES)
        spread = reference.std or float(np.ptp(reference.quantiles)) or 1.0
        # W1 is the area between the quantile functions.
        return float(
            np.trapezoid(np.abs(current - reference.quantiles), QUANTILES) / spread
        )
    if (
        method == "psi"
        and reference.quantiles is not None
        and not reference.categorical_like
    ):
        return _psi_numeric(present.to_numpy(dtype=float), reference)
    ref_p, cur_p = _proportions(reference.counts, reference.current_counts(present))
    if method == "psi":
        ref_p, cur_p = np.maximum(ref_p, EPSILON), np.maximum(cur_p, EPSILON)
        return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))
    return float(jensenshannon(ref_p, cur_p))


def _psi_numeric(values: np.ndarray, reference: Reference) -> float:
    assert reference.quantiles is not None
    edges = np.unique(reference.quantiles[::10])  # deciles of the reference
    edges[0], edges[-1] = -np.inf, np.inf
    ref_share = np.full(len(edges) - 1, 1 / (len(edges) - 1))
    cur_share = np.histogram(values, bins=edges)[0] / len(values)
    ref_share, cur_share = (
        np.maximum(ref_share, EPSILON),
        np.maximum(cur_share, EPSILON),
    )
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _contingency(reference: dict[str, int], current: dict[str, int]) -> np.ndarray:
    categories = sorted(set(reference) | set(current))
    table = np.array(
        [
            [reference.get(c, 0) for c in categories],
            [current.get(c, 0) for c in categories],
        ],
        dtype=float,
    )
    return table[:, table.sum(axis=0) > 0]


def _proportions(
    reference: dict[str, int], current: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.get(c, 0) for c in categories], dtype=float)
    cur = np.array([current.get(c, 0) for c in categories], dtype=float)
    return ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)


def _benjamini_hochberg(features: list[FeatureDrift], cfg: MonitorConfig) -> None:
    """Correct p-values across features: more features must not mean more alarms."""
    tested = [f for f in features if f.p_value is not None]
    if not tested:
        return
    adjusted = stats.false_discovery_control([f.p_value for f in tested], method="bh")
    for feature, value in zip(tested, adjusted, strict=True):
        feature.adjusted_p_value = float(value)
        feature.status = "drift" if value < feature.threshold else "ok"


def _decide_alone(result: FeatureDrift) -> None:
    if result.p_value is not None:
        result.adjusted_p_value = result.p_value
        result.status = "drift" if result.p_value < result.threshold else "ok"
