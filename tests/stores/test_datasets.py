"""The workspace's datasets: golden test set versions and runs' training rows."""

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mlopslab.config import DataConfig
from mlopslab.data import Dataset, Image, Lineage, build_dataset, load_dataset
from mlopslab.data import training_metadata as lineage_metadata
from mlopslab.errors import StoreError
from mlopslab.stores.datasets import DatasetStore, GoldenRef, read_frame

KEY = "penguins-0123456789"


@pytest.fixture(scope="module")
def penguins() -> Dataset:
    return load_dataset(DataConfig())


@pytest.fixture
def store(tmp_path: Path) -> DatasetStore:
    return DatasetStore(tmp_path / "datasets")


def freeze(
    store: DatasetStore, test: pd.DataFrame, pool: pd.DataFrame | None = None
) -> tuple[GoldenRef, GoldenRef | None]:
    return store.freeze(
        KEY,
        test,
        test.iloc[:0] if pool is None else pool,
        digest=f"digest-{len(test)}",
        source="penguins",
        target="species",
    )


def folder(store: DatasetStore) -> Path:
    return store.root / "golden" / KEY


def test_first_freeze_writes_v1_and_the_pointer(
    store: DatasetStore, penguins: Dataset
) -> None:
    assert store.golden(KEY) is None
    test = penguins.frame.head(40)
    ref, previous = freeze(store, test)
    assert previous is None
    assert (ref.version, ref.rows, ref.pool_rows) == (1, 40, 0)
    assert ref.path == (folder(store) / "v1.parquet").resolve()
    assert sorted(p.name for p in folder(store).iterdir()) == [
        "current.json",
        "v1.parquet",
    ]
    pointer = json.loads((folder(store) / "current.json").read_text())
    assert pointer["version"] == 1 and pointer["path"] == str(ref.path)
    assert store.golden(KEY) == ref
    pd.testing.assert_frame_equal(store.read(ref.path, "golden test set"), test)


def test_a_second_freeze_is_v2_and_current(
    store: DatasetStore, penguins: Dataset
) -> None:
    first, _ = freeze(store, penguins.frame.head(40))
    second, previous = freeze(
        store, penguins.frame.tail(30), penguins.frame.iloc[50:60]
    )
    assert previous == first
    assert (second.version, second.rows, second.pool_rows) == (2, 30, 10)
    assert store.golden(KEY) == second
    assert first.path.exists() and second.path.exists()  # v1 is kept
    assert second.pool_path == folder(store) / "pool-v2.parquet"
    pd.testing.assert_frame_equal(
        read_frame(second.pool_path, "traffic pool"),
        penguins.frame.iloc[50:60].reset_index(drop=True),
    )
    third, previous = freeze(store, penguins.frame.head(20))
    assert (third.version, previous) == (3, second)


def test_restore_takes_back_a_new_version(
    store: DatasetStore, penguins: Dataset
) -> None:
    first, _ = freeze(store, penguins.frame.head(40))
    second, previous = freeze(store, penguins.frame.tail(30), penguins.frame.head(5))
    store.restore(second, previous)
    assert store.golden(KEY) == first
    assert not second.path.exists() and not second.pool_path.exists()
    assert first.path.exists()
    # The next freeze is v2 again, not v3.
    again, _ = freeze(store, penguins.frame.tail(30))
    assert again.version == 2


