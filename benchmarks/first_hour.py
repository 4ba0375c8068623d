"""What a new user waits for in the first hour, this checkout against another.

Times, median of several runs, each figure measured for both checkouts in turn
(ABAB...) so that a busy machine slows both alike:

- `run` first line: seconds until `mlopslab run` prints its first line;
- `run` warm: a whole `mlopslab run` in a workspace that has a champion;
- `registry list`;
- `predict`, 10,000 penguin rows;
- `demo`, end to end.

    .venv/bin/python -m benchmarks.first_hour --against /path/to/other/checkout [--runs 5]

The other checkout needs its own `.venv` (`make .venv/.synced-stamp` there).
Without `--against` only this checkout is measured.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(sys.executable).with_name("mlopslab")
Timer = Callable[[Path, Path], float]


def first_line(mlopslab: Path, home: Path) -> float:
    """Seconds until the first line of output of a warm `mlopslab run`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(mlopslab), "run", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()
    seconds = time.perf_counter() - started
    process.communicate()
    return seconds


def command(*args: str) -> Timer:
    def timed(mlopslab: Path, home: Path) -> float:
        words = [a.replace("{home}", str(home)) for a in args]
        started = time.perf_counter()
        subprocess.run(
            [str(mlopslab), *words, "--home", str(home)],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    return timed


def demo(mlopslab: Path, home: Path) -> float:
    """The demo in a fresh workspace beside `home`."""
    fresh = Path(tempfile.mkdtemp(prefix="mlopslab-demo-")) / ".mlopslab"
    try:
        return command("demo")(mlopslab, fresh)
    finally:
        shutil.rmtree(fresh.parent, ignore_errors=True)


FIGURES: dict[str, Timer] = {
    "run: first line (s)": first_line,
    "run: warm (s)": command("run"),
    "registry list (s)": command("registry", "list"),
    "predict 10,000 rows (s)": command(
        "predict", "--input", "{home}/rows.csv", "--output", "{home}/scored.csv"
    ),
    "demo (s)": demo,
}


def prepare(mlopslab: Path) -> Path:
    """A workspace with a champion, and 10,000 rows to score."""
    from palmerpenguins import load_penguins

    home = Path(tempfile.mkdtemp(prefix="mlopslab-first-hour-")) / ".mlopslab"
    subprocess.run(
        [str(mlopslab), "run", "--home", str(home)], check=True, capture_output=True
    )
    rows = load_penguins().drop(columns="species").dropna(subset=["island"])
    rows.sample(10_000, replace=True, random_state=0).to_csv(
        home / "rows.csv", index=False
    )
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout, with .venv")
    args = parser.parse_args()
    sides = {"this": HERE}
    if args.against:
        sides["other"] = args.against.resolve() / ".venv" / "bin" / "mlopslab"
    homes = {side: prepare(mlopslab) for side, mlopslab in sides.items()}
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for figure, timer in FIGURES.items():
            for _ in range(args.runs):
                for side, mlopslab in sides.items():
                    seconds = timer(mlopslab, homes[side])
                    samples.setdefault((figure, side), []).append(seconds)
    finally:
        for home in homes.values():
            shutil.rmtree(home.parent, ignore_errors=True)
    report(samples, list(sides), args.runs)


def report(
    samples: dict[tuple[str, str], list[float]], sides: list[str], runs: int
) -> None:
    print(f"first hour, median of {runs} runs (min-max), sides measured in turn")
    header = f"{'figure':<26}" + "".join(f"{side:>22}" for side in sides)
    print(header + (f"{'this/other':>12}" if len(sides) == 2 else ""))
    for figure in FIGURES:
        cells, medians = [], []
        for side in sides:
            values = samples[(figure, side)]
            medians.append(statistics.median(values))
            cells.append(f"{medians[-1]:.2f} ({min(values):.2f}-{max(values):.2f})")
        line = f"{figure:<26}" + "".join(f"{cell:>22}" for cell in cells)
        if len(medians) == 2:
            line += f"{medians[0] / medians[1]:>12.2f}"
        print(line)


if __name__ == "__main__":
    main()
