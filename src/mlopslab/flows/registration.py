"""The `register` stage: write the run's files, log it to MLflow, register, promote.

Every write after the model version exists is undone on failure: the version is
deleted and the aliases are put back, so the registry is exactly as it was. A
store that stops answering (a tracking server gone away) is a StoreError; if it
cannot even take the undo, the error says what may be left behind.
"""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

import mlopslab
from mlopslab.config import Config, public_dump
from mlopslab.errors import RegistryError, StageError, StoreError, first_line
from mlopslab.flows.packaging import code_by_value
from mlopslab.flows.review import review_card, review_html
from mlopslab.flows.run import RunSummary, StageTiming, Trained
from mlopslab.reports.card import build_card, card_markdown
from mlopslab.reports.evaluation import RunFacts, render_report
from mlopslab.stores.registry.client import (
    CHAMPION,
    PREVIOUS,
    Registry,
    VersionInfo,
    unreachable,
)
from mlopslab.stores.registry.versions import GOLDEN, REPEATS, TRAINING_DIGEST
from mlopslab.stores.workspace import Workspace
from mlopslab.train import TORCH_FAMILIES
from mlopslab.tune import TrialRecord

# Pinned explicitly: inferring requirements spawns a subprocess and costs seconds.
MODEL_REQUIREMENTS = (
    "mlflow",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "cloudpickle",
)
STORE_ERRORS = (MlflowException, SQLAlchemyError, OSError)


def record_run(
    cfg: Config,
    workspace: Workspace,
    registry: Registry,
    trained: Trained,
    timings: list[StageTiming],
) -> RunSummary:
    """Persist one evaluated model; on failure leave the registry untouched.

    A store that cannot answer raises StoreError, any other failure StageError.
    """
    aliases_before: dict[str, str] = {}
    version: VersionInfo | None = None
    try:
        aliases_before = _aliases(registry, trained.model_name)
        experiment_id = registry.experiment_id(trained.model_name)
        with mlflow.start_run(experiment_id=experiment_id, run_name="pipeline") as run:
            run_dir = workspace.run_dir(run.info.run_id)
            paths = _write_run_files(cfg, run_dir, run.info.run_id, trained)
            _log_run(registry, experiment_id, run.info.run_id, trained)
            mlflow.log_artifacts(str(run_dir))
            model_uri, model_id = _log_model(trained)
            version = registry.register(
                trained.model_name,
                model_uri,
                run.info.run_id,
                tags=_version_tags(trained),
                description=_description(trained),
                model_id=model_id,
            )
            status = _decide_status(cfg, trained)
            paths |= _write_card(
                cfg, run_dir, run.info.run_id, trained, version.version, status
            )
            for key in ("card_md", "card_json"):
                mlflow.log_artifact(str(paths[key]))
            _apply_status(cfg, registry, trained, version.version, status)
    except (*STORE_ERRORS, StoreError) as exc:
        if version is not None:
            _undo(registry, trained.model_name, version.version, aliases_before, exc)
        unchanged = "the registry and champion are unchanged"
        # MLflow's own calls here (start_run, log_artifacts) fail raw.
        store = exc if isinstance(exc, StoreError) else None
        if store is None and unreachable(exc):
            store = registry.unusable("recording the run", exc)
        if store is not None:
            raise StoreError(
                f"register failed: {store.message}", f"{unchanged}; {store.hint}"
            ) from exc
        raise StageError(
            f"register failed: {first_line(exc)}",
            f"{unchanged}; check the workspace or tracking server and run again",
        ) from exc
    champion_after = registry.champion(trained.model_name)
    return RunSummary(
        run_id=run.info.run_id,
        model_name=trained.model_name,
        version=version.version,
        status=status,
        decision=trained.decision,
        metrics=trained.metrics,
        stages=timings,
        paths=paths,
        champion_before=trained.champion_before,
        champion_after=champion_after.version if champion_after else None,
    )


def _decide_status(cfg: Config, trained: Trained) -> str:
    if not trained.decision.approved:
        return "rejected"
    return "approved" if cfg.registry.promotion == "auto" else "pending"


