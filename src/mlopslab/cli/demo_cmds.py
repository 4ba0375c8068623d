"""`mlopslab demo`: the whole closed loop in one command, narrated."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlopslab.cli.context import ConfigOpt, HomeOpt, open_workspace, resolve_config
from mlopslab.errors import StageError

STEPS = (
    ("Train, gate and register a champion", ["run"]),
    (
        "Clean traffic: 500 rows like the training data",
        ["simulate", "traffic", "--n", "500"],
    ),
    ("Monitor the clean window: expect all clear", ["monitor", "--last", "500"]),
    (
        "Drifted traffic: body_mass_g shifted by one standard deviation",
        [
            "simulate",
            "traffic",
            "--n",
            "500",
            "--drift",
            "body_mass_g:+1sd",
            "--seed",
            "1",
        ],
    ),
    ("Ground truth arrives (all right)", ["simulate", "labels", "--quality", "1.0"]),
    (
        "Monitor again: expect an alert, then a retrain through the same gate",
        [
            "monitor",
            "--last",
            "500",
            "--retrain",
            "--alert-command",
            "echo ALERT: monitoring found a violation",
        ],
    ),
)


def demo(
    port: Annotated[
        int, typer.Option(help="Port for the demo server (0: any free one).")
    ] = 0,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Run the closed loop: pipeline, server, traffic, monitor, alert, retrain, swap."""
    cfg = resolve_config(config, home)
    workspace = open_workspace(cfg)
    console = Console(highlight=False)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    common = ["--home", str(workspace.home)]
    server: subprocess.Popen[bytes] | None = None
    try:
        for number, (title, args) in enumerate(STEPS, start=1):
            console.rule(f"[bold]{number}. {title}")
            extra = ["--url", url] if args[:2] == ["simulate", "traffic"] else []
            code = _mlopslab(console, [*args, *common, *extra])
            if code not in (0, 1):
                raise StageError(
                    f"demo step {number} failed (exit {code})", "see the output above"
                )
            if number == 1:
                console.rule("[bold]Start the server in the background")
                server = _start_server(
                    console, common, port, workspace.home / "demo-serve.log"
                )
        console.rule("[bold]The server follows the champion alias")
        _show_swap(console, url)
    finally:
        if server is not None:
            _stop(server)
            console.print("Stopped the demo server.")
    return 0


def _mlopslab(console: Console, args: list[str]) -> int:
    # Quoted as a shell would need it, so that each line can be copied and run.
    console.print(
        f"$ mlopslab {shlex.join(args)}", style="dim", markup=False, soft_wrap=True
    )
    return subprocess.call([sys.executable, "-m", "mlopslab.cli.main", *args])


def _start_server(
    console: Console, common: list[str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    args = ["serve", *common, "--port", str(port), "--poll-seconds", "1"]
    console.print(
        f"$ mlopslab {shlex.join(args)} > {shlex.quote(str(log))} 2>&1 &",
        style="dim",
        markup=False,
        soft_wrap=True,
    )
    command = [sys.executable, "-m", "mlopslab.cli.main", *args]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
            if ready.status_code == 200:
                console.print(
                    f"Serving v{ready.json()['model_version']} on port {port}."
                )
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    _stop(server)
    raise StageError("the demo server did not become ready", f"see {log}")


def _show_swap(console: Console, url: str) -> None:
    import httpx

    deadline = time.monotonic() + 15
    version = None
    while time.monotonic() < deadline:
        version = httpx.get(f"{url}/ready", timeout=2).json().get("model_version")
        if version != "1":
            break
        time.sleep(0.5)
    console.print(f"The server now answers with v{version}, without a restart.")


def _stop(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register(app: typer.Typer) -> None:
    app.command()(demo)
