"""The workspace: one directory that holds everything mlopslab writes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mlopslab.errors import StoreError


@dataclass(frozen=True)
class Workspace:
    home: Path

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def capture_db(self) -> Path:
        return self.home / "capture.db"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def datasets(self) -> Path:
        """Golden test sets and runs' training data (stores/datasets.py)."""
        return self.home / "datasets"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    def tuning_journal(self) -> Path:
        """A new file for one run's tuning trials (Optuna's journal storage),
        named for the time the run started."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return self.home / "tuning" / f"{stamp}-{os.getpid()}.log"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def local_tracking_uri(self) -> str:
        """MLflow tracking and registry on SQLite inside the workspace."""
        return f"sqlite:///{self.mlflow_db.resolve()}"

    def artifact_location(self) -> str:
        return self.artifacts.resolve().as_uri()

    def ensure(self) -> Workspace:
        """Create the workspace folders, or explain why they cannot be created."""
        if self.home.exists() and not self.home.is_dir():
            raise StoreError(
                f"workspace {self.home} exists and is not a directory",
                "point --home or MLOPSLAB_HOME at a directory",
            )
        try:
            for folder in (self.home, self.artifacts, self.runs, self.cache):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create workspace {self.home}: {exc.strerror}",
                "choose a writable --home or MLOPSLAB_HOME",
            ) from exc
        if not os.access(self.home, os.W_OK):
            raise StoreError(
                f"workspace {self.home} is not writable",
                "choose a writable --home or MLOPSLAB_HOME",
            )
        return self
