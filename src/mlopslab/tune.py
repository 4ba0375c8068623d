"""Tune over several model families with Optuna.

Trials are asked in fixed-size batches, evaluated in parallel, and told back in
order. The sampler therefore sees the same history whatever `jobs` is, so the
same seed and data always choose the same model.

On large data (`tune.holdout_above` training rows and more) the search is
multi-fidelity: trials score on one stratified holdout instead of k folds,
and climb rungs of rows (a ninth, a third, then all of at most
`tune.max_trial_rows`). Optuna's successive-halving pruner, asked here in the
parent in trial order, lets only the best third of each rung go on, so most
trials cost a small fraction of one fit on the data.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import optuna
import pandas as pd
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

from mlopslab.config import TuneConfig
from mlopslab.data import Schema
from mlopslab.errors import ConfigError, Interrupted, StageError, first_line
from mlopslab.preprocess import build_preprocessor
from mlopslab.train import (
    SINGLE_THREAD_MAX_ROWS,
    TORCH_FAMILIES,
    build_estimator,
    stopping_early,
)

# Below this many training rows, trials run in-process whatever `jobs` says.
PARALLEL_MIN_ROWS = 1_000
# torch_cnn joins the default families only up to this many pixels in all
# (rows x pixels): digits have 115,000 and train in well under a minute on one
# thread; MNIST's 47 million would take hours, so there it is asked for by name.
CNN_DEFAULT_MAX_PIXELS = 1_000_000
# Finished trials before PyTorch trials can be pruned (Optuna's n_startup_trials).
PRUNE_STARTUP = 4
# Multi-fidelity: each rung has a third of the rows of the next, and a third
# of a rung's trials go on (Optuna's SuccessiveHalvingPruner, reduction factor).
RUNG_FACTOR = 3
RUNGS = 3
# A rung smaller than this is skipped: its ranking would be noise.
MIN_RUNG_ROWS = 2_000
# The holdout that large-data trials score on: a fifth of the rows, at most this.
HOLDOUT_SHARE = 0.2
MAX_HOLDOUT_ROWS = 50_000

Progress = Callable[[int, int], None]  # trials done, trials planned


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
    pruned: bool = False  # stopped early: see `prune_bar` and `_climb`
    rows: int | None = None  # training rows of its last fit (multi-fidelity)


@dataclass(frozen=True)
class TuneResult:
    trials: list[TrialRecord]
    best: TrialRecord
    seconds: float = field(default=0.0)
    planned: int = 0  # tune.trials: more than len(trials) when the budget ran out
    rungs: tuple[int, ...] = ()  # rows per rung, when the search was multi-fidelity

    @property
    def stopped_by_budget(self) -> bool:
        return len(self.trials) < self.planned


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
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    folds: int,
    seed: int,
    holdout: int | None = None,
) -> list[Fold]:
    """Fit the preprocessor on each fold's training part only, so nothing leaks.

    The preprocessor has no tuned hyperparameters, so transforming each fold
    once is equivalent to refitting it inside every trial, and far cheaper.
    With `holdout` (large data), one stratified fold instead: a fifth of the
    rows to score on, and at most `holdout` rows to train on.
    """
    labels = y.to_numpy()
    if holdout is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        parts = list(splitter.split(X, labels))
    else:
        parts = [_holdout(labels, holdout, seed)]
    prepared = []
    for train_idx, valid_idx in parts:
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


def _holdout(labels: np.ndarray, most: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of one stratified holdout: at most `most` rows to train on."""
    rows = np.arange(len(labels))
    valid = min(int(len(rows) * HOLDOUT_SHARE), MAX_HOLDOUT_ROWS)
    train_idx, valid_idx = train_test_split(
        rows, test_size=valid, stratify=labels, random_state=seed
    )
    if len(train_idx) > most:
        train_idx, _ = train_test_split(
            train_idx, train_size=most, stratify=labels[train_idx], random_state=seed
        )
    return np.sort(train_idx), np.sort(valid_idx)


