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

from mlopslab.baseline import compute_constraints, compute_statistics
from mlopslab.config import Config
from mlopslab.data import Dataset, load_dataset
from mlopslab.errors import RegistryError, first_line
from mlopslab.evaluate import GateDecision, Metrics, evaluate, gate
from mlopslab.flows.executor import trial_executor
from mlopslab.flows.registration import record_run
from mlopslab.flows.run import Prepared, Reporter, RunSummary, Stages, Trained
from mlopslab.preprocess import Split, split_dataset
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.registry.versions import VersionInfo
from mlopslab.stores.workspace import Workspace
from mlopslab.train import fit_final
from mlopslab.tune import CNN_DEFAULT_MAX_PIXELS, TuneResult, families_for, tune


def run_pipeline(
    cfg: Config,
    workspace: Workspace,
    connect: Callable[[], Registry],
    reporter: Reporter | None = None,
    dataset: Dataset | None = None,
) -> RunSummary:
    """Data, preprocess, tune, train, evaluate and gate, then register and promote.

    `connect` opens the registry; it is called after the data stages.
    """
    stages = Stages(reporter)
    prepared = prepare(cfg, stages, dataset)
    cfg = with_families(cfg, prepared.dataset)
    registry = connect()
    trained = train_and_gate(cfg, registry, stages, prepared)
    with stages.stage("register") as timing:
        summary = record_run(cfg, workspace, registry, trained, stages.timings)
        timing.result = f"{summary.model_name} v{summary.version}: {summary.status}"
    summary.notes = list(trained.notes)
    if trained.repeats is not None and summary.status == "approved":
        summary.notes.append(
            f"v{summary.version} repeats champion v{trained.repeats} (same data, "
            "same predictions on the test set): kept as a record, not promoted"
        )
    summary.paths["summary"] = _write_summary(workspace, summary)
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


def prepare(cfg: Config, stages: Stages, dataset: Dataset | None = None) -> Prepared:
    """The data and preprocess stages: every check of the input, and the baseline."""
    with stages.stage("data") as timing:
        data = dataset or load_dataset(cfg.data)
        families_for(cfg.tune, *cnn_images(data))  # refuse before any work
        timing.result = (
            f"{len(data.frame)} rows, {len(data.schema.columns)} features, "
            f"{len(data.schema.classes)} classes"
        )
    with stages.stage("preprocess") as timing:
        split = split_dataset(data, cfg.split, cfg.tune.cv_folds, cfg.seed)
        statistics = compute_statistics(split.X_train, data.schema)
        constraints = compute_constraints(split.X_train, data.schema)
        timing.result = (
            ", ".join(f"{k} {v}" for k, v in split.sizes.items()) + "; baseline"
        )
    return Prepared(data, split, statistics, constraints)


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
    cfg: Config, registry: Registry, stages: Stages, prepared: Prepared | None = None
) -> Trained:
    """Every stage up to the gate decision; pure computation plus one registry read.

    Without `prepared`, the data and preprocess stages run first.
    """
    prepared = prepared or prepare(cfg, stages)
    data, split = prepared.dataset, prepared.split
    with stages.stage("tune") as timing:
        with trial_executor(cfg) as executor:
            # cfg.tune.families as searched: `run_pipeline` resolved them.
            tuning = tune(
                split.X_train, split.y_train, data.schema, cfg.tune, cfg.seed, executor
            )
        timing.result = (
            f"{len(tuning.trials)} trials, best {tuning.best.family} "
            f"(cv log loss {tuning.best.cv_log_loss:.4f})" + _retried(tuning)
        )
    with stages.stage("train") as timing:
        on_train = fit_final(
            split.X_train,
            split.y_train,
            data.schema,
            tuning.best.family,
            tuning.best.params,
            cfg.seed,
        )
        validation = evaluate(on_train, split.X_valid, split.y_valid)
        X_fit, y_fit = split.train_and_valid()
        model = fit_final(
            X_fit, y_fit, data.schema, tuning.best.family, tuning.best.params, cfg.seed
        )
        timing.result = (
            f"{tuning.best.family}, validation accuracy {validation.accuracy:.4f}"
        )
    with stages.stage("evaluate") as timing:
        metrics = evaluate(model, split.X_test, split.y_test)
        name = cfg.registry.model_name or data.name
        latest = registry.latest_version(name)
        judged = _gate_against_champion(
            cfg, registry, name, data, split, (model, metrics)
        )
        decision, champion_before = judged.decision, judged.champion_version
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
    )


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
    judged = _Judged(decision, champion.version)
    registered = champion.tags.get("test_accuracy")
    if registered and registered != f"{champion_metrics.accuracy:.4f}":
        judged.notes.append(_rescored(champion.version, registered, split))
    if _same_model(champion, data, split, model, champion_model):
        judged.repeats = champion.version
    return judged


def _rescored(version: str, registered: str, split: Split) -> str:
    """The champion's figures in the gate are not the ones it was registered with."""
    return (
        f"champion v{version} was re-scored on this run's {len(split.y_test)} "
        f"test rows; it was registered with test accuracy {registered}"
    )


def _same_model(
    champion: VersionInfo, data: Dataset, split: Split, model: Any, other: Any
) -> bool:
    """Same data and the same probabilities on every test row: a repeat run."""
    if champion.tags.get("data_fingerprint") != data.fingerprint:
        return False
    return bool(
        np.array_equal(
            model.predict_proba(split.X_test), other.predict_proba(split.X_test)
        )
    )
