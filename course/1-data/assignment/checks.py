"""Assignment 1, public checks: `mlopslab course check 1-data` runs these.

One sandboxed session trains on penguins and on scikit-learn's wine table
(written as a CSV in the session: a table without the bill columns), loads the
penguins champion the way any MLflow client does and reports what it saw. The
checks read that, the model's MLmodel file and the run's baseline from outside
the sandbox.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from mlopslab.course.grading import CheckFailed, Context, Session, check
from mlopslab.stores.registry.embedded import LocalVersion, read_version

TABLES = ("model_versions", "model_version_tags", "registered_model_aliases", "runs")
RAW = [
    "island",
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
    "year",
]
# Started isolated (`python -I`): nothing of the copy runs before this file
# puts the learner's src/ on the path itself (no sitecustomize, no .pth).
PROBE = r"""
import sys
sys.path.insert(0, "src")
import json
import numpy as np
import pandas as pd
import mlflow

mlflow.set_tracking_uri("sqlite:///ws/mlflow.db")
out = {}
rows = pd.DataFrame(
    {
        "island": ["Biscoe", "Dream"],
        "bill_length_mm": [45.1, 39.5],
        "bill_depth_mm": [14.5, np.nan],
        "flipper_length_mm": [215.0, 190.0],
        "body_mass_g": [5000.0, 3700.0],
        "sex": ["female", "male"],
        "year": [2008, 2009],
    }
)
try:
    model = mlflow.sklearn.load_model("models:/penguins@champion")
    out["features"] = [str(n) for n in model[:-1].get_feature_names_out()]
    out["finite"] = bool(np.isfinite(model.predict_proba(rows)).all())
except Exception as exc:
    out["model_error"] = repr(exc)[:300]
try:
    pyfunc = mlflow.pyfunc.load_model("models:/penguins@champion")
    out["predictions"] = [str(p) for p in pyfunc.predict(rows)]
except Exception as exc:
    out["pyfunc_error"] = repr(exc)[:300]
print(json.dumps(out))
"""
# A table without bill columns (178 wines, 13 measurements, 3 cultivars).
WINE = """
from sklearn.datasets import load_wine
frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
frame.to_csv("wine.csv", index=False)
"""
SESSION = f"""
learner penguins.log mlopslab run --data penguins --trials 4 --home ws
measure penguins.code $?
probe probe.log python -I -c {shlex.quote(PROBE)} | tail -n 1 | report probe
learner wine-csv.log python -I -c {shlex.quote(WINE)}
learner wine.log mlopslab run --data wine.csv --target cultivar --trials 4 --home ws2
measure wine.code $?
"""


def session(ctx: Context) -> Session:
    return ctx.session(SESSION)


def exit_code(ctx: Context, name: str) -> int:
    try:
        return int(session(ctx).measure(f"{name}.code"))
    except ValueError:
        raise CheckFailed(f"no exit code for the {name} run") from None


def probe(ctx: Context) -> dict[str, Any]:
    try:
        found = json.loads(session(ctx).measure("probe"))
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise CheckFailed("the probe of the champion reported nothing")
    return found


def champion(ctx: Context) -> LocalVersion:
    """The penguins champion, its model folder and run folder, from the store."""
    with ctx.sqlite("ws/mlflow.db", TABLES) as conn:
        conn.row_factory = sqlite3.Row
        try:
            found = read_version(conn, "penguins", "champion")
        except ValueError:
            raise CheckFailed("the champion's files are not local paths") from None
    version = ctx.require(found, "no penguins champion in the store")
    for folder in (version.model_dir, version.run_dir):
        if not folder.resolve().is_relative_to(ctx.root.resolve()):
            raise CheckFailed("the champion's files are outside the submission")
    return version


def signature_inputs(ctx: Context, version: LocalVersion) -> list[str]:
    relative = Path(version.model_dir, "MLmodel").relative_to(ctx.root)
    try:
        mlmodel = yaml.safe_load(ctx.file(str(relative)).read_text())
        return [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])]
    except (yaml.YAMLError, ValueError, KeyError, TypeError):
        raise CheckFailed("the champion's MLmodel has no readable signature") from None


@check(
    "mlopslab run on penguins still trains and registers a champion",
    points=1,
    timeout=240,
    success="exit 0 and a champion",
    failure="the penguins run does not work",
)
def trains(ctx: Context) -> None:
    session(ctx)
    ctx.expect(exit_code(ctx, "penguins") == 0, "mlopslab run --data penguins failed")
    champion(ctx)


@check(
    "the fitted preprocessing outputs bill_ratio",
    points=3,
    timeout=240,
    success="bill_ratio is among get_feature_names_out() of the pipeline's steps",
    failure="bill_ratio is not made inside the model's pipeline",
)
def feature_in_pipeline(ctx: Context) -> None:
    session(ctx)
    found = probe(ctx)
    ctx.expect(
        "features" in found, f"the champion did not load: {found.get('model_error')}"
    )
    ctx.expect("bill_ratio" in found["features"], "no bill_ratio among the features")


@check(
    "clients still send the 7 raw columns, even with a gap",
    points=2,
    timeout=240,
    success="the signature is the 7 raw inputs; a row without bill_depth_mm predicts",
    failure="the model's inputs changed or a missing value breaks it",
)
def raw_inputs(ctx: Context) -> None:
    session(ctx)
    inputs = signature_inputs(ctx, champion(ctx))
    ctx.expect(inputs == RAW, f"the signature lists {inputs}")
    found = probe(ctx)
    predictions = ctx.require(
        found.get("predictions"), f"pyfunc predict failed: {found.get('pyfunc_error')}"
    )
    known = {"Adelie", "Chinstrap", "Gentoo"}
    ctx.expect(set(predictions) <= known, f"predicted {predictions}")
    ctx.expect(found.get("finite") is True, "probabilities are not all finite")
