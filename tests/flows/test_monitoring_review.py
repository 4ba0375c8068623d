"""`review_window`: CBPE beside the realised metrics, and group metrics over the
labelled rows of a captured window (bias drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlopslab.baseline import compute_constraints, compute_statistics
from mlopslab.config import Config, DataConfig
from mlopslab.data import load_dataset
from mlopslab.flows.monitoring import Window, review_window, run_checks
from mlopslab.monitor.result import MonitoredModel, MonitorResult
from mlopslab.stores.registry.versions import Baseline

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def window_and_baseline(
    labelled: int, fairness: bool = True
) -> tuple[Window, Baseline, pd.Series]:
    penguins = load_dataset(DataConfig(source="penguins"))
    rows = penguins.frame.sample(n=200, random_state=0).reset_index(drop=True)
    inputs = rows.drop(columns=["species"])
    truth = rows["species"]
    rng = np.random.default_rng(0)
    # Probabilities that put 0.8 on the true class for 80% of rows: calibrated
    # at 0.8, so the expected accuracy is 0.8.
    right = rng.random(len(rows)) < 0.8
    top = np.where(
        right, truth, truth.map(lambda c: CLASSES[(CLASSES.index(c) + 1) % 3])
    )
    proba = pd.DataFrame([{c: 0.8 if c == t else 0.1 for c in CLASSES} for t in top])
    labels = pd.Series([None] * len(rows), dtype=object)
    labels[:labelled] = truth[:labelled]
    schema = penguins.schema
    evaluation = {
        "test": {"accuracy": 0.98, "macro_f1": 0.97, "prediction_counts": {}},
        "fairness": (
            {"features": [{"feature": "sex"}, {"feature": "island"}], "min_rows": 10}
            if fairness
            else None
        ),
    }
    baseline = Baseline(
        compute_statistics(inputs, schema),
        compute_constraints(inputs, schema),
        evaluation,
        {"data": {}},
    )
    window = Window(inputs, pd.Series(top, dtype=object), labels, "t0", "t1", proba)
    return window, baseline, truth


def reviewed(labelled: int, fairness: bool = True) -> tuple[MonitorResult, pd.Series]:
    window, baseline, truth = window_and_baseline(labelled, fairness)
    cfg = Config()
    checked = run_checks(window, baseline, cfg.monitor, MonitoredModel("p", "1"))
    return review_window(checked, window, baseline, cfg), truth


def test_the_estimate_follows_the_probabilities_and_shows_the_realised() -> None:
    result, _ = reviewed(labelled=200)
    estimate = result.estimate
    assert estimate is not None
    assert abs(estimate.accuracy.value - 0.8) < 1e-9
    assert estimate.accuracy.low < 0.8 < estimate.accuracy.high
    # The realised accuracy is the labelled rows' own: the quality check's.
    assert estimate.accuracy.realised == result.quality.accuracy
    assert estimate.reference_accuracy == 0.98
    saved = result.to_json()
    assert saved["estimate"]["accuracy"]["value"] == estimate.accuracy.value


def test_without_labels_there_is_an_estimate_and_no_group_metrics() -> None:
    result, _ = reviewed(labelled=0)
    assert result.estimate is not None
    assert result.estimate.accuracy.realised is None
    assert result.fairness is None


def test_group_metrics_over_the_labelled_rows() -> None:
    result, _ = reviewed(labelled=120)
    fairness = result.fairness
    assert fairness is not None
    assert [f.feature for f in fairness.features] == ["sex", "island"]
    rows = sum(g.rows for g in fairness.features[0].groups)
    assert rows == 120
    unevaluated, _ = reviewed(labelled=120, fairness=False)
    assert unevaluated.fairness is None


def test_attribution_drift_compares_the_champions_ranking_on_the_window() -> None:
    from mlopslab.explain import permutation_importance
    from mlopslab.train import fit_final

    penguins = load_dataset(DataConfig(source="penguins"))
    X, y = penguins.X, penguins.y
    model = fit_final(X, y, penguins.schema, "logreg", {"C": 1.0}, 0)
    numeric = penguins.schema.numeric
    # As on a golden test set: a stratified sample (the file is sorted by species).
    golden = X.sample(120, random_state=1)
    reference = permutation_importance(model, golden, None, numeric)
    window, baseline, _ = window_and_baseline(labelled=0)
    evaluation = {**baseline.evaluation, "attribution_baseline": reference.to_dict()}
    card = {"data": {"features": [c.__dict__ for c in penguins.schema.columns]}}
    baseline = Baseline(baseline.statistics, baseline.constraints, evaluation, card)
    cfg = Config()
    checked = run_checks(window, baseline, cfg.monitor, MonitoredModel("p", "1"))
    same = review_window(checked, window, baseline, cfg, model).attribution
    assert same is not None and not same.drifted and same.correlation is not None
    # The columns the model leaned on carry nothing in this window.
    flat = window.inputs.assign(
        bill_length_mm=40.0, flipper_length_mm=200.0, bill_depth_mm=17.0
    )
    moved = Window(flat, window.predictions, window.labels, "t0", "t1")
    drifted = review_window(checked, moved, baseline, cfg, model).attribution
    assert drifted is not None and drifted.drifted
    assert "Spearman" in drifted.reason
    without_model = review_window(checked, window, baseline, cfg)
    assert without_model.attribution is None
