"""A real `mlflow server` that is down, or goes away between gate and register.

Either way the run exits with StoreError's code and one line naming the server,
and the registry on the server's backend store is exactly as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlopslab.errors import StoreError
from mlopslab.flows import training
from mlopslab.stores.registry.client import Registry
from tests.conftest import Cli
from tests.servers import free_port, running, stop_group

pytestmark = pytest.mark.slow

TRIALS = ("--trials", "2")


@contextmanager
def mlflow_server(
    port: int, store: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`mlflow server` on loopback, its runs and artifacts kept in `store`."""
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{store / 'server.db'}",
        "--artifacts-destination", str(store / "artifacts"),
    ]  # fmt: skip
    with running(command, f"http://127.0.0.1:{port}/health", log) as process:
        yield process


def registry_state(uri: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Every version with its status and aliases: what a failed run must not move."""
    return [
        (v.name, v.version, v.status, v.aliases)
        for v in Registry.connect(uri).versions()
    ]


def error_lines(stderr: str) -> list[str]:
    """What the CLI printed besides its stage ticks (✓ done, ✗ failed)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("✓", "✗"))
    ]


def test_a_server_down_from_the_start_is_one_line(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", "run", *TRIALS,
         "--home", str(tmp_path / "ws")],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == StoreError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    [line] = error_lines(done.stderr)
    assert line.startswith("error: cannot open the MLflow store at " + uri), line
    assert "tracking server is running" in line
    assert not (tmp_path / "ws" / "mlflow.db").exists()  # no fallback store


def test_a_server_gone_before_register_changes_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, store = free_port(), tmp_path / "server"
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with mlflow_server(port, store, tmp_path / "server.log") as server:
        assert cli("run", *TRIALS).code == 0  # v1: the champion to protect
        before = registry_state(uri)
        record_run = training.record_run

        def server_gone(*args: Any, **kwargs: Any) -> Any:
            # The gate has read the champion: now the server goes away.
            stop_group(server)
            return record_run(*args, **kwargs)

        monkeypatch.setattr(training, "record_run", server_gone)
        # Fail at once instead of after MLflow's four minutes of retries.
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        failed = cli("run", *TRIALS)
    assert failed.code == StoreError.exit_code, failed.err
    assert "Traceback" not in failed.err
    [line] = error_lines(failed.err)
    assert line.startswith("error: register failed: ") and uri in line, line
    assert "cannot connect" in line and "registry and champion are unchanged" in line
    assert "evaluate" in failed.out and "✗ register" in failed.out
    # A server that is down is never "no champion", "no model" or "version 0".
    down = Registry(uri)
    for read in (down.champion, down.latest_version, down.versions):
        with pytest.raises(StoreError, match="cannot connect"):
            read("penguins")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    with mlflow_server(port, store, tmp_path / "again.log"):
        after = registry_state(uri)
        up = Registry.connect(uri)
        assert up.champion("nope") is None and up.latest_version("nope") == 0
    assert after == before
    assert [(name, version) for name, version, *_ in after] == [("penguins", "1")]
    assert after[0][3] == ("champion",)
