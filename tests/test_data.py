import gzip
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlopslab.config import DataConfig
from mlopslab.data import Image, infer_schema, load_dataset, load_idx_dir, read_idx
from mlopslab.errors import DataError


def write_idx(
    path: Path, array: np.ndarray, gz: bool = False, dtype: str = ">u1"
) -> None:
    """An IDX file of bytes, or of another IDX type (">f4": float32)."""
    code = {">u1": 0x08, ">f4": 0x0D}[dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        struct.pack(">I", dim) for dim in array.shape
    )
    payload = header + array.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


def test_penguins_builtin() -> None:
    dataset = load_dataset(DataConfig(source="penguins"))
    assert dataset.name == "penguins"
    assert dataset.target == "species"
    assert dataset.schema.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert set(dataset.schema.categorical) == {"island", "sex"}
    assert "bill_length_mm" in dataset.schema.numeric
    sex = next(c for c in dataset.schema.columns if c.name == "sex")
    assert 0 < sex.missing_rate < 0.1
    assert sex.categories == ("female", "male")
    assert len(dataset.fingerprint) == 64


def test_digits_builtin() -> None:
    dataset = load_dataset(DataConfig(source="digits"))
    assert len(dataset.frame) == 1797
    assert len(dataset.schema.numeric) == 64
    assert len(dataset.schema.classes) == 10


def test_idx_folder_plain_and_gzipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 255, (6, 4, 4)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 0, 1, 2]))
    write_idx(
        tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (3, 4, 4)), True
    )
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 1, 0]), True)
    dataset = load_dataset(DataConfig(source=str(tmp_path)))
    assert len(dataset.frame) == 9
    assert len(dataset.schema.numeric) == 16
    assert dataset.target == "digit"
    assert dataset.schema.classes == ("0", "1", "2")


def test_digits_are_8x8_images_of_17_grey_levels() -> None:
    digits = load_dataset(DataConfig(source="digits"))
    assert digits.image == digits.schema.image == Image(8, 8, 0, 16)
    assert digits.image.to_dict() == {"height": 8, "width": 8, "low": 0, "high": 16}
    # Naming the default target keeps the images.
    again = load_dataset(DataConfig(source="digits", target="digit"))
    assert again.image == Image(8, 8, 0, 16)


def test_predicting_a_pixel_makes_digits_a_table() -> None:
    table = load_dataset(DataConfig(source="digits", target="pixel_36"))
    assert table.image is None and table.schema.image is None
    assert "pixel_36" not in table.schema.features
    assert load_dataset(DataConfig(source="penguins")).image is None


def test_idx_bytes_span_0_to_255(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # Pixels up to 99 only: a byte format still means 0 to 255.
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 100, (6, 3, 5)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 0, 1, 2]))
    frame, image = load_idx_dir(tmp_path)
    assert image == Image(3, 5, 0, 255)
    assert frame.shape == (6, 16)
    dataset = load_dataset(DataConfig(source=str(tmp_path)))
    assert dataset.image == Image(3, 5, 0, 255)
    assert dataset.schema.features == [f"pixel_{i}" for i in range(15)]


def test_only_square_images_of_4x4_or_more_suit_the_cnn() -> None:
    assert Image(8, 8, 0, 16).square and Image(4, 4, 0, 1).square
    assert not Image(3, 5, 0, 255).square and not Image(3, 3, 0, 1).square


def test_idx_floats_span_the_values_seen(tmp_path: Path) -> None:
    pixels = np.linspace(-1.0, 2.5, 2 * 4 * 4).reshape(2, 4, 4)
    write_idx(tmp_path / "a-images-idx3-ubyte", pixels, dtype=">f4")
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.array([0, 1]))
    write_idx(tmp_path / "b-images-idx3-ubyte", pixels / 2, dtype=">f4")
    write_idx(tmp_path / "b-labels-idx1-ubyte", np.array([1, 0]))
    _, image = load_idx_dir(tmp_path)
    assert image == Image(4, 4, -1.0, 2.5)


def test_idx_of_two_sizes_is_refused(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 4, 4)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 0, 1]))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 5, 5)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1]))
    with pytest.raises(DataError, match="different sizes: 4x4, 5x5") as info:
        load_dataset(DataConfig(source=str(tmp_path)))
    assert "one size" in info.value.hint


def test_idx_folder_named_images(tmp_path: Path) -> None:
    folder = tmp_path / "mnist_images"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((4, 4, 4)))
    write_idx(folder / "train-labels-idx1-ubyte", np.array([0, 1, 0, 1]))
    assert len(load_dataset(DataConfig(source=str(folder))).frame) == 4


