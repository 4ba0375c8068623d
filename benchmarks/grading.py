"""Grading time: a class of assignment-3 submissions, one and two at a time.

Every submission is the reference solution (all checks run to the end: the
slowest case) applied to this repository's code. Each class is graded in a
fresh process through `mlopslab course grade`, as an instructor would.

.venv/bin/python -m benchmarks.grading [--submissions 30] [--jobs 1 2]
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

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOLUTION = REPO / "course" / "3-evaluation" / "instructor" / "solution.patch"


def make_class(folder: Path, size: int) -> None:
    first = folder / "student00"
    for part in ("src", "tests"):
        shutil.copytree(
            REPO / part, first / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(["git", "apply", str(SOLUTION)], cwd=first, check=True)
    for number in range(1, size):
        shutil.copytree(first, folder / f"student{number:02d}")


def grade(folder: Path, out: Path, home: Path, jobs: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "mlopslab"),
            "course",
            "grade",
            "3-evaluation",
            str(folder),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--home",
            str(home),
            "--course",
            str(REPO / "course"),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mlopslab-grading-"))
    try:
        make_class(scratch / "class", args.submissions)
        rows = []
        for jobs in args.jobs:
            out = scratch / f"grades-{jobs}"
            seconds = grade(scratch / "class", out, scratch / f"home-{jobs}", jobs)
            results = [json.loads(p.read_text()) for p in out.glob("*/results.json")]
            each = [r["execution_time"] for r in results]
            full = sum(r["score"] == 11 for r in results)
            rows.append((jobs, seconds, statistics.median(each), full))
        report(rows, args.submissions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(rows: list[tuple[int, float, float, int]], size: int) -> None:
    print(f"assignment 3, {size} submissions (reference solution), 2 cores")
    print(
        f"{'jobs':>4}{'class s':>10}{'s/submission':>14}{'median each s':>15}"
        f"{'speed-up':>10}{'full marks':>12}"
    )
    base = rows[0][1]
    for jobs, seconds, median, full in rows:
        print(
            f"{jobs:>4}{seconds:>10.1f}{seconds / size:>14.1f}{median:>15.1f}"
            f"{base / seconds:>10.2f}{full:>9}/{size}"
        )
    print("target: <= 20 s per submission; class time scaling with cores")


if __name__ == "__main__":
    main()
