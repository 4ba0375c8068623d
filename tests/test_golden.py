"""The golden test set as a pure stage: carving it, checking it, splitting around it."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlopslab.config import DataConfig, SplitConfig
from mlopslab.data import Dataset, Lineage, build_dataset, load_dataset
from mlopslab.errors import DataError
from mlopslab.golden import (
    Holdout,
    carve_holdout,
    check_holdout,
    remainder,
    row_keys,
    source_key,
    split_around,
)
from mlopslab.preprocess import min_rows_per_class


@pytest.fixture(scope="module")
def penguins() -> Dataset:
    return load_dataset(DataConfig())


def common_rows(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Rows of `a` equal to a row of `b`, compared by pandas (NaN meets NaN),
    not by row_keys: the check does not lean on the code it checks."""
    return len(a.drop_duplicates().merge(b.drop_duplicates(), how="inner"))


def numbers_and_text(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "n": rng.integers(0, 10_000, rows),
            "x": rng.normal(size=rows),
            "c": rng.choice(["a", "b", "c"], rows),
            "y": np.repeat(["p", "q"], rows // 2),
        }
    )


def test_carve_holdout_is_stratified_and_seeded(penguins: Dataset) -> None:
    holdout = carve_holdout(penguins, SplitConfig(), cv_folds=4, seed=7)
    assert len(holdout.test) == round(len(penguins.frame) * 0.2)
    assert list(holdout.test.columns) == list(penguins.frame.columns)
    assert holdout.pool.empty  # split.pool_size is 0 by default
    overall = penguins.y.value_counts(normalize=True)
    shares = holdout.test["species"].value_counts(normalize=True)
    assert (shares - overall).abs().max() < 0.02
    again = carve_holdout(penguins, SplitConfig(), cv_folds=4, seed=7)
    pd.testing.assert_frame_equal(holdout.test, again.test)
    other = carve_holdout(penguins, SplitConfig(), cv_folds=4, seed=8)
    assert common_rows(holdout.test, other.test) < len(holdout.test)


def test_the_pool_is_held_back_apart_from_the_test_rows(penguins: Dataset) -> None:
    cfg = SplitConfig(pool_size=0.2)
    holdout = carve_holdout(penguins, cfg, cv_folds=4, seed=0)
    assert len(holdout.test) == 69
    assert len(holdout.pool) == round((len(penguins.frame) - 69) * 0.2)
    assert common_rows(holdout.pool, holdout.test) == 0
    overall = penguins.y.value_counts(normalize=True)
    shares = holdout.pool["species"].value_counts(normalize=True)
    assert (shares - overall).abs().max() < 0.03
    # Neither the test rows nor the pool are left to train on.
    rest = remainder(penguins, holdout)
    assert len(rest) == len(penguins.frame) - 69 - len(holdout.pool)
    assert common_rows(rest, holdout.test) == common_rows(rest, holdout.pool) == 0


def test_a_class_too_small_to_carve_is_named() -> None:
    frame = pd.DataFrame({"a": range(40), "y": ["big"] * 37 + ["tiny"] * 3})
    data = build_dataset("d", "d.csv", frame, "y")
    with pytest.raises(DataError) as info:
        carve_holdout(data, SplitConfig(), cv_folds=4, seed=0)
    needed = min_rows_per_class(SplitConfig(), 4)
    assert info.value.message == (
        f"class 'tiny' has 3 rows; the split needs at least {needed} per class"
    )
    assert "\n" not in info.value.one_line()


def test_a_class_the_golden_set_took_nearly_all_of_is_named() -> None:
    frame = pd.DataFrame({"a": range(112), "y": ["big"] * 100 + ["q"] * 12})
    data = build_dataset("d", "d.csv", frame, "y")
    golden = pd.concat([frame[frame["y"] == "q"].head(8), frame.head(10)])
    with pytest.raises(DataError) as info:
        split_around(data, Holdout(golden, golden.iloc[:0]), SplitConfig(), 4, 0)
    message = info.value.one_line()
    assert "class 'q' has 4 rows outside the golden test set" in message
    assert "--new-test-set" in message and "\n" not in message


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("n", "float64"),  # an integer column read back as floats
        ("c", "category"),  # a text column read back as a category
    ],
)
def test_split_around_never_trains_on_a_golden_row_or_a_copy(
    column: str, dtype: str
) -> None:
    frame = numbers_and_text()
    data = build_dataset("d", "d.csv", frame, "y")
    holdout = carve_holdout(data, SplitConfig(), cv_folds=4, seed=0)
    # Later data holds the golden rows again, and copies of some of them,
    # with one column in another dtype (labelled captures, an edited file).
    copies = holdout.test.head(15)
    grown = pd.concat([frame, copies], ignore_index=True).astype({column: dtype})
    later = build_dataset("d", "d.csv", grown, "y")
    assert later.frame[column].dtype != holdout.test[column].dtype
    split = split_around(later, holdout, SplitConfig(), cv_folds=4, seed=0)
    same = {column: holdout.test[column].dtype}
    for X, y in ((split.X_train, split.y_train), (split.X_valid, split.y_valid)):
        seen = X.assign(y=y).astype(same)
        assert common_rows(seen, holdout.test) == 0
    assert split.sizes["train"] + split.sizes["valid"] == len(frame) - 40
    # The test rows are exactly the golden rows, in their order.
    pd.testing.assert_frame_equal(split.X_test, holdout.test.drop(columns="y"))
    assert split.y_test.tolist() == holdout.test["y"].astype(str).tolist()