def test_idx_rejects_truncated_and_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "x-images-idx3-ubyte"
    write_idx(path, np.zeros((2, 3, 3)))
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


@pytest.mark.parametrize(
    ("images", "labels", "dtype", "message"),
    [
        (np.zeros((3, 4, 4)), np.array([0, 1]), ">u1", "IDX shapes do not match"),
        (np.zeros((0, 4, 4)), np.zeros(0), ">u1", "holds no images"),
        (np.full((4, 4, 4), 0.5), np.array([0, 1, 0, 1]), ">f4", "the value 0.5"),
    ],
)
def test_idx_that_cannot_train_is_one_data_error(
    tmp_path: Path, images: np.ndarray, labels: np.ndarray, dtype: str, message: str
) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", images, dtype=dtype)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=message):
        load_dataset(DataConfig(source=str(tmp_path)))


def test_idx_range_spans_every_file(tmp_path: Path) -> None:
    floats = np.linspace(-300, 0, 32).reshape(2, 4, 4)
    write_idx(tmp_path / "a-images-idx3-ubyte", floats, dtype=">f4")
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.array([0, 1]))
    write_idx(tmp_path / "b-images-idx3-ubyte", np.zeros((2, 4, 4)))  # bytes
    write_idx(tmp_path / "b-labels-idx1-ubyte", np.array([0, 1]))
    assert load_idx_dir(tmp_path)[1] == Image(4, 4, -300.0, 255.0)


def test_idx_images_without_labels(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 3, 3)))
    with pytest.raises(DataError, match="no labels file"):
        load_dataset(DataConfig(source=str(tmp_path)))


def test_csv_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, None, 4.0], "colour": ["r", "g", "r", None], "y": [0, 1, 0, 1]}
    )
    frame.to_csv(tmp_path / "my data.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    from_csv = load_dataset(
        DataConfig(source=str(tmp_path / "my data.csv"), target="y")
    )
    from_parquet = load_dataset(
        DataConfig(source=str(tmp_path / "d.parquet"), target="y")
    )
    assert from_csv.name == "my-data"
    assert from_csv.schema.numeric == ["a"] == from_parquet.schema.numeric
    assert from_csv.schema.categorical == ["colour"]
    assert from_csv.schema.classes == ("0", "1")


def test_unlabelled_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1, 2, 3, 4], "y": ["x", None, "z", "x"]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    dataset = load_dataset(DataConfig(source=str(tmp_path / "d.csv"), target="y"))
    assert dataset.dropped_unlabelled == 1
    assert len(dataset.frame) == 3


def test_fingerprint_tracks_content(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "y": ["p", "q", "p"]})
    frame.to_csv(tmp_path / "one.csv", index=False)
    frame.assign(a=[1, 2, 4]).to_csv(tmp_path / "two.csv", index=False)
    one = load_dataset(DataConfig(source=str(tmp_path / "one.csv"), target="y"))
    again = load_dataset(DataConfig(source=str(tmp_path / "one.csv"), target="y"))
    two = load_dataset(DataConfig(source=str(tmp_path / "two.csv"), target="y"))
    assert one.fingerprint == again.fingerprint != two.fingerprint


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        (None, "y", "data not found"),
        ("a,y\n1,p\n2,p\n", "y", "only one class"),
        ("a,y\n1,p\n2,q\n", "label", "target column 'label' is not in"),
        ("a,y\n", "y", "no rows"),
    ],
)
def test_bad_csv_inputs(
    tmp_path: Path, content: str | None, target: str, message: str
) -> None:
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_dataset(DataConfig(source=str(path), target=target))
    assert info.value.hint
    assert info.value.exit_code == 4


def test_unreadable_files(tmp_path: Path) -> None:
    fake = tmp_path / "d.parquet"
    fake.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(DataConfig(source=str(fake), target="y"))
    odd = tmp_path / "d.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported data file type"):
        load_dataset(DataConfig(source=str(odd), target="y"))
    binary = tmp_path / "d.csv"
    binary.write_bytes(b"\xff\xfe\x00\x00\x81\x82\n\x00")
    with pytest.raises(DataError):
        load_dataset(DataConfig(source=str(binary), target="y"))


