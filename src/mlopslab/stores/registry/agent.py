"""The registry in a helper process, so MLflow starts on the other core.

Importing MLflow and its SQL store takes about 1.5 s: as long as everything else
a server or the monitor needs. A `RegistryAgent` forks one child process that
does the registry work (alias lookups, model downloads, JSON artifacts) while
this process imports scikit-learn and reads the capture store. A server never
imports MLflow at all, and its alias polls run outside its event loop.

Tasks are plain functions `task(registry, *args)`, defined at module level so
they pickle by name; they return plain values (`VersionInfo`, `ModelFiles`,
dicts). Errors come back as the `MlopsLabError` the task raised.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from mlopslab.errors import RegistryError, StoreError, first_line
from mlopslab.stores.registry.versions import (
    BASELINE_FILES,
    Baseline,
    ModelFiles,
    VersionInfo,
)

if TYPE_CHECKING:
    from mlopslab.stores.registry.client import Registry

P = ParamSpec("P")
T = TypeVar("T")

_settings: tuple[str, str | None] | None = None  # set in each agent process
_registry: Registry | None = None


class RegistryAgent:
    """One child process holding a `Registry` on `tracking_uri`."""

    def __init__(self, tracking_uri: str, artifact_location: str | None = None):
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self._pool: ProcessPoolExecutor | None = None

    def submit(
        self, task: Callable[Concatenate[Registry, P], T], *args: Any
    ) -> Future[T]:
        """Start `task(registry, *args)` in the agent; the child starts on first use."""
        try:
            return self._executor().submit(_run, task, *args)
        except BrokenProcessPool as exc:
            raise self._lost() from exc

    def call(self, task: Callable[Concatenate[Registry, P], T], *args: Any) -> T:
        return self.wait(self.submit(task, *args))

    def wait(self, future: Future[T]) -> T:
        """A task's value. A dead child is a StoreError; the next call restarts it."""
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise self._lost() from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> RegistryAgent:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _lost(self) -> StoreError:
        self._pool = None  # the next call starts a fresh child
        return StoreError(
            "the registry helper process stopped unexpectedly",
            "try again; if it keeps failing, run the command with --debug",
        )

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context(_start_method()),
                initializer=_start_agent,
                initargs=(self.tracking_uri, self.artifact_location, os.getpid()),
            )
        return self._pool


def _start_method() -> str:
    # Fork is what makes the agent cheap: the child starts with this process's
    # modules, before the heavy ones. Forking a process that already runs
    # threads can deadlock the child on a lock a thread held, so then spawn.
    forkable = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forkable and threading.active_count() == 1 else "spawn"


def _start_agent(tracking_uri: str, artifact_location: str | None, parent: int) -> None:
    global _settings
    _settings = (tracking_uri, artifact_location)
    # Ctrl-C reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A SIGKILLed parent cannot shut the pool down: do not outlive it."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _run(task: Callable[..., T], *args: Any) -> T:
    from mlflow.exceptions import MlflowException

    try:
        return task(_connected(), *args)
    except MlflowException as exc:
        # MLflow's own exceptions do not always survive pickling: send ours.
        raise RegistryError(f"registry: {first_line(exc)}", "see --debug") from None


def _connected() -> Registry:
    global _registry
    if _registry is None:
        from mlopslab.stores.registry.client import Registry

        assert _settings is not None, "tasks run only in an agent process"
        _registry = Registry.connect(*_settings)
    return _registry


# Tasks: each runs in the agent with its registry as the first argument.


def resolve_version(registry: Registry, name: str, ref: str) -> VersionInfo:
    return registry.version(name, ref)


def fetch_model(registry: Registry, info: VersionInfo) -> ModelFiles:
    """Download a version into a fresh temporary folder the caller removes."""
    destination = Path(tempfile.mkdtemp(prefix="mlopslab-model-"))
    try:
        files = registry.model_files(info, destination)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return replace(files, card=model_card(registry, info))


def model_card(registry: Registry, info: VersionInfo) -> dict[str, Any]:
    if not info.run_id:
        return {}
    try:
        return registry.read_json(info.run_id, "model_card.json")
    except RegistryError:
        return {}  # a card is nice to show, never a reason not to serve


def load_baseline(registry: Registry, info: VersionInfo) -> Baseline:
    """The version's baseline, evaluation and card, from its run's artifacts."""
    return Baseline(*(registry.read_json(info.run_id, name) for name in BASELINE_FILES))
