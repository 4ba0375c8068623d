"""The PyTorch families against scikit-learn's, side by side in one run.

1. digits at the default families (torch_cnn among them when torch is
   installed): the champion's family, its test accuracy, the CNN's training
   time per epoch (its final fit) and the whole run's wall time.
2. penguins, warm: the default search against the same search with torch_mlp
   added (target: at most 2x).
3. serving: a digits torch_cnn champion against a digits scikit-learn MLP
   champion: seconds to ready, and wrk at concurrency 8 on /predict with one
   image a request (targets: ready within 3 s, p99 within 25 ms).

    .venv/bin/python -m benchmarks.torch_models [--runs 3] [--seconds 10]

Needs torch (`make setup-test`) and wrk (Debian package `wrk`).
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

from tests.servers import free_port

from benchmarks.serving import median_ready, start, stop, wrk

BIN = Path(sys.executable).parent
MLOPSLAB = str(BIN / "mlopslab")
PENGUIN_FAMILIES = '["logreg","hist_gb","mlp"]'
WITH_TORCH = '["logreg","hist_gb","mlp","torch_mlp"]'


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """One `mlopslab run`: its wall seconds."""
    started = time.perf_counter()
    subprocess.run(
        [MLOPSLAB, "run", "--home", str(home), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - started


CHAMPION = """
import json, sys
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.sklearn.load_model(f"models:/{sys.argv[2]}@champion")
print(json.dumps(list(getattr(model[-1], "epoch_seconds_", []))))
"""


def champion(home: Path, name: str) -> tuple[str, float, list[float]]:
    """The champion's family, test accuracy and epoch times (a CNN's final fit)."""
    uri = f"sqlite:///{home / 'mlflow.db'}"
    out = subprocess.run(
        [sys.executable, "-c", CHAMPION, uri, name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    run_dir = max((home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    card = json.loads((run_dir / "model_card.json").read_text())
    accuracy = float(card["metrics"]["test"]["accuracy"])
    return str(card["model"]["family"]), accuracy, json.loads(out.splitlines()[-1])


def digits(scratch: Path, runs: int) -> tuple[Path, list[str]]:
    lines, walls, accuracies, epochs = [], [], [], []
    family = ""
    for i in range(runs):
        home = scratch / f"digits-{i}"
        walls.append(run(home, "--data", "digits"))
        family, accuracy, seconds = champion(home, "digits")
        accuracies.append(accuracy)
        epochs += seconds
    lines.append(
        f"| digits, default families | champion {family} | test accuracy "
        f"{statistics.median(accuracies):.4f} (target >= 0.98) | run "
        f"{statistics.median(walls):.1f} s | epoch "
        f"{statistics.median(epochs) * 1000 if epochs else float('nan'):.0f} ms |"
    )
    return scratch / "digits-0", lines


def penguins(scratch: Path, runs: int) -> list[str]:
    home = scratch / "penguins"
    run(home)  # a champion to compare against: every timed run is warm
    plain, torch = [], []
    for _ in range(runs):  # interleaved, so both see the same machine
        plain.append(run(home, env={"MLOPSLAB_TUNE__FAMILIES": PENGUIN_FAMILIES}))
        torch.append(run(home, env={"MLOPSLAB_TUNE__FAMILIES": WITH_TORCH}))
    a, b = statistics.median(plain), statistics.median(torch)
    return [
        f"| penguins warm, {PENGUIN_FAMILIES} | {a:.2f} s | | | |",
        f"| penguins warm, + torch_mlp | {b:.2f} s | ratio {b / a:.2f}x "
        "(target <= 2x) | | |",
    ]


def serving(scratch: Path, cnn_home: Path, runs: int, seconds: int) -> list[str]:
    mlp_home = scratch / "digits-mlp"
    run(mlp_home, "--data", "digits", env={"MLOPSLAB_TUNE__FAMILIES": '["mlp"]'})
    from sklearn.datasets import load_digits

    image = load_digits().images[0].tolist()  # 8 rows of 8 pixels
    lines = []
    for label, home in (("torch_cnn", cnn_home), ("scikit-learn mlp", mlp_home)):
        port = free_port()
        command = [MLOPSLAB, "serve", "--home", str(home), "--port", str(port)]
        ready_url = f"http://127.0.0.1:{port}/ready"
        env = dict(os.environ)
        cache = home / "cache" / "serving"
        ready = median_ready(command, ready_url, env, runs, forget=cache)
        server, _ = start(command, ready_url, env)
        body = {"images": [image]}
        stats = wrk(f"http://127.0.0.1:{port}/predict", body, 8, seconds)
        stop(server)
        verdict = "meets" if ready <= 3 and stats["p99"] <= 25 else "MISSES"
        lines.append(
            f"| serve digits, {label} | ready {ready:.2f} s | p50 {stats['p50']:.1f} "
            f"ms | p99 {stats['p99']:.1f} ms | {stats['rps']:.0f} req/s, "
            f"{int(stats['failed'])} failed; {verdict} 3 s / 25 ms |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    scratch = Path(tempfile.mkdtemp(prefix="mlopslab-torch-"))
    try:
        cnn_home, lines = digits(scratch, args.runs)
        lines += penguins(scratch, max(args.runs, 5))
        lines += serving(scratch, cnn_home, args.runs, args.seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"medians of {args.runs} runs (penguins: {max(args.runs, 5)})")
    print("| case | | | | |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
