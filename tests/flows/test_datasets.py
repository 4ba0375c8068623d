"""A run's datasets: which golden set it is scored on, saving it, taking it back."""

from pathlib import Path

import pandas as pd
import pytest

from mlopslab.config import Config, DataConfig, load_config
from mlopslab.data import Dataset, fingerprint, load_dataset
from mlopslab.errors import DataError
from mlopslab.flows.datasets import (
    golden_label,
    golden_note,
    new_golden_note,
    plan_golden,
    save_datasets,
    undo_datasets,
)
from mlopslab.golden import carve_holdout, remainder, source_key
from mlopslab.stores.datasets import DatasetStore


@pytest.fixture(scope="module")
def penguins() -> Dataset:
    return load_dataset(DataConfig())


@pytest.fixture
def store(tmp_path: Path) -> DatasetStore:
    return DatasetStore(tmp_path / "datasets")


def files(store: DatasetStore) -> list[str]:
    return sorted(
        str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()
    )


CFG = Config()


def test_the_first_plan_carves_v1_and_writes_nothing(
    store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    assert plan.key == source_key(penguins)
    assert (plan.version, plan.current, plan.new_because) == (
        1,
        None,
        "first run on this source",
    )
    carved = carve_holdout(penguins, CFG.split, CFG.tune.cv_folds, CFG.seed)
    pd.testing.assert_frame_equal(plan.holdout.test, carved.test)
    assert plan.digest == fingerprint(carved.test)
    assert plan.remainder is not None
    pd.testing.assert_frame_equal(plan.remainder, remainder(penguins, carved))
    assert plan.training_digest == fingerprint(plan.remainder)
    assert not store.root.exists()  # frozen only when the run registers
    assert golden_note(plan, penguins) == (
        "golden test set v1 frozen (69 rows, first run on this source)"
    )
    assert golden_label(plan) == f"{plan.key} v1"


def test_saving_freezes_v1_and_keeps_the_training_rows(
    store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, plan, penguins, "penguins")
    ref = saved.datasets.golden
    assert (ref.version, ref.rows, ref.digest) == (1, 69, plan.digest)
    assert (ref.source, ref.target) == ("penguins", "species")
    assert saved.previous is None and saved.training_created
    assert saved.datasets.new_golden
    assert saved.datasets.training_digest == plan.training_digest
    assert saved.datasets.training_rows == len(penguins.frame) - 69
    assert store.golden(plan.key) == ref
    assert files(store) == [
        f"golden/{plan.key}/current.json",
        f"golden/{plan.key}/v1.parquet",
        f"training/{plan.training_digest[:16]}.parquet",
    ]
    note = new_golden_note(saved.datasets, penguins)
    assert note is not None
    assert note.startswith(
        f"froze golden test set v1 for penguins: 69 rows (sha256 {plan.digest[:12]}), "
        f"in {ref.path}"
    )
    assert "--new-test-set starts another" in note


def test_later_plans_reuse_the_frozen_rows(
    store: DatasetStore, penguins: Dataset
) -> None:
    first = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, first, penguins, "penguins")
    # Even another seed is scored on the same rows: they are frozen, not carved.
    reseeded = load_config(overrides={"seed": 99})
    for cfg in (CFG, reseeded):
        later = plan_golden(cfg, penguins, store, new_test_set=False)
        assert (later.version, later.new_because) == (1, None)
        assert later.current == saved.datasets.golden
        pd.testing.assert_frame_equal(
            later.holdout.test, first.holdout.test, check_dtype=False
        )
        assert later.training_digest == first.training_digest
        assert golden_note(later, penguins) == "golden test set v1 (69 rows)"
    again = save_datasets(store, later, penguins, "penguins")
    assert not again.datasets.new_golden and not again.training_created
    assert new_golden_note(again.datasets, penguins) is None
    assert len(files(store)) == 3  # nothing new


def test_new_test_set_freezes_the_next_version_on_other_rows(
    store: DatasetStore, penguins: Dataset
) -> None:
    first = plan_golden(CFG, penguins, store, new_test_set=False)
    v1 = save_datasets(store, first, penguins, "penguins").datasets.golden
    plan = plan_golden(CFG, penguins, store, new_test_set=True)
    assert (plan.version, plan.current, plan.new_because) == (2, v1, "--new-test-set")
    # The seed moves on with the version: other rows than v1's.
    carved = carve_holdout(penguins, CFG.split, CFG.tune.cv_folds, CFG.seed + 1)
    pd.testing.assert_frame_equal(plan.holdout.test, carved.test)
    overlap = plan.holdout.test.merge(first.holdout.test, how="inner")
    assert len(overlap) < 30
    assert plan.training_digest != first.training_digest
    saved = save_datasets(store, plan, penguins, "penguins")
    assert saved.previous == v1 and saved.datasets.golden.version == 2
    assert store.golden(plan.key) == saved.datasets.golden
    note = golden_note(plan, penguins)
    assert note == "golden test set v2 frozen (69 rows, --new-test-set)"


