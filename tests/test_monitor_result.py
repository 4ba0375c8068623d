"""The typed monitoring result writes the result.json that users and the course read."""

import json

import pytest

from mlopslab.config import MonitorConfig
from mlopslab.monitor.drift import DriftResult, FeatureDrift
from mlopslab.monitor.quality import QualityResult
from mlopslab.monitor.result import (
    MonitoredModel,
    MonitorResult,
    Verdict,
    WindowSummary,
)


def result(verdict: Verdict) -> MonitorResult:
    drifted = FeatureDrift("bill_length_mm", "ks", 0.4, 0.05, 0.001, 0.002, "drift", 50)
    calm = FeatureDrift("island", "chi2", 0.1, 0.05, 0.6, 0.6, "ok", 50)
    violation = {
        "feature_name": "bill_length_mm",
        "constraint_check_type": "baseline_drift_check",
        "description": "drifted",
    }
    return MonitorResult(
        model=MonitoredModel("penguins", "3"),
        window=WindowSummary(50, 0, "2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00"),
        verdict=verdict,
        drift=DriftResult([drifted, calm], prediction=None),
        constraint_violations=(violation,),
        quality=QualityResult(labelled=0, status="insufficient data"),
        config=MonitorConfig(),
    )


def test_result_json_keeps_its_keys_and_order() -> None:
    content = result(Verdict(drift=True, constraints=True, quality=False)).to_json()
    assert list(content) == [
        "model",
        "window",
        "verdict",
        "drift",
        "constraint_violations",
        "quality",
        "estimate",
        "fairness",
        "attribution",
        "config",
    ]
    # Measured only by `review_window`: absent here, present as null.
    assert content["estimate"] is content["attribution"] is None
    assert content["model"] == {"name": "penguins", "version": "3"}
    assert list(content["window"]) == ["rows", "labelled", "first", "last"]
    assert content["verdict"] == {
        "drift": True,
        "constraints": True,
        "quality": False,
        "any": True,
    }
    assert list(content["verdict"]) == ["drift", "constraints", "quality", "any"]
    assert content["drift"]["drifted_features"] == ["bill_length_mm"]
    assert content["drift"]["drift_share"] == 0.5
    assert content["constraint_violations"][0]["feature_name"] == "bill_length_mm"
    assert content["quality"]["status"] == "insufficient data"
    assert content["config"]["fail_on"] == "any"
    json.dumps(content)  # plain JSON, as alerts send it


@pytest.mark.parametrize(
    ("verdict", "flagged"),
    [
        (Verdict(drift=False, constraints=False, quality=False), []),
        (Verdict(drift=True, constraints=False, quality=False), ["drift"]),
        (
            Verdict(drift=False, constraints=True, quality=True),
            ["constraints", "quality"],
        ),
    ],
)
def test_verdict_answers_fail_on(verdict: Verdict, flagged: list[str]) -> None:
    assert verdict.flagged() == flagged
    assert verdict.violated("any") == bool(flagged)
    for check in ("drift", "constraints", "quality"):
        assert verdict.violated(check) == (check in flagged)