def test_restore_after_a_first_freeze_leaves_no_golden_set(
    store: DatasetStore, penguins: Dataset
) -> None:
    ref, previous = freeze(store, penguins.frame.head(40), penguins.frame.tail(5))
    store.restore(ref, previous)
    assert store.golden(KEY) is None
    assert [p for p in folder(store).rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("content", ["{", '{"key": "k", "version": 1}', ""])
def test_a_damaged_pointer_is_one_line(store: DatasetStore, content: str) -> None:
    folder(store).mkdir(parents=True)
    (folder(store) / "current.json").write_text(content)
    with pytest.raises(StoreError) as info:
        store.golden(KEY)
    line = info.value.one_line()
    assert line.startswith("golden test set record ") and "is unreadable" in line
    assert str(folder(store) / "current.json") in line
    assert "\n" not in line


@pytest.mark.parametrize("content", ["null", "[]"])
def test_a_pointer_that_is_not_an_object_is_one_line(
    store: DatasetStore, content: str
) -> None:
    folder(store).mkdir(parents=True)
    (folder(store) / "current.json").write_text(content)
    with pytest.raises(StoreError, match="is unreadable"):
        store.golden(KEY)


def test_a_damaged_or_missing_parquet_is_one_line(
    store: DatasetStore, penguins: Dataset
) -> None:
    ref, _ = freeze(store, penguins.frame.head(40))
    ref.path.write_bytes(ref.path.read_bytes()[:100])
    with pytest.raises(StoreError) as info:
        store.read(ref.path, "golden test set")
    line = info.value.one_line()
    assert line.startswith(f"golden test set {ref.path} is unreadable: ")
    assert "--new-test-set" in line and "\n" not in line
    ref.path.unlink()
    with pytest.raises(StoreError, match="is unreadable"):
        read_frame(ref.path, "golden test set")


def test_a_workspace_that_cannot_be_written_is_a_store_error(
    tmp_path: Path, penguins: Dataset
) -> None:
    (tmp_path / "datasets").write_text("not a folder")
    store = DatasetStore(tmp_path / "datasets")
    with pytest.raises(StoreError, match="cannot write the golden test set"):
        freeze(store, penguins.frame.head(10))
    with pytest.raises(StoreError, match="cannot save the training data"):
        store.save_training(penguins.frame, "a" * 64, {"target": "species"})


def test_golden_ref_reads_back_a_cards_copy(store: DatasetStore) -> None:
    ref = GoldenRef(KEY, 2, "d" * 64, 69, "penguins", "species", Path("/x/v2.parquet"))
    card = {**ref.to_dict(), "frozen_by_this_run": True}
    assert GoldenRef.from_dict(json.loads(json.dumps(card))) == ref
    assert ref.pool_path == Path("/x/pool-v2.parquet")


def metadata(data: Dataset, golden: str = KEY) -> dict[str, object]:
    return lineage_metadata(data, golden, "birds")


def test_training_rows_are_kept_once_per_digest(
    store: DatasetStore, penguins: Dataset
) -> None:
    rows = penguins.frame.iloc[69:]
    path = store.save_training(rows, "f" * 64, metadata(penguins))
    assert path == (store.root / "training" / f"{'f' * 16}.parquet").resolve()
    assert path == store.training_path("f" * 64)
    written = path.read_bytes()
    # The same digest is the same rows: the file is not written again.
    same = store.save_training(penguins.frame.head(3), "f" * 64, metadata(penguins))
    assert same == path and path.read_bytes() == written
    other = store.save_training(penguins.frame.head(3), "0" * 64, metadata(penguins))
    assert other != path and len(pd.read_parquet(other)) == 3
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, other.name]
    )


def test_saved_training_rows_load_with_their_lineage(
    store: DatasetStore, penguins: Dataset
) -> None:
    rows = penguins.frame.iloc[69:]
    path = store.save_training(rows, "f" * 64, metadata(penguins))
    loaded = load_dataset(DataConfig(source=str(path)))
    assert loaded.name == "penguins" and loaded.target == "species"
    assert loaded.lineage == Lineage(
        source="penguins", golden=KEY, labelled_rows=0, model_name="birds"
    )
    assert loaded.source == str(path)
    assert len(loaded.frame) == len(rows)
    assert loaded.frame["species"].tolist() == rows["species"].tolist()
    assert loaded.fingerprint == build_dataset("x", "x", rows, "species").fingerprint
    assert loaded.schema.classes == penguins.schema.classes


def test_a_retrains_lineage_is_carried_on(
    store: DatasetStore, penguins: Dataset
) -> None:
    retrain = replace(
        penguins,
        source="/elsewhere/0a0c195c44c46686.parquet",
        lineage=Lineage(source="penguins", golden=KEY, labelled_rows=7),
    )
    path = store.save_training(penguins.frame, "e" * 64, metadata(retrain))
    lineage = load_dataset(DataConfig(source=str(path))).lineage
    assert lineage is not None
    # The source is where the rows first came from, not the retrain's file.
    assert (lineage.source, lineage.golden, lineage.labelled_rows) == (
        "penguins",
        KEY,
        7,
    )


def test_saved_image_rows_keep_their_image(store: DatasetStore) -> None:
    frame = pd.DataFrame(
        {f"p{i}": [float(i), 1.0, 2.0, 3.0] * 5 for i in range(4)}
        | {"label": ["a", "b"] * 10}
    )
    images = build_dataset("tiny", "tiny", frame, "label", Image(2, 2, 0.0, 3.0))
    path = store.save_training(frame, "c" * 64, metadata(images))
    loaded = load_dataset(DataConfig(source=str(path)))
    assert loaded.image == Image(2, 2, 0.0, 3.0)
    assert loaded.name == "tiny"
    # Another target makes other rows of it: no longer the images' labels.
    other = load_dataset(DataConfig(source=str(path), target="p0"))
    assert other.image is None and other.target == "p0"


def test_a_golden_file_or_plain_parquet_is_not_training_data(
    store: DatasetStore, penguins: Dataset, tmp_path: Path
) -> None:
    ref, _ = freeze(store, penguins.frame)
    golden = load_dataset(DataConfig(source=str(ref.path), target="species"))
    assert golden.lineage is None and golden.name == "v1"
    penguins.frame.to_parquet(tmp_path / "plain.parquet")
    plain = load_dataset(
        DataConfig(source=str(tmp_path / "plain.parquet"), target="species")
    )
    assert plain.lineage is None
