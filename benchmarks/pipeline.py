"""Wall time of `mlopslab run` on penguins at its defaults, cold and warm.

Cold: a fresh workspace (the MLflow database is created and migrated).
Warm: an existing workspace with a champion to compare against.
Prints a table of medians over several runs, and the held-out test accuracy.

    .venv/bin/python benchmarks/pipeline.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MLOPSLAB = Path(sys.executable).with_name("mlopslab")
TARGETS = {"cold": 15.0, "warm": 8.0}


def timed_run(home: Path) -> tuple[float, dict[str, float], float]:
    """One `mlopslab run`: wall seconds, per-stage seconds, test accuracy."""
    started = time.perf_counter()
    subprocess.run(
        [str(MLOPSLAB), "run", "--home", str(home)],
        check=True,
        capture_output=True,
        cwd=home.parent,
    )
    wall = time.perf_counter() - started
    run_dir = max((home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    summary = json.loads((run_dir / "summary.json").read_text())
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    return wall, summary["stage_seconds"], float(evaluation["test"]["accuracy"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold: list[float] = []
    warm: list[float] = []
    accuracy = 0.0
    stage_samples: dict[str, list[float]] = {}
    for _ in range(args.runs):
        scratch = Path(tempfile.mkdtemp(prefix="mlopslab-bench-"))
        home = scratch / ".mlopslab"
        try:
            wall, _, accuracy = timed_run(home)
            cold.append(wall)
            wall, stages, accuracy = timed_run(home)
            warm.append(wall)
            for name, seconds in stages.items():
                stage_samples.setdefault(name, []).append(seconds)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"mlopslab run on penguins, defaults, {args.runs} runs each (median)")
    print(f"{'figure':<28}{'median':>10}{'min':>10}{'max':>10}{'target':>10}")
    for label, samples in (
        ("wall time, cold (s)", cold),
        ("wall time, warm (s)", warm),
    ):
        key = label.split(", ")[1].split(" ")[0]
        print(
            f"{label:<28}{statistics.median(samples):>10.2f}{min(samples):>10.2f}"
            f"{max(samples):>10.2f}{'<= ' + str(TARGETS[key]):>10}"
        )
    print(f"{'test accuracy':<28}{accuracy:>10.4f}{'':>20}{'>= 0.97':>10}")
    if stage_samples:
        print("\nwarm run, median seconds per stage")
        for name, samples in stage_samples.items():
            print(f"  {name:<12}{statistics.median(samples):>8.2f}")


if __name__ == "__main__":
    main()
