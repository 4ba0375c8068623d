"""Build the estimator of each model family, and fit the chosen one."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
from joblib import cpu_count
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlopslab.data import Schema
from mlopslab.errors import StageError
from mlopslab.preprocess import build_preprocessor

TORCH_FAMILIES = ("torch_mlp", "torch_cnn")
# Above this many rows the MLP switches from L-BFGS (fast on small data) to Adam.
MLP_LBFGS_MAX_ROWS = 5_000
# Fits on fewer rows than this run on one thread (as tuning trials do): on
# small arrays OpenMP and BLAS threads spend more time waiting than working
# (10k rows on a busy 2-core machine: about 10x slower with two threads).
SINGLE_THREAD_MAX_ROWS = 20_000


def build_estimator(
    family: str, params: dict[str, Any], seed: int, n_rows: int
) -> ClassifierMixin:
    """A fresh, seeded estimator of one family."""
    if family == "logreg":
        return LogisticRegression(C=params["C"], max_iter=2000)
    if family == "hist_gb":
        return HistGradientBoostingClassifier(
            learning_rate=params["learning_rate"],
            max_leaf_nodes=params["max_leaf_nodes"],
            max_iter=params["max_iter"],
            l2_regularization=params["l2_regularization"],
            early_stopping=False,
            random_state=seed,
        )
    if family == "mlp":
        return MLPClassifier(
            hidden_layer_sizes=(params["hidden_units"],),
            alpha=params["alpha"],
            solver="lbfgs" if n_rows <= MLP_LBFGS_MAX_ROWS else "adam",
            max_iter=500,
            random_state=seed,
        )
    if family in TORCH_FAMILIES:
        return _torch_estimator(family, params, seed)
    if family == "random_forest":
        return RandomForestClassifier(
            n_estimators=params["n_estimators"],
            max_depth=params["max_depth"],
            random_state=seed,
            n_jobs=1,
        )
    raise StageError(f"unknown model family '{family}'", "choose one of tune.families")


def _torch_estimator(family: str, params: dict[str, Any], seed: int) -> ClassifierMixin:
    from mlopslab.neural import TorchCNNClassifier, TorchMLPClassifier

    if family == "torch_mlp":
        return TorchMLPClassifier(**params, random_state=seed)
    return TorchCNNClassifier(**params, random_state=seed)


def build_pipeline(
    schema: Schema, family: str, params: dict[str, Any], seed: int, n_rows: int
) -> Pipeline:
    """Preprocessing and estimator as one scikit-learn Pipeline."""
    return Pipeline(
        [
            ("preprocess", build_preprocessor(schema)),
            ("model", build_estimator(family, params, seed, n_rows)),
        ]
    )


def fit_final(
    X: pd.DataFrame,
    y: pd.Series,
    schema: Schema,
    family: str,
    params: dict[str, Any],
    seed: int,
    early_stop: bool = False,
) -> Pipeline:
    """Refit the chosen family and parameters on the given rows (`early_stop`
    as the trials had it: see `stopping_early`)."""
    pipeline = build_pipeline(schema, family, params, seed, len(X))
    if early_stop:
        stopping_early(pipeline.named_steps["model"])
    # On small data OpenMP threads only spin: with HistGradientBoosting on a busy
    # 2-core machine the default threads made this fit about 10x slower than one.
    # On large data every core, said explicitly (a worker's limit is not inherited).
    threads = 1 if len(X) < SINGLE_THREAD_MAX_ROWS else cpu_count()
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y)
    return pipeline


def stopping_early(estimator: ClassifierMixin) -> ClassifierMixin:
    """For large data: boosting and the MLP hold out a tenth of their rows and
    stop once it has not improved for 10 rounds (boosting) or 5 epochs (MLP).
    The other families are returned as they are."""
    if isinstance(estimator, HistGradientBoostingClassifier):
        estimator.set_params(
            early_stopping=True, n_iter_no_change=10, validation_fraction=0.1
        )
    elif isinstance(estimator, MLPClassifier):
        estimator.set_params(
            early_stopping=True, n_iter_no_change=5, validation_fraction=0.1
        )
    return estimator
