"""Start real servers on loopback for tests, and always stop them and their children."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str, timeout: float = 90.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def running(
    command: list[str], health_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group; on exit kill the whole group."""
    environment = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(env or {}),
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
        try:
            wait_until_up(health_url, process=process)
            yield process
        finally:
            stop_group(process)


def stop_group(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20
) -> None:
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # children left in the group
        os.killpg(process.pid, signal.SIGKILL)


def copy_workspace(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of a trained workspace, without its capture store."""
    import shutil

    home = tmp_path / ".mlopslab"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("capture.db*"))
    return home


def serve_command(home: Path, port: int, *extra: str) -> list[str]:
    """`mlopslab serve` for a workspace and port, run by this interpreter."""
    import sys

    return [
        sys.executable,
        "-m",
        "mlopslab.cli.main",
        "serve",
        "--home",
        str(home),
        "--port",
        str(port),
        *extra,
    ]


@dataclass(frozen=True)
class Endpoint:
    """A private workspace copy and a free loopback port to serve it on."""

    home: Path
    port: int
    logs: Path

    @classmethod
    def fresh(cls, trained_home: Path, tmp_path: Path) -> Endpoint:
        return cls(copy_workspace(trained_home, tmp_path), free_port(), tmp_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *extra: str) -> list[str]:
        return serve_command(self.home, self.port, *extra)

    @contextmanager
    def serving(
        self, *extra: str, log: str = "serve.log", env: dict[str, str] | None = None
    ) -> Iterator[subprocess.Popen[bytes]]:
        """`mlopslab serve` with `extra` options, up and ready, logging to `log`."""
        ready = f"{self.url}/ready"
        with running(self.command(*extra), ready, self.logs / log, env) as p:
            yield p

    def model_version(self) -> str:
        return str(httpx.get(f"{self.url}/ready").json()["model_version"])

    def wait_for_version(self, version: str, timeout: float, message: str) -> None:
        """Poll /ready until it serves `version`; fail with `message` when too late."""
        deadline = time.monotonic() + timeout
        while self.model_version() != version:
            assert time.monotonic() < deadline, message
            time.sleep(0.2)


async def keepalive_burst(
    host: str, port: int, path: str, body: bytes, total: int, connections: int
) -> list[int]:
    """Send `total` POSTs over `connections` keep-alive sockets; return the statuses.

    A bare HTTP/1.1 client: httpx tops out near 300 requests/s here, which made the
    burst test measure the client instead of the server.
    """
    import asyncio

    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    statuses: list[int] = []
    remaining = iter(range(total))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in remaining:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ")[1]))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return statuses


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler for a stand-in HTTP server that answers JSON."""

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return
