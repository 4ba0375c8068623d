"""How `serve` acquires its model: snapshot, embedded store, agent; who removes what.

No server here: the acquirer runs on a real trained store, and the agent, where
a test needs it, is a real helper process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlopslab.errors import RegistryError
from mlopslab.serving import startup
from mlopslab.serving.startup import ModelAcquirer
from mlopslab.stores.registry.agent import RegistryAgent
from mlopslab.stores.registry.versions import ModelFiles, load_pipeline
from tests.conftest import PENGUIN

pytestmark = pytest.mark.slow


class NoAgent(RegistryAgent):
    """An agent that fails the test when anything asks it for work."""

    def submit(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
        raise AssertionError(f"the agent was asked to run {task.__name__}")


def uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow.db'}"


def acquirer(
    agent: RegistryAgent, home: Path, cache: Path, name: str | None = None
) -> ModelAcquirer:
    return ModelAcquirer(agent, uri(home), cache, name, "champion")


def prediction(files: ModelFiles) -> str:
    return str(load_pipeline(files).predict(pd.DataFrame([PENGUIN]))[0])


@pytest.fixture
def downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the agent puts its temporary downloads, forked or spawned."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


@pytest.fixture
def store_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded reader cannot answer, as for a server URI or another schema."""
    monkeypatch.setattr(startup, "local_files", lambda *args: None)


def test_a_first_start_reads_the_store_and_serves_a_cached_copy(
    trained_home: Path, tmp_path: Path
) -> None:
    get = acquirer(NoAgent(uri(trained_home)), trained_home, tmp_path)
    get.start()
    acquired = get.result()
    assert acquired.source == "store"
    assert not acquired.unconfirmed and not acquired.temporary
    # Served from the snapshot, never from the store's own folder.
    assert acquired.files.directory == get.snapshot / "files"
    assert trained_home not in acquired.files.directory.parents
    assert acquired.files.info.version == "1"
    assert acquired.files.card["status"] == "approved"
    assert prediction(acquired.files) == "Gentoo"


def test_a_restart_serves_the_snapshot_without_reading_the_store(
    trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = acquirer(NoAgent(uri(trained_home)), trained_home, tmp_path).result()

    def read_store(*args: object) -> None:
        raise AssertionError("the store was read")

    monkeypatch.setattr(startup, "local_files", read_store)
    again = acquirer(NoAgent(uri(trained_home)), trained_home, tmp_path).result()
    assert again.source == "snapshot" and again.unconfirmed
    assert again.files == first.files
    again.discard()  # a snapshot is the cache's, not the holder's
    assert prediction(again.files) == "Gentoo"


def test_a_damaged_snapshot_is_only_a_normal_start(
    trained_home: Path, tmp_path: Path
) -> None:
    first = acquirer(NoAgent(uri(trained_home)), trained_home, tmp_path).result()
    (first.snapshot / "model.json").write_text("{not json")
    again = acquirer(NoAgent(uri(trained_home)), trained_home, tmp_path).result()
    assert again.source == "store" and not again.unconfirmed
    assert prediction(again.files) == "Gentoo"


@pytest.mark.usefixtures("store_unreadable")
def test_the_agent_fetches_when_the_store_cannot_answer(
    trained_home: Path, tmp_path: Path, downloads: Path
) -> None:
    with RegistryAgent(uri(trained_home)) as agent:
        get = acquirer(agent, trained_home, tmp_path, "penguins")
        get.start()  # the agent fetches while the caller imports the server
        acquired = get.result()
    assert acquired.source == "agent"
    assert not acquired.unconfirmed and not acquired.temporary
    assert acquired.files.directory == get.snapshot / "files"
    assert prediction(acquired.files) == "Gentoo"
    assert list(downloads.iterdir()) == []  # copied into the snapshot, then deleted


def test_a_download_that_cannot_be_cached_is_the_holders_to_remove(
    trained_home: Path, tmp_path: Path, downloads: Path
) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")
    with RegistryAgent(uri(trained_home)) as agent:
        # The store answers, but its files cannot be copied: the agent fetches.
        acquired = acquirer(agent, trained_home, cache).result()
    assert acquired.source == "agent" and acquired.temporary
    assert acquired.files.directory.parent == downloads
    assert prediction(acquired.files) == "Gentoo"
    acquired.discard()
    assert list(downloads.iterdir()) == []


def test_an_unknown_model_is_the_agents_one_error(
    trained_home: Path, tmp_path: Path
) -> None:
    with RegistryAgent(uri(trained_home)) as agent:
        get = acquirer(agent, trained_home, tmp_path, "absent")
        with pytest.raises(RegistryError):
            get.result()
    assert not get.snapshot.exists()
