"""The golden test set: one frozen set of test rows per data source.

Every run on a source scores its candidate, and re-scores the champion, on
the same rows; rows that come later (labelled captures) only ever join
training and validation. Rows equal to a golden row are taken out of the
training side wherever they come from, so no copy of a test row is learned.

The first run carves the golden rows with a seeded, stratified split, or
takes the source's own test rows when it has them (an IDX folder with MNIST's
t10k files beside its train files); and, with `split.pool_size`, a pool of
rows held back as production traffic. Every run then splits what is left
into train and validation. Both steps are the same on the first run and the
later ones, so a run repeated with the same data and seed trains the same
model.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlopslab.config import SplitConfig
from mlopslab.data import BUILTIN_TARGETS, Dataset
from mlopslab.errors import DataError
from mlopslab.preprocess import Split, require_rows_per_class


@dataclass(frozen=True)
class Holdout:
    """The rows a source keeps out of training: the golden test rows, and the
    pool `simulate traffic` draws from. Both are frames with the target."""

    test: pd.DataFrame
    pool: pd.DataFrame


def source_key(dataset: Dataset) -> str:
    """The golden set's name for a source: readable, and unique per file.

    A saved training set keeps the key of the source it was split from.
    """
    if dataset.lineage is not None:
        return dataset.lineage.golden
    source = dataset.source
    if source not in BUILTIN_TARGETS and Path(source).exists():
        source = str(Path(source).resolve())
    digest = hashlib.sha256(f"{source}\x1f{dataset.target}".encode()).hexdigest()
    # Named for the source, not the dataset: a retrain's dataset takes the
    # model's name, and must find the same golden set.
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem).strip("-.") or "data"
    return f"{slug}-{digest[:10]}"


def carve_holdout(
    dataset: Dataset, cfg: SplitConfig, cv_folds: int, seed: int
) -> Holdout:
    """The first run's golden test rows (and pool), seeded and stratified;
    the source's own test rows when it has them (MNIST's t10k files)."""
    require_rows_per_class(dataset.y, cfg, cv_folds)
    frame, y = dataset.frame, dataset.y
    if dataset.official_test is not None:
        test = frame[dataset.official_test]
        rest = frame[~dataset.official_test]
    else:
        rest, test = train_test_split(
            frame, test_size=cfg.test_size, stratify=y, random_state=seed
        )
    pool = frame.iloc[:0]
    if cfg.pool_size > 0:
        rest, pool = train_test_split(
            rest,
            test_size=cfg.pool_size,
            stratify=rest[dataset.target],
            random_state=seed,
        )
    return Holdout(test.reset_index(drop=True), pool.reset_index(drop=True))


def check_holdout(test: pd.DataFrame, dataset: Dataset, version: int) -> None:
    """A golden set must have the data's columns and only its classes."""
    if list(test.columns) != list(dataset.frame.columns):
        missing = sorted(set(dataset.frame.columns) - set(test.columns))
        extra = sorted(set(test.columns) - set(dataset.frame.columns))
        raise DataError(
            f"the golden test set v{version} for {dataset.name} does not match "
            f"the data's columns (missing {missing}, extra {extra})",
            "run with --new-test-set to freeze a new golden test set",
        )
    unknown = sorted(set(test[dataset.target].astype(str)) - set(dataset.y))
    if unknown:
        raise DataError(
            f"the golden test set v{version} for {dataset.name} has classes "
            f"the data lacks: {unknown}",
            "run with --new-test-set to freeze a new golden test set",
        )


def split_around(
    dataset: Dataset,
    holdout: Holdout,
    cfg: SplitConfig,
    cv_folds: int,
    seed: int,
    rest: pd.DataFrame | None = None,
) -> Split:
    """Test = the golden rows; train and validation = every other row, minus
    any row equal to a held-out one (`rest`, when already computed)."""
    kept = remainder(dataset, holdout) if rest is None else rest
    X_rest, y_rest = kept.drop(columns=[dataset.target]), kept[dataset.target]
    _enough_for_training(y_rest, cfg, cv_folds)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=cfg.valid_size, stratify=y_rest, random_state=seed
    )
    test = holdout.test
    return Split(
        X_train=X_train.reset_index(drop=True),
        y_train=y_train.reset_index(drop=True),
        X_valid=X_valid.reset_index(drop=True),
        y_valid=y_valid.reset_index(drop=True),
        X_test=test.drop(columns=[dataset.target]).reset_index(drop=True),
        y_test=test[dataset.target].astype(str).reset_index(drop=True),
    )


def remainder(dataset: Dataset, holdout: Holdout) -> pd.DataFrame:
    """Every row but the held-out ones (and their copies), in the data's order:
    what train and validation are split from. Saved, it rebuilds the run."""
    held = pd.concat([holdout.test, holdout.pool], ignore_index=True)
    keep = ~row_keys(dataset.frame).isin(set(row_keys(held)))
    return dataset.frame[keep.to_numpy()].reset_index(drop=True)


def _enough_for_training(y: pd.Series, cfg: SplitConfig, cv_folds: int) -> None:
    needed = max(
        math.ceil(cv_folds / (1 - cfg.valid_size)), math.ceil(1 / cfg.valid_size)
    )
    counts = y.value_counts()
    too_small = counts[counts < needed]
    if not too_small.empty:
        label, count = str(too_small.index[0]), int(too_small.iloc[0])
        raise DataError(
            f"class '{label}' has {count} rows outside the golden test set; "
            f"training needs at least {needed}",
            "add rows for that class, lower tune.cv_folds, or run with --new-test-set",
        )


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """One hash per row of its values, alike whatever the columns' dtypes
    (an integer column read back as floats, a category as text)."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values
        ):
            columns[name] = values.astype("float64")
        else:
            columns[name] = values.astype(object).where(values.notna(), None).map(str)
    normal = pd.DataFrame(columns, index=frame.index)
    return pd.util.hash_pandas_object(normal, index=False).astype(np.uint64)
