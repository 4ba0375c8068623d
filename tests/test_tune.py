from typing import Any

import pandas as pd
import pytest

from mlopslab import tune as tuning
from mlopslab.config import DataConfig, SplitConfig, TuneConfig
from mlopslab.data import Dataset, build_dataset, load_dataset
from mlopslab.errors import StageError
from mlopslab.preprocess import Split, split_dataset
from mlopslab.train import fit_final
from mlopslab.tune import TuneResult, tune


@pytest.fixture(scope="module")
def split() -> tuple[Dataset, Split]:
    dataset = load_dataset(DataConfig())
    return dataset, split_dataset(dataset, SplitConfig(), cv_folds=3, seed=0)


def tune_train(split: tuple[Dataset, Split], seed: int, **config: Any) -> TuneResult:
    """`tune` on the training part of `split` with `TuneConfig(**config)`."""
    dataset, parts = split
    return tune(
        parts.X_train, parts.y_train, dataset.schema, TuneConfig(**config), seed=seed
    )


def test_tune_covers_families_and_is_reproducible(split: tuple[Dataset, Split]) -> None:
    first = tune_train(split, 11, trials=8, cv_folds=3, jobs=1)
    second = tune_train(split, 11, trials=8, cv_folds=3, jobs=1)
    assert len(first.trials) == 8
    assert {t.family for t in first.trials} <= {"logreg", "hist_gb", "mlp"}
    assert len({t.family for t in first.trials}) >= 2
    assert first.best == second.best or (
        first.best.params == second.best.params
        and first.best.cv_log_loss == second.best.cv_log_loss
    )
    completed = [t.cv_log_loss for t in first.trials if t.cv_log_loss is not None]
    assert first.best.cv_log_loss == min(completed)


def test_outcome_does_not_depend_on_jobs(
    split: tuple[Dataset, Split], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force real worker processes even on this small data set.
    monkeypatch.setattr(tuning, "PARALLEL_MIN_ROWS", 0)
    serial = tune_train(split, 5, trials=6, cv_folds=3, jobs=1)
    parallel = tune_train(split, 5, trials=6, cv_folds=3, jobs=2)
    assert [t.params for t in serial.trials] == [t.params for t in parallel.trials]
    assert [t.cv_log_loss for t in serial.trials] == [
        t.cv_log_loss for t in parallel.trials
    ]


def test_final_model_is_one_pipeline_on_raw_rows(split: tuple[Dataset, Split]) -> None:
    dataset, parts = split
    result = tune_train(split, 0, trials=3, cv_folds=3, jobs=1, families=("logreg",))
    model = fit_final(
        parts.X_train,
        parts.y_train,
        dataset.schema,
        result.best.family,
        result.best.params,
        seed=0,
    )
    assert list(model.named_steps) == ["preprocess", "model"]
    predicted = model.predict(parts.X_test)
    assert (predicted == parts.y_test.to_numpy()).mean() > 0.9


@pytest.mark.parametrize("family", ["logreg", "hist_gb", "mlp", "random_forest"])
def test_each_family_learns_penguins(split: tuple[Dataset, Split], family: str) -> None:
    result = tune_train(split, 0, trials=2, cv_folds=3, jobs=1, families=(family,))
    assert result.best.family == family
    assert result.best.cv_accuracy is not None and result.best.cv_accuracy > 0.9


def test_mixed_column_fails_preprocessing_clearly() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0] * 20, "y": ["p", "q"] * 20})
    dataset = build_dataset("d", "d.csv", frame, "y")
    parts = split_dataset(dataset, SplitConfig(), cv_folds=2, seed=0)
    broken = parts.X_train.assign(a=["x"] * len(parts.X_train))
    with pytest.raises(StageError, match=r"preprocessing failed.*could not convert"):
        tune(
            broken,
            parts.y_train,
            dataset.schema,
            TuneConfig(trials=2, cv_folds=2, jobs=1),
            seed=0,
        )


def test_all_trials_failing_is_a_clear_error(
    split: tuple[Dataset, Split], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise ValueError("solver diverged")

    monkeypatch.setattr(tuning, "build_estimator", explode)
    with pytest.raises(StageError, match="all 2 tuning trials failed: solver diverged"):
        tune_train(split, 0, trials=2, cv_folds=2, jobs=1)
