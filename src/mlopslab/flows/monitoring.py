"""Orchestration for `mlopslab monitor`: window, checks, outputs, alerts, retrain."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlopslab.config import Config, MonitorConfig
from mlopslab.data import Dataset
from mlopslab.errors import DataError
from mlopslab.fairness import FairnessResult
from mlopslab.monitor.attribution import AttributionDrift
from mlopslab.monitor.cbpe import PerformanceEstimate
from mlopslab.monitor.constraints import check_constraints
from mlopslab.monitor.drift import detect_drift
from mlopslab.monitor.quality import QualityResult, check_quality
from mlopslab.monitor.reference import Reference, references
from mlopslab.monitor.result import (
    MonitoredModel,
    MonitorResult,
    PastCheck,
    Verdict,
    WindowSummary,
    missing_shares,
    prediction_counts,
)
from mlopslab.stores.capture.record import CaptureStore
from mlopslab.stores.registry.versions import Baseline
from mlopslab.stores.workspace import Workspace


@dataclass(frozen=True)
class Window:
    inputs: pd.DataFrame
    predictions: pd.Series
    labels: pd.Series
    first: str
    last: str
    # Each row's class probabilities as served (columns: the classes).
    probabilities: pd.DataFrame | None = None


def read_window(store: CaptureStore, last: int) -> Window:
    """The newest `last` captured rows, with their predictions and any labels."""
    rows = store.recent(last)
    if not rows:
        raise DataError(
            "no captured requests to monitor yet",
            "serve with --capture-rate above 0 and send traffic "
            "(`mlopslab simulate traffic`)",
        )
    inputs = pd.DataFrame.from_records([record.input for record, _ in rows])
    stamp = [
        dt.datetime.fromtimestamp(record.captured_at, dt.UTC) for record, _ in rows
    ]
    return Window(
        inputs=inputs,
        predictions=pd.Series([record.prediction for record, _ in rows], dtype=object),
        labels=pd.Series([label for _, label in rows], dtype=object),
        first=min(stamp).isoformat(timespec="seconds"),
        last=max(stamp).isoformat(timespec="seconds"),
        probabilities=pd.DataFrame.from_records(
            [record.probabilities for record, _ in rows]
        ),
    )


def review_window(
    result: MonitorResult,
    window: Window,
    baseline: Baseline,
    cfg: Config,
    model: Any | None = None,
) -> MonitorResult:
    """The result with the window's performance estimated from its probabilities
    (CBPE, beside the realised figures once labels arrive), where the model was
    evaluated for fairness its group metrics over the labelled rows, and, given
    the champion `model`, its importance ranking on the window (attribution
    drift)."""
    from dataclasses import replace

    return replace(
        result,
        estimate=_estimate(result, window, baseline),
        fairness=_window_fairness(window, baseline, cfg),
        attribution=_attribution(window, baseline, cfg, model),
    )


def needs_model(baseline: Baseline) -> bool:
    """Whether the attribution check has a baseline ranking to compare with."""
    return bool(baseline.evaluation.get("attribution_baseline"))


def _attribution(
    window: Window, baseline: Baseline, cfg: Config, model: Any | None
) -> AttributionDrift | None:
    from mlopslab.explain import Importance, permutation_importance
    from mlopslab.monitor.attribution import attribution_drift

    saved = baseline.evaluation.get("attribution_baseline")
    if model is None or not saved:
        return None
    reference = Importance.from_dict(saved)
    numeric = [
        f["name"]
        for f in baseline.card.get("data", {}).get("features", [])
        if f.get("kind") == "numeric"
    ]
    inputs = window.inputs.reindex(columns=_features(baseline, window))
    now = permutation_importance(
        model,
        inputs,
        None,
        numeric,
        repeats=reference.repeats,
        seed=cfg.seed,
        threshold=reference.grouped_at,
    )
    return attribution_drift(
        reference,
        now,
        threshold=cfg.monitor.attribution_threshold,
        min_rows=cfg.monitor.min_rows,
    )


def _features(baseline: Baseline, window: Window) -> list[str]:
    features = baseline.card.get("data", {}).get("features", [])
    return [f["name"] for f in features] or list(window.inputs.columns)


def _estimate(
    result: MonitorResult, window: Window, baseline: Baseline
) -> PerformanceEstimate | None:
    from dataclasses import replace

    from mlopslab.monitor.cbpe import Estimate, estimate_performance

    probabilities = window.probabilities
    if probabilities is None or probabilities.columns.empty:
        return None
    classes = [str(c) for c in probabilities.columns]
    try:
        estimate = estimate_performance(
            probabilities.to_numpy(dtype=float),
            classes,
            reference_accuracy=baseline.evaluation["test"].get("accuracy"),
        )
    except ValueError:
        return None  # no usable probabilities in the window
    quality = result.quality

    def realised(e: Estimate, value: float | None) -> Estimate:
        return e if value is None else replace(e, realised=value)

    return replace(
        estimate,
        accuracy=realised(estimate.accuracy, quality.accuracy),
        macro_f1=realised(estimate.macro_f1, quality.macro_f1),
    )


def _window_fairness(
    window: Window, baseline: Baseline, cfg: Config
) -> FairnessResult | None:
    from mlopslab.fairness import assess_fairness

    evaluated = baseline.evaluation.get("fairness")
    labelled = window.labels.notna().to_numpy()
    if not evaluated or labelled.sum() < cfg.monitor.min_labels:
        return None
    features = [f["feature"] for f in evaluated["features"]]
    inputs = window.inputs[labelled]
    if any(name not in inputs.columns for name in features):
        return None
    return assess_fairness(
        window.labels[labelled].astype(str),
        window.predictions[labelled].astype(str),
        inputs[features],
        min_rows=int(evaluated.get("min_rows", cfg.evaluate.min_group_rows)),
        seed=cfg.seed,
    )


def run_checks(
    window: Window, baseline: Baseline, cfg: MonitorConfig, model: MonitoredModel
) -> MonitorResult:
    """Constraints, drift and quality for one window."""
    refs = references(baseline.statistics)
    drift = detect_drift(
        window.inputs,
        refs,
        drift_settings(cfg, baseline, refs),
        window.predictions,
        baseline.evaluation["test"].get("prediction_counts"),
    )
    violations = check_constraints(
        window.inputs, baseline.constraints, cfg, drift.drifted
    )
    test = baseline.evaluation["test"]
    quality: QualityResult = check_quality(
        window.predictions,
        window.labels,
        {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"]},
        cfg,
    )
    verdict = Verdict(
        drift=bool(drift.drifted)
        or bool(drift.prediction and drift.prediction.drifted),
        constraints=bool(violations),
        quality=quality.degraded,
    )
    summary = WindowSummary(
        len(window.inputs), quality.labelled, window.first, window.last
    )
    return MonitorResult(
        model,
        summary,
        verdict,
        drift,
        tuple(violations),
        quality,
        cfg,
        missing=missing_shares(window.inputs, baseline.constraints),
        predictions=prediction_counts(
            test.get("prediction_counts"), window.predictions
        ),
    )


def drift_settings(
    cfg: MonitorConfig, baseline: Baseline, refs: dict[str, Reference]
) -> MonitorConfig:
    """For images, every pixel by KS or chi-squared, corrected together.

    Past `small_reference` rows, features are judged by distances, each against
    its own threshold: fine for a table's few columns, but over 64 pixels (or
    784) some cross it by chance. A clean digits window of 300 rows had 2 of
    64 pixels "drift". P-values corrected by Benjamini-Hochberg keep the share
    of false discoveries near `p_value` however many pixels there are. A
    `small_reference` the user set is kept.
    """
    image = baseline.card.get("data", {}).get("image")
    if not image or "small_reference" in cfg.model_fields_set:
        return cfg
    largest = max((r.count for r in refs.values()), default=0)
    return cfg.model_copy(update={"small_reference": max(cfg.small_reference, largest)})


STAMP = "%Y%m%dT%H%M%S%fZ"  # a check's folder under monitoring/, by its UTC time


@dataclass(frozen=True)
class MonitorOutputs:
    """Where one check wrote its files: a new folder under monitoring/."""

    result: Path
    violations: Path
    report: Path
    metrics: Path


def write_outputs(
    workspace: Workspace,
    result: MonitorResult,
    refs: dict[str, Reference],
    window: Window,
    report: Path | None,
) -> MonitorOutputs:
    """result.json, constraint_violations.json, report.html and metrics.prom."""
    from mlopslab.reports.monitoring import render_monitor_report

    stamp = dt.datetime.now(dt.UTC).strftime(STAMP)
    previous = previous_check(workspace.home / "monitoring", result.model.name)
    folder = workspace.home / "monitoring" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    outputs = MonitorOutputs(
        result=folder / "result.json",
        violations=folder / "constraint_violations.json",
        report=report or folder / "report.html",
        metrics=folder / "metrics.prom",
    )
    outputs.result.write_text(
        json.dumps(result.to_json(), indent=2, default=str), encoding="utf-8"
    )
    violations = list(result.constraint_violations)
    outputs.violations.write_text(
        json.dumps({"violations": violations}, indent=2), encoding="utf-8"
    )
    html = render_monitor_report(result, refs, window.inputs, previous)
    outputs.report.write_text(html, encoding="utf-8")
    _write_metrics(outputs.metrics, result)
    return outputs


def previous_check(monitoring: Path, model_name: str) -> PastCheck | None:
    """The newest earlier check of this model under monitoring/, if one is readable.

    Each check leaves a folder named by its time with a result.json; folders
    of other models, and files that cannot be read, are passed over.
    """
    folders = sorted(monitoring.iterdir(), reverse=True) if monitoring.is_dir() else []
    for folder in folders:
        try:
            checked = dt.datetime.strptime(folder.name, STAMP).replace(tzinfo=dt.UTC)
            content = json.loads((folder / "result.json").read_text(encoding="utf-8"))
            if content["model"]["name"] != model_name:
                continue
            return PastCheck.from_json(content, checked.isoformat(timespec="seconds"))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _write_metrics(path: Path, result: MonitorResult) -> None:
    """Prometheus textfile-collector format, for node_exporter or a pushgateway."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    labels = ["model_name", "model_version"]
    model = [result.model.name, result.model.version]
    gauges = {
        "mlopslab_monitor_drift_share": result.drift.drift_share,
        "mlopslab_monitor_features_drifted": len(result.drift.drifted),
        "mlopslab_monitor_constraint_violations": len(result.constraint_violations),
        "mlopslab_monitor_window_rows": result.window.rows,
        "mlopslab_monitor_accuracy": result.quality.accuracy or float("nan"),
    }
    for name, value in gauges.items():
        Gauge(name, name.replace("_", " "), labels, registry=registry).labels(
            *model
        ).set(value)
    violated = Gauge(
        "mlopslab_monitor_violated",
        "1 when the check is violated",
        [*labels, "check"],
        registry=registry,
    )
    for check, bad in result.verdict.to_json().items():
        violated.labels(*model, check).set(1 if bad else 0)
    write_to_textfile(str(path), registry)


