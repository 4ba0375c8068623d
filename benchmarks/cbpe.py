"""CBPE: our label-free estimate of accuracy and macro F1 against NannyML's, on
the same windows, and the time each takes per estimate.

    .venv/bin/python -m benchmarks.cbpe [--seeds 5] [--runs 7] [--no-nannyml]

Each task is a model and three 500-row windows of its probabilities and
labels: `reference` (labelled; NannyML fits on it, we do not need it), `clean`
(the same population) and `shifted` (covariate shift: rows drawn towards where
the model is unsure, with weights (1 - top probability)^2, a function of the
inputs alone, so P(y | x) holds and true accuracy falls). Every task is built
again for each of --seeds seeds; the table prints medians, and how many seeds'
realised metric fell inside each interval.

- synthetic: three Gaussian classes sharing one covariance, so the true
  P(y | x) is a softmax of linear functions, and the project's LogisticRegression
  pipeline (`build_pipeline`, family `logreg`, C=1) is well specified and
  calibrated. Windows are disjoint draws from a 20,000-row pool.
- synthetic, naive Bayes: GaussianNB on the same inputs given twice: it counts
  the evidence twice, so it is overconfident (CBPE's known failure); then the
  same model wrapped by `calibration.calibrated` (out-of-fold), with sigmoid
  and, on scikit-learn 1.8+, temperature scaling.
- penguins (palmerpenguins, offline): the same LogisticRegression pipeline on
  all 344 rows, cross-fitted (5 folds: each row scored by the model that did
  not train on it). The reference resamples one half, the windows the other,
  with replacement: the shifted window repeats a few dozen unsure rows, so its
  labels are not independent draws, its class mix strays far from what the
  probabilities say, and no interval there can be trusted.

NannyML runs in its own environment, `.bench-envs/nannyml` (created once:
nannyml 0.13.1 pulls xgboost, lightgbm and plotly, about 2 GB; it must never
enter the project's venv), in a subprocess that reads the windows from a
parquet file. By default NannyML recalibrates the probabilities per class on
the reference (isotonic) when that lowers the ECE there; we take them as they
are. Its band is value +- 3 sampling errors; the table shows +- 1.96, a 95%
interval like ours. Times are per estimate (both metrics) on one window, the
median of --runs calls in one process; NannyML's fit is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
NANNYML_ENV = ROOT / ".bench-envs" / "nannyml"
NANNYML = "nannyml==0.13.1"
# nannyml 0.13.1 imports statsmodels (nannyml/plots/components/joy_plot.py)
# without declaring it; category-encoders 2.7+ no longer brings it along.
NANNYML_EXTRAS = ("statsmodels", "pyarrow")
ROWS = 500
WINDOWS = ("reference", "clean", "shifted")
MEANS = np.array([[0.0, 0.0, 0.0, 0.0], [2.4, 0.8, 0.0, 0.0], [0.8, 2.4, 0.8, 0.0]])

CHILD = r"""
import json, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import logging
logging.disable(logging.CRITICAL)
import pandas as pd
import nannyml
from nannyml.calibration import NoopCalibrator
from nannyml.performance_estimation.confidence_based import CBPE

path, runs = sys.argv[1], int(sys.argv[2])
frame = pd.read_parquet(path)
out = {"version": nannyml.__version__, "tasks": {}}
for task, rows in frame.groupby("task", sort=False):
    classes = json.loads(rows["classes"].iloc[0])
    proba = {c: f"p{i}" for i, c in enumerate(classes)}
    columns = ["y_true", "y_pred", *proba.values()]
    windows = {w: r[columns].reset_index(drop=True) for w, r in rows.groupby("window")}

    def estimator(**kwargs):
        return CBPE(problem_type="classification_multiclass", y_pred_proba=proba,
                    y_pred="y_pred", y_true="y_true", metrics=["accuracy", "f1"],
                    chunk_number=1, **kwargs)

    started = time.perf_counter()
    cbpe = estimator().fit(windows["reference"])
    fit_seconds = time.perf_counter() - started
    plain = estimator(calibrator=NoopCalibrator()).fit(windows["reference"])
    result = {"fit_seconds": fit_seconds, "windows": {}}
    for name in ("clean", "shifted"):
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            table = cbpe.estimate(windows[name]).filter(period="analysis").to_df()
            seconds.append(time.perf_counter() - started)
        uncalibrated = plain.estimate(windows[name]).filter(period="analysis").to_df()
        metrics = {}
        for metric in ("accuracy", "f1"):
            metrics[metric] = {
                field: float(table[(metric, field)].iloc[0])
                for field in ("value", "sampling_error", "realized",
                              "lower_confidence_boundary", "upper_confidence_boundary")
            }
            metrics[metric]["uncalibrated"] = float(uncalibrated[(metric, "value")].iloc[0])
        result["windows"][name] = {"seconds": statistics.median(seconds), **metrics}
    out["tasks"][task] = result
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Task:
    name: str
    seed: int
    classes: list[str]
    windows: dict[str, tuple[np.ndarray, np.ndarray]]  # probabilities, labels

    @property
    def key(self) -> str:
        return f"{self.name.strip()} #{self.seed}"


