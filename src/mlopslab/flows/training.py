"""Orchestration: compose the stages, time them, and record the run in MLflow.

The registry is opened only once the data has loaded and split: bad input
fails in one line without creating or migrating a store. Nothing reaches
MLflow until every stage before `register` has succeeded, and `register`
undoes its own writes on failure, so a failed run leaves the registry, the
aliases and the champion exactly as they were.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlopslab.baseline import compute_baseline
from mlopslab.config import Config
from mlopslab.data import Dataset, load_dataset
from mlopslab.errors import RegistryError, first_line
from mlopslab.evaluate import GateDecision, Metrics, add_checks, evaluate, gate
from mlopslab.flows.datasets import (
    golden_label,
    golden_note,
    new_golden_note,
    plan_golden,
    save_datasets,
    undo_datasets,
)
from mlopslab.flows.executor import trial_executor
from mlopslab.flows.registration import record_run
from mlopslab.flows.review import (
    maybe_calibrate,
    review_checks,
    review_model,
    sensitive_features,
)
from mlopslab.flows.run import (
    GoldenPlan,
    Prepared,
    Reporter,
    RunSummary,
    Stages,
    Trained,
)
from mlopslab.golden import split_around
from mlopslab.preprocess import Split, split_dataset
from mlopslab.significance import majority_check, mcnemar, significance_check
from mlopslab.stores.datasets import DatasetStore
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.registry.versions import GOLDEN, TRAINING_DIGEST, VersionInfo
from mlopslab.stores.workspace import Workspace
from mlopslab.train import fit_final
from mlopslab.tune import CNN_DEFAULT_MAX_PIXELS, TuneResult, families_for, tune


def run_pipeline(
    cfg: Config,
    workspace: Workspace,
    connect: Callable[[], Registry],
    reporter: Reporter | None = None,
    dataset: Dataset | None = None,
    new_test_set: bool = False,
) -> RunSummary:
    """Data, preprocess, tune, train, evaluate and gate, then register and promote.

    `connect` opens the registry; it is called after the data stages. The
    test set is the source's golden test set (frozen by its first run, or
    anew with `new_test_set`), kept in the workspace.
    """
    stages = Stages(reporter)
    store = DatasetStore(workspace.datasets)
    prepared = prepare(cfg, stages, dataset, store, new_test_set)
    cfg = with_families(cfg, prepared.dataset)
    registry = connect()
    journal = workspace.tuning_journal()
    trained = train_and_gate(cfg, registry, stages, prepared, journal)
    assert prepared.golden is not None
    with stages.stage("register") as timing:
        saved = save_datasets(
            store, prepared.golden, prepared.dataset, trained.model_name
        )
        trained.datasets = saved.datasets
        try:
            summary = record_run(cfg, workspace, registry, trained, stages.timings)
        except BaseException:
            undo_datasets(store, saved)
            raise
        timing.result = f"{summary.model_name} v{summary.version}: {summary.status}"
    summary.notes = [
        *filter(None, [new_golden_note(saved.datasets, prepared.dataset)]),
        *trained.notes,
    ]
    if trained.repeats is not None and summary.status == "approved":
        summary.notes.append(
            f"v{summary.version} repeats champion v{trained.repeats} (same data, "
            "same predictions on the test set): kept as a record, not promoted"
        )
    summary.paths["summary"] = _write_summary(workspace, summary)
    summary.paths["trials"] = journal
    return summary


def _write_summary(workspace: Workspace, summary: RunSummary) -> Path:
    """Stage timings and outcome, for people and for benchmarks/pipeline.py."""
    path = workspace.run_dir(summary.run_id) / "summary.json"
    content = {
        "run_id": summary.run_id,
        "model_name": summary.model_name,
        "version": summary.version,
        "status": summary.status,
        "stage_seconds": {
            stage.name: round(stage.seconds, 4) for stage in summary.stages
        },
        "champion_before": summary.champion_before,
        "champion_after": summary.champion_after,
        "notes": summary.notes,
    }
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return path


def prepare(
    cfg: Config,
    stages: Stages,
    dataset: Dataset | None = None,
    store: DatasetStore | None = None,
    new_test_set: bool = False,
) -> Prepared:
    """The data and preprocess stages: every check of the input, and the baseline.

    With a dataset `store`, the test rows are the source's golden test set;
    without one (the stages alone, in tests), a plain seeded split.
    """
    with stages.stage("data") as timing:
        data = dataset or load_dataset(cfg.data)
        families_for(cfg.tune, *cnn_images(data))  # refuse before any work
        sensitive_features(cfg, data)
        timing.result = "; ".join(
            [
                f"{len(data.frame)} rows, {len(data.schema.columns)} features, "
                f"{len(data.schema.classes)} classes",
                *data.notes,
            ]
        )
    with stages.stage("preprocess") as timing:
        golden, split = _split(cfg, data, store, new_test_set)
        statistics, constraints = compute_baseline(split.X_train, data.schema)
        timing.result = (
            ", ".join(f"{k} {v}" for k, v in split.sizes.items()) + "; baseline"
        )
        if golden is not None:
            timing.result += "; " + golden_note(golden, data)
    return Prepared(data, split, statistics, constraints, golden)


def _split(
    cfg: Config, data: Dataset, store: DatasetStore | None, new_test_set: bool
) -> tuple[GoldenPlan | None, Split]:
    if store is None:
        return None, split_dataset(data, cfg.split, cfg.tune.cv_folds, cfg.seed)
    plan = plan_golden(cfg, data, store, new_test_set)
    split = split_around(
        data, plan.holdout, cfg.split, cfg.tune.cv_folds, cfg.seed, plan.remainder
    )
    return plan, split


def cnn_images(data: Dataset) -> tuple[bool, bool]:
    """Whether the rows are images a CNN takes, and few enough pixels for
    torch_cnn to join the default families (`families_for`)."""
    pixels = len(data.frame) * len(data.schema.columns)
    return (
        data.image is not None and data.image.square,
        pixels <= CNN_DEFAULT_MAX_PIXELS,
    )


def with_families(cfg: Config, data: Dataset) -> Config:
    """The configuration as run: tune.families as searched (the card shows it)."""
    return cfg.model_copy(update={"tune": families_for(cfg.tune, *cnn_images(data))})


def train_and_gate(
    cfg: Config,
    registry: Registry,
    stages: Stages,
    prepared: Prepared | None = None,
    journal: Path | None = None,
) -> Trained:
    """Every stage up to the gate decision; pure computation plus one registry read.

    Without `prepared`, the data and preprocess stages run first. `journal`:
    where the tuning trials are recorded as they finish.
    """
    prepared = prepared or prepare(cfg, stages)
    data, split = prepared.dataset, prepared.split
    with stages.stage("tune") as timing:
        tuning = _tune(cfg, stages, prepared, journal)
        timing.result = _tuned(tuning) + _retried(tuning)
    with stages.stage("train") as timing:
        on_train, validation, model = _fit(cfg, data, split, tuning)
        model, recalibrated = maybe_calibrate(cfg, data, split, on_train, model)
        timing.result = (
            f"{tuning.best.family}, validation accuracy {validation.accuracy:.4f}"
        )
    with stages.stage("evaluate") as timing:
        metrics = evaluate(model, split.X_test, split.y_test)
        name = cfg.registry.model_name or data.name
        latest = registry.latest_version(name)
        judged = _gate_against_champion(
            cfg, registry, name, data, split, (model, metrics), prepared.golden
        )
        review = review_model(cfg, data, split, model, recalibrated)
        floor = _majority_floor(cfg, split, model)
        decision = add_checks(judged.decision, [*floor, *review_checks(cfg, review)])
        champion_before = judged.champion_version
        timing.result = f"test accuracy {metrics.accuracy:.4f}; gate {decision.verdict}"
    return Trained(
        data,
        split,
        prepared.statistics,
        prepared.constraints,
        tuning,
        model,
        validation,
        metrics,
        decision,
        champion_before,
        name,
        latest,
        judged.notes,
        judged.repeats,
        review=review,
    )


def _tune(
    cfg: Config, stages: Stages, prepared: Prepared, journal: Path | None
) -> TuneResult:
    """The search, with progress (Ctrl-C or SIGTERM: `tune` says what it kept)."""
    data, split = prepared.dataset, prepared.split
    with trial_executor(cfg) as executor:
        # cfg.tune.families as searched: `run_pipeline` resolved them.
        return tune(
            split.X_train,
            split.y_train,
            data.schema,
            cfg.tune,
            cfg.seed,
            executor,
            stages.progress("tune", "trials"),
            journal,
        )


def _tuned(tuning: TuneResult) -> str:
    best = tuning.best
    scored = f"holdout of {best.rows:,} rows" if tuning.rungs else "cv"
    text = (
        f"{len(tuning.trials)} trials, best {best.family} "
        f"({scored} log loss {best.cv_log_loss:.4f})"
    )
    if tuning.rungs:
        text += "; rungs of " + "/".join(f"{rows:,}" for rows in tuning.rungs) + " rows"
    if tuning.stopped_by_budget:
        text += (
            f"; tune.time_budget spent after {len(tuning.trials)} of {tuning.planned}"
        )
    return text


def _fit(
    cfg: Config, data: Dataset, split: Split, tuning: TuneResult
) -> tuple[Any, Metrics, Any]:
    """The chosen model fitted on the training rows (scored on validation),
    and the model to register.

    Small data: refit on training plus validation rows. Large data (a
    multi-fidelity search): one fit, on the training rows, is the model: the
    validation rows add little there and a second fit costs minutes.
    """
    best = tuning.best
    large = bool(tuning.rungs)
    on_train = fit_final(
        split.X_train,
        split.y_train,
        data.schema,
        best.family,
        best.params,
        cfg.seed,
        early_stop=large,
    )
    validation = evaluate(on_train, split.X_valid, split.y_valid)
    if large:
        return on_train, validation, on_train
    X_fit, y_fit = split.train_and_valid()
    model = fit_final(X_fit, y_fit, data.schema, best.family, best.params, cfg.seed)
    return on_train, validation, model


def _majority_floor(cfg: Config, split: Split, model: Any) -> list[dict[str, Any]]:
    """gate.beat_majority: the floor any model must clear on these data."""
    if not cfg.gate.beat_majority:
        return []
    majority = str(split.y_train.astype(str).value_counts().idxmax())
    predicted = model.predict(split.X_test)
    return [majority_check(split.y_test, predicted, majority, cfg.gate.significance)]


def _retried(tuning: TuneResult) -> str:
    """Say which trials were pruned, which a lost worker made run again, and
    which it lost for good."""
    again = [t.number for t in tuning.trials if t.retries and t.error is None]
    lost = [
        t.number
        for t in tuning.trials
        if t.retries and t.error is not None and not t.pruned
    ]
    pruned = sum(t.pruned for t in tuning.trials)
    parts = [f"{pruned} pruned"] if pruned else []
    if again:
        parts.append(f"trials {again} re-run after a lost worker")
    if lost:
        parts.append(f"trials {lost} lost with their workers")
    return "; " + "; ".join(parts) if parts else ""


@dataclass
class _Judged:
    decision: GateDecision
    champion_version: str | None = None
    notes: list[str] = field(default_factory=list)
    repeats: str | None = None


def _gate_against_champion(
    cfg: Config,
    registry: Registry,
    name: str,
    data: Dataset,
    split: Split,
    candidate: tuple[Any, Metrics],
    golden: GoldenPlan | None = None,
) -> _Judged:
    model, metrics = candidate
    champion = registry.champion(name)
    if champion is None:
        return _Judged(gate(metrics, cfg.gate))
    try:
        champion_model = registry.load_model(name, champion.version)
        champion_metrics = evaluate(champion_model, split.X_test, split.y_test)
    except (RegistryError, ValueError, KeyError) as exc:
        reason = (
            f"champion v{champion.version} could not be re-scored on this test set "
            f"({first_line(exc, 120)}): use a new --model-name for new "
            "data, or promote by hand"
        )
        decision = gate(metrics, cfg.gate, champion_error=reason)
        return _Judged(decision, champion.version)
    decision = gate(metrics, cfg.gate, champion_metrics, champion.version)
    paired = mcnemar(
        split.y_test.to_numpy(),
        model.predict(split.X_test),
        champion_model.predict(split.X_test),
    )
    decision = add_checks(
        decision,
        [
            significance_check(
                paired,
                cfg.gate.require_significance,
                cfg.gate.significance,
                champion.version,
            )
        ],
    )
    judged = _Judged(decision, champion.version)
    registered = champion.tags.get("test_accuracy")
    if registered and registered != f"{champion_metrics.accuracy:.4f}":
        judged.notes.append(_rescored(champion.version, registered, split))
    if golden is not None and _other_golden(champion, golden):
        judged.notes.append(
            f"champion v{champion.version} was tested on another golden test set "
            f"({champion.tags[GOLDEN]}); it may have trained on some of "
            f"these {len(split.y_test)} rows, so its figures here are optimistic"
        )
    training_digest = golden.training_digest if golden else ""
    same_data = (
        champion.tags.get(TRAINING_DIGEST) == training_digest
        if TRAINING_DIGEST in champion.tags
        else champion.tags.get("data_fingerprint") == data.fingerprint
    )
    if same_data and _same_predictions(split, model, champion_model):
        judged.repeats = champion.version
    return judged


def _other_golden(champion: VersionInfo, golden: GoldenPlan) -> bool:
    tested_on = champion.tags.get(GOLDEN)
    return tested_on is not None and tested_on != golden_label(golden)


def _rescored(version: str, registered: str, split: Split) -> str:
    """The champion's figures in the gate are not the ones it was registered with."""
    return (
        f"champion v{version} was re-scored on this run's {len(split.y_test)} "
        f"test rows; it was registered with test accuracy {registered}"
    )


def _same_predictions(split: Split, model: Any, other: Any) -> bool:
    """The same probabilities on every test row: with the same training rows,
    a repeat run."""
    return bool(
        np.array_equal(
            model.predict_proba(split.X_test), other.predict_proba(split.X_test)
        )
    )
