"""Ctrl-C and SIGTERM stop a long command and all it started (cli/stopping.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlopslab.cli.stopping import _descendants

MLOPSLAB = str(Path(sys.executable).with_name("mlopslab"))

# The main thread stuck in C code that no signal interrupts (an endless SQLite
# query), with a child process of its own.
STUCK = """
import signal, sqlite3, subprocess, sys
from mlopslab.cli.stopping import stoppable
# Ctrl-C as in a terminal: the test worker may run with SIGINT ignored (as a
# background job does), and a child inherits that.
signal.signal(signal.SIGINT, signal.default_int_handler)
child = subprocess.Popen(["sleep", "60"])
from mlopslab.errors import Interrupted
try:
    with stoppable(grace=1.0):
        print(child.pid, flush=True)  # a signal from now on finds the watcher
        sqlite3.connect(":memory:").execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c"
        ).fetchall()
except Interrupted:  # stopped before the query began: as the command line ends
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(process: subprocess.Popen[str], timeout: float) -> float:
    started = time.monotonic()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()  # a failed test leaves no process spinning behind it
        raise
    return time.monotonic() - started


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_process_stuck_in_c_code_still_stops_and_takes_its_children(
    signum: int,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    time.sleep(0.5)  # inside the query
    process.send_signal(signum)
    assert wait_gone(process, timeout=10) < 5
    assert process.returncode == 130
    assert "interrupted" in process.stderr.read() if process.stderr else False
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_a_stuck_process_stops_even_when_no_one_reads_its_stderr() -> None:
    """Saying "interrupted" into a closed pipe must not keep the process alive."""
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    int(process.stdout.readline())
    process.stderr.close()  # the reader went away (a closed terminal, a killed pipe)
    time.sleep(0.5)  # inside the query
    process.send_signal(signal.SIGTERM)
    assert wait_gone(process, timeout=10) < 5
    assert process.returncode == 130


def test_outside_stoppable_sigterm_keeps_its_default() -> None:
    code = (
        "import signal\n"
        "from mlopslab.cli.stopping import stoppable\n"
        "with stoppable():\n    pass\n"
        "print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def tuning_table(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        rng.normal(size=(rows, 8)), columns=[f"x{i}" for i in range(8)]
    )
    frame["label"] = np.where(frame["x0"] + rng.logistic(size=rows) > 0, "yes", "no")
    frame.to_csv(path, index=False)
    return path


def start_run(workspace: Path, table: Path, *overrides: str) -> subprocess.Popen[str]:
    env = {**os.environ}
    for override in overrides:
        key, value = override.split("=")
        env[key] = value
    return subprocess.Popen(
        [
            MLOPSLAB,
            "run",
            "--data",
            str(table),
            "--target",
            "label",
            "--trials",
            "2000",
        ],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_trials(workspace: Path, timeout: float = 60) -> None:
    """Until the run's journal has a finished trial: it is tuning."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journals = list((workspace / ".mlopslab" / "tuning").glob("*.log"))
        if journals and '"state":1' in journals[0].read_text().replace(" ", ""):
            return
        time.sleep(0.1)
    raise AssertionError("the run never started tuning")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "overrides"),
    [
        # Trials in worker processes (fewer rows than tune.holdout_above).
        (3_000, ("MLOPSLAB_TUNE__HOLDOUT_ABOVE=100000",)),
        # Multi-fidelity trials in this process.
        (12_000, ()),
    ],
    ids=["worker-processes", "in-process"],
)
def test_sigterm_while_tuning_stops_the_run_and_every_worker_in_seconds(
    tmp_path: Path, rows: int, overrides: tuple[str, ...]
) -> None:
    table = tuning_table(tmp_path / "table.csv", rows)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = start_run(workspace, table, *overrides)
    wait_for_trials(workspace)
    workers = _descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    assert wait_gone(run, timeout=30) < 10
    _, err = run.communicate()
    assert run.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines[-1].startswith("error: stopped while tuning: ")
    assert " of 2000 trials finished, recorded in " in lines[-1]
    assert "nothing was registered" in lines[-1]
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    assert not list((workspace / ".mlopslab" / "runs").glob("*/summary.json"))


@pytest.mark.slow
def test_sigterm_between_stages_ends_in_one_line(tmp_path: Path) -> None:
    table = tuning_table(tmp_path / "table.csv", 12_000)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = start_run(workspace, table)
    assert run.stdout is not None
    for line in run.stdout:  # the data stage has finished: now in preprocess
        if line.startswith("✓ data"):
            break
    run.send_signal(signal.SIGTERM)
    assert wait_gone(run, timeout=30) < 10
    _, err = run.communicate()
    assert run.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted; nothing is")
    assert "Traceback" not in err