def rungs_for(train_rows: int) -> tuple[int, ...]:
    """Rows per rung: a ninth, a third, then all `train_rows`; rungs under
    MIN_RUNG_ROWS are left out."""
    sizes = [train_rows // RUNG_FACTOR**k for k in reversed(range(RUNGS))]
    return tuple(size for size in sizes if size >= MIN_RUNG_ROWS) or (train_rows,)


@dataclass(frozen=True)
class Budget:
    """`tune.time_budget`: no batch starts after it, once a trial has finished."""

    started: float
    seconds: float | None

    def spent(self, records: list[TrialRecord]) -> bool:
        if self.seconds is None or time.perf_counter() - self.started < self.seconds:
            return False
        return any(r.cv_log_loss is not None for r in records)


def tune(
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    cfg: TuneConfig,
    seed: int,
    executor: TrialExecutor | None = None,
    progress: Progress | None = None,
    journal: Path | None = None,
) -> TuneResult:
    """Run a seeded Optuna study minimising cross-validated log loss.

    Only this process asks and tells the study, in fixed batches, so where the
    trials run (`executor`: local processes or a Ray cluster) never changes
    which trials are drawn or which one wins. `progress` hears after every
    batch; `journal` is a file Optuna records every trial in as it finishes,
    so an interrupted run keeps them.
    """
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    large = len(X) >= cfg.holdout_above
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=RUNG_FACTOR
        ),
        storage=_journal(journal),
    )
    try:
        folds = prepare_folds(
            X, y, schema, cfg.cv_folds, seed, cfg.max_trial_rows if large else None
        )
    except ValueError as exc:
        raise StageError(
            f"preprocessing failed on the training data: {str(exc).splitlines()[-1]}",
            "check that each column holds one kind of value (numbers or text)",
        ) from exc
    rungs = rungs_for(len(folds[0].y_train)) if large else ()
    search = Search(study, cfg, folds, seed, Budget(started, cfg.time_budget), progress)
    try:
        records = _run(search, executor, rungs, small=len(X) < PARALLEL_MIN_ROWS)
    except KeyboardInterrupt:
        raise _interrupted(study, cfg, journal) from None
    completed = [r for r in records if r.cv_log_loss is not None]
    if not completed:
        raise StageError(
            f"all {len(records)} tuning trials failed: {records[0].error}",
            "check the data types, or try other tune.families",
        )
    best = records[study.best_trial.number]
    return TuneResult(
        trials=records,
        best=best,
        seconds=time.perf_counter() - started,
        planned=cfg.trials,
        rungs=rungs,
    )


def _run(
    search: Search, executor: TrialExecutor | None, rungs: tuple[int, ...], small: bool
) -> list[TrialRecord]:
    if executor is not None:
        return search.run(executor, rungs)
    # Worker processes cost about a second to start: on small data they
    # lose. So do OpenMP threads (HistGradientBoosting): on a busy machine
    # their spin-waits made penguins' 16 trials take 4-7 s instead of 1.1 s.
    # On large data (rungs), trials run one at a time in this process, each
    # fit with every core: a worker process would hold a copy of the imports
    # and the rows (twice the plain script's memory at 10k rows).
    jobs = 1 if small or rungs else search.cfg.jobs
    with LocalExecutor(jobs, single_thread=small) as local:
        return search.run(local, rungs)


def _interrupted(
    study: optuna.Study, cfg: TuneConfig, journal: Path | None
) -> Interrupted:
    """Ctrl-C or SIGTERM: what the search had finished, and where it is kept."""
    finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
    kept = f", recorded in {journal}" if journal is not None and finished else ""
    return Interrupted(
        f"stopped while tuning: {finished} of {cfg.trials} trials finished{kept}",
        "nothing was registered; run again (tune.time_budget bounds the search)",
    )


def _journal(path: Path | None) -> optuna.storages.BaseStorage | None:
    if path is None:
        return None
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


