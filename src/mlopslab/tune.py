"""Tune over several model families with Optuna.

Trials are asked in fixed-size batches, evaluated in parallel, and told back in
order. The sampler therefore sees the same history whatever `jobs` is, so the
same seed and data always choose the same model.
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import optuna
import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from mlopslab.config import TuneConfig
from mlopslab.data import Schema
from mlopslab.errors import ConfigError, StageError, first_line
from mlopslab.preprocess import build_preprocessor
from mlopslab.train import TORCH_FAMILIES, build_estimator

# Below this many training rows, trials run in-process whatever `jobs` says.
PARALLEL_MIN_ROWS = 1_000
# torch_cnn joins the default families only up to this many pixels in all
# (rows x pixels): digits have 115,000 and train in well under a minute on one
# thread; MNIST's 47 million would take hours, so there it is asked for by name.
CNN_DEFAULT_MAX_PIXELS = 1_000_000
# Finished trials before PyTorch trials can be pruned (Optuna's n_startup_trials).
PRUNE_STARTUP = 4


@dataclass(frozen=True)
class TrialRecord:
    number: int
    family: str
    params: dict[str, Any]
    cv_log_loss: float | None
    cv_accuracy: float | None
    cv_macro_f1: float | None
    seconds: float
    error: str | None = None
    retries: int = 0  # runs lost with a worker and started again
    first_fold_log_loss: float | None = None
    pruned: bool = False  # stopped after its first fold: see `prune_bar`


@dataclass(frozen=True)
class TuneResult:
    trials: list[TrialRecord]
    best: TrialRecord
    seconds: float = field(default=0.0)


def suggest(
    trial: optuna.trial.BaseTrial, families: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    """Draw a family, then that family's hyperparameters."""
    family = str(trial.suggest_categorical("family", list(families)))
    params: dict[str, Any]
    if family == "logreg":
        params = {"C": trial.suggest_float("logreg.C", 1e-3, 1e2, log=True)}
    elif family == "hist_gb":
        params = {
            "learning_rate": trial.suggest_float(
                "hist_gb.learning_rate", 0.02, 0.3, log=True
            ),
            "max_leaf_nodes": trial.suggest_int("hist_gb.max_leaf_nodes", 8, 32),
            "max_iter": trial.suggest_int("hist_gb.max_iter", 20, 100),
            "l2_regularization": trial.suggest_float("hist_gb.l2", 1e-4, 1.0, log=True),
        }
    elif family == "mlp":
        params = {
            "hidden_units": trial.suggest_categorical("mlp.hidden_units", [16, 32, 64]),
            "alpha": trial.suggest_float("mlp.alpha", 1e-5, 1e-1, log=True),
        }
    elif family == "torch_mlp":
        params = {
            "hidden_units": trial.suggest_categorical(
                "torch_mlp.hidden_units", [32, 64, 128]
            ),
            "layers": trial.suggest_int("torch_mlp.layers", 1, 2),
            "dropout": trial.suggest_float("torch_mlp.dropout", 0.0, 0.3),
            "learning_rate": trial.suggest_float("torch_mlp.lr", 1e-3, 1e-2, log=True),
            "weight_decay": trial.suggest_float("torch_mlp.wd", 1e-6, 1e-2, log=True),
        }
    elif family == "torch_cnn":
        params = {
            "channels": trial.suggest_categorical("torch_cnn.channels", [8, 16, 32]),
            "dropout": trial.suggest_float("torch_cnn.dropout", 0.0, 0.5),
            "learning_rate": trial.suggest_float("torch_cnn.lr", 1e-3, 1e-2, log=True),
            "weight_decay": trial.suggest_float("torch_cnn.wd", 1e-6, 1e-2, log=True),
        }
    else:
        params = {
            "n_estimators": trial.suggest_int("random_forest.n_estimators", 50, 200),
            "max_depth": trial.suggest_int("random_forest.max_depth", 3, 16),
        }
    return family, params


