import pandas as pd

from mlopslab.baseline import compute_constraints, compute_statistics
from mlopslab.data import infer_schema


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "length": [1.5, 2.5, None, 4.0, 5.0],
            "count": [1, 2, 3, 4, 5],
            "signed": [-1.0, 0.0, 1.0, 2.0, 3.0],
            "colour": ["red", "blue", "red", None, "red"],
            "y": ["a", "b", "a", "b", "a"],
        }
    )


def test_statistics_have_sagemaker_shape() -> None:
    data = frame()
    stats = compute_statistics(data.drop(columns="y"), infer_schema(data, "y"))
    assert stats["dataset"]["item_count"] == 5
    by_name = {f["name"]: f for f in stats["features"]}
    assert set(by_name) == {"length", "count", "signed", "colour"}
    length = by_name["length"]
    assert length["inferred_type"] == "Fractional"
    numeric = length["numerical_statistics"]
    assert numeric["common"] == {"num_present": 4, "num_missing": 1}
    assert numeric["mean"] == 3.25 and numeric["min"] == 1.5 and numeric["max"] == 5.0
    buckets = numeric["distribution"]["kll"]["buckets"]
    assert sum(b["count"] for b in buckets) == 4
    quantiles = numeric["distribution"]["quantiles"]
    assert quantiles["values"][0] == 1.5 and quantiles["values"][-1] == 5.0
    assert len(quantiles["probabilities"]) == 101
    assert by_name["count"]["inferred_type"] == "Integral"
    colour = by_name["colour"]
    assert colour["inferred_type"] == "String"
    assert colour["string_statistics"]["distinct_count"] == 2
    assert colour["string_statistics"]["distribution"]["categorical"]["buckets"] == [
        {"value": "blue", "count": 1},
        {"value": "red", "count": 3},
    ]


def test_constraints_have_sagemaker_shape() -> None:
    data = frame()
    constraints = compute_constraints(data.drop(columns="y"), infer_schema(data, "y"))
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["length"]["completeness"] == 0.8
    assert by_name["length"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["signed"]["num_constraints"] == {"is_non_negative": False}
    assert by_name["colour"]["string_constraints"] == {"domains": ["blue", "red"]}
    assert constraints["monitoring_config"]["evaluate_constraints"] == "Enabled"


def test_a_timestamp_has_counts_but_no_distribution_or_domain() -> None:
    from dataclasses import replace

    from mlopslab.columns import DateParts
    from mlopslab.config import MonitorConfig
    from mlopslab.monitor.constraints import check_constraints
    from mlopslab.monitor.reference import references

    data = frame().assign(
        seen=[f"2024-01-0{day} 10:00" for day in range(1, 6)],
    )
    schema = infer_schema(data, "y")
    schema = replace(
        schema, timestamps=(DateParts("seen", "%Y-%m-%d %H:%M", ("day",)),)
    )
    X = data.drop(columns="y")
    stats = compute_statistics(X, schema)
    seen = next(f for f in stats["features"] if f["name"] == "seen")
    assert seen["timestamp"] is True
    assert seen["string_statistics"] == {"common": {"num_present": 5, "num_missing": 0}}
    assert "seen" not in references(stats) and "colour" in references(stats)
    constraints = compute_constraints(X, schema)
    later = X.assign(seen=["2025-06-01 09:00"] * 5)
    problems = check_constraints(later, constraints, MonitorConfig())
    assert not [p for p in problems if "seen" in str(p)]