def synthetic_tasks(seed: int) -> list[Task]:
    """Logistic regression on Gaussian classes; naive Bayes on the same inputs
    given twice (it counts the evidence twice: overconfident), and that model
    wrapped by `calibrated`."""
    from sklearn.naive_bayes import GaussianNB

    from mlopslab.calibration import calibrated
    from mlopslab.data import infer_schema
    from mlopslab.train import build_pipeline

    rng = np.random.default_rng(seed)

    def draw(rows: int) -> pd.DataFrame:
        y = rng.integers(0, len(MEANS), rows)
        X = MEANS[y] + rng.normal(size=(rows, MEANS.shape[1]))
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(MEANS.shape[1])])
        return frame.assign(label=np.asarray(["a", "b", "c"])[y])

    train, pool = draw(3_000), draw(20_000)
    X, y = train.drop(columns="label"), train["label"]
    logreg = build_pipeline(
        infer_schema(train, "label"), "logreg", {"C": 1.0}, seed, len(X)
    )
    twice = _twice(X)
    bayes = GaussianNB().fit(twice, y)
    models = {
        "synthetic": (logreg.fit(X, y), lambda frame: frame),
        "synthetic, naive Bayes": (bayes, _twice),
        "  calibrated, sigmoid": (calibrated(bayes, twice, y, seed=seed), _twice),
    }
    if _has_temperature():
        models["  calibrated, temperature"] = (
            calibrated(bayes, twice, y, method="temperature", seed=seed),
            _twice,
        )
    tasks = []
    for name, (model, inputs) in models.items():
        proba = model.predict_proba(inputs(pool.drop(columns="label")))
        labels = pool["label"].to_numpy()
        windows = _windows(proba, labels, np.random.default_rng(seed), replace=False)
        tasks.append(Task(name, seed, [str(c) for c in model.classes_], windows))
    return tasks


def _has_temperature() -> bool:
    import sklearn

    return tuple(int(part) for part in sklearn.__version__.split(".")[:2]) >= (1, 8)


