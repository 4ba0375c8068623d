"""Team mode on real engines: `team up` on PostgreSQL, and capture in PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlopslab.stores.capture.postgres import PostgresCaptureStore
from mlopslab.stores.registry.client import Registry
from tests.conftest import PENGUIN
from tests.postgres import needs_postgres, postgres_url  # noqa: F401
from tests.servers import copy_workspace, free_port, running, serve_command

pytestmark = [pytest.mark.slow, pytest.mark.integration, needs_postgres]


def mlopslab(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlopslab.cli.main", *args]


def test_two_runs_at_once_on_a_shared_server(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    up = mlopslab(
        "team", "up", "--postgres", postgres_url, "--port", str(port),
        "--home", str(tmp_path / "server"), "--workers", "1",
        "--allowed-hosts", f"mlflow.team.test:{port}",
    )  # fmt: skip
    with running(up, f"{uri}/health", tmp_path / "server.log"):
        # Clients may reach it by the team's name; another name is refused.
        search = f"{uri}/api/2.0/mlflow/experiments/search?max_results=1"
        named = httpx.get(search, headers={"Host": f"mlflow.team.test:{port}"})
        assert named.status_code == 200, named.text[:200]
        other = httpx.get(search, headers={"Host": f"elsewhere.test:{port}"})
        assert other.status_code == 403
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
        # Two learners at once: a small logistic-regression search and a wider one.
        narrow = {**env, "MLOPSLAB_TUNE__FAMILIES": '["logreg"]'}
        runs = [
            subprocess.Popen(
                mlopslab("run", "--trials", trials, "--home", str(tmp_path / name)),
                env=extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            for name, trials, extra in (("a", "1", narrow), ("b", "4", env))
        ]  # fmt: skip
        for run in runs:
            _, err = run.communicate(timeout=300)
            assert run.returncode == 0, err
        registry = Registry.connect(uri)
        versions = registry.versions("penguins")
        assert sorted(v.version for v in versions) == ["1", "2"]
        accuracy = {v.version: _test_accuracy(registry, v.run_id) for v in versions}
        champion = registry.champion("penguins")
        # The better model holds the alias (on a tie, either one is the better).
        assert champion is not None, accuracy
        assert accuracy[champion.version] == max(accuracy.values()), accuracy
        # Whether the later run saw the other's model at its gate depends on
        # timing: it may be approved, or rejected as worse. Never pending/broken.
        assert {v.status for v in versions} <= {"approved", "rejected"}
        assert champion.status == "approved"


def _test_accuracy(registry: Registry, run_id: str) -> float:
    return float(registry.read_json(run_id, "evaluation.json")["test"]["accuracy"])


def test_team_up_refuses_a_bad_database_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        mlopslab("team", "up", "--postgres", "postgresql://x:secret@127.0.0.1:1/none",
                 "--home", str(tmp_path / "ws")),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 6 and "Traceback" not in done.stderr
    assert "cannot reach PostgreSQL" in done.stderr and "secret" not in done.stderr


def test_serve_captures_into_postgres_and_monitor_reads_it(
    trained_home: Path,
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    home = copy_workspace(trained_home, tmp_path)
    port = free_port()
    command = serve_command(home, port, "--capture-url", postgres_url)
    with running(command, f"http://127.0.0.1:{port}/ready", tmp_path / "serve.log"):
        rows = [PENGUIN] * 40
        answer = httpx.post(
            f"http://127.0.0.1:{port}/predict", json={"rows": rows}, timeout=30
        )
        assert answer.status_code == 200
        ids = [p["inference_id"] for p in answer.json()["predictions"]]
    store = PostgresCaptureStore(postgres_url)
    assert store.count() == 40
    store.close()
    labels = tmp_path / "labels.csv"
    labels.write_text("inference_id,label\n" + "".join(f"{i},Gentoo\n" for i in ids))
    added = subprocess.run(
        mlopslab("labels", "add", str(labels), "--home", str(home),
                 "--capture-url", postgres_url),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "40 labels stored; 40 match captured rows" in added.stdout
    monitored = subprocess.run(
        mlopslab("monitor", "--last", "40", "--home", str(home),
                 "--capture-url", postgres_url),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Window: 40 rows (40 labelled)" in monitored.stdout, monitored.stderr
    result = json.loads(next((home / "monitoring").glob("*/result.json")).read_text())
    assert result["window"]["rows"] == 40
