"""One monitoring check's outcome, typed; `to_json` gives the result.json shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from mlopslab.config import MonitorConfig
from mlopslab.monitor.drift import DriftResult
from mlopslab.monitor.quality import QualityResult

Check = Literal["drift", "quality", "constraints", "any"]


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
class MonitorResult:
    model: MonitoredModel
    window: WindowSummary
    verdict: Verdict
    drift: DriftResult
    # SageMaker's shape: {feature_name, constraint_check_type, description}.
    constraint_violations: tuple[dict[str, str], ...]
    quality: QualityResult
    config: MonitorConfig

    def to_json(self) -> dict[str, Any]:
        """result.json's content; alerts send the same."""
        return {
            "model": asdict(self.model),
            "window": asdict(self.window),
            "verdict": self.verdict.to_json(),
            "drift": self.drift.to_dict(),
            "constraint_violations": list(self.constraint_violations),
            "quality": self.quality.to_dict(),
            "config": self.config.model_dump(mode="json"),
        }
