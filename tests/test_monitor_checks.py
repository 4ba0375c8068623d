import pandas as pd
import pytest

from mlopslab.baseline import compute_constraints
from mlopslab.config import MonitorConfig
from mlopslab.data import infer_schema
from mlopslab.monitor.constraints import check_constraints
from mlopslab.monitor.quality import check_quality

TRAIN = pd.DataFrame(
    {"n": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "b"], "y": list("pqpq")}
)
CONSTRAINTS = compute_constraints(TRAIN.drop(columns="y"), infer_schema(TRAIN, "y"))


def kinds(violations: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in violations}


def test_clean_window_has_no_violations() -> None:
    assert (
        check_constraints(TRAIN.drop(columns="y"), CONSTRAINTS, MonitorConfig()) == []
    )


def test_every_check_type() -> None:
    window = pd.DataFrame({"n": ["x", 2.0, None, None], "extra": [1, 2, 3, 4]})
    found = check_constraints(window, CONSTRAINTS, MonitorConfig(), drifted=["n"])
    assert kinds(found) == {
        ("c", "missing_column_check"),
        ("extra", "extra_column_check"),
        ("n", "data_type_check"),
        ("n", "completeness_check"),
        ("n", "baseline_drift_check"),
    }
    assert all(
        set(v) == {"feature_name", "constraint_check_type", "description"}
        for v in found
    )
    unseen = pd.DataFrame({"n": [1.0, 2.0], "c": ["a", "zebra"]})
    [violation] = check_constraints(unseen, CONSTRAINTS, MonitorConfig())
    assert violation["constraint_check_type"] == "categorical_values_check"
    assert "zebra" in violation["description"]


def test_quality_against_the_champion() -> None:
    predicted = pd.Series(["a"] * 40 + ["b"] * 40)
    right = pd.Series(["a"] * 40 + ["b"] * 40)
    reference = {"accuracy": 0.95, "macro_f1": 0.95}
    ok = check_quality(predicted, right, reference, MonitorConfig())
    assert (
        ok.status == "ok"
        and ok.accuracy == 1.0
        and ok.per_class_recall == {"a": 1.0, "b": 1.0}
    )
    wrong = pd.Series(["a"] * 40 + ["a"] * 20 + ["b"] * 20)
    bad = check_quality(predicted, wrong, reference, MonitorConfig())
    assert bad.degraded and bad.accuracy == 0.75
    assert any("accuracy 0.7500 is below" in reason for reason in bad.reasons)
    few = check_quality(
        predicted, pd.Series([None] * 70 + ["a"] * 10), reference, MonitorConfig()
    )
    assert few.status == "insufficient data" and few.labelled == 10


def test_quality_scores_match_scikit_learn() -> None:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    rng = np.random.default_rng(0)
    actual = pd.Series(rng.choice(["a", "b", "c"], 300))
    predicted = pd.Series(
        np.where(rng.random(300) < 0.7, actual, rng.choice(["a", "b", "d"], 300))
    )
    result = check_quality(predicted, actual, {}, MonitorConfig())
    labels = sorted(set(actual) | set(predicted))
    assert result.accuracy == accuracy_score(actual, predicted)
    assert result.macro_f1 == pytest.approx(
        f1_score(actual, predicted, average="macro", zero_division=0)
    )
    expected = recall_score(
        actual, predicted, labels=labels, average=None, zero_division=0
    )
    assert list(result.per_class_recall.values()) == pytest.approx(list(expected))