def _apply_status(
    cfg: Config, registry: Registry, trained: Trained, version: str, status: str
) -> None:
    registry.set_status(trained.model_name, version, status)
    if trained.datasets is not None:
        golden = trained.datasets.golden
        for tag, value in (
            (TRAINING_DIGEST, trained.datasets.training_digest),
            (GOLDEN, f"{golden.key} v{golden.version}"),
        ):
            registry.set_tag(trained.model_name, version, tag, value)
    if trained.repeats is not None:
        # Said in the registry too, so that it outlives the terminal.
        registry.set_tag(trained.model_name, version, REPEATS, trained.repeats)
    # Promoting a repeat of the champion would only push the real previous
    # champion out of `previous`, and with it the rollback.
    if status == "approved" and trained.repeats is None:
        registry.promote(trained.model_name, version)
        settle_champion(cfg, registry, trained, version)


def settle_champion(
    cfg: Config, registry: Registry, trained: Trained, version: str
) -> None:
    """Runs registered at the same time: the champion ends on the best of them.

    Each concurrent run passed its gate against the same old champion, and the
    last to promote would win. So after promoting, every run ranks the
    versions approved since its gate read (re-scored on its own test set, ties
    to the earliest) and gives the alias to the best, until the alias agrees.
    The last run to finish sees every other run's status, so the alias ends on
    the best model whatever the interleaving.
    """
    name = trained.model_name
    alone = int(version) == trained.latest_at_gate + 1
    if alone and registry.latest_version(name) == int(version):
        return  # no other version was registered since the gate: nothing to settle
    for _ in range(5):
        rivals = [
            v.version
            for v in registry.versions(name)
            if v.status == "approved"
            and int(v.version) > trained.latest_at_gate
            and v.version != version
            and REPEATS not in v.tags  # a repeat is never a rival: see above
        ]
        if not rivals:
            return
        best = _best_version(cfg, registry, trained, version, rivals)
        champion = registry.champion(name)
        if champion is not None and champion.version == best:
            return
        # Only the champion moves: `previous` stays the champion every one of
        # these runs replaced, so a rollback never lands on a settled loser.
        registry.set_alias(name, CHAMPION, best)
        if trained.champion_before:
            registry.set_alias(name, PREVIOUS, trained.champion_before)
        else:
            registry.delete_alias(name, PREVIOUS)


def _best_version(
    cfg: Config, registry: Registry, trained: Trained, own: str, rivals: list[str]
) -> str:
    from mlopslab.evaluate import LOWER_IS_BETTER, evaluate

    metric = cfg.gate.compare_metric
    scores = {own: getattr(trained.metrics, metric)}
    for rival in rivals:
        try:
            model = registry.load_model(trained.model_name, rival)
            scored = evaluate(model, trained.split.X_test, trained.split.y_test)
        except (RegistryError, ValueError, KeyError):
            continue  # trained on other data: not comparable on this test set
        scores[rival] = getattr(scored, metric)
    sign = 1 if metric in LOWER_IS_BETTER else -1
    return min(scores, key=lambda v: (sign * scores[v], int(v)))


def _aliases(registry: Registry, name: str) -> dict[str, str]:
    found = {}
    for alias in (CHAMPION, PREVIOUS):
        try:
            found[alias] = registry.version(name, alias).version
        except RegistryError:
            continue
    return found


def _undo(
    registry: Registry,
    name: str,
    version: str,
    aliases: dict[str, str],
    cause: BaseException,
) -> None:
    """Delete the new version and put the aliases back, or say what is left."""
    try:
        registry.discard(name, version)
        for alias, target in aliases.items():
            registry.set_alias(name, alias, target)
    except StoreError as exc:
        fix = f"`mlopslab registry reject {name} {version}`"
        if CHAMPION in aliases:  # the champion first: reject refuses a champion
            fix = f"`mlopslab registry promote {name} {aliases[CHAMPION]}`, {fix}"
        raise StoreError(
            f"register failed ({first_line(cause)}) and so did undoing it: "
            f"{exc.message}",
            f"{name} v{version} may be left behind: once the store answers again, "
            f"check `mlopslab registry list {name}`, then run {fix}",
        ) from cause


def _write_run_files(
    cfg: Config, run_dir: Path, run_id: str, trained: Trained
) -> dict[str, Path]:
    baseline = run_dir / "baseline"
    baseline.mkdir(parents=True, exist_ok=True)
    paths = {
        "statistics": baseline / "statistics.json",
        "constraints": baseline / "constraints.json",
        "evaluation": run_dir / "evaluation.json",
        "report": run_dir / "evaluation.html",
        "config": run_dir / "config.json",
        "tuning": run_dir / "tuning.json",
    }
    _dump(paths["statistics"], trained.statistics)
    _dump(paths["constraints"], trained.constraints)
    _dump(
        paths["evaluation"],
        {
            "test": trained.metrics.to_dict(),
            "validation": trained.validation.to_dict(),
            "gate": _gate_dict(trained),
            **(trained.review.to_dict() if trained.review else {}),
        },
    )
    _dump(paths["config"], public_dump(cfg))
    _dump(paths["tuning"], [trial.__dict__ for trial in trained.tuning.trials])
    paths["report"].write_text(
        render_report(
            trained.model_name,
            run_id,
            trained.tuning.best.family,
            trained.metrics,
            trained.decision,
            _run_facts(trained),
            review_html(trained.review),
        ),
        encoding="utf-8",
    )
    return paths


