"""`mlopslab run` on a generated table beside a plain scikit-learn script.

The table has 30 columns of mixed types (floats with gaps, integers, booleans,
categories of 5, 20 and 200 values) and a binary target; `--extra` adds an
identifier and a timestamp column. The plain script is what a practitioner
would write: one stratified split, the same preprocessing (median or
most-frequent imputation, scaling, one-hot), one `HistGradientBoostingClassifier`
fit at its defaults, then `predict_proba` on the test rows; with `--extra` it
gets the table without those two columns. mlopslab runs its whole lifecycle,
tuned, in a fresh workspace, on the whole table.

Each command runs in its own process; the table shows wall seconds and the
peak memory of the whole process tree (the sum of every process's RSS, sampled
every 50 ms), the median of `--runs` runs, and the ratio to the plain script.

    .venv/bin/python -m benchmarks.data_scale [--rows 10000 100000] [--runs 3]
        [--extra] [--predict]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
EXTRA = ["customer_id", "created_at"]  # the columns --extra adds
MLOPSLAB = str(Path(sys.executable).with_name("mlopslab"))

PLAIN = r"""
import json, sys, time
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

frame = pd.read_parquet(sys.argv[1])
y = frame.pop("label")
numeric = [c for c in frame if frame[c].dtype.kind in "biuf"]
categorical = [c for c in frame if c not in numeric]
pre = ColumnTransformer([
    ("n", Pipeline([("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]), numeric),
    ("c", Pipeline([("i", SimpleImputer(strategy="most_frequent")),
                    ("o", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), categorical),
])
X_train, X_test, y_train, y_test = train_test_split(
    frame, y, test_size=0.2, stratify=y, random_state=42)
model = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(random_state=42))])
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)
accuracy = accuracy_score(y_test, model.classes_[proba.argmax(axis=1)])
print(json.dumps({"accuracy": accuracy}))
if len(sys.argv) > 2:  # keep the model for the predict comparison
    import pickle
    with open(sys.argv[2], "wb") as handle:
        pickle.dump(model, handle)
"""

# predict_proba of the plain script's model on a file, written out.
PLAIN_PREDICT = r"""
import sys, pickle
import pandas as pd
model = pickle.load(open(sys.argv[1], "rb"))
frame = pd.read_parquet(sys.argv[2])
proba = model.predict_proba(frame)
pd.DataFrame(proba, columns=[str(c) for c in model.classes_]).to_parquet(sys.argv[3])
"""
# The same, with mlopslab's champion loaded by MLflow: the model's own speed.
CHAMPION_PREDICT = r"""
import sys
import mlflow.sklearn, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.sklearn.load_model(sys.argv[2])
frame = pd.read_parquet(sys.argv[3])
proba = model.predict_proba(frame)
pd.DataFrame(proba, columns=[str(c) for c in model.classes_]).to_parquet(sys.argv[4])
"""


def make_table(rows: int, extra: bool, seed: int = 0) -> pd.DataFrame:
    """30 mixed columns and a binary target that depends on several of them."""
    rng = np.random.default_rng(seed)
    floats = rng.normal(size=(rows, 22))
    frame = pd.DataFrame(floats, columns=[f"f{i}" for i in range(22)])
    for i in (3, 7, 11):
        frame.loc[rng.random(rows) < 0.05, f"f{i}"] = np.nan
    for i in range(3):
        frame[f"n{i}"] = rng.integers(0, 20, rows)
    frame["b0"] = rng.random(rows) < 0.3
    frame["b1"] = rng.random(rows) < 0.6
    for name, levels in (("c5", 5), ("c20", 20), ("c200", 200)):
        frame[name] = pd.Series(rng.integers(0, levels, rows)).map(lambda v: f"v{v}")
    effect = pd.Series(rng.normal(size=200), index=[f"v{v}" for v in range(200)])
    logit = (
        floats[:, 0]
        + 0.8 * floats[:, 1] * floats[:, 2]
        - 0.6 * np.abs(floats[:, 4])
        + 0.5 * frame["b0"]
        + 0.1 * (frame["n0"] - 10) / 5
        + 0.5 * frame["c200"].map(effect).to_numpy()
    )
    frame["label"] = np.where(logit + rng.logistic(size=rows) > 0, "yes", "no")
    if extra:
        frame["customer_id"] = [f"C{i:08d}" for i in rng.permutation(rows)]
        start = np.datetime64("2024-01-01T00:00:00")
        minutes = np.sort(rng.integers(0, 60 * 24 * 365, rows))
        frame["created_at"] = pd.to_datetime(start + minutes.astype("timedelta64[m]"))
    return frame


def _tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and every process under it."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str], cwd: Path) -> dict[str, float | str]:
    """Wall seconds, peak tree RSS (MB) and the last stdout line of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return {"seconds": seconds, "peak_mb": peak / 2**20, "output": output}


def run_mlopslab(table: Path, scratch: Path) -> dict[str, float | str]:
    workspace = Path(tempfile.mkdtemp(dir=scratch))
    result = measure(
        [MLOPSLAB, "run", "--data", str(table), "--target", "label"], workspace
    )
    summary = next((workspace / ".mlopslab" / "runs").glob("*/summary.json"))
    content = json.loads(summary.read_text())
    evaluation = json.loads(summary.with_name("evaluation.json").read_text())
    result["accuracy"] = evaluation["test"]["accuracy"]
    result["stages"] = " ".join(
        f"{k} {v:.0f}" for k, v in content["stage_seconds"].items()
    )
    trained = next(
        line for line in str(result["output"]).splitlines() if "✓ train" in line
    )
    result["stages"] += f" ({trained.split()[3].rstrip(',')})"
    result["workspace"] = str(workspace)
    return result


def run_plain(table: Path, scratch: Path) -> dict[str, float | str]:
    script = scratch / "plain.py"
    script.write_text(PLAIN)
    model = scratch / "plain-model.pkl"
    result = measure([sys.executable, str(script), str(table), str(model)], scratch)
    result["accuracy"] = json.loads(str(result["output"]).strip().splitlines()[-1])[
        "accuracy"
    ]
    return result


def predict_side_by_side(
    table: Path, scratch: Path, workspace: Path, runs: int
) -> None:
    """`mlopslab predict` on the table's rows beside predict_proba in a plain
    script: the plain script's own model, and mlopslab's champion."""
    rows = scratch / "rows.parquet"
    pd.read_parquet(table).drop(columns="label").to_parquet(rows)
    (scratch / "plain_predict.py").write_text(PLAIN_PREDICT)
    (scratch / "champion_predict.py").write_text(CHAMPION_PREDICT)
    uri = f"sqlite:///{workspace / '.mlopslab' / 'mlflow.db'}"
    model_name = json.loads(
        next(workspace.glob(".mlopslab/runs/*/summary.json")).read_text()
    )["model_name"]
    name = f"models:/{model_name}@champion"
    commands = {
        "plain model": [
            sys.executable,
            str(scratch / "plain_predict.py"),
            str(scratch / "plain-model.pkl"),
            str(rows),
            str(scratch / "p1.parquet"),
        ],
        "champion": [
            sys.executable,
            str(scratch / "champion_predict.py"),
            uri,
            name,
            str(rows),
            str(scratch / "p2.parquet"),
        ],
        "mlopslab": [
            MLOPSLAB,
            "predict",
            "--home",
            str(workspace / ".mlopslab"),
            "--input",
            str(rows),
            "--output",
            str(scratch / "p3.parquet"),
        ],
    }
    timings: dict[str, list[dict[str, float | str]]] = {k: [] for k in commands}
    for _ in range(runs):
        for label, command in commands.items():
            timings[label].append(measure(command, scratch))
    base_s = median(timings["plain model"], "seconds")
    base_mb = median(timings["plain model"], "peak_mb")
    count = len(pd.read_parquet(rows, columns=["f0"]))
    for label, results in timings.items():
        seconds, mb = median(results, "seconds"), median(results, "peak_mb")
        print(
            f"{count:>9} {'predict: ' + label:<22}{seconds:>9.1f}{seconds / base_s:>7.2f}"
            f"{mb:>9.0f}{mb / base_mb:>7.2f}",
            flush=True,
        )


def median(results: list[dict[str, float | str]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--extra", action="store_true", help="add an id and a time")
    parser.add_argument(
        "--predict", action="store_true", help="also time predict on the table's rows"
    )
    args = parser.parse_args()
    print(
        f"{'rows':>9} {'command':<22}{'seconds':>9}{'ratio':>7}{'peak MB':>9}"
        f"{'ratio':>7}{'accuracy':>10}  stages (s)"
    )
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        for rows in args.rows:
            table = scratch / f"table-{rows}.parquet"
            made = make_table(rows, args.extra)
            made.to_parquet(table)
            # The plain script is given the table without the id and the
            # timestamp, as a careful practitioner would drop them by hand:
            # one-hot, they take it out of memory (92 GiB at 100k rows).
            plain_table = scratch / f"plain-{rows}.parquet"
            made.drop(columns=EXTRA, errors="ignore").to_parquet(plain_table)
            plain, ours = [], []
            for _ in range(args.runs):  # interleaved: the same noise for both
                plain.append(run_plain(plain_table, scratch))
                ours.append(run_mlopslab(table, scratch))
            base_s, base_mb = median(plain, "seconds"), median(plain, "peak_mb")
            for label, results in (("plain", plain), ("mlopslab", ours)):
                seconds, mb = median(results, "seconds"), median(results, "peak_mb")
                stages = str(results[-1].get("stages", ""))
                print(
                    f"{rows:>9} {label:<22}{seconds:>9.1f}{seconds / base_s:>7.2f}"
                    f"{mb:>9.0f}{mb / base_mb:>7.2f}"
                    f"{median(results, 'accuracy'):>10.4f}  {stages}",
                    flush=True,
                )
            if args.predict:
                workspace = Path(str(ours[-1]["workspace"]))
                predict_side_by_side(table, scratch, workspace, args.runs)


if __name__ == "__main__":
    main()