def _twice(X: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([X, X.add_suffix("_again")], axis=1)


def penguin_task(seed: int, folds: int = 5) -> Task:
    """The project's penguins model, cross-fitted: each row's probabilities
    come from the fold model that did not train on it."""
    from palmerpenguins import load_penguins
    from sklearn.model_selection import StratifiedKFold

    from mlopslab.data import infer_schema
    from mlopslab.train import build_pipeline

    frame = load_penguins().dropna(subset=["species"]).reset_index(drop=True)
    X, y = frame.drop(columns="species"), frame["species"].astype(str)
    schema = infer_schema(frame, "species")
    proba = np.zeros((len(frame), y.nunique()))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
    for train, test in splits:
        model = build_pipeline(schema, "logreg", {"C": 1.0}, seed, len(train))
        model.fit(X.iloc[train], y.iloc[train])
        proba[test] = model.predict_proba(X.iloc[test])
    windows = _windows(proba, y.to_numpy(), np.random.default_rng(seed), replace=True)
    return Task("penguins", seed, [str(c) for c in model.classes_], windows)


def _windows(
    proba: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, replace: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reference, clean and shifted windows of ROWS rows.

    Without replacement they are disjoint draws from the pool; with it (a
    pool smaller than the windows) the reference resamples one half of the
    pool and the windows the other half.
    """
    order = rng.permutation(len(proba))
    if replace:
        half = len(order) // 2
        reference = rng.choice(order[:half], ROWS)
        clean = rng.choice(order[half:], ROWS)
        rest = order[half:]
    else:
        reference, clean, rest = order[:ROWS], order[ROWS : 2 * ROWS], order[2 * ROWS :]
    shifted = rest[_unsure(proba[rest], ROWS, rng, replace=replace)]
    return {
        name: (proba[rows], labels[rows])
        for name, rows in zip(WINDOWS, (reference, clean, shifted), strict=True)
    }


def _unsure(
    proba: np.ndarray, rows: int, rng: np.random.Generator, *, replace: bool
) -> np.ndarray:
    """Rows drawn towards where the model is unsure: a shift in x alone."""
    weights = (1.0 - proba.max(axis=1)) ** 2 + 1e-6
    return rng.choice(len(proba), rows, replace=replace, p=weights / weights.sum())


def realised(
    labels: np.ndarray, proba: np.ndarray, classes: list[str]
) -> dict[str, float]:
    """Accuracy and macro F1 over the classes present or predicted (as the
    monitor's quality check scores labelled rows)."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, average="macro", zero_division=0)
        ),
    }


def ours(task: Task, runs: int) -> dict[str, dict[str, Any]]:
    from mlopslab.monitor.cbpe import estimate_performance

    out = {}
    for name in ("clean", "shifted"):
        proba, _ = task.windows[name]
        estimate_performance(proba, task.classes)  # warm
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            estimate = estimate_performance(proba, task.classes)
            seconds.append(time.perf_counter() - started)
        out[name] = {"estimate": estimate, "seconds": statistics.median(seconds)}
    return out


def nannyml_python() -> tuple[str | None, str]:
    """NannyML's interpreter, installing it once; or None and the reason."""
    python = NANNYML_ENV / "bin" / "python"
    ready = NANNYML_ENV / ".ready"
    if ready.exists() and python.exists():
        return str(python), ready.read_text().strip()
    print(f"setting up {NANNYML} in {NANNYML_ENV.relative_to(ROOT)} (once) ...")
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(NANNYML_ENV)],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", NANNYML, *NANNYML_EXTRAS],
            check=True,
            capture_output=True,
            text=True,
        )
        version = subprocess.run(
            [str(python), "-c", "import nannyml; print(nannyml.__version__)"],
            check=True,
            capture_output=True,
            text=True,
            env=_nannyml_env(),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        lines = [line for line in str(detail).splitlines() if line.strip()]
        return None, f"could not set up {NANNYML}: {lines[-1] if lines else error}"
    ready.write_text(version)
    return str(python), version


def _nannyml_env() -> dict[str, str]:
    # NannyML sends usage statistics unless told not to; one thread like ours.
    return {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "OMP_NUM_THREADS": "1"}


def nannyml(tasks: list[Task], runs: int) -> tuple[dict[str, Any] | None, str]:
    python, version = nannyml_python()
    if python is None:
        return None, version
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "windows.parquet"
        frames = []
        for task in tasks:
            for name, (proba, labels) in task.windows.items():
                frame = pd.DataFrame(
                    {f"p{i}": proba[:, i] for i in range(len(task.classes))}
                )
                frames.append(
                    frame.assign(
                        task=task.key,
                        window=name,
                        classes=json.dumps(task.classes),
                        y_true=labels,
                        y_pred=np.asarray(task.classes)[proba.argmax(axis=1)],
                    )
                )
        pd.concat(frames, ignore_index=True).to_parquet(path)
        done = subprocess.run(
            [python, "-c", CHILD, str(path), str(runs)],
            capture_output=True,
            text=True,
            env=_nannyml_env(),
        )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return None, f"NannyML {version} failed: {lines[-1]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="data sets per task")
    parser.add_argument("--runs", type=int, default=7, help="timed calls per window")
    parser.add_argument("--no-nannyml", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    tasks = [
        task
        for seed in range(args.seeds)
        for task in (*synthetic_tasks(seed), penguin_task(seed))
    ]
    mine = {task.key: ours(task, args.runs) for task in tasks}
    peer, note = (None, "skipped (--no-nannyml)")
    if not args.no_nannyml:
        peer, note = nannyml(tasks, args.runs)
    label = f"NannyML {note}" if peer else "NannyML"
    names = list(dict.fromkeys(task.name for task in tasks))

    print(
        f"\nCBPE on {ROWS}-row windows, medians over {args.seeds} data seeds: the "
        "realised metric (from labels) against the estimates without labels "
        "[95% interval]; in = how many seeds' realised metric fell inside"
    )
    for metric, theirs in (("accuracy", "accuracy"), ("macro_f1", "f1")):
        print(f"\n{metric}")
        print(
            f"{'task':<27}{'window':<9}{'realised':>9}  {'ours':<23}{'in':>4}  "
            f"{label:<23}{'in':>4}{'ours ms':>9}{'NannyML ms':>11}"
        )
        for name in names:
            for window in ("clean", "shifted"):
                rows = [
                    _row(t, window, metric, theirs, mine, peer)
                    for t in tasks
                    if t.name == name
                ]
                line = (
                    f"{name:<27}{window:<9}{_median(rows, 'realised'):>9.3f}  "
                    f"{_cell(rows, 'ours'):<23}{_inside(rows, 'ours'):>4}  "
                )
                if peer:
                    line += f"{_cell(rows, 'peer'):<23}{_inside(rows, 'peer'):>4}"
                else:
                    line += f"{'n/a':<23}{'':>4}"
                line += f"{_median(rows, 'ours ms'):>9.1f}"
                if peer:
                    line += f"{_median(rows, 'peer ms'):>11.1f}"
                print(line)
    print(
        "\nECE of each model on its reference windows (median; 0 = calibrated): "
        + ", ".join(
            f"{name.strip()} {statistics.median(_ece(t) for t in tasks if t.name == name):.3f}"
            for name in names
        )
    )
    print(
        f"times: per estimate of both metrics on one window ({ROWS} rows x 3 "
        f"classes), median of {args.runs} calls, then of the seeds; the budget for "
        "ours is 50 ms"
    )
    if peer is None:
        print(f"NannyML: not run: {note}")
        return
    _agreement(tasks, mine, peer)


def _row(
    task: Task,
    window: str,
    metric: str,
    theirs: str,
    mine: dict[str, dict[str, Any]],
    peer: dict[str, Any] | None,
) -> dict[str, float]:
    """One seed's numbers for one table row."""
    proba, labels = task.windows[window]
    estimate = getattr(mine[task.key][window]["estimate"], metric)
    row = {
        "realised": realised(labels, proba, task.classes)[metric],
        "ours": estimate.value,
        "ours low": estimate.low,
        "ours high": estimate.high,
        "ours ms": mine[task.key][window]["seconds"] * 1000,
    }
    if peer:
        found = peer["tasks"][task.key]["windows"][window]
        value, error = found[theirs]["value"], found[theirs]["sampling_error"]
        row |= {
            "peer": value,
            "peer low": value - 1.96 * error,
            "peer high": value + 1.96 * error,
            "peer ms": found["seconds"] * 1000,
        }
    return row


def _median(rows: list[dict[str, float]], field: str) -> float:
    return statistics.median(row[field] for row in rows)


def _cell(rows: list[dict[str, float]], who: str) -> str:
    return (
        f"{_median(rows, who):.3f} [{_median(rows, who + ' low'):.3f}, "
        f"{_median(rows, who + ' high'):.3f}]"
    )


def _inside(rows: list[dict[str, float]], who: str) -> str:
    inside = sum(r[who + " low"] <= r["realised"] <= r[who + " high"] for r in rows)
    return f"{inside}/{len(rows)}"


def _ece(task: Task) -> float:
    from mlopslab.calibration import measure_calibration

    proba, labels = task.windows["reference"]
    return measure_calibration(labels, proba, task.classes).ece


def _agreement(
    tasks: list[Task], mine: dict[str, dict[str, Any]], peer: dict[str, Any]
) -> None:
    """How far apart the two are when NannyML leaves the probabilities alone,
    and whether it read the same labels."""
    formula = accuracy_gap = f1_gap = 0.0
    classes_missing = 0
    for task in tasks:
        for name in ("clean", "shifted"):
            estimate = mine[task.key][name]["estimate"]
            row = peer["tasks"][task.key]["windows"][name]
            proba, labels = task.windows[name]
            truth = realised(labels, proba, task.classes)
            formula = max(
                formula,
                abs(estimate.accuracy.value - row["accuracy"]["uncalibrated"]),
                abs(estimate.macro_f1.value - row["f1"]["uncalibrated"]),
            )
            accuracy_gap = max(
                accuracy_gap, abs(truth["accuracy"] - row["accuracy"]["realized"])
            )
            f1_gap = max(f1_gap, abs(truth["macro_f1"] - row["f1"]["realized"]))
            predicted = np.asarray(task.classes)[proba.argmax(axis=1)]
            seen = set(labels) | set(predicted)
            classes_missing += len(seen) < len(task.classes)
    fits = [peer["tasks"][task.key]["fit_seconds"] for task in tasks]
    print(
        f"NannyML's fit on a reference (not counted above): median "
        f"{statistics.median(fits):.2f} s"
    )
    print(
        "with NannyML's recalibration off (NoopCalibrator), the largest gap "
        f"between its point estimates and ours: {formula:.1e}"
    )
    print(
        "largest gap between NannyML's realised metrics and ours: accuracy "
        f"{accuracy_gap:.1e}, macro F1 {f1_gap:.1e} (NannyML averages F1 over every "
        "class, the monitor over the classes present or predicted: they differ in "
        f"the {classes_missing} windows where a class is neither)"
    )


if __name__ == "__main__":
    main()