def test_split_around_is_seeded_and_every_other_row_trains() -> None:
    data = build_dataset("d", "d.csv", numbers_and_text(), "y")
    holdout = carve_holdout(data, SplitConfig(), cv_folds=4, seed=3)
    split = split_around(data, holdout, SplitConfig(), cv_folds=4, seed=3)
    again = split_around(data, holdout, SplitConfig(), cv_folds=4, seed=3)
    pd.testing.assert_frame_equal(split.X_train, again.X_train)
    X, y = split.train_and_valid()
    rest = remainder(data, holdout)
    assert common_rows(X.assign(y=y), rest) == len(rest) == len(X)


def test_remainder_keeps_the_datas_order() -> None:
    data = build_dataset("d", "d.csv", numbers_and_text(), "y")
    holdout = carve_holdout(data, SplitConfig(), cv_folds=4, seed=0)
    rest = remainder(data, holdout)
    kept = data.frame.merge(holdout.test, how="left", indicator=True)
    expected = data.frame[(kept["_merge"] == "left_only").to_numpy()]
    pd.testing.assert_frame_equal(rest, expected.reset_index(drop=True))


def test_a_golden_set_with_other_columns_is_refused(penguins: Dataset) -> None:
    holdout = carve_holdout(penguins, SplitConfig(), cv_folds=4, seed=0)
    check_holdout(holdout.test, penguins, 1)  # its own data: fine
    narrower = build_dataset(
        "penguins", "penguins", penguins.frame.drop(columns="year"), "species"
    )
    with pytest.raises(DataError) as info:
        check_holdout(holdout.test, narrower, 3)
    line = info.value.one_line()
    assert "golden test set v3 for penguins does not match the data's columns" in line
    assert "missing [], extra ['year']" in line
    assert "run with --new-test-set" in line and "\n" not in line
    wider = build_dataset(
        "penguins", "penguins", penguins.frame.assign(tag="x"), "species"
    )
    with pytest.raises(DataError, match=r"missing \['tag'\], extra \[\]"):
        check_holdout(holdout.test, wider, 1)


def test_a_golden_set_with_classes_the_data_lacks_is_refused(
    penguins: Dataset,
) -> None:
    holdout = carve_holdout(penguins, SplitConfig(), cv_folds=4, seed=0)
    frame = penguins.frame[penguins.frame["species"] != "Chinstrap"]
    fewer = build_dataset("penguins", "penguins", frame, "species")
    with pytest.raises(DataError) as info:
        check_holdout(holdout.test, fewer, 2)
    line = info.value.one_line()
    assert "golden test set v2 for penguins has classes the data lacks" in line
    assert "['Chinstrap']" in line and "--new-test-set" in line
    assert "\n" not in line


def test_row_keys_see_values_not_dtypes() -> None:
    ints = pd.DataFrame(
        {"n": [1, 2, 3], "c": ["a", "b", None], "f": [True, False, True]}
    )
    floats = ints.astype({"n": "float64", "c": "category"})
    # Booleans and text as Python objects (how build_dataset holds booleans).
    objects = ints.astype({"c": object, "f": object})
    keys = row_keys(ints).tolist()
    assert row_keys(floats).tolist() == keys
    assert row_keys(objects).tolist() == keys
    assert len(set(keys)) == 3
    changed = ints.assign(n=[1, 2, 4])
    assert row_keys(changed).tolist()[:2] == keys[:2]
    assert row_keys(changed).tolist()[2] != keys[2]
    # A missing number is missing whether it reads as NaN or None.
    gaps = pd.DataFrame({"x": [0.5, np.nan]})
    assert (
        row_keys(gaps).tolist() == row_keys(pd.DataFrame({"x": [0.5, None]})).tolist()
    )
    assert row_keys(gaps).nunique() == 2


def test_source_key_names_the_file_and_target(
    penguins: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = source_key(penguins)
    assert key.startswith("penguins-") and len(key) == len("penguins-") + 10
    assert source_key(penguins) == key  # stable
    frame = penguins.frame
    (tmp_path / "My Birds.csv").write_text(frame.to_csv(index=False))
    monkeypatch.chdir(tmp_path)
    relative = build_dataset("b", "My Birds.csv", frame, "species")
    absolute = build_dataset("b", str(tmp_path / "My Birds.csv"), frame, "species")
    assert source_key(relative) == source_key(absolute)
    assert source_key(relative).startswith("My-Birds-")
    by_island = build_dataset("b", "My Birds.csv", frame, "island")
    assert source_key(by_island) != source_key(relative)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    (elsewhere / "My Birds.csv").write_text(frame.to_csv(index=False))
    moved = build_dataset("b", str(elsewhere / "My Birds.csv"), frame, "species")
    assert source_key(moved) != source_key(relative)
    # A saved training set keeps the key of the source it was split from.
    saved = replace(relative, lineage=Lineage(source="penguins", golden=key))
    assert source_key(saved) == key


def test_a_builtin_sources_key_ignores_a_local_file_of_its_name(
    penguins: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = source_key(penguins)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "penguins").mkdir()  # say, a notebook folder
    assert load_dataset(DataConfig(source="penguins")).frame.equals(penguins.frame)
    assert source_key(penguins) == key
