"""Permutation importance through a real pipeline, on the raw frame.

The synthetic frame's label depends on `a` only; `b` is an exact copy of `a`,
`c` numeric noise and `d` categorical noise. Penguins checks a real fitted
pipeline from mlopslab's own training stage, and its speed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlopslab.config import SplitConfig
from mlopslab.data import build_dataset
from mlopslab.errors import StageError
from mlopslab.explain import (
    ColumnImportance,
    Importance,
    correlated_groups,
    permutation_importance,
)
from mlopslab.preprocess import split_dataset
from mlopslab.train import fit_final

NUMERIC = ["a", "b", "c"]


def synthetic(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    X = pd.DataFrame(
        {
            "a": a,
            "b": a.copy(),
            "c": rng.normal(size=rows),
            "d": rng.choice(["x", "y", "z"], size=rows),
        }
    )
    return X, pd.Series(np.where(a > 0, "pos", "neg"), name="label")


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, pd.DataFrame, pd.Series]:
    """A pipeline fitted on one sample, and a fresh sample to explain it on."""
    X, y = synthetic(400, seed=1)
    pipeline = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", StandardScaler(), NUMERIC),
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["d"]),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    X_test, y_test = synthetic(200, seed=2)
    return pipeline, X_test, y_test


class Spy:
    """The pipeline, recording every frame it is asked to predict."""

    def __init__(self, model: Pipeline) -> None:
        self.model = model
        self.frames: list[pd.DataFrame] = []

    @property
    def classes_(self) -> Any:
        return self.model.classes_

    def predict_proba(self, X: pd.DataFrame) -> Any:
        self.frames.append(X.copy())
        return self.model.predict_proba(X)


def by_columns(importance: Importance) -> dict[tuple[str, ...], ColumnImportance]:
    return {item.columns: item for item in importance.items}


def test_the_copied_signal_is_grouped_and_ranked_first_and_noise_is_near_zero(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    importance = permutation_importance(pipeline, X, y, NUMERIC)
    top, items = importance.items[0], by_columns(importance)
    assert top.columns == ("a", "b")
    assert top.mean > 0.5 and top.accuracy_drop > 0.3
    for noise in (("c",), ("d",)):
        assert abs(items[noise].mean) < 0.02 * top.mean
        assert abs(items[noise].accuracy_drop) < 0.02
    assert importance.labelled and importance.repeats == 5 and importance.rows == 200
    assert importance.grouped_at == 0.8
    means = [item.mean for item in importance.items]
    assert means == sorted(means, reverse=True)


def test_the_same_seed_gives_the_same_result_and_another_seed_another(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    first = permutation_importance(pipeline, X, y, NUMERIC, seed=3)
    assert permutation_importance(pipeline, X, y, NUMERIC, seed=3) == first
    assert permutation_importance(pipeline, X, y, NUMERIC, seed=4) != first


def test_label_free_mode_ranks_the_same_column_first(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, _ = fitted
    importance = permutation_importance(pipeline, X, None, NUMERIC)
    assert not importance.labelled
    top, items = importance.items[0], by_columns(importance)
    assert top.columns == ("a", "b")
    # Probabilities move a lot, and about half the predicted classes flip.
    assert top.mean > 0.2 and 0.3 < top.accuracy_drop < 0.7
    for noise in (("c",), ("d",)):
        assert items[noise].mean < 0.05 * top.mean


def test_a_group_is_shuffled_with_one_permutation_in_one_call_per_group(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    spy = Spy(pipeline)
    importance = permutation_importance(spy, X, y, NUMERIC, repeats=4)
    # One call for the unshuffled rows, then one per group with every repeat.
    assert len(spy.frames) == 1 + len(importance.items) == 4
    pd.testing.assert_frame_equal(spy.frames[0], X)
    for frame in spy.frames[1:]:
        assert len(frame) == 4 * len(X) and list(frame.columns) == list(X.columns)
        assert (frame["a"] == frame["b"]).all()  # the copy stays a copy
    group_frame = spy.frames[1]  # groups go in column order: ("a", "b") first
    for repeat in range(4):
        block = group_frame.iloc[repeat * len(X) : (repeat + 1) * len(X)]
        assert sorted(block["a"]) == sorted(X["a"])  # a permutation of the column
        assert not np.array_equal(block["a"], X["a"])
        # Columns outside the group are the unshuffled rows.
        np.testing.assert_array_equal(block["c"], X["c"])
        np.testing.assert_array_equal(block["d"], X["d"])


def test_importance_is_sklearns_log_loss_increase_and_accuracy_drop(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    spy = Spy(pipeline)
    importance = permutation_importance(spy, X, y, NUMERIC, repeats=1)
    shuffled = spy.frames[1]  # the ("a", "b") group, one repeat
    labels = pipeline.classes_
    expected = log_loss(y, pipeline.predict_proba(shuffled), labels=labels) - log_loss(
        y, pipeline.predict_proba(X), labels=labels
    )
    drop = accuracy_score(y, pipeline.predict(X)) - accuracy_score(
        y, pipeline.predict(shuffled)
    )
    top = by_columns(importance)[("a", "b")]
    assert top.mean == pytest.approx(expected, rel=1e-9)
    assert top.accuracy_drop == pytest.approx(drop)
    assert top.std == 0.0  # one repeat


def test_large_frames_are_subsampled_with_the_seed(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    spy = Spy(pipeline)
    importance = permutation_importance(spy, X, y, NUMERIC, repeats=2, max_rows=50)
    assert importance.rows == 50
    assert len(spy.frames[0]) == 50 and len(spy.frames[1]) == 100
    again = permutation_importance(pipeline, X, y, NUMERIC, repeats=2, max_rows=50)
    assert again == importance


def test_labels_the_model_never_saw_are_refused(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    with pytest.raises(StageError, match="labels the model does not know: maybe"):
        permutation_importance(pipeline, X, y.where(y != "pos", "maybe"), NUMERIC)
    with pytest.raises(StageError, match="200 rows but 10 labels"):
        permutation_importance(pipeline, X, y.head(10), NUMERIC)


def test_correlated_numeric_columns_are_grouped_and_the_rest_stand_alone() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=200)
    X = pd.DataFrame(
        {
            "category": rng.choice(["p", "q"], size=200),
            "base": base,
            "noise": rng.normal(size=200),
            "mirrored": -base,  # strong negative correlation groups too
            "cubed": np.where(np.arange(200) % 7 == 0, np.nan, base**3),  # NaN gaps
            "constant": np.full(200, 4.0),
            "also_constant": np.full(200, 4.0),
            "halfway": base + rng.normal(scale=1.0, size=200),  # rho about 0.7
        }
    )
    numeric = [c for c in X.columns if c != "category"]
    groups = correlated_groups(X, numeric)
    assert groups == [
        ("category",),
        ("base", "mirrored", "cubed"),
        ("noise",),
        ("constant",),
        ("also_constant",),
        ("halfway",),
    ]
    # A lower threshold takes in the weaker correlation.
    assert ("base", "mirrored", "cubed", "halfway") in correlated_groups(
        X, numeric, threshold=0.6
    )
    # A column not listed as numeric is never grouped.
    assert ("base",) in correlated_groups(X, ["mirrored", "cubed"])


def test_grouping_needs_enough_rows_with_both_values() -> None:
    base = np.arange(40, dtype=float)
    sparse = np.full(40, np.nan)
    sparse[:5] = base[:5]  # only five paired rows: a line through anything
    X = pd.DataFrame({"base": base, "sparse": sparse, "copy": base * 2})
    assert correlated_groups(X, list(X.columns)) == [("base", "copy"), ("sparse",)]
    few = X.head(5)[["base", "copy"]]
    assert correlated_groups(few, ["base", "copy"]) == [("base",), ("copy",)]


def test_an_impossible_threshold_is_refused() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(StageError, match="outside"):
        correlated_groups(X, ["a"], threshold=0.0)


def test_to_dict_round_trips_through_json_and_ranking_spreads_groups() -> None:
    importance = Importance(
        items=(
            ColumnImportance(("a", "b"), 0.5, 0.1, 0.25),
            ColumnImportance(("c",), 0.0, 0.0, 0.0),
        ),
        repeats=5,
        rows=200,
        grouped_at=0.8,
        labelled=False,
    )
    content = json.loads(json.dumps(importance.to_dict()))
    assert Importance.from_dict(content) == importance
    assert importance.ranking() == {"a": 0.5, "b": 0.5, "c": 0.0}


def test_ties_are_ordered_by_column_name(
    fitted: tuple[Pipeline, pd.DataFrame, pd.Series],
) -> None:
    pipeline, X, y = fitted
    # Columns the pipeline drops change nothing: exactly zero, in name order.
    ignored = X.assign(zz=1.0, yy="w", xx=2.0)
    importance = permutation_importance(pipeline, ignored, y, NUMERIC)
    order = [item.columns for item in importance.items]
    zeros = [item.columns for item in importance.items if item.mean == 0.0]
    assert zeros == [("xx",), ("yy",), ("zz",)]
    assert order.index(("zz",)) == order.index(("xx",)) + 2  # together, in order


@pytest.fixture(scope="module")
def penguins() -> tuple[Pipeline, pd.DataFrame, pd.Series, list[str]]:
    """mlopslab's own logistic-regression pipeline and its penguins test set."""
    frame = load_penguins().dropna(subset=["species"])
    dataset = build_dataset("penguins", "penguins", frame, "species")
    split = split_dataset(dataset, SplitConfig(), cv_folds=5, seed=0)
    pipeline = fit_final(
        split.X_train, split.y_train, dataset.schema, "logreg", {"C": 1.0}, seed=0
    )
    return pipeline, split.X_test, split.y_test, dataset.schema.numeric


@pytest.mark.parametrize("labelled", [True, False])
def test_penguins_bills_and_flippers_matter_more_than_the_year_and_fast(
    penguins: tuple[Pipeline, pd.DataFrame, pd.Series, list[str]], labelled: bool
) -> None:
    pipeline, X, y, numeric = penguins
    labels = y if labelled else None
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        importance = permutation_importance(pipeline, X, labels, numeric, repeats=5)
        seconds.append(time.perf_counter() - start)
    # About 40 ms on 2 cores; the best of three keeps a busy machine's pauses out.
    assert min(seconds) < 0.5
    assert importance.rows == len(X) == 69
    ranking = importance.ranking()
    for column in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm"):
        assert ranking[column] > ranking["year"] + 0.01
    assert importance.items[0].columns == ("bill_length_mm",)