@dataclass
class Search:
    """One study's loop: batches of trials asked, run and told back in order."""

    study: optuna.Study
    cfg: TuneConfig
    folds: list[Fold]
    seed: int
    budget: Budget
    progress: Progress | None = None

    def run(self, executor: TrialExecutor, rungs: tuple[int, ...]) -> list[TrialRecord]:
        if not rungs:
            return _search(self, executor)
        records: list[TrialRecord] = []
        while len(records) < self.cfg.trials and not self.budget.spent(records):
            size = min(self.cfg.batch_size, self.cfg.trials - len(records))
            batch = [self.study.ask() for _ in range(size)]
            records.extend(self._climb(batch, executor, rungs))
            self.told(records)
        return records

    def told(self, records: list[TrialRecord]) -> None:
        if self.progress is not None:
            self.progress(len(records), self.cfg.trials)

    def _climb(
        self,
        batch: list[optuna.Trial],
        executor: TrialExecutor,
        rungs: tuple[int, ...],
    ) -> list[TrialRecord]:
        """Successive halving: every trial fits on the first rung's rows; the
        pruner lets the best third of each rung (over all batches so far) on
        to the next. Rungs report as steps 1, 3, 9, the pruner's resource."""
        jobs = {
            trial.number: TrialJob(
                trial.number, *suggest(trial, self.cfg.families), early_stop=True
            )
            for trial in batch
        }
        done: dict[int, TrialRecord] = {}
        climbing = list(batch)
        for rung, rows in enumerate(rungs):
            run = [replace(jobs[t.number], rows=rows) for t in climbing]
            results = executor.run(run, self.folds, self.seed)
            going_on = []
            for trial, record in zip(climbing, results, strict=True):
                spent = done[trial.number].seconds if trial.number in done else 0.0
                record = replace(record, seconds=record.seconds + spent)
                done[trial.number] = record
                if record.cv_log_loss is None:
                    self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                trial.report(record.cv_log_loss, step=RUNG_FACTOR**rung)
                if rung == len(rungs) - 1:
                    self.study.tell(trial, record.cv_log_loss)
                elif trial.should_prune():
                    done[trial.number] = _stopped_at(record, rows)
                    self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                else:
                    going_on.append(trial)
            climbing = going_on
        return [done[trial.number] for trial in batch]


def _stopped_at(record: TrialRecord, rows: int) -> TrialRecord:
    return replace(
        record,
        cv_log_loss=None,
        cv_accuracy=None,
        cv_macro_f1=None,
        pruned=True,
        error=f"stopped after {rows:,} rows (holdout log loss "
        f"{record.cv_log_loss:.4f}, not in the best third at that rung)",
        first_fold_log_loss=record.cv_log_loss,
    )


def _search(search: Search, executor: TrialExecutor) -> list[TrialRecord]:
    study, cfg, folds, seed = search.study, search.cfg, search.folds, search.seed
    records: list[TrialRecord] = []
    while len(records) < cfg.trials and not search.budget.spent(records):
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
        search.told(records)
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
    rows: int | None = None  # fit on this many training rows (a rung), not all
    early_stop: bool = False  # boosting and the MLP stop early (large data)
    threads: int = 1  # BLAS and OpenMP threads for its fits


class TrialExecutor(Protocol):
    """Runs one batch of trials and returns their records in the same order."""

    def run(
        self, jobs: list[TrialJob], folds: list[Fold], seed: int
    ) -> list[TrialRecord]: ...


class LocalExecutor:
    """Trials in this process, or in joblib worker processes (`jobs`).

    Each trial's fits get the cores its batch leaves free: a batch of one
    trial on two cores fits with two threads, a batch of four with one each.
    """

    def __init__(self, jobs: int, single_thread: bool = False) -> None:
        self._limits = threadpool_limits(1 if single_thread else None)
        self._parallel = Parallel(n_jobs=jobs)
        self._workers = 1 if single_thread else effective_n_jobs(jobs)
        self._cores = 1 if single_thread else cpu_count()

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
        threads = max(1, self._cores // max(1, min(self._workers, len(jobs))))
        jobs = [replace(job, threads=threads) for job in jobs]
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
            rung = _rung(fold, job.rows, seed)
            threads = job.threads if len(rung.y_train) >= SINGLE_THREAD_MAX_ROWS else 1
            with threadpool_limits(threads):
                scores.append(_score_fold(job, rung, seed))
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
        rows=len(folds[0].y_train) if job.rows is None else job.rows,
    )


def _rung(fold: Fold, rows: int | None, seed: int) -> Fold:
    """The fold with a seeded, stratified `rows` of its training rows."""
    if rows is None or rows >= len(fold.y_train):
        return fold
    kept, _ = train_test_split(
        np.arange(len(fold.y_train)),
        train_size=rows,
        stratify=fold.y_train,
        random_state=seed,
    )
    kept.sort()
    return replace(fold, X_train=fold.X_train[kept], y_train=fold.y_train[kept])


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


def _score_fold(job: TrialJob, fold: Fold, seed: int) -> tuple[float, float, float]:
    estimator = build_estimator(job.family, job.params, seed, len(fold.y_train))
    if job.early_stop:
        estimator = stopping_early(estimator)
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
