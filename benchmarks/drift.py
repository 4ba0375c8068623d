"""Monitoring cost: constraints + drift on 1M x 20 against a 1M-row reference,
and the common case of 500 captured rows. Optionally Evidently side by side.

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--runs 3] [--peer]

--peer builds benchmarks/.peer-venv with Evidently 0.7 and pandas 2 (Evidently
0.7 does not import beside pandas 3), runs its DataDriftPreset on the same
parquet files, and compares per-column verdicts with the same method forced.
Each measurement runs in a fresh process: wall seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
NUMERIC, CATEGORICAL = 10, 10
DRIFTED = {"num_0": 0.5, "cat_0": True}  # mean shift in sd; category shares changed

CHILD = r"""
import json, resource, sys, time
import pandas as pd
from mlopslab.baseline import compute_constraints, compute_statistics
from mlopslab.config import MonitorConfig
from mlopslab.data import infer_schema
from mlopslab.monitor.constraints import check_constraints
from mlopslab.monitor.drift import detect_drift
from mlopslab.monitor.reference import references
folder, rows = sys.argv[1], int(sys.argv[2])
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet").head(rows)
schema = infer_schema(reference.assign(y="a"), "y")
statistics = compute_statistics(reference, schema)  # made at training time, not timed
constraints = compute_constraints(reference, schema)
del reference
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
cfg = MonitorConfig()
drift = detect_drift(current, references(statistics), cfg)
violations = check_constraints(current, constraints, cfg, drift.drifted)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "check_mb": (peak - before) / 1024,
                  "drifted": drift.drifted,
                  "verdicts": {f.feature: f.drifted for f in drift.features},
                  "methods": {f.feature: f.method for f in drift.features}}))
"""

PEER = r"""
import json, resource, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
folder = sys.argv[1]
forced = len(sys.argv) > 2
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet")
started = time.perf_counter()
preset = (DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon",
                          num_threshold=0.1, cat_threshold=0.1) if forced else DataDriftPreset())
snapshot = Report([preset]).run(current_data=current, reference_data=reference)
seconds = time.perf_counter() - started
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        verdicts[config["column"]] = bool(metric["value"] >= config["threshold"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "verdicts": verdicts}))
"""


def make_data(folder: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    for name, drift in (("reference", False), ("current", True)):
        columns: dict[str, object] = {}
        for i in range(NUMERIC):
            shift = DRIFTED.get(f"num_{i}", 0.0) if drift else 0.0
            columns[f"num_{i}"] = rng.normal(10 * i + float(shift), 1 + i / 10, rows)
        for i in range(CATEGORICAL):
            shares = np.array([0.4, 0.3, 0.2, 0.1])
            if drift and f"cat_{i}" in DRIFTED:
                shares = shares[::-1]
            columns[f"cat_{i}"] = pd.Series(
                rng.choice(["alpha", "beta", "gamma", "delta"], rows, p=shares),
                dtype="str",
            )
        pd.DataFrame(columns).to_parquet(folder / f"{name}.parquet")


def run(python: str, code: str, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def peer_python() -> str:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "evidently>=0.7,<0.8",
                "pandas>=2,<3",
                "pyarrow",
            ],
            check=True,
        )
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_data(folder, args.rows)
        full = [
            run(sys.executable, CHILD, scratch, str(args.rows))
            for _ in range(args.runs)
        ]
        small = [run(sys.executable, CHILD, scratch, "500") for _ in range(args.runs)]
        cli = [_monitor_command_seconds() for _ in range(args.runs)]
        print(
            f"{args.rows:,} x {NUMERIC + CATEGORICAL} against a {args.rows:,}-row reference; "
            f"median of {args.runs} fresh processes"
        )
        print(
            f"{'case':<34}{'seconds':>9}{'peak RSS MB':>13}{'check MB':>10}{'target':>16}"
        )
        _row("full check (constraints + drift)", full, "<= 3 s, 1 GB")
        _row("500 captured rows (checks)", small, "<= 1 s")
        print(
            f"{'mlopslab monitor, 500 rows (CLI)':<34}{statistics.median(cli):>9.2f}"
            f"{'':>23}{'<= 3 s':>16}"
        )
        print(
            f"drifted columns found: {full[0]['drifted']} (planted: {sorted(DRIFTED)})"
        )
        if args.peer:
            _compare(folder, full[0], args.runs)


def _row(label: str, results: list[dict[str, object]], target: str) -> None:
    seconds = statistics.median(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
    peak = statistics.median(float(r["peak_mb"]) for r in results)  # type: ignore[arg-type]
    check = statistics.median(float(r["check_mb"]) for r in results)  # type: ignore[arg-type]
    print(f"{label:<34}{seconds:>9.3f}{peak:>13.0f}{check:>10.0f}{target:>16}")


def _monitor_command_seconds() -> float:
    """Wall time of the real `mlopslab monitor` on 500 captured penguin rows."""
    from benchmarks.monitor_fixture import timed_monitor

    return timed_monitor()


def _compare(folder: Path, ours: dict[str, object], runs: int) -> None:
    python = peer_python()
    peer = [run(python, PEER, str(folder)) for _ in range(max(1, runs // 3))]
    peer_seconds = statistics.median(float(r["seconds"]) for r in peer)  # type: ignore[arg-type]
    ours_seconds = float(ours["seconds"])  # type: ignore[arg-type]
    print(
        f"{'Evidently 0.7 DataDriftPreset':<34}{peer_seconds:>9.1f}"
        f"{statistics.median(float(r['peak_mb']) for r in peer):>13.0f}"
    )  # type: ignore[arg-type]
    print(
        f"time ratio Evidently / mlopslab: {peer_seconds / ours_seconds:.0f}x (goal >= 30x)"
    )
    agree = total = 0
    forced = run(python, PEER, str(folder), "forced")["verdicts"]
    for column, verdict in forced.items():  # type: ignore[union-attr]
        total += 1
        agree += verdict == ours["verdicts"].get(column)  # type: ignore[union-attr]
    print(
        f"per-column verdict agreement with the same method and threshold: {agree}/{total}"
    )


if __name__ == "__main__":
    main()
