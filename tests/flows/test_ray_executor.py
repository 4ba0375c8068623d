"""Tuning and batch scoring on a real two-node Ray cluster on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins

from tests.ray_cluster import (
    cluster,
    kill_node,
    raylet_of,
    running_tasks,
    start_node,
    wait_for_nodes,
)
from tests.servers import free_port

# One worker keeps the module's cluster: `make test` distributes by group.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.xdist_group("ray-cluster"),
]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head and one worker node, shared by this module's tests."""
    tmp = tmp_path_factory.mktemp("ray")
    with cluster(tmp, free_port()) as (address, nodes):
        nodes.append(
            start_node(["--address", address, "--num-cpus", "1"], tmp / "w.log")
        )
        wait_for_nodes(address, 2)
        yield address


def mlopslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlopslab.cli.main", *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def tuning(home: Path) -> list[dict[str, object]]:
    [path] = home.glob("runs/*/tuning.json")
    trials: list[dict[str, object]] = json.loads(path.read_text())
    return trials


def test_trials_on_ray_are_the_trials_run_locally(
    ray_address: str, tmp_path: Path
) -> None:
    local = mlopslab("run", "--trials", "8", "--home", str(tmp_path / "local"))
    remote = mlopslab(
        "run", "--trials", "8", "--home", str(tmp_path / "ray"),
        "--executor", "ray", "--ray-address", ray_address,
    )  # fmt: skip
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    here, there = tuning(tmp_path / "local"), tuning(tmp_path / "ray")
    assert [(t["family"], t["params"]) for t in here] == [
        (t["family"], t["params"]) for t in there
    ]
    assert [t["cv_log_loss"] for t in here] == pytest.approx(
        [t["cv_log_loss"] for t in there]
    )
    best = re.search(r"best \w+ \(cv log loss [0-9.]+\)", local.stdout)
    assert best is not None and best.group(0) in remote.stdout


def test_batch_scoring_on_ray_keeps_input_order(
    ray_address: str, tmp_path: Path
) -> None:
    home = str(tmp_path / "ws")
    assert mlopslab("run", "--trials", "2", "--home", home).returncode == 0
    rows = load_penguins().drop(columns="species")
    big = pd.concat([rows] * 70, ignore_index=True)  # 24,080 rows: three chunks
    big.to_parquet(tmp_path / "big.parquet")
    outputs = {}
    for name, extra in (
        ("local", []),
        ("ray", ["--executor", "ray", "--ray-address", ray_address]),
    ):
        out = tmp_path / f"{name}.parquet"
        done = mlopslab(
            "predict", "--input", str(tmp_path / "big.parquet"), "--output", str(out),
            "--home", home, *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs[name] = pd.read_parquet(out)
    assert len(outputs["ray"]) == len(big)
    pd.testing.assert_frame_equal(outputs["ray"], outputs["local"])


def test_a_lost_worker_node_does_not_fail_the_run(
    ray_address: str, tmp_path: Path
) -> None:
    doomed = start_node(
        ["--address", ray_address, "--num-cpus", "2"], tmp_path / "doomed.log"
    )
    try:
        wait_for_nodes(ray_address, 3)
        raylet = raylet_of(doomed)
        assert raylet is not None
        run = subprocess.Popen(
            [sys.executable, "-m", "mlopslab.cli.main", "run", "--data", "digits",
             "--trials", "8", "--home", str(tmp_path / "ws"),
             "--executor", "ray", "--ray-address", ray_address],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while not running_tasks(raylet, "evaluate_trial"):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no trial ever ran on the doomed node"
            time.sleep(0.05)
        kill_node(doomed)  # the node dies with trials on it
        out, err = run.communicate(timeout=400)
    finally:
        kill_node(doomed)
    assert run.returncode == 0, err
    assert "re-run after a lost worker" in out
    retried = [t for t in tuning(tmp_path / "ws") if t["retries"]]
    assert retried and all(t["error"] is None for t in retried)


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    done = mlopslab(
        "run", "--trials", "2", "--home", str(tmp_path / "ws"),
        "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in done.stderr
