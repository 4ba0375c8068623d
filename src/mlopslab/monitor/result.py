"""One monitoring check's outcome, typed; `to_json` gives the result.json shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import pandas as pd

from mlopslab.config import MonitorConfig
from mlopslab.fairness import FairnessResult
from mlopslab.monitor.attribution import AttributionDrift
from mlopslab.monitor.cbpe import PerformanceEstimate
from mlopslab.monitor.drift import DriftResult, FeatureDrift
from mlopslab.monitor.quality import QualityResult

Check = Literal["drift", "quality", "constraints", "any"]
# A check's state as the terminal and the report both print it.
CheckState = Literal["violated", "ok", "insufficient data"]
INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class MonitoredModel:
    name: str
    version: str


@dataclass(frozen=True)
class WindowSummary:
    """The captured rows checked: how many, how many labelled, and when."""

    rows: int
    labelled: int
    first: str  # ISO timestamps of the oldest and newest row
    last: str


@dataclass(frozen=True)
class Verdict:
    """Which checks the window violates."""

    drift: bool
    constraints: bool
    quality: bool

    @property
    def any(self) -> bool:
        return self.drift or self.constraints or self.quality

    def violated(self, check: Check) -> bool:
        """Whether `check` (as in `monitor.fail_on`) is violated."""
        return self.to_json()[check]

    def flagged(self) -> list[str]:
        """The violated checks, in result.json's order."""
        return [name for name, bad in self.to_json().items() if bad and name != "any"]

    def to_json(self) -> dict[str, bool]:
        return {**asdict(self), "any": self.any}


@dataclass(frozen=True)
class MissingShare:
    """How often a feature's value is missing, in the window and in the baseline."""

    feature: str
    window: float
    baseline: float


@dataclass(frozen=True)
class PredictionCounts:
    """Predicted classes: on the champion's test set (the reference), in the window."""

    reference: dict[str, int]
    window: dict[str, int]


@dataclass(frozen=True)
class MonitorResult:
    model: MonitoredModel
    window: WindowSummary
    verdict: Verdict
    drift: DriftResult
    # SageMaker's shape: {feature_name, constraint_check_type, description}.
    constraint_violations: tuple[dict[str, str], ...]
    quality: QualityResult
    config: MonitorConfig
    # What the checks compared, for the report (result.json keeps its shape).
    missing: tuple[MissingShare, ...] = ()
    predictions: PredictionCounts | None = None
    # Performance estimated without labels (CBPE) and group metrics over the
    # labelled rows (bias drift): informative, never part of the verdict.
    estimate: PerformanceEstimate | None = None
    fairness: FairnessResult | None = None
    # The champion's label-free importance ranking on the window against its
    # ranking on the golden test set (attribution drift): flagged, not a verdict.
    attribution: AttributionDrift | None = None

    def states(self) -> dict[str, CheckState]:
        """Each check's state: violated, ok, or insufficient data to say."""
        return _states(
            self.verdict,
            [*self.drift.features, self.drift.prediction],
            self.quality.status,
        )

    def to_json(self) -> dict[str, Any]:
        """result.json's content; alerts send the same."""
        return {
            "model": asdict(self.model),
            "window": asdict(self.window),
            "verdict": self.verdict.to_json(),
            "drift": self.drift.to_dict(),
            "constraint_violations": list(self.constraint_violations),
            "quality": self.quality.to_dict(),
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "fairness": self.fairness.to_dict() if self.fairness else None,
            "attribution": self.attribution.to_dict() if self.attribution else None,
            "config": self.config.model_dump(mode="json"),
        }


def _states(
    verdict: Verdict, tested: list[FeatureDrift | None], quality: str
) -> dict[str, CheckState]:
    judged = any(f is not None and f.status != INSUFFICIENT for f in tested)
    return {
        "drift": _state(verdict.drift, not judged),
        "constraints": _state(verdict.constraints, False),
        "quality": _state(verdict.quality, quality == INSUFFICIENT),
    }


def _state(violated: bool, insufficient: bool) -> CheckState:
    if violated:
        return "violated"
    return "insufficient data" if insufficient else "ok"


def missing_shares(
    inputs: pd.DataFrame, constraints: dict[str, Any]
) -> tuple[MissingShare, ...]:
    """Per baseline feature in the window: its missing share now and in training."""
    return tuple(
        MissingShare(
            feature["name"],
            float(inputs[feature["name"]].isna().mean()) if len(inputs) else 0.0,
            1.0 - float(feature.get("completeness", 1.0)),
        )
        for feature in constraints.get("features", [])
        if feature["name"] in inputs.columns
    )


def prediction_counts(
    reference: dict[str, int] | None, predictions: pd.Series
) -> PredictionCounts | None:
    """The predicted classes' counts, or None without a reference to compare."""
    if not reference:
        return None
    window = predictions.dropna().astype(str).value_counts()
    return PredictionCounts(
        {str(k): int(v) for k, v in reference.items()},
        {str(k): int(v) for k, v in window.items()},
    )


@dataclass(frozen=True)
class PastCheck:
    """An earlier check of the same model, read back from its result.json."""

    checked_at: str  # ISO time of the check (its folder's name)
    version: str
    window: WindowSummary
    verdict: Verdict
    drift_share: float
    features: dict[str, FeatureDrift]
    prediction: FeatureDrift | None
    violations: int
    quality_status: str
    accuracy: float | None

    @classmethod
    def from_json(cls, content: dict[str, Any], checked_at: str) -> PastCheck:
        """Raises KeyError, TypeError or ValueError for a file of another shape."""
        drift, quality = content["drift"], content["quality"]
        verdict = content["verdict"]
        prediction = drift.get("prediction")
        return cls(
            checked_at=checked_at,
            version=str(content["model"]["version"]),
            window=WindowSummary(**content["window"]),
            verdict=Verdict(
                bool(verdict["drift"]),
                bool(verdict["constraints"]),
                bool(verdict["quality"]),
            ),
            drift_share=float(drift["drift_share"]),
            features={f["feature"]: _feature(f) for f in drift["features"]},
            prediction=_feature(prediction) if prediction else None,
            violations=len(content["constraint_violations"]),
            quality_status=str(quality["status"]),
            accuracy=quality.get("accuracy"),
        )

    def states(self) -> dict[str, CheckState]:
        """Each check's state then, in the words `MonitorResult.states` uses."""
        return _states(
            self.verdict,
            [*self.features.values(), self.prediction],
            self.quality_status,
        )


def _feature(content: dict[str, Any]) -> FeatureDrift:
    known = {f.name for f in fields(FeatureDrift)}
    return FeatureDrift(**{k: v for k, v in content.items() if k in known})
