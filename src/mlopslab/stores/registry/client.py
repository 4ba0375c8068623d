"""The MLflow model registry, behind a small interface the rest of mlopslab uses.

Status lives in the version tag `status` (approved, rejected or pending); the
aliases `champion` and `previous` say what serves and what to roll back to.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from mlopslab.errors import RegistryError, StoreError
from mlopslab.stores.registry.versions import (
    CHAMPION,
    PREVIOUS,
    STATUSES,
    ModelFiles,
    VersionInfo,
    load_pipeline,
)

__all__ = ["CHAMPION", "PREVIOUS", "STATUSES", "Registry", "VersionInfo"]

TRACKING_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


class Registry:
    """Tracking and registry on one MLflow store (SQLite file or server)."""

    def __init__(self, tracking_uri: str, artifact_location: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def connect(
        cls, tracking_uri: str, artifact_location: str | None = None
    ) -> Registry:
        """Open the store and prove it answers; a corrupt store is a StoreError."""
        # No usage telemetry leaves this machine: mlopslab works offline. And a
        # server's run links would interleave with our own summary on stdout.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # MLflow mirrors these into MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI, which
        # would then read as the user's own setting to anything later in this
        # process (tests, notebooks, a second command): keep the environment as it was.
        saved = {name: os.environ.get(name) for name in TRACKING_VARIABLES}
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        try:
            registry = cls(tracking_uri, artifact_location)
            registry.client.search_experiments(max_results=1)
        except (MlflowException, SQLAlchemyError, OSError) as exc:
            raise StoreError(
                f"cannot open the MLflow store at {tracking_uri}: {_first_line(exc)}",
                "check MLFLOW_TRACKING_URI, or move a corrupt mlflow.db aside",
            ) from exc
        return registry

    def experiment_id(self, name: str) -> str:
        """The experiment for a model, created with its artifacts in the workspace."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(
            self.client.create_experiment(
                name, artifact_location=self.artifact_location
            )
        )

    def version(self, name: str, ref: str) -> VersionInfo:
        """Resolve a version number or an alias (`3`, `champion`, `@previous`)."""
        ref = ref.lstrip("@")
        try:
            if ref.isdigit():
                return VersionInfo.from_mlflow(self.client.get_model_version(name, ref))
            return VersionInfo.from_mlflow(
                self.client.get_model_version_by_alias(name, ref)
            )
        except MlflowException as exc:
            raise RegistryError(
                f"model '{name}' has no version '{ref}'",
                f"see `mlopslab registry list {name}` for its versions",
            ) from exc

    def champion(self, name: str) -> VersionInfo | None:
        if not self._model_exists(name):
            return None
        try:
            mv = self.client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            return None
        return VersionInfo.from_mlflow(mv)

    def versions(self, name: str | None = None) -> list[VersionInfo]:
        """All versions, newest first, of one model or of every model."""
        query = f"name = '{name}'" if name else ""
        if name and not self._model_exists(name):
            raise RegistryError(
                f"no registered model named '{name}'",
                "run `mlopslab registry list` to see the models",
            )
        found = self.client.search_model_versions(query, max_results=10_000)
        # Search results carry no aliases; the registered models do.
        aliases: dict[tuple[str, str], list[str]] = {}
        for model_name in {mv.name for mv in found}:
            model = self.client.get_registered_model(model_name)
            for alias, version in model.aliases.items():
                aliases.setdefault((model_name, str(version)), []).append(alias)
        infos = [
            replace(
                VersionInfo.from_mlflow(mv),
                aliases=tuple(sorted(aliases.get((mv.name, str(mv.version)), []))),
            )
            for mv in found
        ]
        return sorted(infos, key=lambda v: (v.name, -int(v.version)))

    def read_json(self, run_id: str, path: str) -> dict[str, Any]:
        """A JSON artifact of a run (baseline, evaluation, model card)."""
        import json

        with tempfile.TemporaryDirectory() as scratch:
            try:
                local = self.client.download_artifacts(run_id, path, scratch)
                with open(local, encoding="utf-8") as handle:
                    content: dict[str, Any] = json.load(handle)
            except (MlflowException, OSError, ValueError) as exc:
                raise RegistryError(
                    f"run {run_id} has no readable {path}: {_first_line(exc)}",
                    "use a model registered by `mlopslab run`",
                ) from exc
        return content

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; nothing happens if it is not set."""
        try:
            self.client.delete_registered_model_alias(name, alias)
        except MlflowException:
            return

    def latest_version(self, name: str) -> int:
        """The highest version number of a model, 0 when it has none."""
        if not self._model_exists(name):
            return 0
        found = self.client.search_model_versions(
            f"name = '{name}'", max_results=1, order_by=["version_number DESC"]
        )
        return int(found[0].version) if found else 0

    def model_names(self) -> list[str]:
        """Names of the registered models (one query, unlike listing versions)."""
        models = self.client.search_registered_models(max_results=1000)
        return sorted(model.name for model in models)

    def load_model(self, name: str, version: str) -> Any:
        """The scikit-learn pipeline of one version."""
        return self.load_version(name, version)[0]

    def load_version(self, name: str, version: str) -> tuple[Any, list[dict[str, Any]]]:
        """A version's pipeline and its input signature, from this store."""
        with tempfile.TemporaryDirectory() as scratch:
            files = self.model_files(self.version(name, version), Path(scratch))
            return load_pipeline(files), files.inputs

    def model_files(self, info: VersionInfo, destination: Path) -> ModelFiles:
        """Download a version's model into `destination` and describe its files.

        Downloads through this registry's own URIs, not MLflow's process-global
        ones, so two registries in one process never read each other's models.
        """
        import mlflow.artifacts
        from mlflow.models import Model

        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{info.name}/{info.version}",
                dst_path=str(destination),
                tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
            model = Model.load(local)
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"cannot load {info.name} v{info.version}: {_first_line(exc)}",
                "check that its artifacts are still in the workspace",
            ) from exc
        flavor = model.flavors.get("sklearn", {})
        if model.signature is None or model.signature.inputs is None or not flavor:
            raise RegistryError(
                f"{info.name} v{info.version} has no scikit-learn flavor or signature",
                "register models with `mlopslab run`, which records both",
            )
        return ModelFiles(
            info=info,
            directory=Path(local),
            pickled_model=str(flavor["pickled_model"]),
            serialization_format=str(flavor.get("serialization_format", "pickle")),
            inputs=model.signature.inputs.to_dict(),
        )

    def register(
        self,
        name: str,
        model_uri: str,
        run_id: str,
        tags: dict[str, str],
        description: str,
        model_id: str | None = None,
    ) -> VersionInfo:
        """Create a version of a logged model (its `model_id`) with its tags."""
        if not self._model_exists(name):
            self.client.create_registered_model(name)
        mv = self.client.create_model_version(
            name,
            source=model_uri,
            run_id=run_id,
            tags=tags,
            description=description,
            model_id=model_id,
        )
        return VersionInfo.from_mlflow(mv)

    def discard(self, name: str, version: str) -> None:
        """Delete a version that a failed run created, so the registry is as before."""
        self.client.delete_model_version(name, version)

    def set_status(self, name: str, version: str, status: str) -> None:
        if status not in STATUSES:
            raise RegistryError(f"unknown status '{status}'", f"use one of {STATUSES}")
        self.client.set_model_version_tag(name, version, "status", status)

    def set_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(name, version, key, value)

    def promote(self, name: str, version: str) -> str | None:
        """Make `version` the champion; the former champion becomes `previous`."""
        old = self.champion(name)
        if old is not None and old.version != version:
            self.client.set_registered_model_alias(name, PREVIOUS, old.version)
        self.client.set_registered_model_alias(name, CHAMPION, version)
        self.set_status(name, version, "approved")
        return old.version if old else None

    def rollback(self, name: str) -> tuple[str, str]:
        """Champion goes back to `previous`; `previous` to the approved one before."""
        current = self.champion(name)
        try:
            previous = VersionInfo.from_mlflow(
                self.client.get_model_version_by_alias(name, PREVIOUS)
            )
        except MlflowException as exc:
            raise RegistryError(
                f"model '{name}' has no previous champion to roll back to",
                "promote a version explicitly with `mlopslab registry promote`",
            ) from exc
        older = [
            v
            for v in self.versions(name)
            if v.status == "approved" and int(v.version) < int(previous.version)
        ]
        self.client.set_registered_model_alias(name, CHAMPION, previous.version)
        if older:
            self.client.set_registered_model_alias(name, PREVIOUS, older[0].version)
        else:
            self.client.delete_registered_model_alias(name, PREVIOUS)
        if current is not None:
            self.set_tag(name, current.version, "rolled_back", "true")
        return (current.version if current else "none", previous.version)

    def _model_exists(self, name: str) -> bool:
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            return False
        return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