def families_for(cfg: TuneConfig, image: bool, small: bool = True) -> TuneConfig:
    """The families to search, checked against the data and what is installed.

    `image`: the rows are square images a CNN can take (`Image.square`);
    `small`: few enough pixels in all for a CNN to train in minutes
    (`CNN_DEFAULT_MAX_PIXELS`). Left at its default, the list then gains
    torch_cnn when PyTorch works; a list the user set is searched as it is.
    Calling it again changes nothing.
    """
    families = cfg.families
    default = "families" not in cfg.model_fields_set
    if default and image and small and torch_available():
        families = (*families, "torch_cnn")
    wanted = [f for f in families if f in TORCH_FAMILIES]
    if wanted and not torch_available():
        raise ConfigError(
            f"the model family '{wanted[0]}' needs PyTorch, which is not installed "
            "(or does not import)",
            "install the extra (pip install 'mlopslab[torch]'; in this repository "
            "`make setup-test`), or remove it from tune.families",
        )
    if "torch_cnn" in families and not image:
        raise ConfigError(
            "the model family 'torch_cnn' needs square images of at least 4x4 "
            "pixels (--data digits, or a folder of MNIST-style IDX files)",
            "remove torch_cnn from tune.families, or use torch_mlp for tables",
        )
    return cfg.model_copy(update={"families": families})


