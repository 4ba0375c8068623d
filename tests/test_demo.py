"""`mlopslab demo`: the loop runs, and stops what it started even when interrupted."""

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

# One worker runs both demos, one after the other (as `--dist loadfile` did):
# two demos at once contend for the CPU and pick their free ports in a race.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]


def demo(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlopslab.cli.main", "demo", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a shell: SIGINT at its default, whatever the test runner's
        # process does with it (an ignored SIGINT is inherited, and Python then
        # never raises KeyboardInterrupt).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_demo_runs_the_closed_loop(tmp_path: Path) -> None:
    process = demo(tmp_path / ".mlopslab")
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 0, output[-3000:]
    assert "Verdict: all clear" in output
    assert "Verdict: VIOLATED" in output and "ALERT" in output
    assert "penguins v2" in output
    assert "The server now answers with v2" in output
    assert "Stopped the demo server." in output
    # Every command it shows can be copied into a shell: quoted, with --home.
    shown = [line[2:] for line in output.splitlines() if line.startswith("$ ")]
    assert len(shown) >= 6
    for line in shown:
        words = shlex.split(line)
        assert words[0] == "mlopslab" and "--home" in words, line
    alert = next(line for line in shown if "--alert-command" in line)
    words = shlex.split(alert)
    assert words[words.index("--alert-command") + 1].startswith("echo ALERT: ")


def test_interrupted_demo_stops_its_server(tmp_path: Path) -> None:
    process = demo(tmp_path / ".mlopslab")
    assert process.stdout is not None
    port = None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        found = re.search(r"Serving v1 on port (\d+)", line)
        if found:
            port = int(found.group(1))
            break
        assert time.monotonic() < deadline
    assert port is not None
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Stopped the demo server." in rest
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
