"""Tuning throughput: 200 trials locally and on a 2-node Ray cluster on this machine.

The point is the overhead per trial (scheduling, shipping the folds, results
back), not a speed-up on 2 cores. Both executors run the same study: the same
seed, the same fixed batches, the same trials. Prints trials per second,
median of several runs, and the ratio Ray / local.

    .venv/bin/python -m benchmarks.scale [--trials 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.ray_cluster import cluster, start_node, wait_for_nodes
from tests.servers import free_port

from mlopslab.config import DataConfig, TuneConfig, load_config
from mlopslab.data import load_dataset
from mlopslab.flows.ray_executor import RayExecutor
from mlopslab.preprocess import split_dataset
from mlopslab.tune import TrialExecutor, tune


def timed(trials: int, executor: TrialExecutor | None) -> float:
    """Seconds for one whole study of `trials` trials on penguins."""
    cfg = load_config()
    data = load_dataset(DataConfig(source="penguins"))
    split = split_dataset(data, cfg.split, cfg.tune.cv_folds, cfg.seed)
    tune_cfg = TuneConfig(trials=trials, batch_size=8)
    started = time.perf_counter()
    tune(split.X_train, split.y_train, data.schema, tune_cfg, cfg.seed, executor)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    local = [timed(args.trials, None) for _ in range(args.runs)]
    with (
        tempfile.TemporaryDirectory() as scratch,
        cluster(Path(scratch), free_port()) as (address, nodes),
    ):
        nodes.append(
            start_node(["--address", address, "--num-cpus", "1"], Path(scratch) / "w")
        )
        wait_for_nodes(address, 2)
        with RayExecutor(address) as executor:
            timed(8, executor)  # warm the workers: imports, not trials
            remote = [timed(args.trials, executor) for _ in range(args.runs)]
    print(f"{args.trials} trials on penguins, batches of 8, median of {args.runs} runs")
    print(f"{'executor':<34}{'seconds':>9}{'trials/s':>10}{'ms/trial':>10}")
    rows = (
        ("local (in-process, 1 thread)", local),
        ("ray (head + 1 worker node, 2 CPU)", remote),
    )
    for name, times in rows:
        median = statistics.median(times)
        print(
            f"{name:<34}{median:>9.2f}{args.trials / median:>10.1f}"
            f"{1000 * median / args.trials:>10.1f}"
        )
    ratio = statistics.median(remote) / statistics.median(local)
    print(f"ray / local time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
