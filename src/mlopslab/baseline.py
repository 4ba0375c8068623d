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
    if pd.api.types.is_integer_dtype(series):
        return "Integral"
    values = series.dropna().to_numpy(dtype=float)
    if len(values) and bool(np.all(np.isfinite(values) & (values == np.floor(values)))):
        return "Integral"
    return "Fractional"


def compute_statistics(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """statistics.json alone (see `compute_baseline`)."""
    return compute_baseline(X, schema)[0]


def compute_constraints(X: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """constraints.json alone (see `compute_baseline`)."""
    return compute_baseline(X, schema)[1]


def compute_baseline(
    X: pd.DataFrame, schema: Schema
) -> tuple[dict[str, Any], dict[str, Any]]:
    """statistics.json and constraints.json, in one pass over the columns.

    Statistics: per-feature counts, moments, buckets and category counts.
    Constraints: types, completeness, non-negativity and category domains.
    A timestamp column has counts only, and no domain: every value is new
    (time moves on), so its distribution would be one bucket per training row
    and always drift, and later times are not outside it.
    """
    dated = {t.column for t in schema.timestamps}
    statistics, constraints = [], []
    for column in schema.columns:
        series = X[column.name]
        kind = inferred_type(series, column.kind)
        entry: dict[str, Any] = {"name": column.name, "inferred_type": kind}
        present = int(series.notna().sum())
        common = {"num_present": present, "num_missing": len(series) - present}
        limits: dict[str, Any] = {
            "name": column.name,
            "inferred_type": kind,
            "completeness": present / len(series) if len(series) else 0.0,
        }
        if column.kind == "numeric":
            values = series.dropna().to_numpy(dtype=float)
            entry["numerical_statistics"] = _numeric_stats(values, common)
            limits["num_constraints"] = {"is_non_negative": bool((values >= 0).all())}
        elif column.name in dated:
            entry["timestamp"] = True
            entry["string_statistics"] = {"common": common}
        else:
            counts = series.dropna().astype(str).value_counts().sort_index()
            entry["string_statistics"] = _string_stats(counts, common)
            limits["string_constraints"] = {"domains": [str(k) for k in counts.index]}
        statistics.append(entry)
        constraints.append(limits)
    dataset = {"item_count": len(X)}
    return (
        {"version": 0.0, "dataset": dataset, "features": statistics},
        _constraints(constraints),
    )


def _constraints(features: list[dict[str, Any]]) -> dict[str, Any]:
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


def _numeric_stats(values: np.ndarray, common: dict[str, int]) -> dict[str, Any]:
    """`values`: the column's present values. Sums run in their order (the
    same figures whatever else changes); one sorted copy serves the distinct
    count, the per-value counts and the quantiles."""
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
    ordered = np.sort(values)
    distinct = 1 + int(np.count_nonzero(np.diff(ordered)))
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
        "distinct_count": distinct,
        "distribution": {
            **(_few_values(ordered) if distinct <= FEW_VALUES else {}),
            "kll": {"buckets": buckets},
            "quantiles": {
                "probabilities": [round(float(p), 2) for p in QUANTILES],
                "values": [float(v) for v in np.quantile(ordered, QUANTILES)],
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


def _string_stats(counts: pd.Series, common: dict[str, int]) -> dict[str, Any]:
    """`counts`: rows per value (as text), in value order."""
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