def send_alerts(
    result: MonitorResult, result_path: Path, webhook: str | None, command: str | None
) -> list[str]:
    """POST the result to a webhook and/or run a command; return what went wrong."""
    import httpx

    content = result.to_json()
    problems = []
    if webhook:
        try:
            response = httpx.post(webhook, json=content, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            problems.append(f"webhook {webhook} failed: {exc}")
    if command:
        env = {**os.environ, "MLOPSLAB_MONITOR_RESULT": str(result_path)}
        completed = subprocess.run(
            command,
            shell=True,
            input=json.dumps(content),
            text=True,
            env=env,
            stderr=subprocess.PIPE,  # stdout is for the user; stderr for our message
            timeout=120,
        )
        if completed.returncode != 0:
            problems.append(
                f"alert command exited {completed.returncode}: "
                f"{completed.stderr.strip()[:200]}"
            )
    return problems


def _golden_rows(card: dict[str, Any]) -> pd.DataFrame:
    from mlopslab.stores.datasets import GoldenRef, read_frame

    golden = card.get("golden")
    if not golden:
        return pd.DataFrame()
    return read_frame(GoldenRef.from_dict(golden).path, "golden test set")


def retraining_dataset(baseline: Baseline, window: Window, name: str) -> Dataset:
    """The champion's exact training rows plus the window's labelled rows.

    The test set stays the source's golden test set: labelled captures only
    ever join training and validation (a mislabelled row cannot make the
    test set wrong), and a row already trained on is not added twice.
    """
    from dataclasses import replace

    from mlopslab.config import DataConfig
    from mlopslab.data import Lineage, build_dataset, load_dataset
    from mlopslab.golden import row_keys, source_key

    card = baseline.card["data"]
    training = card.get("training")
    if training:
        base = load_dataset(DataConfig(source=training["path"]))
    else:  # a champion from before training rows were saved
        base = load_dataset(DataConfig(source=card["source"], target=card["target"]))
    target = base.target
    labelled = window.inputs[window.labels.notna().to_numpy()].copy()
    labelled[target] = window.labels[window.labels.notna()].to_numpy()
    labelled = labelled.reindex(columns=base.frame.columns)
    # Copies of rows already trained on, or of golden test rows (which never
    # train), are not new training rows.
    known = set(row_keys(base.frame)) | set(row_keys(_golden_rows(card)))
    new = labelled[~row_keys(labelled).isin(known).to_numpy()]
    combined = pd.concat([base.frame, new], ignore_index=True)
    earlier = base.lineage
    lineage = Lineage(
        source=earlier.source if earlier else base.source,
        golden=earlier.golden if earlier else source_key(base),
        labelled_rows=(earlier.labelled_rows if earlier else 0) + len(new),
        model_name=name,
    )
    dataset = build_dataset(name, base.source, combined, target, base.image)
    # The card keeps what the first load dropped, not only what this one found.
    report = base.column_report.then(dataset.column_report)
    return replace(dataset, lineage=lineage, column_report=report)
