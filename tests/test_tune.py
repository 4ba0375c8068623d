import json
from typing import Any

import optuna
import pandas as pd
import pytest

from mlopslab import tune as tuning
from mlopslab.config import DataConfig, SplitConfig, TuneConfig, load_config
from mlopslab.data import Dataset, build_dataset, load_dataset
from mlopslab.errors import ConfigError, StageError
from mlopslab.preprocess import Split, split_dataset
from mlopslab.train import TORCH_FAMILIES, fit_final
from mlopslab.tune import (
    PRUNE_STARTUP,
    Fold,
    TrialJob,
    TrialRecord,
    TuneResult,
    evaluate_trial,
    families_for,
    prepare_folds,
    prune_bar,
    tune,
)

DEFAULT_FAMILIES = TuneConfig().families
TORCH_MLP = {
    "hidden_units": 32,
    "layers": 1,
    "dropout": 0.0,
    "learning_rate": 1e-2,
    "weight_decay": 1e-4,
}


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


def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """`families_for` sees no PyTorch that imports."""
    monkeypatch.setattr(tuning, "torch_available", lambda: False)


def test_default_families_gain_torch_cnn_on_images_only() -> None:
    assert families_for(TuneConfig(), image=True).families == (
        *DEFAULT_FAMILIES,
        "torch_cnn",
    )
    assert families_for(TuneConfig(), image=False).families == DEFAULT_FAMILIES
    # Too many pixels to train by default (MNIST): asked for by name only.
    assert families_for(TuneConfig(), image=True, small=False).families == (
        DEFAULT_FAMILIES
    )
    # Other tune settings from a layer leave the families at their default.
    configured = load_config(environ={"MLOPSLAB_TUNE__TRIALS": "3"}).tune
    searched = families_for(configured, image=True)
    assert searched.families == (*DEFAULT_FAMILIES, "torch_cnn")
    assert searched.trials == 3


@pytest.mark.parametrize(
    "families",
    [("logreg",), DEFAULT_FAMILIES, ("torch_cnn",), ("torch_mlp", "hist_gb")],
)
def test_families_the_user_set_are_searched_as_they_are(
    families: tuple[str, ...],
) -> None:
    assert families_for(TuneConfig(families=families), image=True).families == families
    variable = {"MLOPSLAB_TUNE__FAMILIES": json.dumps(list(families))}
    from_env = load_config(environ=variable).tune
    assert families_for(from_env, image=True).families == families


def test_torch_cnn_on_a_table_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match="'torch_cnn' needs square images") as info:
        families_for(TuneConfig(families=("logreg", "torch_cnn")), image=False)
    assert info.value.exit_code == 2
    assert "torch_mlp" in info.value.hint
    assert "\n" not in info.value.one_line()
    # torch_mlp is for tables and images alike.
    assert families_for(TuneConfig(families=("torch_mlp",)), image=False).families == (
        "torch_mlp",
    )


@pytest.mark.parametrize(
    ("families", "image", "named"),
    [
        (("torch_mlp",), False, "torch_mlp"),
        (("logreg", "torch_cnn"), True, "torch_cnn"),
    ],
)
def test_a_torch_family_without_torch_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
    families: tuple[str, ...],
    image: bool,
    named: str,
) -> None:
    without_torch(monkeypatch)
    with pytest.raises(ConfigError, match=f"'{named}' needs PyTorch") as info:
        families_for(TuneConfig(families=families), image=image)
    assert "pip install 'mlopslab[torch]'" in info.value.hint
    assert info.value.exit_code == 2 and "\n" not in info.value.one_line()


def test_default_families_without_torch_stay_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_torch(monkeypatch)
    assert families_for(TuneConfig(), image=True).families == DEFAULT_FAMILIES


def finished(
    number: int, first_fold: float | None, pruned: bool = False
) -> TrialRecord:
    """A trial record: completed, pruned, or failed (`first_fold` None)."""
    loss = first_fold if first_fold is not None and not pruned else None
    return TrialRecord(
        number,
        "torch_mlp",
        {},
        loss,
        None if loss is None else 0.9,
        None if loss is None else 0.9,
        0.1,
        error=None if loss is not None else "pruned or failed",
        first_fold_log_loss=first_fold,
        pruned=pruned,
    )


