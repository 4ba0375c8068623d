import numpy as np
import pandas as pd
import pytest

from mlopslab.config import DataConfig, SplitConfig
from mlopslab.data import Dataset, Image, build_dataset, load_dataset
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


def test_digits_pixels_are_scaled_together_onto_zero_to_one() -> None:
    digits = load_dataset(DataConfig(source="digits"))
    split = split_dataset(digits, SplitConfig(), cv_folds=4, seed=0)
    preprocessor = build_preprocessor(digits.schema).fit(split.X_train)
    out = preprocessor.transform(split.X_test)
    # The format's range, 0 to 16, for every pixel: not each pixel's own.
    assert np.allclose(out, split.X_test.to_numpy() / 16.0)
    assert list(preprocessor.get_feature_names_out()) == digits.schema.features


def test_image_preprocessor_maps_the_range_and_imputes_a_pixel() -> None:
    frame = pd.DataFrame(
        {
            "p0": [0.0, 5.0, 5.0, 1.0] * 5,  # dark: stays dark
            "p1": [10.0, 0.0, 4.0, np.nan] * 5,
            "p2": [-5.0, 5.0, 5.0, 15.0] * 5,
            "p3": [2.0, 2.0, 2.0, 2.0] * 5,  # constant: not a division by zero
            "y": ["a", "b"] * 10,
        }
    )
    dataset = build_dataset("img", "img", frame, "y", Image(2, 2, -5.0, 15.0))
    preprocessor = build_preprocessor(dataset.schema).fit(dataset.X)
    out = preprocessor.transform(dataset.X)
    expected = (dataset.X.to_numpy() + 5.0) / 20.0
    expected[3::4, 1] = (4.0 + 5.0) / 20.0  # p1's median, 4, scaled as any pixel
    assert np.allclose(out, expected)
    # A row missing a pixel at prediction time is imputed from training rows.
    row = pd.DataFrame({"p0": [np.nan], "p1": [0.0], "p2": [15.0], "p3": [2.0]})
    # p0's training median is 3: (3 + 5) / 20.
    assert np.allclose(preprocessor.transform(row), [[0.4, 0.25, 1.0, 0.35]])


def test_a_table_is_still_standardised_per_column(penguins: Dataset) -> None:
    assert penguins.schema.image is None
    preprocessor = build_preprocessor(penguins.schema)
    assert [name for name, *_ in preprocessor.transformers] == [
        "numeric",
        "categorical",
    ]


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
