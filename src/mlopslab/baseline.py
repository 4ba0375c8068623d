"""The monitoring baseline, shaped like SageMaker Model Monitor's files.

`statistics.json` describes each feature of the training data; `constraints.json`
says what serving traffic must satisfy. Beyond SageMaker's fields, numeric
features carry 101 quantiles so that drift checks never reload training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlopslab.data import Schema

BUCKETS = 10
QUANTILES = np.linspace(0.0, 1.0, 101)
# Numbers with at most this many distinct values also get per-value counts.
FEW_VALUES = 20


def inferred_type(series: pd.Series, kind: str) -> str:
    """SageMaker's inferred_type: Integral, Fractional or String."""
    if kind == "categorical":
        return "String"
    values = series.dropna()
    if pd.api.types.is_integer_dtype(series) or (
        len(values) and bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    ):
        return "Integral"
    return "Fractional"


def compute_statistics(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """statistics.json: per-feature counts, moments, buckets and category counts.

    A timestamp column has counts only: every value is new (time moves on), so
    its distribution would be one bucket per training row and always drift.
    """
    dated = {t.column for t in schema.timestamps}
    features = []
    for column in schema.columns:
        series = X[column.name]
        kind = inferred_type(series, column.kind)
        entry: dict[str, Any] = {"name": column.name, "inferred_type": kind}
        common = {
            "num_present": int(series.notna().sum()),
            "num_missing": int(series.isna().sum()),
        }
        if column.kind == "numeric":
            entry["numerical_statistics"] = _numeric_stats(series, common)
        elif column.name in dated:
            entry["timestamp"] = True
            entry["string_statistics"] = {"common": common}
        else:
            entry["string_statistics"] = _string_stats(series, common)
        features.append(entry)
    return {"version": 0.0, "dataset": {"item_count": len(X)}, "features": features}


def compute_constraints(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """constraints.json: types, completeness, non-negativity and category
    domains (none for a timestamp: later times are not outside it)."""
    dated = {t.column for t in schema.timestamps}
    features = []
    for column in schema.columns:
        series = X[column.name]
        entry: dict[str, Any] = {
            "name": column.name,
            "inferred_type": inferred_type(series, column.kind),
            "completeness": float(series.notna().mean()) if len(series) else 0.0,
        }
        if column.kind == "numeric":
            values = series.dropna()
            entry["num_constraints"] = {"is_non_negative": bool((values >= 0).all())}
        elif column.name not in dated:
            domain = sorted(series.dropna().astype(str).unique())
            entry["string_constraints"] = {"domains": domain}
        features.append(entry)
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
            },
        },
    }


def _numeric_stats(series: pd.Series, common: dict[str, int]) -> dict[str, Any]:
    values = series.dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return {
            "common": common,
            "mean": None,
            "sum": 0.0,
            "std_dev": None,
            "min": None,
            "max": None,
            "distribution": {},
        }
    counts, edges = np.histogram(values, bins=BUCKETS)
    buckets = [
        {
            "lower_bound": float(edges[i]),
            "upper_bound": float(edges[i + 1]),
            "count": float(counts[i]),
        }
        for i in range(BUCKETS)
    ]
    return {
        "common": common,
        "mean": float(values.mean()),
        "sum": float(values.sum()),
        "std_dev": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "distinct_count": len(np.unique(values)),
        "distribution": {
            **_few_values(values),
            "kll": {"buckets": buckets},
            "quantiles": {
                "probabilities": [round(float(p), 2) for p in QUANTILES],
                "values": [float(v) for v in np.quantile(values, QUANTILES)],
            },
        },
    }


def _few_values(values: np.ndarray) -> dict[str, Any]:
    """Counts per value for numbers with few values (drift tests them as categories)."""
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) > FEW_VALUES:
        return {}
    buckets = [
        {"value": _label(v), "count": int(c)}
        for v, c in zip(distinct, counts, strict=True)
    ]
    return {"categorical": {"buckets": buckets}}


def numeric_label(value: float) -> str:
    """How a number is named as a category: 2008.0 and 2008 are both '2008'."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_label = numeric_label


def _string_stats(series: pd.Series, common: dict[str, int]) -> dict[str, Any]:
    counts = series.dropna().astype(str).value_counts().sort_index()
    return {
        "common": common,
        "distinct_count": len(counts),
        "distribution": {
            "categorical": {
                "buckets": [
                    {"value": str(k), "count": int(v)} for k, v in counts.items()
                ]
            }
        },
    }