def _run_facts(trained: Trained) -> RunFacts:
    """The report's date, data digest (as on the card) and tuning history."""
    from datetime import UTC, datetime

    best = trained.tuning.best
    return RunFacts(
        created_at=datetime.now(UTC),
        data_source=trained.dataset.source,
        rows=len(trained.dataset.frame),
        fingerprint=trained.dataset.fingerprint,
        params=best.params,
        trials=trained.tuning.trials,
        chosen_trial=best.number,
    )


def _write_card(
    cfg: Config, run_dir: Path, run_id: str, trained: Trained, version: str, status: str
) -> dict[str, Path]:
    data = trained.dataset
    card = build_card(
        model_name=trained.model_name,
        version=version,
        status=status,
        run_id=run_id,
        dataset={
            "source": data.source,
            "target": data.target,
            "fingerprint": data.fingerprint,
            "rows": len(data.frame),
            "dropped_unlabelled": data.dropped_unlabelled,
            "classes": list(data.schema.classes),
            "features": [c.__dict__ for c in data.schema.columns],
            "image": data.image.to_dict() if data.image else None,
            "columns": [d.to_dict() for d in data.column_report.decisions],
            **_dataset_records(trained),
        },
        split_sizes=trained.split.sizes,
        family=trained.tuning.best.family,
        params=trained.tuning.best.params,
        metrics=trained.metrics.to_dict(),
        validation=trained.validation.headline(),
        gate=_gate_dict(trained),
        config=public_dump(cfg),
        code_version=code_version(),
    )
    paths = {
        "card_md": run_dir / "model_card.md",
        "card_json": run_dir / "model_card.json",
    }
    card |= review_card(cfg, trained)
    _dump(paths["card_json"], card)
    paths["card_md"].write_text(card_markdown(card), encoding="utf-8")
    return paths


def _log_run(
    registry: Registry, experiment_id: str, run_id: str, trained: Trained
) -> None:
    """Parent params and metrics in one batch; each trial as a nested run."""
    best = trained.tuning.best
    params = {
        "family": best.family,
        **{f"model.{k}": v for k, v in best.params.items()},
        "data.source": trained.dataset.source,
        "data.fingerprint": trained.dataset.fingerprint,
    }
    metrics = {f"test_{k}": v for k, v in trained.metrics.headline().items()}
    metrics |= {f"valid_{k}": v for k, v in trained.validation.headline().items()}
    _log_batch(registry, run_id, params, metrics)
    _log_datasets(trained)
    for trial in trained.tuning.trials:
        child = registry.client.create_run(
            experiment_id,
            run_name=f"trial-{trial.number:03d}-{trial.family}",
            tags={"mlflow.parentRunId": run_id},
        )
        trial_metrics = {
            "cv_log_loss": trial.cv_log_loss,
            "cv_accuracy": trial.cv_accuracy,
            "cv_macro_f1": trial.cv_macro_f1,
            "seconds": trial.seconds,
            "retries": float(trial.retries),  # re-runs after a lost Ray worker
            "first_fold_log_loss": trial.first_fold_log_loss,
        }
        _log_batch(
            registry,
            child.info.run_id,
            {"family": trial.family, **trial.params},
            {k: v for k, v in trial_metrics.items() if v is not None},
            tags=_trial_tags(trial),
        )
        failed = trial.error is not None and not trial.pruned
        registry.client.set_terminated(
            child.info.run_id, "FAILED" if failed else "FINISHED"
        )


def _dataset_records(trained: Trained) -> dict[str, Any]:
    """The card's record of the golden test set and the training rows."""
    saved = trained.datasets
    if saved is None:
        return {}
    lineage = trained.dataset.lineage
    return {
        # Where the rows first came from: a retrain's is its champion's.
        "source": lineage.source if lineage else trained.dataset.source,
        "golden": {**saved.golden.to_dict(), "frozen_by_this_run": saved.new_golden},
        "training": {
            "path": str(saved.training),
            "digest": saved.training_digest,
            "rows": saved.training_rows,
            "labelled_rows": lineage.labelled_rows if lineage else 0,
        },
    }