def test_file_needs_a_target(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,y\n1,p\n")
    with pytest.raises(DataError, match="no target column given"):
        load_dataset(DataConfig(source=str(tmp_path / "d.csv")))


def test_booleans_are_categorical() -> None:
    frame = pd.DataFrame({"flag": [True, False], "n": [1, 2], "y": ["a", "b"]})
    schema = infer_schema(frame, "y")
    assert schema.categorical == ["flag"]
    assert schema.numeric == ["n"]


def test_a_measured_number_is_not_a_class(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "mass": rng.integers(3000, 6000, 200).astype(float),
            "price": rng.normal(10, 2, 200),
            "grade": rng.integers(1, 6, 200),
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    for target, kind in (
        ("mass", "193 distinct whole numbers in 200 rows, a count or a measurement"),
        ("price", "looks continuous \\(200 distinct values in 200 rows\\)"),
    ):
        with pytest.raises(
            DataError, match=f"{kind}.*does single-label classification"
        ) as info:
            load_dataset(DataConfig(source=str(tmp_path / "t.csv"), target=target))
        assert "pandas.cut" in info.value.one_line()
    # Whole numbers that are few are labels (grades 1-5, digits 0-9).
    graded = load_dataset(DataConfig(source=str(tmp_path / "t.csv"), target="grade"))
    assert graded.schema.classes == ("1", "2", "3", "4", "5")


def test_an_integer_target_of_46_values_is_a_count_not_46_classes(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=5000), "age": rng.integers(18, 64, 5000)}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(source=str(tmp_path / "t.csv"), target="age"))
    assert info.value.one_line().startswith(
        "target 'age' holds 46 distinct whole numbers in 5000 rows, a count or a "
        "measurement: mlopslab does single-label classification"
    )
    assert "class codes, give the classes names" in info.value.hint


def test_multi_label_strings_are_refused_in_one_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    tags = rng.choice(["a", "b", "c", "a|b", "a|c", "b|c", "a|b|c"], 300)
    frame = pd.DataFrame({"x": rng.normal(size=300), "tags": tags})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="several labels per row") as info:
        load_dataset(DataConfig(source=str(tmp_path / "t.csv"), target="tags"))
    assert "single-label classification" in info.value.message
    assert "a model per label" in info.value.hint
    # Names with a comma are one label each: their parts do not recur.
    names = rng.choice(["Smith, J", "Doe, A", "Roe, B"], 300)
    frame.assign(tags=names).to_csv(tmp_path / "n.csv", index=False)
    named = load_dataset(DataConfig(source=str(tmp_path / "n.csv"), target="tags"))
    assert named.schema.classes == ("Doe, A", "Roe, B", "Smith, J")


def test_as_many_classes_as_rows_is_not_a_classification(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"x": range(300), "name": [f"penguin {i % 150}" for i in range(300)]}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match="150 classes in 300 rows") as info:
        load_dataset(DataConfig(source=str(tmp_path / "t.csv"), target="name"))
    assert "about 20 rows per class" in info.value.message
    # Built-ins pass: penguins 3 classes, digits 10 (MNIST's 10 as well).
    assert len(load_dataset(DataConfig(source="digits")).schema.classes) == 10


def test_a_file_source_is_recorded_as_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlopslab.golden import source_key

    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"a": [1, 2, 3, 4], "y": ["p", "q", "p", "q"]}).to_csv(
        folder / "d.csv", index=False
    )
    monkeypatch.chdir(tmp_path)
    relative = load_dataset(DataConfig(source="data/d.csv", target="y"))
    assert relative.source == str((folder / "d.csv").resolve())
    assert Path(relative.source).is_absolute()
    absolute = load_dataset(DataConfig(source=str(folder / "d.csv"), target="y"))
    # One golden test set for the file, however it was named.
    assert source_key(relative) == source_key(absolute)
    # Built-ins keep their names; a missing file's error names it as given.
    assert load_dataset(DataConfig()).source == "penguins"
    with pytest.raises(DataError, match=r"data not found: data/none\.csv"):
        load_dataset(DataConfig(source="data/none.csv", target="y"))
    # From another directory the recorded source still loads.
    monkeypatch.chdir(folder)
    again = load_dataset(DataConfig(source=relative.source, target="y"))
    assert again.fingerprint == relative.fingerprint