def test_prune_bar_is_the_median_first_fold_loss_after_four_trials() -> None:
    assert PRUNE_STARTUP == 4
    assert prune_bar([]) is None
    three = [finished(0, 0.1), finished(1, 0.4), finished(2, 0.2)]
    assert prune_bar(three) is None
    # Neither a pruned trial nor a failed one counts towards the four.
    assert prune_bar([*three, finished(3, 9.0, pruned=True)]) is None
    assert prune_bar([*three, finished(3, None)]) is None
    four = [*three, finished(3, 0.3)]
    assert prune_bar(four) == pytest.approx(0.25)
    # A pruned trial's loss does not move the bar.
    assert prune_bar([*four, finished(4, 9.0, pruned=True)]) == pytest.approx(0.25)
    assert prune_bar([*four, finished(4, 0.5)]) == pytest.approx(0.3)


@pytest.fixture(scope="module")
def folds(split: tuple[Dataset, Split]) -> list[Fold]:
    dataset, parts = split
    return prepare_folds(parts.X_train, parts.y_train, dataset.schema, 2, 0)


def count_folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The family of every fold scored from now on."""
    scored: list[str] = []
    score = tuning._score_fold

    def counted(job: TrialJob, *args: Any) -> tuple[float, float, float]:
        scored.append(job.family)
        return score(job, *args)

    monkeypatch.setattr(tuning, "_score_fold", counted)
    return scored


def test_torch_trial_above_the_bar_stops_after_its_first_fold(
    folds: list[Fold], monkeypatch: pytest.MonkeyPatch
) -> None:
    scored = count_folds(monkeypatch)
    whole = evaluate_trial(TrialJob(0, "torch_mlp", TORCH_MLP), folds, 0)
    assert not whole.pruned and whole.error is None
    assert whole.cv_log_loss is not None and whole.first_fold_log_loss is not None
    assert scored == ["torch_mlp"] * 2
    scored.clear()
    job = TrialJob(1, "torch_mlp", TORCH_MLP, prune_above=0.0)
    pruned = evaluate_trial(job, folds, 0)
    assert scored == ["torch_mlp"]  # the second fold never ran
    assert pruned.pruned
    assert (pruned.cv_log_loss, pruned.cv_accuracy, pruned.cv_macro_f1) == (
        None,
        None,
        None,
    )
    assert pruned.first_fold_log_loss == whole.first_fold_log_loss  # same seed
    assert pruned.error is not None
    assert pruned.error.startswith("pruned after its first fold (log loss ")
    assert "above the median 0.0000" in pruned.error
    # At or below the bar it runs every fold.
    bar = whole.first_fold_log_loss
    at_bar = evaluate_trial(TrialJob(2, "torch_mlp", TORCH_MLP, bar), folds, 0)
    assert not at_bar.pruned and at_bar.cv_log_loss == whole.cv_log_loss


def test_other_families_are_never_pruned(
    folds: list[Fold], monkeypatch: pytest.MonkeyPatch
) -> None:
    scored = count_folds(monkeypatch)
    job = TrialJob(0, "logreg", {"C": 1.0}, prune_above=0.0)
    record = evaluate_trial(job, folds, 0)
    assert scored == ["logreg"] * 2
    assert not record.pruned and record.error is None
    assert record.cv_log_loss is not None and record.first_fold_log_loss is not None
    assert record.first_fold_log_loss > 0.0  # above the bar, and not pruned


class RecordingExecutor:
    """Trials in this process, keeping every job it was given."""

    def __init__(self) -> None:
        self.jobs: list[TrialJob] = []

    def run(
        self, jobs: list[TrialJob], folds: list[Fold], seed: int
    ) -> list[TrialRecord]:
        self.jobs += jobs
        return [evaluate_trial(job, folds, seed) for job in jobs]


def test_torch_trials_are_pruned_against_earlier_batches_reproducibly(
    split: tuple[Dataset, Split], monkeypatch: pytest.MonkeyPatch
) -> None:
    studies: list[optuna.Study] = []
    create_study = optuna.create_study

    def kept(*args: Any, **kwargs: Any) -> optuna.Study:
        studies.append(create_study(*args, **kwargs))
        return studies[-1]

    monkeypatch.setattr(tuning.optuna, "create_study", kept)
    dataset, parts = split
    # Seed 2 draws both families, and a torch_mlp trial of the second batch
    # whose first fold is above the first batch's median.
    cfg = TuneConfig(trials=8, cv_folds=2, jobs=1, families=("logreg", "torch_mlp"))
    executor = RecordingExecutor()
    result = tune(parts.X_train, parts.y_train, dataset.schema, cfg, 2, executor)
    trials = result.trials
    # The first batch runs unpruned; the second gets the first batch's median.
    bar = prune_bar(trials[:4])
    assert bar is not None
    assert [job.prune_above for job in executor.jobs] == [None] * 4 + [bar] * 4
    pruned = [t for t in trials if t.pruned]
    assert pruned and all(t.family in TORCH_FAMILIES for t in pruned)
    spared = []  # other families above the bar
    for t in trials[4:]:
        assert t.first_fold_log_loss is not None
        above = t.first_fold_log_loss > bar
        assert t.pruned == (above and t.family in TORCH_FAMILIES)
        if above and t.family not in TORCH_FAMILIES:
            spared.append(t)
    assert spared and not any(t.pruned for t in spared)
    for t in pruned:
        assert (t.cv_log_loss, t.cv_accuracy, t.cv_macro_f1) == (None, None, None)
        assert t.error is not None and "pruned" in t.error
    # Optuna hears each pruned trial as PRUNED, at its first fold's loss.
    states = optuna.trial.TrialState
    for t, frozen in zip(trials, studies[0].trials, strict=True):
        assert frozen.state == (states.PRUNED if t.pruned else states.COMPLETE)
        assert frozen.intermediate_values == {0: t.first_fold_log_loss}
    assert not result.best.pruned
    # The same seed prunes the same trials, here with the local executor.
    again = tune(parts.X_train, parts.y_train, dataset.schema, cfg, 2)

    def drawn(r: TuneResult) -> list[tuple[str, dict[str, Any], bool]]:
        return [(t.family, t.params, t.pruned) for t in r.trials]

    assert drawn(again) == drawn(result)
    assert again.best.params == result.best.params


def test_torch_cnn_asked_for_on_images_it_cannot_take_is_refused() -> None:
    with pytest.raises(ConfigError, match="square images of at least 4x4"):
        families_for(TuneConfig(families=("torch_cnn",)), image=False)


def test_all_trials_failing_is_a_clear_error(
    split: tuple[Dataset, Split], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> None:
        raise ValueError("solver diverged")

    monkeypatch.setattr(tuning, "build_estimator", explode)
    with pytest.raises(StageError, match="all 2 tuning trials failed: solver diverged"):
        tune_train(split, 0, trials=2, cv_folds=2, jobs=1)


def large_table(rows: int = 9_000) -> tuple[pd.DataFrame, pd.Series, Any]:
    """A table big enough for the multi-fidelity search (holdout_above is
    lowered in the configs below, so the test stays fast)."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"x{i}" for i in range(6)])
    X["kind"] = rng.choice(["a", "b", "c"], size=rows)
    logit = X["x0"] - X["x1"] * X["x2"] + (X["kind"] == "a")
    y = pd.Series(np.where(logit + rng.logistic(size=rows) > 0, "yes", "no"))
    frame = X.assign(label=y)
    dataset = build_dataset("large", "large", frame, "label")
    return dataset.X, dataset.y, dataset.schema


