"""SageMaker Model Monitor's constraint checks on a window of captured rows.

Each violation is `{feature_name, constraint_check_type, description}`, the
shape of SageMaker's constraint_violations.json.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlopslab.config import MonitorConfig


def check_constraints(
    current: pd.DataFrame,
    constraints: dict[str, Any],
    cfg: MonitorConfig,
    drifted: list[str] | None = None,
) -> list[dict[str, str]]:
    """Every violation of the baseline constraints in this window."""
    features = {f["name"]: f for f in constraints["features"]}
    config = constraints.get("monitoring_config", {})
    violations = [
        _violation(
            name, "missing_column_check", "column is missing from the captured data"
        )
        for name in features
        if name not in current.columns
    ]
    violations += [
        _violation(str(name), "extra_column_check", "column is not in the baseline")
        for name in current.columns
        if name not in features
    ]
    for name, feature in features.items():
        if name in current.columns:
            violations += _feature_checks(current[name], feature, config, cfg)
    violations += [
        _violation(
            name,
            "baseline_drift_check",
            "distribution differs from the baseline (see the drift results)",
        )
        for name in drifted or []
    ]
    return violations


def _feature_checks(
    values: pd.Series,
    feature: dict[str, Any],
    config: dict[str, Any],
    cfg: MonitorConfig,
) -> list[dict[str, str]]:
    name = feature["name"]
    found = []
    completeness = float(values.notna().mean()) if len(values) else 0.0
    if completeness < feature["completeness"] - cfg.completeness_tolerance:
        found.append(
            _violation(
                name,
                "completeness_check",
                f"completeness {completeness:.4f} is below the baseline's "
                f"{feature['completeness']:.4f} "
                f"(tolerance {cfg.completeness_tolerance:g})",
            )
        )
    present = values.dropna()
    if feature["inferred_type"] in ("Integral", "Fractional") and len(present):
        numeric = pd.to_numeric(present, errors="coerce").notna().mean()
        if numeric < float(config.get("datatype_check_threshold", 1.0)):
            found.append(
                _violation(
                    name,
                    "data_type_check",
                    f"{1 - numeric:.2%} of values are not {feature['inferred_type']}",
                )
            )
    domain = feature.get("string_constraints", {}).get("domains")
    if domain is not None and len(present):
        inside = present.astype(str).isin(domain)
        if inside.mean() < float(config.get("domain_content_threshold", 1.0)):
            unseen = sorted(present[~inside].astype(str).unique())[:5]
            found.append(
                _violation(
                    name,
                    "categorical_values_check",
                    f"{1 - inside.mean():.2%} of values are outside the domain "
                    f"(e.g. {unseen})",
                )
            )
    return found


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {
        "feature_name": name,
        "constraint_check_type": check,
        "description": description,
    }
