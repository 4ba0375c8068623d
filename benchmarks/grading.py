"""Grading time: a class of submissions (assignment 3 unless `--module`), one
and two at a time.

Every submission is the reference solution (all checks run to the end: the
slowest case) applied to this repository's code. Each class is graded in a
fresh process through `mlopslab course grade`, as an instructor would, `--runs`
times; the table gives medians. `--against DIR` grades the same class with
another checkout's grader (its `src/` first on the path, its own course) in the
same runs, alternating, and adds the ratio.

.venv/bin/python -m benchmarks.grading [--submissions 30] [--jobs 1 2]
    [--runs 1] [--against ../older-checkout] [--module 1-data]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def make_class(folder: Path, size: int, module: str) -> None:
    first = folder / "student00"
    for part in ("src", "tests"):
        shutil.copytree(
            REPO / part, first / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    solution = REPO / "course" / module / "instructor" / "solution.patch"
    subprocess.run(["git", "apply", str(solution)], cwd=first, check=True)
    for number in range(1, size):
        shutil.copytree(first, folder / f"student{number:02d}")


def grade(
    folder: Path, out: Path, home: Path, jobs: int, code: Path, module: str
) -> float:
    """Seconds to grade the class with the grader (and course) in `code`."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code / "src")}
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "mlopslab"),
            "course",
            "grade",
            module,
            str(folder),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--home",
            str(home),
            "--course",
            str(code / "course"),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - started


Row = tuple[str, int, float, float, int]  # grader, jobs, class s, median each s, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--against", type=Path, default=None)
    parser.add_argument("--module", default="3-evaluation")
    args = parser.parse_args()
    graders = {"this": REPO}
    if args.against is not None:
        graders["peer"] = args.against.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="mlopslab-grading-"))
    try:
        make_class(scratch / "class", args.submissions, args.module)
        seen: dict[tuple[str, int], list[tuple[float, list[float], int]]] = {}
        for _ in range(args.runs):  # the graders alternate: the same noise
            for jobs in args.jobs:
                for name, code in graders.items():
                    seen.setdefault((name, jobs), []).append(
                        measure(scratch, name, code, jobs, args.module)
                    )
        rows = [summary(key, runs) for key, runs in seen.items()]
        report(rows, args.submissions, args.module)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(
    scratch: Path, name: str, code: Path, jobs: int, module: str
) -> tuple[float, list[float], int]:
    """One grading of the class: its seconds, each submission's, full marks."""
    out = scratch / f"grades-{name}-{jobs}"
    home = scratch / f"home-{name}"
    seconds = grade(scratch / "class", out, home, jobs, code, module)
    results = [json.loads(p.read_text()) for p in out.glob("**/results.json")]
    each = [r["execution_time"] for r in results]
    full = sum(r["score"] == sum(t["max_score"] for t in r["tests"]) for r in results)
    return seconds, each, full


def summary(key: tuple[str, int], runs: list[tuple[float, list[float], int]]) -> Row:
    name, jobs = key
    each = [seconds for _, times, _ in runs for seconds in times]
    full = min(count for _, _, count in runs)
    return (
        name,
        jobs,
        statistics.median(t for t, _, _ in runs),
        statistics.median(each),
        full,
    )


def report(rows: list[Row], size: int, module: str) -> None:
    print(f"{module}, {size} submissions (reference solution), 2 cores")
    print(
        f"{'grader':>7}{'jobs':>5}{'class s':>10}{'s/submission':>14}"
        f"{'median each s':>15}{'vs peer':>9}{'full marks':>12}"
    )
    peer = {jobs: seconds for name, jobs, seconds, _, _ in rows if name == "peer"}
    for name, jobs, seconds, median, full in rows:
        ratio = f"{seconds / peer[jobs]:.2f}" if jobs in peer else "-"
        print(
            f"{name:>7}{jobs:>5}{seconds:>10.1f}{seconds / size:>14.1f}"
            f"{median:>15.1f}{ratio:>9}{full:>9}/{size}"
        )
    print("target: <= 20 s per submission; class time scaling with cores")


if __name__ == "__main__":
    main()
