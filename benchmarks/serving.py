"""Serving throughput and latency: `mlflow models serve` against `mlopslab serve`.

Both serve the same penguins champion on loopback; wrk sends single-row
requests at concurrency 8 and 32. mlopslab captures 100% of requests, and
the script checks that every acknowledged request was captured.

    .venv/bin/python -m benchmarks.serving [--seconds 20] [--home DIR]

Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.conftest import PENGUIN as ROW
from tests.servers import free_port

BIN = Path(sys.executable).parent
WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""


def start(
    command: list[str], ready_url: str, env: dict[str, str]
) -> tuple[subprocess.Popen, float]:  # type: ignore[type-arg]
    """Start a server; return it and the seconds until `ready_url` answered 200."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while time.perf_counter() - started < 180:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    stop(process)
    raise RuntimeError(f"{command[0]} never became ready")


def median_ready(
    command: list[str],
    ready_url: str,
    env: dict[str, str],
    runs: int,
    forget: Path | None = None,
) -> float:
    """Median seconds from process start to a 200 from the readiness URL.

    `forget` is removed before each start: mlopslab's cached model, so every
    start is a first start.
    """
    samples = []
    for _ in range(runs):
        if forget is not None:
            shutil.rmtree(forget, ignore_errors=True)
        process, seconds = start(command, ready_url, env)
        stop(process)
        wait_closed(ready_url)
        samples.append(seconds)
    return statistics.median(samples)


def wait_closed(url: str) -> None:
    """Until nothing answers: the next start must not find the old server."""
    for _ in range(600):
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            return
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def wrk_levels(
    url: str, body: dict[str, object], seconds: int
) -> list[tuple[int, dict[str, float]]]:
    """`wrk` at 8 and then 32 connections: each level and its statistics."""
    return [(c, wrk(url, body, c, seconds)) for c in (8, 32)]


def wrk(
    url: str, body: dict[str, object], connections: int, seconds: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=json.dumps(body)))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    completed = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "completed": completed,
        "failed": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": 1 if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def captured_rows(home: Path) -> int:
    with sqlite3.connect(home / "capture.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--home", type=Path, help="workspace with a penguins champion")
    parser.add_argument(
        "--ready-runs", type=int, default=5, help="starts timed per server"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    scratch = Path(tempfile.mkdtemp(prefix="mlopslab-serving-"))
    home = args.home or scratch / ".mlopslab"
    # mlflow models serve runs `uvicorn` by name, so the venv's bin must be on PATH.
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if args.home is None:
        subprocess.run(
            [str(BIN / "mlopslab"), "run", "--home", str(home)],
            check=True,
            capture_output=True,
            env=env,
        )
    results = []
    restarts: list[tuple[int, float]] = []
    tracking = f"sqlite:///{home.resolve() / 'mlflow.db'}"

    port = free_port()
    mlflow_command = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/penguins@champion",
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    mlflow_env = {**env, "MLFLOW_TRACKING_URI": tracking}
    ping = f"http://127.0.0.1:{port}/ping"
    ready = median_ready(mlflow_command, ping, mlflow_env, args.ready_runs)
    server, _ = start(mlflow_command, ping, mlflow_env)
    invocations = f"http://127.0.0.1:{port}/invocations"
    body: dict[str, object] = {"dataframe_records": [ROW]}
    for connections, stats in wrk_levels(invocations, body, args.seconds):
        results.append(("mlflow models serve", 1, connections, ready, stats, None))
    stop(server)

    for workers in (1, 2):
        (home / "capture.db").unlink(missing_ok=True)
        port = free_port()
        command = [
            str(BIN / "mlopslab"),
            "serve",
            "--home",
            str(home),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--capture-rate",
            "1.0",
        ]
        ready_url = f"http://127.0.0.1:{port}/ready"
        cache = home / "cache" / "serving"
        ready = median_ready(command, ready_url, env, args.ready_runs, forget=cache)
        restarts.append(
            (workers, median_ready(command, ready_url, env, args.ready_runs))
        )
        (home / "capture.db").unlink(missing_ok=True)
        server, _ = start(command, ready_url, env)
        acknowledged = 0
        predict = f"http://127.0.0.1:{port}/predict"
        for connections, stats in wrk_levels(predict, {"rows": [ROW]}, args.seconds):
            acknowledged += int(stats["completed"] - stats["failed"])
            results.append(("mlopslab serve", workers, connections, ready, stats, None))
        stop(server)
        lost = max(0, acknowledged - captured_rows(home))
        results[-1] = (*results[-1][:5], lost)
        results[-2] = (*results[-2][:5], lost)
    report(results, args.seconds)
    for workers, seconds in restarts:
        print(
            f"mlopslab serve, {workers} worker(s), restart with its cached model: "
            f"ready in {seconds:.2f} s (median)"
        )
    shutil.rmtree(scratch, ignore_errors=True)


def report(results: list[tuple], seconds: int) -> None:  # type: ignore[type-arg]
    peer = {c: s["rps"] for name, _, c, _, s, _ in results if name.startswith("mlflow")}
    print(
        f"single-row requests, wrk -t2, {seconds}s per row, capture 100% for mlopslab; "
        "ready s* = median time from process start to ready over several first "
        "starts (no cached model)"
    )
    header = (
        f"{'server':<22}{'workers':>8}{'conc':>6}{'req/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'failed':>8}{'ready s*':>9}{'x mlflow':>10}{'lost':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, workers, conc, ready, stats, lost in results:
        ratio = stats["rps"] / peer[conc] if peer.get(conc) else float("nan")
        print(
            f"{name:<22}{workers:>8}{conc:>6}{stats['rps']:>10.0f}{stats['p50']:>9.1f}"
            f"{stats['p99']:>9.1f}{stats['failed']:>8.0f}{ready:>9.2f}{ratio:>10.1f}"
            f"{'' if lost is None else lost:>6}"
        )


if __name__ == "__main__":
    main()
