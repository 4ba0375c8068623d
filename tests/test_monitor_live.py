"""`mlopslab monitor` end to end: a live server, simulated traffic, alerts, retrain."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.conftest import Cli
from tests.servers import Endpoint, copy_workspace
from tests.test_cli import one_line_error

pytestmark = pytest.mark.slow


class Receiver(BaseHTTPRequestHandler):
    """A real webhook endpoint on loopback that keeps what it is sent."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_clean_then_drift_alert_and_retrain(
    cli: Cli, trained_home: Path, tmp_path: Path
) -> None:
    live = Endpoint.fresh(trained_home, tmp_path)
    home, url = live.home, live.url
    hook = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hook.server_port}/alerts"
    try:
        with live.serving("--poll-seconds", "0.3"):
            assert (
                cli(
                    "simulate", "traffic", "--n", "500", "--url", url, "--home", home
                ).code
                == 0
            )
            clean = cli(
                "monitor", "--last", "500", "--home", home, "--alert-webhook", hook_url
            )
            assert clean.code == 0, clean.out
            assert "Verdict: all clear" in clean.out and Receiver.received == []
            drifted = cli(
                "simulate",
                "traffic",
                "--n",
                "500",
                "--url",
                url,
                "--home",
                home,
                "--drift",
                "body_mass_g:+1sd",
                "--seed",
                "1",
            )
            assert drifted.code == 0
            assert (
                cli("simulate", "labels", "--quality", "1.0", "--home", home).code == 0
            )
            report = tmp_path / "drift.html"
            alarm = cli(
                "monitor",
                "--last",
                "500",
                "--home",
                home,
                "--report",
                report,
                "--alert-webhook",
                hook_url,
                "--retrain",
            )
            assert alarm.code == 1
            assert "body_mass_g" in alarm.out and "DRIFT" in alarm.out
            assert "penguins v2: approved" in alarm.err or "penguins v2" in alarm.out
            assert "<svg" in report.read_text()
            [sent] = Receiver.received
            assert sent["verdict"]["drift"] is True
            assert sent["drift"]["drifted_features"] == ["body_mass_g"]
            live.wait_for_version("2", 20, "server did not pick up v2")
    finally:
        hook.shutdown()
    runs = sorted((home / "monitoring").iterdir())
    result = json.loads((runs[-1] / "result.json").read_text())
    violations = json.loads((runs[-1] / "constraint_violations.json").read_text())
    assert result["window"]["rows"] == 500 and result["window"]["labelled"] == 500
    assert (
        violations["violations"][0]["constraint_check_type"] == "baseline_drift_check"
    )
    assert "mlopslab_monitor_drift_share" in (runs[-1] / "metrics.prom").read_text()


def test_fail_on_and_alert_command(
    cli: Cli, trained_home: Path, tmp_path: Path
) -> None:
    from mlopslab.stores.capture.record import CaptureRecord
    from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
    from tests.conftest import PENGUIN

    home = copy_workspace(trained_home, tmp_path)
    store = SQLiteCaptureStore(home / "capture.db")
    rows = [{**PENGUIN, "island": "Atlantis"} for _ in range(50)]
    store.write(
        [
            CaptureRecord(f"r{n}", float(n), "penguins", "1", row, "Gentoo", {})
            for n, row in enumerate(rows)
        ]
    )
    store.close()
    marker = tmp_path / "alerted.json"
    result = cli(
        "monitor",
        "--home",
        home,
        "--fail-on",
        "constraints",
        "--alert-command",
        f"cat > {marker}",
    )
    assert result.code == 1
    assert "categorical_values_check" in result.out
    assert json.loads(marker.read_text())["verdict"]["constraints"] is True
    quality_only = cli("monitor", "--home", home, "--fail-on", "quality")
    assert quality_only.code == 0  # no labels: quality cannot be violated


def test_no_captured_data_is_one_line(
    cli: Cli, trained_home: Path, tmp_path: Path
) -> None:
    home = copy_workspace(trained_home, tmp_path)
    result = cli("monitor", "--home", home)
    assert result.code == 4
    assert "no captured requests to monitor yet" in one_line_error(result.err)
    bad = cli("simulate", "traffic", "--url", "http://127.0.0.1:9", "--home", home)
    assert bad.code == 4 and "cannot read the model" in one_line_error(bad.err)
    spec = cli("simulate", "traffic", "--drift", "bill:sideways", "--home", home)
    assert spec.code == 2 and "cannot read drift spec" in one_line_error(spec.err)
