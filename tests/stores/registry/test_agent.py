"""The registry in a helper process: tasks, errors across the boundary, lifetime."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlopslab.errors import RegistryError, StoreError
from mlopslab.stores.registry.agent import (
    RegistryAgent,
    fetch_model,
    load_baseline,
    resolve_version,
)
from mlopslab.stores.registry.versions import load_pipeline
from tests.conftest import PENGUIN

pytestmark = pytest.mark.slow


def uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow.db'}"


def test_tasks_return_plain_values_that_load_without_mlflow(
    trained_home: Path,
) -> None:
    import pandas as pd

    with RegistryAgent(uri(trained_home)) as agent:
        info = agent.call(resolve_version, "penguins", "champion")
        files = agent.call(fetch_model, info)
        baseline = agent.call(load_baseline, info)
    assert info.version == "1" and "champion" in info.aliases
    assert files.serialization_format == "cloudpickle"
    assert [c["name"] for c in files.inputs] == list(PENGUIN)
    assert files.card["status"] == "approved"
    pipeline = load_pipeline(files)
    assert pipeline.predict(pd.DataFrame([PENGUIN]))[0] == "Gentoo"
    assert {f["name"] for f in baseline.statistics["features"]} == set(PENGUIN)


def test_errors_come_back_with_their_hint(trained_home: Path) -> None:
    with (
        RegistryAgent(uri(trained_home)) as agent,
        pytest.raises(RegistryError) as caught,
    ):
        agent.call(resolve_version, "penguins", "7")
    assert caught.value.one_line() == (
        "model 'penguins' has no version '7'; "
        "see `mlopslab registry list penguins` for its versions"
    )


def test_errors_pickle_with_their_hint() -> None:
    error = pickle.loads(pickle.dumps(StoreError("broken", "fix it")))
    assert type(error) is StoreError and error.one_line() == "broken; fix it"


def test_a_dead_agent_is_one_error_and_the_next_call_restarts_it(
    trained_home: Path,
) -> None:
    with RegistryAgent(uri(trained_home)) as agent:
        first = agent.call(agent_pid)
        assert first != os.getpid()
        os.kill(first, signal.SIGKILL)
        with pytest.raises(StoreError, match="registry helper process stopped"):
            agent.call(resolve_version, "penguins", "champion")
        assert agent.call(agent_pid) not in {first, os.getpid()}
        assert agent.call(resolve_version, "penguins", "champion").version == "1"


def agent_pid(registry: object) -> int:
    return os.getpid()


def test_the_agent_does_not_outlive_a_killed_parent(
    trained_home: Path, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import os, time
        from mlopslab.stores.registry.agent import RegistryAgent
        def agent_pid(registry):
            return os.getpid()
        agent = RegistryAgent({uri(trained_home)!r})
        print(agent.call(agent_pid), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the agent outlived its parent"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for init to reap it.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