def _log_datasets(trained: Trained) -> None:
    """The golden test set and the training rows as MLflow dataset inputs."""
    saved = trained.datasets
    if saved is None:
        return
    target = trained.dataset.target
    golden = trained.split.X_test.assign(**{target: trained.split.y_test})
    mlflow.log_input(
        _dataset(
            golden,
            source=saved.golden.path.as_uri(),
            target=target,
            name=f"golden-{saved.golden.key}-v{saved.golden.version}",
            digest=saved.golden.digest[:16],
        ),
        context="testing",
    )
    X, y = trained.split.train_and_valid()
    mlflow.log_input(
        _dataset(
            X.assign(**{target: y}),
            source=saved.training.as_uri(),
            target=target,
            name=f"training-{saved.training_digest[:12]}",
            digest=saved.training_digest[:16],
        ),
        context="training",
    )


def _dataset(frame: Any, source: str, target: str, name: str, digest: str) -> Any:
    """An MLflow dataset of `frame`, its schema inferred from a few rows."""
    from mlflow.data.pandas_dataset import from_pandas

    from mlopslab.flows.packaging import schema_rows

    def make(rows: Any) -> Any:
        return from_pandas(
            rows, source=source, targets=target, name=name, digest=digest
        )

    dataset = make(frame)
    # `schema` is a cached property: computed on these rows, it is not
    # recomputed (in Python, value by value) on the whole frame.
    dataset.__dict__["schema"] = make(schema_rows(frame)).schema
    return dataset


def _trial_tags(trial: TrialRecord) -> dict[str, str]:
    """A pruned trial finished early by design; a failed one says why."""
    if trial.pruned:
        return {"pruned": "true", "pruned_because": trial.error or ""}
    return {"error": trial.error} if trial.error else {}


def _log_batch(
    registry: Registry,
    run_id: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str] | None = None,
) -> None:
    registry.client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in (tags or {}).items()],
    )


def _requirements(family: str) -> list[str]:
    """The libraries a model of `family` loads with, at the versions installed
    (without a local label: torch's `2.13.0+cpu` is `2.13.0` on PyPI)."""
    needs = [*MODEL_REQUIREMENTS, *(["torch"] if family in TORCH_FAMILIES else [])]
    return [f"{pkg}=={metadata.version(pkg).split('+')[0]}" for pkg in needs]


def _log_model(trained: Trained) -> tuple[str, str]:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlopslab.flows.packaging import schema_rows

    X = trained.split.X_train
    example = X.head(5)
    signature = infer_signature(schema_rows(X), trained.model.predict(example))
    # cloudpickle, not skops: loading a skops file imports every scikit-learn
    # module (about a second at each server start). The registry is ours, so
    # the pickle's trust model holds: only load models from a registry you run.
    with code_by_value():
        info = mlflow.sklearn.log_model(
            trained.model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(trained.tuning.best.family),
            serialization_format="cloudpickle",
        )
    return str(info.model_uri), str(info.model_id)


def _version_tags(trained: Trained) -> dict[str, str]:
    return {
        "status": "pending",
        "family": trained.tuning.best.family,
        "data_fingerprint": trained.dataset.fingerprint,
        "test_accuracy": f"{trained.metrics.accuracy:.4f}",
        "gate": trained.decision.verdict,
    }


def _description(trained: Trained) -> str:
    return (
        f"{trained.tuning.best.family}; test accuracy {trained.metrics.accuracy:.4f}; "
        f"gate {trained.decision.verdict}: " + "; ".join(trained.decision.reasons)
    )


def _gate_dict(trained: Trained) -> dict[str, Any]:
    decision = trained.decision
    return {
        "verdict": decision.verdict,
        "reasons": decision.reasons,
        "checks": decision.checks,
        "champion_version": decision.champion_version,
        "champion_metrics": decision.champion_metrics,
    }


def code_version() -> dict[str, Any]:
    """mlopslab's version and, where its source is a git checkout, the commit."""
    source = Path(mlopslab.__file__).resolve().parent
    info: dict[str, Any] = {
        "mlopslab": mlopslab.__version__,
        "git_sha": None,
        "git_dirty": None,
    }
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "."],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return info
    info["git_sha"] = sha.stdout.strip()
    info["git_dirty"] = bool(dirty.stdout.strip())
    return info


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, default=str), encoding="utf-8")
