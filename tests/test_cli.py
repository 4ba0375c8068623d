"""The command line as a user meets it: exit codes, one-line errors, commands."""

import json
import re
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn

import httpx
import palmerpenguins
import pandas as pd
import pytest
import typer
from palmerpenguins import load_penguins
from playwright import sync_api

from mlopslab.cli.main import app
from mlopslab.config import DataConfig
from mlopslab.data import build_dataset, load_dataset
from tests.browser import FLAGS, chromium, needs_browser
from tests.conftest import FAST, Cli
from tests.servers import free_port, running


def one_line_error(err: str) -> str:
    """The error is one line; stage progress lines before it are fine."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert err.rstrip().endswith(errors[0])
    return errors[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--data", "nowhere.csv", "--target", "y"), 4, "data not found: nowhere.csv"),
        # Brackets in a message are text, not markup for the terminal.
        (("--data", "x[bold].csv", "--target", "y"), 4, "data not found: x[bold].csv"),
        (("--data", "penguins", "--target", "beak"), 4, "target column 'beak'"),
        (("--trials", "0"), 2, "tune.trials"),
        (("--jobs", "0"), 2, "tune.jobs"),
        (("--promotion", "later"), 2, "registry.promotion"),
        (("--config", "absent.toml"), 2, "config file not found"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    result = cli("run", *args)
    assert result.code == code
    assert message in one_line_error(result.err)


def test_data_errors_from_files(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("a,y\n" + "1,p\n" * 30)
    assert "only one class" in one_line_error(
        cli("run", "--data", tmp_path / "one.csv", "--target", "y").err
    )
    (tmp_path / "few.csv").write_text("a,y\n" + "1,p\n" * 30 + "2,q\n" * 2)
    few = cli("run", "--data", tmp_path / "few.csv", "--target", "y")
    assert few.code == 4 and "class 'q' has 2 rows" in one_line_error(few.err)
    (tmp_path / "bad.parquet").write_bytes(b"nope")
    bad = cli("run", "--data", tmp_path / "bad.parquet", "--target", "y")
    assert bad.code == 4 and "cannot read" in one_line_error(bad.err)


@pytest.mark.parametrize(
    "data",
    [
        ("--data", "nowhere.csv", "--target", "y"),  # no such file
        ("--data", "penguins", "--target", "beak"),  # no such column
        ("--data", "few.csv", "--target", "y"),  # too few rows to split
    ],
)
def test_bad_data_fails_before_the_registry_is_opened(
    cli: Cli, isolated: Path, data: tuple[str, ...]
) -> None:
    (isolated / "few.csv").write_text("a,y\n" + "1,p\n" * 30 + "2,q\n" * 2)
    result = cli("run", *data)
    assert result.code == 4
    one_line_error(result.err)
    home = isolated / ".mlopslab"
    assert home.is_dir()  # the workspace was opened; the store was not
    assert not (home / "mlflow.db").exists()


def test_bad_env_config_and_unknown_flag(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPSLAB_SEED", "abc")
    result = cli("config", "show")
    assert result.code == 2 and "seed" in one_line_error(result.err)
    monkeypatch.delenv("MLOPSLAB_SEED")
    unknown = cli("run", "--tirals", "3")
    assert unknown.code == 2 and "No such option" in unknown.err
    assert "Traceback" not in unknown.err


def test_workspace_that_is_a_file(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for command in (("run",), ("registry", "list")):  # makes or reads one
        result = cli(*command, "--home", blocker)
        assert result.code == 6 and "is not a directory" in one_line_error(result.err)


def test_corrupt_store_is_one_line(cli: Cli, isolated: Path) -> None:
    home = isolated / ".mlopslab"
    home.mkdir()
    (home / "mlflow.db").write_bytes(b"garbage" * 1000)
    result = cli("run", *FAST)
    assert result.code == 6
    assert "cannot open the MLflow store" in one_line_error(result.err)


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("run", "--data", "nowhere.csv", "--target", "y", "--debug")
    assert result.code == 4 and "Traceback" in result.err


def test_config_show_reflects_layers(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("mlopslab.toml").write_text("[tune]\ntrials = 9\n")
    monkeypatch.setenv("MLOPSLAB_SEED", "5")
    result = cli("config", "show")
    shown = json.loads(result.out)
    assert shown["tune"]["trials"] == 9 and shown["seed"] == 5


@pytest.mark.slow
def test_registry_commands(cli: Cli, workspace: Path) -> None:
    assert cli("run", *FAST).code == 0
    assert cli("run", "--trials", "2").code == 0  # another model: the new champion
    listing = cli("registry", "list")
    assert "penguins" in listing.out and "champion" in listing.out
    shown = json.loads(cli("registry", "show", "penguins", "champion").out)
    assert shown["version"] == "2" and shown["status"] == "approved"
    assert shown["model_card"].endswith("model_card.md")
    assert "## Gate decision" in Path(shown["model_card"]).read_text()
    refused = cli("registry", "reject", "penguins", "2")
    assert refused.code == 5 and "is the champion" in one_line_error(refused.err)
    assert "champion v2 -> v1" in cli("registry", "rollback", "penguins").out
    assert cli("registry", "reject", "penguins", "2").code == 0
    blocked = cli("registry", "promote", "penguins", "2")
    assert blocked.code == 5 and "was rejected" in one_line_error(blocked.err)
    assert cli("registry", "promote", "penguins", "2", "--force").code == 0
    assert cli("registry", "approve", "penguins", "1").code == 0
    missing = cli("registry", "show", "penguins", "7")
    assert missing.code == 5 and "no version '7'" in one_line_error(missing.err)
    for command in ("list", "show"):
        unknown = cli("registry", command, "walrus")
        assert unknown.code == 5
        assert one_line_error(unknown.err) == (
            "error: no registered model named 'walrus'; "
            "the registered models are penguins"
        )


@needs_browser
def test_ui_shows_the_workspace_runs(cli: Cli, workspace: Path) -> None:
    assert cli("run", *FAST).code == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlopslab.cli.main", "ui", "--port", str(port)]
    log = workspace.parent / "ui.log"
    with running(command, f"{base}/health", log) as ui:
        page = httpx.get(base, timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert_classic_view(base)
        found = httpx.post(
            f"{base}/ajax-api/2.0/mlflow/experiments/search",
            json={"max_results": 10},
            timeout=10,
        ).json()
        experiment = next(e for e in found["experiments"] if e["name"] == "penguins")
        runs = httpx.post(
            f"{base}/ajax-api/2.0/mlflow/runs/search",
            json={"experiment_ids": [experiment["experiment_id"]]},
            timeout=10,
        ).json()["runs"]
        assert len(runs) == 5  # the pipeline run and its four trials
        models = httpx.get(
            f"{base}/ajax-api/2.0/mlflow/registered-models/search", timeout=10
        ).json()
        assert models["registered_models"][0]["name"] == "penguins"
        # SIGTERM to the pid a user sees stops the UI: mlopslab became MLflow.
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=30) is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(base, timeout=2)
    said = log.read_text()
    assert "Registry store URI not provided" not in said
    assert "Deprecat" not in said and "Traceback" not in said


def assert_classic_view(base: str) -> None:
    """A new browser opens on the model-training view, with no assistant panel
    open and no telemetry notice."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(), args=[f for f in FLAGS if f != "--headless"]
        )
        page = browser.new_page()
        page.goto(base)
        page.get_by_text("Recent Experiments").wait_for(timeout=30_000)
        view = page.evaluate("localStorage.getItem('mlflow.workflowType_v1')")
        assert view == '"machine_learning"'
        assert page.get_by_text("Model registry").first.is_visible()
        assert not page.get_by_text("Ask questions about your").is_visible()
        assert not page.get_by_text("Information about UI telemetry").is_visible()
        browser.close()