def test_mnist_test_files_are_the_test_set(tmp_path: Path) -> None:
    from mlopslab.config import SplitConfig
    from mlopslab.golden import carve_holdout

    rng = np.random.default_rng(0)
    train_labels = np.repeat(np.arange(3), 12)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 255, (36, 4, 4)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", train_labels)
    test_images = rng.integers(0, 255, (9, 4, 4))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test_images, True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.repeat(np.arange(3), 3), True)
    dataset = load_dataset(DataConfig(source=str(tmp_path)))
    assert dataset.official_test is not None
    assert int(dataset.official_test.sum()) == 9
    assert dataset.notes == ["test set: the source's own test files (9 rows)"]
    holdout = carve_holdout(dataset, SplitConfig(pool_size=0.1), cv_folds=2, seed=3)
    # The t10k rows, whatever the seed: not a re-split of the pooled rows.
    pixels = holdout.test.drop(columns="digit").to_numpy()
    assert np.array_equal(pixels, test_images.reshape(9, -1).astype(np.float32))
    assert len(holdout.pool) == round(36 * 0.1)
    # Train files alone (or test files alone) have no split of their own.
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    assert load_dataset(DataConfig(source=str(tmp_path))).official_test is None


def test_column_hygiene_on_load_and_the_users_say(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = 400
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "when": pd.date_range("2024-01-01", periods=rows, freq="7h"),
            "x": rng.normal(size=rows),
            "c": rng.choice(["a", "b"], rows),
            "y": rng.choice(["p", "q"], rows),
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    source = str(tmp_path / "d.parquet")
    data = load_dataset(DataConfig(source=source, target="y"))
    assert list(data.frame.columns) == ["when", "x", "c", "y"]
    assert data.notes == ["dropped id (identifier); when expanded (timestamp)"]
    # A parquet date-time column is text, as a CSV's and a request's are.
    assert data.frame["when"].iloc[1] == "2024-01-01 07:00:00"
    assert data.schema.categorical == ["c"]
    (dated,) = data.schema.timestamps
    assert dated.column == "when" and "hour" in dated.parts
    kept = load_dataset(
        DataConfig(source=source, target="y", keep=("id",), drop=("c",))
    )
    assert list(kept.frame.columns) == ["id", "when", "x", "y"]
    assert kept.notes == [
        "dropped c (data.drop); id kept by data.keep (identifier), "
        "when expanded (timestamp)"
    ]
    no_dates = load_dataset(DataConfig(source=source, target="y", timestamps="drop"))
    assert "when" not in no_dates.frame and not no_dates.schema.timestamps
    with pytest.raises(DataError, match=r"data\.keep names idd, not a feature") as info:
        load_dataset(DataConfig(source=source, target="y", keep=("idd",)))
    assert info.value.hint == "choose from its feature columns: id, when, x, c"


def test_saved_training_rows_keep_their_column_decisions(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlopslab.data import LINEAGE_KEY, training_metadata

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "id": np.arange(300),
            "when": [f"2024-03-{d:02d} 10:00" for d in rng.integers(1, 29, 300)],
            "x": rng.normal(size=300),
            "y": rng.choice(["p", "q"], 300),
        }
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    data = load_dataset(DataConfig(source=str(tmp_path / "d.csv"), target="y"))
    metadata = training_metadata(data, "d-key", "d")
    table = pa.Table.from_pandas(data.frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {LINEAGE_KEY: __import__("json").dumps(metadata).encode()}
    )
    pq.write_table(table, tmp_path / "saved.parquet")
    saved = load_dataset(DataConfig(source=str(tmp_path / "saved.parquet")))
    assert saved.lineage is not None and saved.lineage.source == data.source
    assert (
        saved.notes
        == data.notes
        == ["dropped id (identifier); when expanded (timestamp)"]
    )
    assert saved.schema.timestamps == data.schema.timestamps


def test_a_table_whose_every_column_is_dropped_says_which(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": range(100), "y": ["p", "q"] * 50})
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(source=str(tmp_path / "d.csv"), target="y"))
    assert info.value.one_line().endswith(
        "d.csv is left: dropped id (identifier); keep a column with data.keep "
        "(or add features)"
    )
    kept = load_dataset(
        DataConfig(source=str(tmp_path / "d.csv"), target="y", keep=("id",))
    )
    assert kept.schema.numeric == ["id"]


def test_errors_name_the_file_as_typed_though_runs_record_it_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"a": [0.5, 1.5, 2.5] * 20, "y": ["p", "q"] * 30}).to_csv(
        "t.csv", index=False
    )
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(source="t.csv", target="Y"))
    assert info.value.message == "target column 'Y' is not in t.csv"
    assert load_dataset(DataConfig(source="t.csv", target="y")).source == str(
        tmp_path / "t.csv"
    )