LARGE = {"trials": 8, "batch_size": 4, "holdout_above": 2_000, "jobs": 1}


def test_rungs_are_a_ninth_a_third_and_all_of_the_rows() -> None:
    assert tuning.rungs_for(90_000) == (10_000, 30_000, 90_000)
    assert tuning.rungs_for(9_000) == (3_000, 9_000)  # 1,000 is too few to rank
    assert tuning.rungs_for(1_500) == (1_500,)


def test_large_data_climbs_rungs_and_only_the_best_reach_the_top() -> None:
    X, y, schema = large_table()
    result = tune(X, y, schema, TuneConfig(**LARGE), seed=5)
    holdout_train = len(X) - int(len(X) * tuning.HOLDOUT_SHARE)
    assert result.rungs == tuning.rungs_for(holdout_train) == (2_400, 7_200)
    finished = [t for t in result.trials if t.cv_log_loss is not None]
    stopped = [t for t in result.trials if t.pruned]
    assert finished and stopped and len(finished) + len(stopped) == 8
    assert all(t.rows == 7_200 for t in finished)
    assert all(
        t.rows == 2_400 and "stopped after 2,400 rows" in str(t.error) for t in stopped
    )
    assert result.best.rows == 7_200
    # The same seed draws, prunes and picks the same trials.
    again = tune(X, y, schema, TuneConfig(**LARGE), seed=5)
    assert [(t.params, t.cv_log_loss, t.pruned) for t in again.trials] == [
        (t.params, t.cv_log_loss, t.pruned) for t in result.trials
    ]


