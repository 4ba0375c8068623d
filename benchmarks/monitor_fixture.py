"""A workspace with a penguins champion and 500 captured rows, for timing `monitor`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlopslab.stores.capture.record import CaptureRecord
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore

BIN = Path(sys.executable).parent
_HOME: Path | None = None


def _workspace() -> Path:
    global _HOME
    if _HOME is None:
        from palmerpenguins import load_penguins

        home = Path(tempfile.mkdtemp(prefix="mlopslab-monitor-")) / ".mlopslab"
        subprocess.run(
            [str(BIN / "mlopslab"), "run", "--home", str(home), "--trials", "4"],
            check=True,
            capture_output=True,
        )
        rows = (
            load_penguins()
            .drop(columns="species")
            .sample(500, replace=True, random_state=0)
        )
        records = (
            rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
        )
        store = SQLiteCaptureStore(home / "capture.db")
        store.write(
            [
                CaptureRecord(f"id{n}", float(n), "penguins", "1", row, "Adelie", {})
                for n, row in enumerate(records)
            ]
        )
        store.close()
        _HOME = home
    return _HOME


def timed_monitor() -> float:
    home = _workspace()
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "mlopslab"), "monitor", "--home", str(home), "--last", "500"],
        capture_output=True,
    )
    return time.perf_counter() - started


def cleanup() -> None:
    if _HOME is not None:
        shutil.rmtree(_HOME.parent, ignore_errors=True)