@functools.cache
def torch_available() -> bool:
    """PyTorch imports here: found is not enough (a CUDA build without its
    libraries, a NumPy it was not built for)."""
    try:
        import torch  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Fold:
    """One CV fold, preprocessed once: trials only fit the estimator on arrays."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


def prepare_folds(
    X: pd.DataFrame, y: pd.Series, schema: Schema, folds: int, seed: int
) -> list[Fold]:
    """Fit the preprocessor on each fold's training part only, so nothing leaks.

    The preprocessor has no tuned hyperparameters, so transforming each fold
    once is equivalent to refitting it inside every trial, and far cheaper.
    """
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    prepared = []
    labels = y.to_numpy()
    for train_idx, valid_idx in splitter.split(X, labels):
        preprocessor = build_preprocessor(schema)
        X_train = preprocessor.fit_transform(X.iloc[train_idx])
        prepared.append(
            Fold(
                X_train=np.asarray(X_train, dtype=float),
                y_train=labels[train_idx],
                X_valid=np.asarray(
                    preprocessor.transform(X.iloc[valid_idx]), dtype=float
                ),
                y_valid=labels[valid_idx],
            )
        )
    return prepared


def tune(
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    cfg: TuneConfig,
    seed: int,
    executor: TrialExecutor | None = None,
) -> TuneResult:
    """Run a seeded Optuna study minimising cross-validated log loss.

    Only this process asks and tells the study, in fixed batches, so where the
    trials run (`executor`: local processes or a Ray cluster) never changes
    which trials are drawn or which one wins.
    """
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed)
    )
    try:
        folds = prepare_folds(X, y, schema, cfg.cv_folds, seed)
    except ValueError as exc:
        raise StageError(
            f"preprocessing failed on the training data: {str(exc).splitlines()[-1]}",
            "check that each column holds one kind of value (numbers or text)",
        ) from exc
    if executor is not None:
        records = _search(study, cfg, folds, seed, executor)
    else:
        # Worker processes cost about a second to start: on small data they
        # lose. So do OpenMP threads (HistGradientBoosting): on a busy machine
        # their spin-waits made penguins' 16 trials take 4-7 s instead of 1.1 s.
        small = len(X) < PARALLEL_MIN_ROWS
        jobs = 1 if small else cfg.jobs
        with LocalExecutor(jobs, single_thread=small) as local:
            records = _search(study, cfg, folds, seed, local)
    completed = [r for r in records if r.cv_log_loss is not None]
    if not completed:
        raise StageError(
            f"all {len(records)} tuning trials failed: {records[0].error}",
            "check the data types, or try other tune.families",
        )
    best = records[study.best_trial.number]
    return TuneResult(trials=records, best=best, seconds=time.perf_counter() - started)


def _search(
    study: optuna.Study,
    cfg: TuneConfig,
    folds: list[Fold],
    seed: int,
    executor: TrialExecutor,
) -> list[TrialRecord]:
    records: list[TrialRecord] = []
    while len(records) < cfg.trials:
        size = min(cfg.batch_size, cfg.trials - len(records))
        batch = [study.ask() for _ in range(size)]
        bar = prune_bar(records)
        jobs = [
            TrialJob(trial.number, *suggest(trial, cfg.families), prune_above=bar)
            for trial in batch
        ]
        results = executor.run(jobs, folds, seed)
        for trial, record in zip(batch, results, strict=True):
            if record.first_fold_log_loss is not None:
                trial.report(record.first_fold_log_loss, step=0)
            if record.pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif record.cv_log_loss is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, record.cv_log_loss)
            records.append(record)
    return records


def prune_bar(records: list[TrialRecord]) -> float | None:
    """The median first-fold loss of the trials finished so far, as Optuna's
    MedianPruner compares (after PRUNE_STARTUP of them).

    PyTorch trials above it stop after their first fold: they cost seconds a
    fold where the other families cost milliseconds. The bar depends only on
    earlier batches, so the same seed prunes the same trials wherever they run.
    """
    losses = [
        r.first_fold_log_loss
        for r in records
        if r.first_fold_log_loss is not None and not r.pruned
    ]
    return float(np.median(losses)) if len(losses) >= PRUNE_STARTUP else None


@dataclass(frozen=True)
class TrialJob:
    number: int
    family: str
    params: dict[str, Any]
    prune_above: float | None = None  # for PyTorch families: see `prune_bar`


class TrialExecutor(Protocol):
    """Runs one batch of trials and returns their records in the same order."""

    def run(
        self, jobs: list[TrialJob], folds: list[Fold], seed: int
    ) -> list[TrialRecord]: ...


class LocalExecutor:
    """Trials in this process, or in joblib worker processes (`jobs`)."""

    def __init__(self, jobs: int, single_thread: bool = False) -> None:
        self._limits = threadpool_limits(1 if single_thread else None)
        self._parallel = Parallel(n_jobs=jobs)

    def __enter__(self) -> LocalExecutor:
        self._limits.__enter__()
        self._parallel.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._parallel.__exit__(None, None, None)
        self._limits.__exit__(None, None, None)

    def run(
        self, jobs: list[TrialJob], folds: list[Fold], seed: int
    ) -> list[TrialRecord]:
        return list(
            self._parallel(delayed(evaluate_trial)(job, folds, seed) for job in jobs)
        )


def evaluate_trial(job: TrialJob, folds: list[Fold], seed: int) -> TrialRecord:
    """Cross-validate one trial's family and parameters on the prepared folds."""
    number, family, params = job.number, job.family, job.params
    started = time.perf_counter()
    scores: list[tuple[float, float, float]] = []
    try:
        for fold in folds:
            scores.append(_score_fold(family, params, fold, seed))
            if len(scores) == 1 and _prunes(job, scores[0][0]):
                return _pruned(job, scores[0][0], time.perf_counter() - started)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        error = first_line(exc)
        return TrialRecord(
            number,
            family,
            params,
            None,
            None,
            None,
            time.perf_counter() - started,
            error=error,
        )
    loss, accuracy, macro_f1 = np.mean(np.array(scores), axis=0)
    return TrialRecord(
        number=number,
        family=family,
        params=params,
        cv_log_loss=float(loss),
        cv_accuracy=float(accuracy),
        cv_macro_f1=float(macro_f1),
        seconds=time.perf_counter() - started,
        first_fold_log_loss=scores[0][0],
    )


def _pruned(job: TrialJob, loss: float, seconds: float) -> TrialRecord:
    return TrialRecord(
        job.number,
        job.family,
        job.params,
        None,
        None,
        None,
        seconds,
        error=f"pruned after its first fold (log loss {loss:.4f}, above the "
        f"median {job.prune_above:.4f} of earlier trials)",
        first_fold_log_loss=loss,
        pruned=True,
    )


def _prunes(job: TrialJob, first_fold_loss: float) -> bool:
    return (
        job.family in TORCH_FAMILIES
        and job.prune_above is not None
        and first_fold_loss > job.prune_above
    )


def _score_fold(
    family: str, params: dict[str, Any], fold: Fold, seed: int
) -> tuple[float, float, float]:
    estimator = build_estimator(family, params, seed, len(fold.y_train))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(fold.X_train, fold.y_train)
    proba = estimator.predict_proba(fold.X_valid)
    predicted = estimator.classes_[np.argmax(proba, axis=1)]
    return (
        float(log_loss(fold.y_valid, proba, labels=estimator.classes_)),
        float(accuracy_score(fold.y_valid, predicted)),
        float(f1_score(fold.y_valid, predicted, average="macro")),
    )
