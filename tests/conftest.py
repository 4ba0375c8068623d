"""Shared fixtures: every test runs in its own temporary directory and workspace."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest-xdist runs a worker per core: one math thread each. More OpenMP
# threads than cores spin against each other and stall (a 1 s fit took 60 s).
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from mlopslab.cli.main import main  # noqa: E402


@dataclass
class CliResult:
    code: int
    out: str
    err: str


Cli = Callable[..., CliResult]
"""The `cli` fixture: call it with the arguments after `mlopslab`."""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cwd, a fresh workspace and no inherited MLOPSLAB_* or tracking URI."""
    for name in list(os.environ):
        if name.startswith("MLOPSLAB_") or name == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `mlopslab ARGS...` in-process through the real entry point."""

    def run(*args: str) -> CliResult:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


FAST = ("--trials", "4")


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow database, built once per session."""
    from mlopslab.stores.registry.client import Registry
    from mlopslab.stores.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("template") / "ws").ensure()
    Registry.connect(workspace.local_tracking_uri(), workspace.artifact_location())
    return workspace.mlflow_db


@pytest.fixture
def workspace(isolated: Path, migrated_db: Path) -> Path:
    """./.mlopslab with a migrated MLflow store copied in (saves a second per test)."""
    import shutil

    home = isolated / ".mlopslab"
    home.mkdir()
    shutil.copy(migrated_db, home / "mlflow.db")
    return home


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding penguins v1 as champion (trained once per session)."""
    home = tmp_path_factory.mktemp("trained") / ".mlopslab"
    assert main(["run", "--home", str(home), "--trials", "4"]) == 0
    return home


PENGUIN = {
    "island": "Biscoe",
    "bill_length_mm": 45.1,
    "bill_depth_mm": 14.5,
    "flipper_length_mm": 215.0,
    "body_mass_g": 5000.0,
    "sex": "female",
    "year": 2008,
}
