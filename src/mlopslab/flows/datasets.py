"""Orchestration of a run's datasets: which golden test set it is scored on,
and saving it and the run's training rows when the run registers."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mlopslab.config import Config
from mlopslab.data import Dataset, fingerprint, training_metadata
from mlopslab.errors import StoreError
from mlopslab.flows.run import GoldenPlan, RunDatasets
from mlopslab.golden import (
    Holdout,
    carve_holdout,
    check_holdout,
    remainder,
    source_key,
)
from mlopslab.stores.datasets import DatasetStore, GoldenRef


def plan_golden(
    cfg: Config, data: Dataset, store: DatasetStore, new_test_set: bool
) -> GoldenPlan:
    """The golden set in use for the data's source, or a new one to freeze."""
    key = source_key(data)
    try:
        current = store.golden(key)
    except StoreError:
        if not new_test_set:
            raise
        current = None  # a damaged record: --new-test-set starts over
    if current is not None and not new_test_set:
        test = store.read(current.path, "golden test set")
        check_holdout(test, data, current.version)
        pool = test.iloc[:0]
        if current.pool_rows:
            pool = store.read(current.pool_path, "traffic pool")
        holdout = Holdout(test, pool)
        rest = remainder(data, holdout)
        return GoldenPlan(
            key, holdout, current.digest, current, None, rest, fingerprint(rest)
        )
    if current is None and data.lineage is not None and not new_test_set:
        raise_missing_golden(data)
    # Each new version draws other rows: the seed moves on with the version.
    version = (current.version if current else 0) + 1
    holdout = carve_holdout(data, cfg.split, cfg.tune.cv_folds, cfg.seed + version - 1)
    why = "--new-test-set" if new_test_set else "first run on this source"
    rest = remainder(data, holdout)
    test_digest = fingerprint(holdout.test)
    return GoldenPlan(key, holdout, test_digest, current, why, rest, fingerprint(rest))


def raise_missing_golden(data: Dataset) -> None:
    from mlopslab.errors import DataError

    assert data.lineage is not None
    raise DataError(
        f"{data.source} was split around golden test set {data.lineage.golden}, "
        "which this workspace does not have",
        "run in the workspace that saved it (--home), or pass --new-test-set",
    )


@dataclass
class Saved:
    """What `save_datasets` wrote, so that a failed run can take it back."""

    datasets: RunDatasets
    previous: GoldenRef | None
    training_created: bool


def save_datasets(
    store: DatasetStore, plan: GoldenPlan, data: Dataset, model_name: str
) -> Saved:
    """Freeze a new golden set if the plan says so, and keep the training rows."""
    if plan.new_because and _frozen_meanwhile(store, plan):
        # Another first run on this source froze the same rows first: share them.
        plan = replace(plan, current=store.golden(plan.key), new_because=None)
    if plan.new_because:
        ref, previous = store.freeze(
            plan.key,
            plan.holdout.test,
            plan.holdout.pool,
            digest=plan.digest,
            source=_original_source(data),
            target=data.target,
        )
    else:
        assert plan.current is not None
        ref, previous = plan.current, None
    rows = plan.remainder if plan.remainder is not None else data.frame
    digest = plan.training_digest or fingerprint(rows)
    existed = store.training_path(digest).exists()
    try:
        path = store.save_training(
            rows, digest, training_metadata(data, plan.key, model_name)
        )
    except BaseException:
        if plan.new_because:
            store.restore(ref, previous)
        raise
    datasets = RunDatasets(ref, path, digest, len(rows), bool(plan.new_because))
    return Saved(datasets, previous, not existed)


def _frozen_meanwhile(store: DatasetStore, plan: GoldenPlan) -> bool:
    try:
        current = store.golden(plan.key)
    except StoreError:
        return False
    return current is not None and current.digest == plan.digest


def undo_datasets(store: DatasetStore, saved: Saved) -> None:
    if saved.datasets.new_golden:
        store.restore(saved.datasets.golden, saved.previous)
    if saved.training_created:
        saved.datasets.training.unlink(missing_ok=True)


def golden_note(plan: GoldenPlan, data: Dataset) -> str:
    """What the preprocess line says about the test set."""
    rows = len(plan.holdout.test)
    if plan.new_because is None:
        return f"golden test set v{plan.version} ({rows} rows)"
    return f"golden test set v{plan.version} frozen ({rows} rows, {plan.new_because})"


def new_golden_note(datasets: RunDatasets, data: Dataset) -> str | None:
    if not datasets.new_golden:
        return None
    ref = datasets.golden
    return (
        f"froze golden test set v{ref.version} for {_original_source(data)}: "
        f"{ref.rows} rows (sha256 {ref.digest[:12]}), in {ref.path}; later runs and "
        "retrains on this source are scored on it (--new-test-set starts another)"
    )


def _original_source(data: Dataset) -> str:
    return data.lineage.source if data.lineage else data.source


def golden_label(plan: GoldenPlan) -> str:
    """The golden set a version was tested on, as its registry tag says it."""
    return f"{plan.key} v{plan.version}"
