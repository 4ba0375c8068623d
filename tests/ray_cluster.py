"""A real Ray cluster on loopback: a head and worker nodes started with `ray start`.

Each node runs `ray start --block` in its own process group. A node's Ray
worker processes start their own sessions, so stopping a node also kills the
children of its raylet: the same as losing a machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def start_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [RAY, "start", *args, "--block", "--disable-usage-stats"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=ENV,
            start_new_session=True,
        )


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, ppid, pgid, command line) of every process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        found.append(
            (pid, int(fields[1]), int(fields[2]), cmdline.decode(errors="replace"))
        )
    return found


def raylet_of(node: subprocess.Popen[bytes]) -> int | None:
    for pid, _, pgid, cmd in _processes():
        if pgid == node.pid and "raylet/raylet" in cmd:
            return pid
    return None


def running_tasks(raylet: int, name: str) -> list[int]:
    """Ray worker processes of one node that are running task `name` right now."""
    return [
        pid
        for pid, ppid, _, cmd in _processes()
        if ppid == raylet and cmd.startswith(f"ray::{name}")
    ]


def kill_node(node: subprocess.Popen[bytes]) -> None:
    """Lose the node at once: its processes and its raylet's workers."""
    raylet = raylet_of(node)
    children = [pid for pid, ppid, _, _ in _processes() if raylet and ppid == raylet]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.wait(timeout=30)


def alive_nodes(address: str) -> int:
    code = (
        f"import ray, logging; ray.init(address={address!r}, "
        "logging_level=logging.ERROR); "
        "print(sum(1 for n in ray.nodes() if n['Alive']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
        timeout=60, check=False,
    )  # fmt: skip
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0


def wait_for_nodes(address: str, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while alive_nodes(address) < count:
        assert time.monotonic() < deadline, (
            f"Ray cluster at {address} has < {count} nodes"
        )
        time.sleep(1)


@contextmanager
def cluster(
    tmp: Path, port: int, head_cpus: int = 1
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A head node; add workers with `start_node(["--address", address, ...])`."""
    address = f"127.0.0.1:{port}"
    nodes = [
        start_node(
            ["--head", "--port", str(port), "--num-cpus", str(head_cpus),
             "--include-dashboard", "false"],
            tmp / "head.log",
        )
    ]  # fmt: skip
    try:
        yield address, nodes
    finally:
        for node in reversed(nodes):
            kill_node(node)
