"""What fairness, importance and calibration add to `mlopslab run` on penguins.

    .venv/bin/python -m benchmarks.evaluation_review [--runs 7]

Fits one pipeline of each default family (the cost is the model's predict
calls), then times each part of the evaluation review on the golden-size test
set, and the whole review, as medians of several runs. Then the CBPE estimate on 500 captured rows. The
issue's targets: at most 1.5 s for the three together, 50 ms for CBPE.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlopslab.calibration import measure_calibration
from mlopslab.config import Config, DataConfig
from mlopslab.data import Dataset, load_dataset
from mlopslab.explain import permutation_importance
from mlopslab.fairness import assess_fairness
from mlopslab.flows.review import review_model
from mlopslab.monitor.cbpe import estimate_performance
from mlopslab.preprocess import Split, split_dataset
from mlopslab.train import fit_final

FAMILIES = {
    "logreg": {"C": 1.0},
    "hist_gb": {
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "max_iter": 100,
        "l2_regularization": 0.0,
    },
    "mlp": {"hidden_units": 64, "alpha": 1e-4},
}
TARGETS = {"review (all three)": 1.5, "CBPE, 500 rows": 0.05}


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def review_parts(
    cfg: Config, data: Dataset, split: Split, model: Any
) -> dict[str, Callable[[], object]]:
    proba = model.predict_proba(split.X_test)
    predicted = model.predict(split.X_test)
    classes = [str(c) for c in model.classes_]
    numeric = data.schema.numeric
    return {
        "fairness": lambda: assess_fairness(
            split.y_test, predicted, split.X_test[["sex", "island"]]
        ),
        "importance (labelled)": lambda: permutation_importance(
            model, split.X_test, split.y_test, numeric
        ),
        "importance (no labels)": lambda: permutation_importance(
            model, split.X_test, None, numeric
        ),
        "calibration": lambda: measure_calibration(split.y_test, proba, classes),
        "review (all three)": lambda: review_model(cfg, data, split, model, None),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    cfg = Config()
    data = load_dataset(DataConfig(source="penguins"))
    split = split_dataset(data, cfg.split, cfg.tune.cv_folds, cfg.seed)
    print(f"penguins: {len(split.y_test)} test rows; median of {runs} runs\n")
    print(f"{'family':<10} {'part':<22} {'seconds':>9} {'target':>8}")
    for family, params in FAMILIES.items():
        model = fit_final(split.X_train, split.y_train, data.schema, family, params, 0)
        for part, action in review_parts(cfg, data, split, model).items():
            action()  # warm: first calls import and compile
            seconds = median_seconds(action, runs)
            target = TARGETS.get(part)
            shown = f"{target:>8.2f}" if target else f"{'':>8}"
            print(f"{family:<10} {part:<22} {seconds:>9.4f} {shown}")
    rng = np.random.default_rng(0)
    window = rng.dirichlet(np.ones(3) * 0.3, size=500)
    seconds = median_seconds(
        lambda: estimate_performance(window, ["a", "b", "c"]), runs
    )
    print(f"{'-':<10} {'CBPE, 500 rows':<22} {seconds:>9.4f} {0.05:>8.2f}")


if __name__ == "__main__":
    main()
