"""How `mlopslab serve` gets the model it starts with, cheapest source first.

1. The snapshot the last start kept (serving/snapshot.py): served at once and
   "unconfirmed", so the server asks the registry right away.
2. A direct read of the embedded store (stores/registry/embedded.py), copied
   into the snapshot: no MLflow, no helper process.
3. The registry agent (stores/registry/agent.py): it imports MLflow and
   fetches the files while this process imports the server (`start`, then
   `result`). The agent process starts only on this path.

Who owns which files:
- the snapshot folder is a cache in the workspace: `save_snapshot` is its only
  writer (here, and the server when it swaps models) and replaces it whole;
  nothing else deletes it, and a damaged one only means a normal start;
- the store's own folders are never served: their files are copied first;
- the agent's download is a temporary folder that this object deletes once it
  is copied into the snapshot. When the copy fails, the `Acquired` it returns
  is `temporary`: its holder serves from it and removes it (`discard`).
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlopslab.serving.snapshot import read_snapshot, save_snapshot, snapshot_dir
from mlopslab.stores.registry.agent import RegistryAgent
from mlopslab.stores.registry.embedded import local_files
from mlopslab.stores.registry.lookup import fetch_version
from mlopslab.stores.registry.versions import ModelFiles

Source = Literal["snapshot", "store", "agent"]


@dataclass(frozen=True)
class Acquired:
    """The files a server starts with, where they came from, and who removes them."""

    files: ModelFiles
    source: Source
    snapshot: Path  # the cache folder later swaps save into

    @property
    def unconfirmed(self) -> bool:
        """Served as last time: the registry may have moved the alias since."""
        return self.source == "snapshot"

    @property
    def temporary(self) -> bool:
        """The agent's download, not cached: whoever holds it removes it."""
        return self.files.directory != self.snapshot / "files"

    def discard(self) -> None:
        """Remove the files if they are temporary; a snapshot stays for next time."""
        if self.temporary:
            shutil.rmtree(self.files.directory, ignore_errors=True)


class ModelAcquirer:
    """Version `ref` of the model `name` means (None: as embedded.py picks)."""

    def __init__(
        self,
        agent: RegistryAgent,
        tracking_uri: str,
        cache: Path,
        name: str | None,
        ref: str,
    ) -> None:
        self.agent = agent
        self.tracking_uri = tracking_uri
        self.name = name
        self.ref = ref
        self.snapshot = snapshot_dir(cache, tracking_uri, name, ref)
        self._answer: Acquired | Future[ModelFiles] | None = None

    def start(self) -> None:
        """Find the files without MLflow, or else set the agent fetching them."""
        if self._answer is None:
            self._answer = self._first_answer()

    def result(self) -> Acquired:
        """The files to serve; waits for the agent if it is fetching them.

        Raises the agent's `MlopsLabError` (say, no such model) as it is.
        """
        answer = self._answer or self._first_answer()
        if isinstance(answer, Future):
            answer = self._keep(self.agent.wait(answer))
        self._answer = answer
        return answer

    def _first_answer(self) -> Acquired | Future[ModelFiles]:
        cached = read_snapshot(self.snapshot)
        if cached is not None:
            return Acquired(cached, "snapshot", self.snapshot)
        return self._from_store() or self.agent.submit(
            fetch_version, self.name, self.ref
        )

    def _from_store(self) -> Acquired | None:
        """The embedded store's files, copied into the snapshot; None: ask the agent."""
        files = local_files(self.tracking_uri, self.name, self.ref)
        if files is None:
            return None
        copied = self._cached_copy(files)
        # Without a copy, the agent fetches one: never serve the store's folder.
        return Acquired(copied, "store", self.snapshot) if copied else None

    def _keep(self, fetched: ModelFiles) -> Acquired:
        """Cache the agent's download and delete it, unless it cannot be cached."""
        copied = self._cached_copy(fetched)
        if copied is None:
            return Acquired(fetched, "agent", self.snapshot)  # temporary
        shutil.rmtree(fetched.directory, ignore_errors=True)
        return Acquired(copied, "agent", self.snapshot)

    def _cached_copy(self, files: ModelFiles) -> ModelFiles | None:
        save_snapshot(self.snapshot, files)
        copied = read_snapshot(self.snapshot)
        same = copied is not None and copied.info.version == files.info.version
        return copied if same else None
