"""Which raw input columns a fitted model relies on: permutation importance.

Why permutation, and why on the raw frame: the model is a whole scikit-learn
pipeline (preprocessing, then a classifier), and people ask about the columns
they send it, not about the one-hot or scaled features inside. Shuffling one
raw column across rows breaks its link with everything else while keeping its
distribution; how much worse the pipeline then predicts is how much it relied
on that column. The same recipe works for every model family.

Why groups: when two columns carry the same information (a measurement and
its copy in other units, say), shuffling one leaves the other to stand in for
it and both look unimportant. Numeric columns whose |Spearman rho| reaches
`threshold` are therefore shuffled together, with one row permutation.

Two modes:

- with labels (`y` given): importance is the mean increase in log loss over
  `repeats` shuffles (what the model is tuned on, so small effects show), and
  `accuracy_drop` the mean drop in accuracy (easier to read);
- label-free (`y=None`, for monitoring windows without ground truth):
  importance is the mean absolute change of the predicted probabilities (over
  rows and classes), and `accuracy_drop` the share of predicted classes that
  change. It measures reliance, not correctness, so compare it only with
  other label-free importances (`Importance.labelled` says which mode).

Predicted classes are the argmax of `predict_proba`, for the unshuffled rows
too, so both sides of every comparison come from the same call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from mlopslab.errors import StageError
from mlopslab.train import SINGLE_THREAD_MAX_ROWS

# Fewer rows with both values present than this, and a correlation means
# nothing (two points always lie on a line): such a pair is never grouped.
MIN_PAIRED_ROWS = 10


class Classifier(Protocol):
    """What permutation importance needs: a fitted classifier on the raw frame."""

    @property
    def classes_(self) -> Any: ...

    def predict_proba(self, X: pd.DataFrame) -> Any: ...


@dataclass(frozen=True)
class ColumnImportance:
    columns: tuple[str, ...]  # one raw column, or correlated ones shuffled together
    mean: float  # log-loss increase (label-free: mean probability change)
    std: float  # over the repeats
    accuracy_drop: float  # label-free: share of predicted classes that changed

    @property
    def label(self) -> str:
        return " + ".join(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "mean": self.mean,
            "std": self.std,
            "accuracy_drop": self.accuracy_drop,
        }


@dataclass(frozen=True)
class Importance:
    items: tuple[ColumnImportance, ...]  # most important first; ties by column name
    repeats: int
    rows: int  # rows shuffled (after subsampling)
    grouped_at: float  # the |Spearman rho| threshold used to group columns
    labelled: bool = True  # False: the label-free mode (see the module docstring)

    def ranking(self) -> dict[str, float]:
        """Column -> importance, a group's value given to each of its columns.

        Groups can differ between two data sets (correlations move); per-column
        values can always be compared.
        """
        return {column: item.mean for item in self.items for column in item.columns}

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "repeats": self.repeats,
            "rows": self.rows,
            "grouped_at": self.grouped_at,
            "labelled": self.labelled,
        }

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> Importance:
        """Raises KeyError, TypeError or ValueError for a dict of another shape."""
        return cls(
            items=tuple(
                ColumnImportance(
                    columns=tuple(str(c) for c in item["columns"]),
                    mean=float(item["mean"]),
                    std=float(item["std"]),
                    accuracy_drop=float(item["accuracy_drop"]),
                )
                for item in content["items"]
            ),
            repeats=int(content["repeats"]),
            rows=int(content["rows"]),
            grouped_at=float(content["grouped_at"]),
            labelled=bool(content.get("labelled", True)),
        )


def correlated_groups(
    X: pd.DataFrame, numeric: Sequence[str], threshold: float = 0.8
) -> list[tuple[str, ...]]:
    """X's columns in groups: correlated numeric columns together, the rest alone.

    Complete linkage on 1 - |Spearman rho|, so every pair inside a group has
    |rho| >= threshold (a chain of merely neighbouring columns is not one
    group). Rho uses the rows where both values are present; a constant column,
    or a pair with fewer than MIN_PAIRED_ROWS such rows, correlates with
    nothing. Groups keep X's column order and come in the order of their first
    column. Names in `numeric` that are not X's columns are ignored.
    """
    _check_threshold(threshold)
    wanted = set(numeric)
    candidates = [c for c in X.columns if c in wanted]
    # Every column starts alone; clustered numeric columns share their cluster's key.
    key_of: dict[str, tuple[str, Any]] = {c: ("column", c) for c in X.columns}
    if len(candidates) > 1:
        clusters = _complete_linkage(_spearman(X[candidates]), threshold)
        for column, cluster in zip(candidates, clusters, strict=True):
            key_of[column] = ("cluster", int(cluster))
    groups: dict[tuple[str, Any], list[str]] = {}
    for column in X.columns:
        groups.setdefault(key_of[column], []).append(column)
    return [tuple(columns) for columns in groups.values()]


def permutation_importance(
    model: Classifier,
    X: pd.DataFrame,
    y: pd.Series | None,
    numeric: Sequence[str],
    *,
    repeats: int = 5,
    seed: int = 0,
    threshold: float = 0.8,
    max_rows: int = 2000,
) -> Importance:
    """Shuffle each group of raw columns `repeats` times; see the module docstring.

    Rows beyond `max_rows` are dropped first (a seeded sample): the ranking
    settles long before the error bars shrink to nothing. One generator seeded
    with `seed` draws the sample and every permutation, so the same inputs give
    the same result.
    """
    _check_inputs(model, X, y, repeats, max_rows)
    rng = np.random.default_rng(seed)
    X, y = _subsample(X, y, max_rows, rng)
    groups = correlated_groups(X, numeric, threshold)
    # The unshuffled rows stacked `repeats` times: each group's shuffles replace
    # only its own columns, and all repeats go through one predict_proba call
    # (one call costs about the same for 70 rows as for 350).
    stacked = X.iloc[np.tile(np.arange(len(X)), repeats)].reset_index(drop=True)
    # As in the final fit: on small batches OpenMP threads only spin (a first
    # HistGradientBoosting predict on 345 rows took 0.5-4 s on 2 busy cores).
    threads = 1 if len(stacked) < SINGLE_THREAD_MAX_ROWS else None
    items = []
    with threadpool_limits(threads):
        score = _scorer(model, _proba(model, X), y)
        for group in groups:
            order = np.concatenate([rng.permutation(len(X)) for _ in range(repeats)])
            shuffled = _shuffle(stacked, X, group, order)
            proba = _proba(model, shuffled).reshape(repeats, len(X), -1)
            items.append(_summarise(group, *score(proba)))
    items.sort(key=lambda item: (-item.mean, item.columns))
    return Importance(
        items=tuple(items),
        repeats=repeats,
        rows=len(X),
        grouped_at=threshold,
        labelled=y is not None,
    )


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise StageError(
            f"correlation threshold {threshold} is outside (0, 1]",
            "pass a |Spearman rho| such as 0.8; 1 groups only exact rank copies",
        )


def _check_inputs(
    model: Classifier, X: pd.DataFrame, y: pd.Series | None, repeats: int, rows: int
) -> None:
    if not hasattr(model, "predict_proba"):
        raise StageError(
            "permutation importance needs a model with predict_proba",
            "explain a fitted classifier pipeline whose last step has predict_proba",
        )
    if repeats < 1 or rows < 1:
        raise StageError(
            f"repeats ({repeats}) and max_rows ({rows}) must be at least 1",
            "pass positive values",
        )
    if X.empty:
        raise StageError("no rows to explain", "pass a frame with rows")
    if y is not None and len(y) != len(X):
        raise StageError(
            f"{len(X)} rows but {len(y)} labels",
            "pass the labels of exactly these rows, or y=None",
        )


def _subsample(
    X: pd.DataFrame, y: pd.Series | None, max_rows: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.Series | None]:
    if len(X) <= max_rows:
        return X, y
    keep = np.sort(rng.choice(len(X), size=max_rows, replace=False))
    return X.iloc[keep], None if y is None else y.iloc[keep]


def _summarise(
    group: tuple[str, ...], increases: np.ndarray, drops: np.ndarray
) -> ColumnImportance:
    return ColumnImportance(
        columns=group,
        mean=float(np.mean(increases)),
        std=float(np.std(increases)),
        accuracy_drop=float(np.mean(drops)),
    )


def _proba(model: Classifier, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X))


def _shuffle(
    stacked: pd.DataFrame, X: pd.DataFrame, group: tuple[str, ...], order: np.ndarray
) -> pd.DataFrame:
    """`stacked` with the group's columns taken from X in `order` (one permutation
    for the whole group, so the columns stay consistent with each other)."""
    shuffled = stacked.copy(deep=False)  # shares the other columns' data
    for column in group:
        # take() keeps the column's dtype (categoricals, pandas strings).
        shuffled[column] = X[column].take(order).set_axis(stacked.index)
    return shuffled


Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _scorer(model: Classifier, baseline: np.ndarray, y: pd.Series | None) -> Scorer:
    """A function from shuffled probabilities (repeats, rows, classes) to the
    per-repeat importances and accuracy drops, in the mode `y` selects."""
    classes = np.asarray(model.classes_)
    predicted = baseline.argmax(axis=1)
    if y is None:

        def label_free(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            change = np.abs(proba - baseline).mean(axis=(1, 2))
            flipped = (proba.argmax(axis=2) != predicted).mean(axis=1)
            return change, flipped

        return label_free
    truth = _class_positions(classes, y)
    base_loss = _log_loss(baseline[np.newaxis], truth)
    base_accuracy = np.mean(predicted == truth)

    def labelled(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        accuracy = (proba.argmax(axis=2) == truth).mean(axis=1)
        return _log_loss(proba, truth) - base_loss, base_accuracy - accuracy

    return labelled


def _class_positions(classes: np.ndarray, y: pd.Series) -> np.ndarray:
    positions = pd.Index(classes).get_indexer(pd.Index(y))
    if (positions < 0).any():
        unknown = sorted({str(v) for v in y[positions < 0]})[:5]
        raise StageError(
            f"labels the model does not know: {', '.join(unknown)}",
            "explain with labels from the model's classes, or with y=None",
        )
    return positions


def _log_loss(proba: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """sklearn's log_loss (labels=classes_) for each leading slice of `proba`.

    Written out because it is called once per group on all repeats at once;
    clipping to the dtype's eps as sklearn does keeps the two identical.
    """
    eps = np.finfo(proba.dtype).eps
    picked = proba[:, np.arange(len(truth)), truth]
    return -np.log(np.clip(picked, eps, 1 - eps)).mean(axis=1)


def _spearman(frame: pd.DataFrame) -> np.ndarray:
    """|rho| matrix; 0 where undefined (constant columns, too few paired rows)."""
    values = frame.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        # Pairwise complete rows: pandas ranks each pair's shared rows.
        rho = frame.astype(float).corr(method="spearman", min_periods=MIN_PAIRED_ROWS)
        matrix = rho.to_numpy()
    elif len(values) < MIN_PAIRED_ROWS:
        matrix = np.zeros((values.shape[1], values.shape[1]))
    else:
        # No missing values: rank once, then one matrix product (fast when wide).
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.corrcoef(rankdata(values, axis=0), rowvar=False)
    return np.nan_to_num(np.abs(matrix), nan=0.0)


def _complete_linkage(rho: np.ndarray, threshold: float) -> np.ndarray:
    """A cluster number per column; no cluster holds a pair with |rho| < threshold."""
    distance = np.clip(1.0 - rho, 0.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2  # exact symmetry for squareform
    tree = linkage(squareform(distance, checks=False), method="complete")
    # A hair above 1 - threshold, so a pair exactly at the threshold groups.
    return np.asarray(fcluster(tree, t=1.0 - threshold + 1e-9, criterion="distance"))
