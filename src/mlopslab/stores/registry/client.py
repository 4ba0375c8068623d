"""The MLflow model registry, behind a small interface the rest of mlopslab uses.

Status lives in the version tag `status` (approved, rejected or pending); the
aliases `champion` and `previous` say what serves and what to roll back to.

Only MLflow's RESOURCE_DOES_NOT_EXIST means "absent" (no such model, so no
champion). Every other failure (a tracking server that is down, a database
error, a full disk, any other MlflowException) is a `StoreError` naming the
store: reading it as "no champion" would let the gate approve on thresholds
alone, and the run would overwrite a champion it never compared against.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from mlopslab.errors import RegistryError, StoreError, first_line
from mlopslab.stores.registry import new_store
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
# MLflow's error code for a model, version or run that does not exist.
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
# A reference MLflow refuses: an alias that is not set, a malformed name.
INVALID = "INVALID_PARAMETER_VALUE"
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
# What a store that cannot answer raises. requests' errors are OSErrors.
STORE_FAILURES = (MlflowException, SQLAlchemyError, OSError)
# The first request to a server fails fast: a server that is down is reported
# in seconds, not after MLflow's default retries (about four minutes). Later
# requests keep MLflow's retries, which ride out a busy or restarting server.
PROBE_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}

T = TypeVar("T")


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
        new_store.create_for(tracking_uri)
        try:
            registry = cls(tracking_uri, artifact_location)
            with _probe_settings():
                registry.client.search_experiments(max_results=1)
        except STORE_FAILURES as exc:
            raise StoreError(
                f"cannot open the MLflow store at {tracking_uri}: {_reason(exc)}",
                _fix(tracking_uri),
            ) from exc
        return registry

    def experiment_id(self, name: str) -> str:
        """The experiment for a model, created with its artifacts in the workspace."""
        with self._answering(f"opening the experiment '{name}'"):
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                return str(experiment.experiment_id)
            try:
                return str(
                    self.client.create_experiment(
                        name, artifact_location=self.artifact_location
                    )
                )
            except MlflowException as exc:
                # Another run on the same server created it first: use theirs.
                if _error_code(exc) != ALREADY_EXISTS:
                    raise
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:  # created, then deleted at once: say so
                raise MlflowException(f"experiment '{name}' vanished as it was made")
            return str(experiment.experiment_id)

    def version(self, name: str, ref: str) -> VersionInfo:
        """Resolve a version number or an alias (`3`, `champion`, `@previous`)."""
        ref = ref.lstrip("@")
        try:
            if ref.isdigit():
                mv = self.client.get_model_version(name, ref)
            else:
                mv = self.client.get_model_version_by_alias(name, ref)
        except MlflowException as exc:
            # A version, an alias or a model that is not there, or a reference
            # MLflow refuses (it reports an unset alias so): the user's to fix.
            if _error_code(exc) not in (NOT_FOUND, INVALID):
                raise self.unusable(f"reading {name} version '{ref}'", exc) from exc
            if not self._model_exists(name):
                raise self._no_model(name) from exc
            raise RegistryError(
                f"model '{name}' has no version '{ref}'",
                f"see `mlopslab registry list {name}` for its versions",
            ) from exc
        except (SQLAlchemyError, OSError) as exc:
            raise self.unusable(f"reading {name} version '{ref}'", exc) from exc
        return VersionInfo.from_mlflow(mv)

    def champion(self, name: str) -> VersionInfo | None:
        """The champion, or None when the model or its `champion` alias is absent."""
        target = self._alias_target(name, CHAMPION)
        if target is None:
            return None
        mv = self._unless_absent(
            f"reading {name} v{target}", self.client.get_model_version, name, target
        )
        return VersionInfo.from_mlflow(mv) if mv is not None else None

    def versions(self, name: str | None = None) -> list[VersionInfo]:
        """All versions, newest first, of one model or of every model."""
        query = f"name = '{name}'" if name else ""
        if name and not self._model_exists(name):
            raise self._no_model(name)
        with self._answering(f"listing the versions of {name or 'every model'}"):
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
            except MlflowException as exc:
                if _error_code(exc) not in (NOT_FOUND, INVALID):
                    raise self.unusable(f"reading {path} of run {run_id}", exc) from exc
                raise self._unreadable(run_id, path, exc) from exc
            except (OSError, ValueError) as exc:
                raise self._unreadable(run_id, path, exc) from exc
        return content

    def _unreadable(self, run_id: str, path: str, exc: Exception) -> RegistryError:
        return RegistryError(
            f"run {run_id} has no readable {path}: {first_line(exc)}",
            "use a model registered by `mlopslab run`",
        )

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with self._answering(f"pointing {name}@{alias} at v{version}"):
            self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; nothing happens if it (or the model) is not there."""
        self._unless_absent(
            f"removing {name}@{alias}",
            self.client.delete_registered_model_alias,
            name,
            alias,
        )

    def latest_version(self, name: str) -> int:
        """The highest version number of a model, 0 when it has none."""
        if not self._model_exists(name):
            return 0
        with self._answering(f"reading the latest version of {name}"):
            found = self.client.search_model_versions(
                f"name = '{name}'", max_results=1, order_by=["version_number DESC"]
            )
        return int(found[0].version) if found else 0

    def model_names(self) -> list[str]:
        """Names of the registered models (one query, unlike listing versions)."""
        with self._answering("listing the registered models"):
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
            if isinstance(exc, MlflowException) and _error_code(exc) not in (
                NOT_FOUND,
                INVALID,
            ):
                raise self.unusable(
                    f"downloading {info.name} v{info.version}", exc
                ) from exc
            raise RegistryError(
                f"cannot load {info.name} v{info.version}: {first_line(exc)}",
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
        exists = self._model_exists(name)
        with self._answering(f"registering a version of {name}"):
            if not exists:
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
        with self._answering(f"deleting {name} v{version}"):
            self.client.delete_model_version(name, version)

    def set_status(self, name: str, version: str, status: str) -> None:
        if status not in STATUSES:
            raise RegistryError(f"unknown status '{status}'", f"use one of {STATUSES}")
        self.set_tag(name, version, "status", status)

    def set_tag(self, name: str, version: str, key: str, value: str) -> None:
        with self._answering(f"tagging {name} v{version}"):
            self.client.set_model_version_tag(name, version, key, value)

    def promote(self, name: str, version: str) -> str | None:
        """Make `version` the champion; the former champion becomes `previous`."""
        old = self.champion(name)
        if old is not None and old.version != version:
            self.set_alias(name, PREVIOUS, old.version)
        self.set_alias(name, CHAMPION, version)
        self.set_status(name, version, "approved")
        return old.version if old else None

    def rollback(self, name: str) -> tuple[str, str]:
        """Champion goes back to `previous`; `previous` to the approved one before."""
        current = self.champion(name)
        target = self._alias_target(name, PREVIOUS)
        if target is None:
            raise RegistryError(
                f"model '{name}' has no previous champion to roll back to",
                "promote a version explicitly with `mlopslab registry promote`",
            )
        previous = self.version(name, target)
        older = [
            v
            for v in self.versions(name)
            if v.status == "approved" and int(v.version) < int(previous.version)
        ]
        self.set_alias(name, CHAMPION, previous.version)
        if older:
            self.set_alias(name, PREVIOUS, older[0].version)
        else:
            self.delete_alias(name, PREVIOUS)
        if current is not None:
            self.set_tag(name, current.version, "rolled_back", "true")
        return (current.version if current else "none", previous.version)

    def _no_model(self, name: str) -> RegistryError:
        """A model name that is not registered: say which ones are."""
        names = self.model_names()
        if not names:
            return RegistryError(
                f"no registered model named '{name}' (none yet)",
                "run `mlopslab run` first",
            )
        return RegistryError(
            f"no registered model named '{name}'",
            f"the registered models are {', '.join(names)}",
        )

    def _model_exists(self, name: str) -> bool:
        found = self._unless_absent(
            f"looking up model '{name}'", self.client.get_registered_model, name
        )
        return found is not None

    def _alias_target(self, name: str, alias: str) -> str | None:
        """The version an alias points at; None if the model or the alias is absent.

        Read from the registered model's aliases: MLflow reports an unset alias
        as INVALID_PARAMETER_VALUE, a code that means other things too.
        """
        model = self._unless_absent(
            f"reading {name}@{alias}", self.client.get_registered_model, name
        )
        if model is None or alias not in model.aliases:
            return None
        return str(model.aliases[alias])

    def _unless_absent(
        self, doing: str, call: Callable[..., T], *args: Any
    ) -> T | None:
        """`call(*args)`; None only when MLflow says the thing does not exist."""
        try:
            return call(*args)
        except MlflowException as exc:
            if _error_code(exc) == NOT_FOUND:
                return None
            raise self.unusable(doing, exc) from exc
        except (SQLAlchemyError, OSError) as exc:
            raise self.unusable(doing, exc) from exc

    @contextmanager
    def _answering(self, doing: str) -> Iterator[None]:
        """Turn a store failure inside the block into a StoreError naming the store."""
        try:
            yield
        except STORE_FAILURES as exc:
            raise self.unusable(doing, exc) from exc

    def unusable(self, doing: str, exc: BaseException) -> StoreError:
        """The StoreError for a failure of this store while `doing` something."""
        return StoreError(
            f"the MLflow store at {self.tracking_uri} failed while {doing}: "
            f"{_reason(exc)}",
            _fix(self.tracking_uri) + ", then run again",
        )


def _fix(tracking_uri: str) -> str:
    if tracking_uri.startswith(("http://", "https://")):
        return (
            "check that the tracking server is running and MLFLOW_TRACKING_URI names it"
        )
    return "check MLFLOW_TRACKING_URI, or move a corrupt mlflow.db aside"


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line; for a server that cannot be reached, why.

    MLflow's message for a failed request repeats the URL and urllib3's whole
    retry story; the operating system's reason is at its end.
    """
    text = str(exc)
    if unreachable(exc):
        errno = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
        if errno:
            return f"cannot connect ({errno.group(1).strip()})"
        if "timed out" in text.lower() or "timeout" in text.lower():
            return "no answer in time (timed out)"
    return first_line(exc)


def unreachable(exc: BaseException) -> bool:
    """True if MLflow could not reach the server at all (refused, timed out, DNS)."""
    text = str(exc)
    return text.startswith("API request to") and "failed with exception" in text


def _error_code(exc: BaseException | None) -> str | None:
    return exc.error_code if isinstance(exc, MlflowException) else None


@contextmanager
def _probe_settings() -> Iterator[None]:
    """MLflow's HTTP settings for the first request, unless the user set their own."""
    added = [name for name in PROBE_SETTINGS if name not in os.environ]
    os.environ.update({name: PROBE_SETTINGS[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