def test_large_data_trials_fit_on_at_most_max_trial_rows() -> None:
    X, y, schema = large_table()
    cfg = TuneConfig(**LARGE, max_trial_rows=3_000)
    result = tune(X, y, schema, cfg, seed=5)
    assert result.rungs == (3_000,)
    assert {t.rows for t in result.trials} == {3_000}


def test_large_data_boosting_stops_early() -> None:
    X, y, schema = large_table()
    folds = prepare_folds(X, y, schema, 4, 0, holdout=5_000)
    assert len(folds) == 1 and len(folds[0].y_train) == 5_000
    params = {
        "learning_rate": 0.3,
        "max_leaf_nodes": 32,
        "max_iter": 100,
        "l2_regularization": 1e-4,
    }
    estimators: list[Any] = []
    build = tuning.build_estimator

    def kept(*args: Any) -> Any:
        estimators.append(build(*args))
        return estimators[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuning, "build_estimator", kept)
        evaluate_trial(TrialJob(0, "hist_gb", params, early_stop=True), folds, 0)
        evaluate_trial(TrialJob(1, "hist_gb", params), folds, 0)
    stopping, full = estimators
    assert stopping.early_stopping is True and stopping.n_iter_ < 100
    assert full.early_stopping is False and full.n_iter_ == 100


def test_a_time_budget_stops_after_the_batch_it_runs_out_in(
    split: tuple[Dataset, Split],
) -> None:
    result = tune_train(split, 3, trials=16, batch_size=4, jobs=1, time_budget=1e-6)
    assert len(result.trials) == 4 and result.planned == 16
    assert result.stopped_by_budget
    # The trials it ran are the first trials of the unbounded search.
    whole = tune_train(split, 3, trials=4, batch_size=4, jobs=1)
    assert [t.params for t in whole.trials] == [t.params for t in result.trials]


def test_progress_is_told_after_every_batch(split: tuple[Dataset, Split]) -> None:
    dataset, parts = split
    heard: list[tuple[int, int]] = []
    cfg = TuneConfig(trials=6, batch_size=4, jobs=1)
    tune(
        parts.X_train,
        parts.y_train,
        dataset.schema,
        cfg,
        seed=0,
        progress=lambda done, total: heard.append((done, total)),
    )
    assert heard == [(4, 6), (6, 6)]


def test_trials_are_recorded_in_the_journal_as_they_finish(
    split: tuple[Dataset, Split], tmp_path: Any
) -> None:
    dataset, parts = split
    journal = tmp_path / "tuning" / "run.log"
    cfg = TuneConfig(trials=4, batch_size=2, jobs=1)
    seen: list[int] = []

    def read() -> optuna.Study:
        """As the README says to read a run's journal."""
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(journal)))
        return optuna.load_study(study_name=None, storage=storage)

    def progress(done: int, total: int) -> None:
        # After each batch, the journal on disk already holds its trials.
        seen.append(sum(t.state.is_finished() for t in read().get_trials()))

    result = tune(
        parts.X_train, parts.y_train, dataset.schema, cfg, 0, None, progress, journal
    )
    assert seen == [2, 4]
    stored = read()
    assert [t.value for t in stored.trials] == [t.cv_log_loss for t in result.trials]
    # Recording changes nothing about the search.
    plain = tune(parts.X_train, parts.y_train, dataset.schema, cfg, 0)
    assert plain.trials[0].params == result.trials[0].params
