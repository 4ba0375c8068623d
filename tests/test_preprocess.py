import numpy as np
import pandas as pd
import pytest

from mlopslab.config import DataConfig, SplitConfig
from mlopslab.data import Dataset, build_dataset, load_dataset
from mlopslab.errors import DataError
from mlopslab.preprocess import build_preprocessor, min_rows_per_class, split_dataset


@pytest.fixture(scope="module")
def penguins() -> Dataset:
    return load_dataset(DataConfig())


def test_split_is_stratified_disjoint_and_seeded(penguins: Dataset) -> None:
    split = split_dataset(penguins, SplitConfig(), cv_folds=4, seed=7)
    assert sum(split.sizes.values()) == len(penguins.frame)
    assert split.sizes["test"] == round(len(penguins.frame) * 0.2)
    overall = penguins.y.value_counts(normalize=True)
    for part in (split.y_train, split.y_valid, split.y_test):
        shares = part.value_counts(normalize=True)
        assert (shares - overall).abs().max() < 0.05
    again = split_dataset(penguins, SplitConfig(), cv_folds=4, seed=7)
    pd.testing.assert_frame_equal(split.X_test, again.X_test)
    other = split_dataset(penguins, SplitConfig(), cv_folds=4, seed=8)
    assert not split.X_test.equals(other.X_test)


def test_train_and_valid_concatenates(penguins: Dataset) -> None:
    split = split_dataset(penguins, SplitConfig(), cv_folds=4, seed=1)
    X, y = split.train_and_valid()
    assert len(X) == len(y) == split.sizes["train"] + split.sizes["valid"]


def test_too_few_rows_per_class_names_the_class() -> None:
    frame = pd.DataFrame({"a": range(40), "y": ["big"] * 37 + ["tiny"] * 3})
    dataset = build_dataset("d", "d.csv", frame, "y")
    with pytest.raises(DataError, match="class 'tiny' has 3 rows") as info:
        split_dataset(dataset, SplitConfig(), cv_folds=4, seed=0)
    assert str(min_rows_per_class(SplitConfig(), 4)) in info.value.message


def test_preprocessor_fits_on_training_rows_only(penguins: Dataset) -> None:
    split = split_dataset(penguins, SplitConfig(), cv_folds=4, seed=3)
    preprocessor = build_preprocessor(penguins.schema).fit(split.X_train)
    scaler = preprocessor.named_transformers_["numeric"].named_steps["scale"]
    train_means = split.X_train[penguins.schema.numeric].median()
    assert np.allclose(
        scaler.mean_,
        split.X_train[penguins.schema.numeric].fillna(train_means).mean().to_numpy(),
    )


def test_unknown_categories_and_missing_values_are_handled(penguins: Dataset) -> None:
    preprocessor = build_preprocessor(penguins.schema).fit(penguins.X)
    row = penguins.X.head(1).copy()
    row["island"] = "Atlantis"
    row["bill_length_mm"] = np.nan
    out = preprocessor.transform(row)
    assert not np.isnan(out).any()
    island = [name for name in preprocessor.get_feature_names_out() if "island" in name]
    columns = list(preprocessor.get_feature_names_out())
    assert all(out[0, columns.index(name)] == 0 for name in island)