def listed_commands(help_text: str) -> list[str]:
    """The names in the help's Commands panel, in the order shown."""
    panel = help_text.split("Commands", 1)[1]
    return re.findall(r"^│ (\w[\w-]*) ", panel, flags=re.MULTILINE)


def test_no_args_shows_help_listing_every_command(cli: Cli) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    assert {"run", "serve", "monitor", "registry", "course"} <= set(group.commands)
    result = cli()
    # No arguments is a usage error that shows the help (click's rule, kept by
    # Typer): exit 2, as the installed `mlopslab` script does in a shell.
    assert result.code == 2
    assert result.out.lstrip().startswith("Usage: mlopslab [OPTIONS] COMMAND")
    assert listed_commands(result.out) == list(group.commands)
    assert result.err.strip() == ""


def test_help_lists_commands(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("run", "ui", "config", "registry"):
        assert command in result.out
    # The options every command takes are named once, at the top.
    flat = " ".join(result.out.split())
    for option in ("--home DIR", "--config FILE", "--debug"):
        assert option in flat


def test_penguins_come_from_the_installed_package_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--data penguins` and the penguins CSVs tests write from `load_penguins()`
    are the file palmerpenguins installs: no test needs the network for them."""
    attempts: list[tuple[object, ...]] = []

    def no_network(*args: object, **kwargs: object) -> NoReturn:
        attempts.append(args)
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    csv = tmp_path / "penguins.csv"
    load_penguins().to_csv(csv, index=False)
    from_csv = load_dataset(DataConfig(source=str(csv), target="species"))
    builtin = load_dataset(DataConfig())
    assert attempts == []
    installed = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
    bundled = build_dataset("penguins", "-", pd.read_csv(installed), "species")
    assert builtin.fingerprint == from_csv.fingerprint == bundled.fingerprint
    assert len(builtin.frame) == 344


def test_ui_refuses_a_taken_port(cli: Cli, isolated: Path) -> None:
    (isolated / ".mlopslab").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("ui", "--port", port)
    assert result.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(result.err)


def test_ui_points_at_a_tracking_server_instead_of_crashing(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    result = cli("ui")
    assert result.code == 2
    assert "open http://127.0.0.1:5999 in a browser" in one_line_error(result.err)


def test_the_cli_and_the_server_start_without_importing_mlflow() -> None:
    """MLflow costs ~1.5 s to import: only the registry agent process pays it."""
    import subprocess

    code = (
        "import sys, mlopslab.cli.main, mlopslab.serving.entry; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    [
        ("serve",),
        ("predict", "--input", "in.csv", "--output", "out.csv"),
        ("monitor",),
        ("registry", "list"),
        ("labels", "add", "labels.csv"),
        ("ui",),
    ],
)
def test_a_mistyped_home_is_refused_not_created(
    cli: Cli, isolated: Path, command: tuple[str, ...]
) -> None:
    result = cli(*command, "--home", "typo")
    assert result.code == 2
    assert one_line_error(result.err) == (
        "error: no workspace at typo; check --home (or MLOPSLAB_HOME), "
        "or run `mlopslab run` there first"
    )
    assert not (isolated / "typo").exists()
