"""Split the data and build the leakage-free preprocessing transformer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlopslab.config import SplitConfig
from mlopslab.data import Dataset, Schema
from mlopslab.errors import DataError
from mlopslab.pixels import image_preprocessor


@dataclass(frozen=True)
class Split:
    """Raw feature frames and labels for each part of a seeded, stratified split."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_valid: pd.DataFrame
    y_valid: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series

    @property
    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.y_train),
            "valid": len(self.y_valid),
            "test": len(self.y_test),
        }

    def train_and_valid(self) -> tuple[pd.DataFrame, pd.Series]:
        """Train plus validation, the rows the final model is refit on."""
        X = pd.concat([self.X_train, self.X_valid], ignore_index=True)
        y = pd.concat([self.y_train, self.y_valid], ignore_index=True)
        return X, y


def min_rows_per_class(cfg: SplitConfig, cv_folds: int) -> int:
    """Rows a class needs so that test, validation and every CV fold all see it."""
    train_share = (1 - cfg.test_size) * (1 - cfg.valid_size)
    valid_share = (1 - cfg.test_size) * cfg.valid_size
    return max(
        math.ceil(cv_folds / train_share),
        math.ceil(1 / cfg.test_size),
        math.ceil(1 / valid_share),
    )


def require_rows_per_class(y: pd.Series, cfg: SplitConfig, cv_folds: int) -> None:
    """Refuse, in one line, a class too small for the split to stratify."""
    needed = min_rows_per_class(cfg, cv_folds)
    counts = y.value_counts()
    too_small = counts[counts < needed]
    if not too_small.empty:
        label, count = str(too_small.index[0]), int(too_small.iloc[0])
        raise DataError(
            f"class '{label}' has {count} rows; the split needs at least "
            f"{needed} per class",
            "add rows for that class, drop it, or lower tune.cv_folds",
        )


def split_dataset(
    dataset: Dataset, cfg: SplitConfig, cv_folds: int, seed: int
) -> Split:
    """Stratified train/validation/test split; the test set is carved out first."""
    require_rows_per_class(dataset.y, cfg, cv_folds)
    X, y = dataset.X, dataset.y
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=cfg.test_size, stratify=y, random_state=seed
    )
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=cfg.valid_size, stratify=y_rest, random_state=seed
    )
    return Split(
        X_train=X_train.reset_index(drop=True),
        y_train=y_train.reset_index(drop=True),
        X_valid=X_valid.reset_index(drop=True),
        y_valid=y_valid.reset_index(drop=True),
        X_test=X_test.reset_index(drop=True),
        y_test=y_test.reset_index(drop=True),
    )


# One-hot columns per categorical column at most: the rarest categories share
# one, so that the (dense) features cannot grow with rows x categories.
MAX_CATEGORIES = 30


def _wide_preprocessor(schema: Schema, numeric: Pipeline) -> ColumnTransformer:
    """`build_preprocessor` for tables with timestamps or many categories:
    at most MAX_CATEGORIES one-hot columns per category column (unseen and
    rare categories share the last), and timestamps as their numeric parts."""
    from mlopslab.columns import date_parts_transformer

    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=MAX_CATEGORIES,
                    sparse_output=False,
                ),
            ),
        ]
    )
    parts = [
        ("numeric", numeric, schema.numeric),
        ("categorical", categorical, schema.categorical),
    ]
    if schema.timestamps:
        steps = Pipeline(
            [
                ("parts", date_parts_transformer(schema.timestamps)),
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
            ]
        )
        parts.append(("timestamps", steps, [t.column for t in schema.timestamps]))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def build_preprocessor(schema: Schema) -> ColumnTransformer:
    """Impute and scale numbers; impute and one-hot categories, ignoring unseen ones."""
    if schema.image is not None:
        return image_preprocessor(schema.features, schema.image)
    numeric = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    wide = any(len(c.categories) > MAX_CATEGORIES for c in schema.columns)
    if wide or schema.timestamps:
        return _wide_preprocessor(schema, numeric)
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, schema.numeric),
            ("categorical", categorical, schema.categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