def test_undo_takes_back_what_the_run_saved(
    store: DatasetStore, penguins: Dataset
) -> None:
    first = plan_golden(CFG, penguins, store, new_test_set=False)
    v1 = save_datasets(store, first, penguins, "penguins").datasets.golden
    before = files(store)
    plan = plan_golden(CFG, penguins, store, new_test_set=True)
    saved = save_datasets(store, plan, penguins, "penguins")
    assert len(files(store)) == len(before) + 2
    undo_datasets(store, saved)
    assert files(store) == before
    assert store.golden(plan.key) == v1
    # Training rows an earlier run saved stay: only new files are taken back.
    repeat = plan_golden(CFG, penguins, store, new_test_set=False)
    again = save_datasets(store, repeat, penguins, "penguins")
    undo_datasets(store, again)
    assert files(store) == before


def test_undoing_a_first_run_leaves_no_golden_set(
    store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, plan, penguins, "penguins")
    undo_datasets(store, saved)
    assert files(store) == []
    assert store.golden(plan.key) is None
    assert plan_golden(CFG, penguins, store, False).new_because is not None


def test_the_pool_is_frozen_and_read_back(
    store: DatasetStore, penguins: Dataset
) -> None:
    cfg = load_config(overrides={"split.pool_size": 0.2})
    plan = plan_golden(cfg, penguins, store, new_test_set=False)
    assert len(plan.holdout.pool) == 55
    saved = save_datasets(store, plan, penguins, "penguins")
    assert saved.datasets.golden.pool_rows == 55
    assert saved.datasets.golden.pool_path.exists()
    later = plan_golden(cfg, penguins, store, new_test_set=False)
    pd.testing.assert_frame_equal(
        later.holdout.pool, plan.holdout.pool, check_dtype=False
    )
    assert later.remainder is not None
    assert len(later.remainder) == len(penguins.frame) - 69 - 55
    assert saved.datasets.training_rows == len(later.remainder)


def test_saved_training_rows_are_split_around_their_golden_set(
    store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, plan, penguins, "penguins")
    rebuilt = load_dataset(DataConfig(source=str(saved.datasets.training)))
    again = plan_golden(CFG, rebuilt, store, new_test_set=False)
    assert again.key == plan.key and again.new_because is None
    # Same rows: same digest, so the registry knows the run for a repeat.
    assert again.training_digest == plan.training_digest
    assert again.remainder is not None and len(again.remainder) == len(rebuilt.frame)


def test_saved_training_rows_need_their_golden_set(
    tmp_path: Path, store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, plan, penguins, "penguins")
    rebuilt = load_dataset(DataConfig(source=str(saved.datasets.training)))
    elsewhere = DatasetStore(tmp_path / "other")
    with pytest.raises(DataError) as info:
        plan_golden(CFG, rebuilt, elsewhere, new_test_set=False)
    line = info.value.one_line()
    assert f"was split around golden test set {plan.key}" in line
    assert "which this workspace does not have" in line and "\n" not in line


def test_new_test_set_freezes_a_golden_set_for_saved_training_rows(
    tmp_path: Path, store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    saved = save_datasets(store, plan, penguins, "penguins")
    rebuilt = load_dataset(DataConfig(source=str(saved.datasets.training)))
    elsewhere = DatasetStore(tmp_path / "other")
    fresh = plan_golden(CFG, rebuilt, elsewhere, new_test_set=True)
    assert (fresh.version, fresh.new_because) == (1, "--new-test-set")


def test_new_test_set_replaces_a_damaged_pointer(
    store: DatasetStore, penguins: Dataset
) -> None:
    plan = plan_golden(CFG, penguins, store, new_test_set=False)
    save_datasets(store, plan, penguins, "penguins")
    (store.root / "golden" / plan.key / "current.json").write_text("{")
    fresh = plan_golden(CFG, penguins, store, new_test_set=True)
    assert fresh.new_because == "--new-test-set"


def test_two_first_runs_at_once_share_v1(
    store: DatasetStore, penguins: Dataset
) -> None:
    one = plan_golden(CFG, penguins, store, new_test_set=False)
    two = plan_golden(CFG, penguins, store, new_test_set=False)
    save_datasets(store, one, penguins, "penguins")
    saved = save_datasets(store, two, penguins, "penguins")
    assert saved.datasets.golden.version == two.version == 1
    current = store.golden(two.key)
    assert current is not None and current.version == 1


def test_a_failed_save_of_the_training_rows_takes_the_new_golden_set_back(
    store: DatasetStore, penguins: Dataset
) -> None:
    from mlopslab.errors import StoreError

    first = plan_golden(CFG, penguins, store, new_test_set=False)
    v1 = save_datasets(store, first, penguins, "penguins").datasets.golden
    (store.root / "training").rename(store.root / "kept")
    (store.root / "training").write_text("a file where the folder goes")
    before = files(store)
    plan = plan_golden(CFG, penguins, store, new_test_set=True)
    with pytest.raises(StoreError, match="cannot save the training data"):
        save_datasets(store, plan, penguins, "penguins")
    assert files(store) == before
    assert store.golden(plan.key) == v1
