"""Assignment 1, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
The public session trains on penguins and on a wine table; these checks also
send the champion rows the public ones never send, and train on a table of
their own that no public file names (scikit-learn's breast cancer table, no
bill columns, two classes), in a session of their own.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np

from mlopslab.course.grading import CheckFailed, Context, check

from ..assignment.checks import champion, session, signature_inputs

# Rows the public checks never send: bill_ratio must be their ratio, not a name.
LENGTHS = [35.2, 40.1, 48.7, 52.3, 58.0, 44.4]
DEPTHS = [20.3, 14.2, 19.1, 15.0, 16.4, 13.5]
ROWS = {
    "island": ["Dream", "Biscoe", "Torgersen", "Biscoe", "Dream", "Biscoe"],
    "bill_length_mm": LENGTHS,
    "bill_depth_mm": DEPTHS,
    "flipper_length_mm": [185.0, 210.0, 197.0, 222.0, 201.0, 215.0],
    "body_mass_g": [3400.0, 4900.0, 3900.0, 5600.0, 4100.0, 5050.0],
    "sex": ["female", "male", "male", "male", "female", "female"],
    "year": [2007, 2008, 2009, 2009, 2008, 2007],
}
RATIO_PROBE = r"""
import sys
sys.path.insert(0, "src")
import json
import mlflow
import numpy as np
import pandas as pd

mlflow.set_tracking_uri("sqlite:///ws/mlflow.db")
model = mlflow.sklearn.load_model("models:/penguins@champion")
names = [str(n) for n in model[:-1].get_feature_names_out()]
out = np.asarray(model[:-1].transform(pd.DataFrame(json.loads(sys.argv[1]))))
column = names.index("bill_ratio") if "bill_ratio" in names else None
values = None if column is None else [float(v) for v in out[:, column]]
print(json.dumps(values))
"""
# A table without bill columns that no public file names: 569 tumours, 30
# measurements (their names made one word each), the target renamed.
TUMOURS = """
from sklearn.datasets import load_breast_cancer
bunch = load_breast_cancer(as_frame=True)
frame = bunch.frame.rename(columns={"target": "diagnosis"})
frame["diagnosis"] = bunch.target_names[bunch.target]
frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
frame.to_csv("tumours.csv", index=False)
"""
OTHER_SESSION = f"""
learner tumours-csv.log python -I -c {shlex.quote(TUMOURS)}
learner tumours.log mlopslab run --data tumours.csv --target diagnosis \\
  --trials 4 --home ws-tumours
measure tumours.code $?
"""
RATIO_SESSION = f"""
rows={shlex.quote(json.dumps(ROWS))}
code={shlex.quote(RATIO_PROBE)}
probe ratio.log python -I -c "$code" "$rows" | tail -n 1 | report ratio
"""


@check(
    "bill_ratio is the ratio of the two bill columns, on rows never sent before",
    points=2,
    visibility="hidden",
    timeout=240,
    success="the fitted feature follows bill_length_mm / bill_depth_mm",
    failure="bill_ratio is not the ratio of the bill columns",
)
def ratio_values(ctx: Context) -> None:
    session(ctx)
    try:
        found = json.loads(ctx.session(RATIO_SESSION, step="ratio").measure("ratio"))
    except ValueError:
        found = None
    values = ctx.require(found, "the champion has no bill_ratio output to compare")
    ctx.expect(len(values) == len(LENGTHS), f"{len(values)} values for 6 rows")
    truth = np.asarray(LENGTHS) / np.asarray(DEPTHS)
    seen = np.asarray(values, dtype=float)
    ctx.expect(
        bool(np.isfinite(seen).all()) and seen.std() > 0, "not a varying feature"
    )
    # Scaled or not, the feature is an increasing straight-line function of it.
    correlation = float(np.corrcoef(truth, seen)[0, 1])
    ctx.expect(
        correlation > 0.999, f"correlation with the true ratio {correlation:.3f}"
    )


@check(
    "the baseline's features are exactly the model's inputs",
    points=2,
    visibility="hidden",
    timeout=240,
    success="statistics.json and constraints.json list the 7 signature inputs",
    failure="the baseline does not match the model's inputs",
)
def baseline_consistent(ctx: Context) -> None:
    session(ctx)
    version = champion(ctx)
    inputs = signature_inputs(ctx, version)
    run = Path(version.run_dir).relative_to(ctx.root)
    for name in ("statistics", "constraints"):
        found = ctx.json(f"{run}/baseline/{name}.json")
        features = found.get("features") if isinstance(found, dict) else None
        ctx.expect(isinstance(features, list), f"{name}.json has no features list")
        assert isinstance(features, list)
        names = sorted(
            str(f.get("name")) if isinstance(f, dict) else repr(f) for f in features
        )
        ctx.expect(names == sorted(inputs), f"{name}.json lists {names}")


@check(
    "no rows were dropped or added: split sizes 233, 42, 69",
    points=1,
    visibility="hidden",
    timeout=240,
    success="the card's split sizes are as before",
    failure="the split changed",
)
def same_split(ctx: Context) -> None:
    session(ctx)
    run = Path(champion(ctx).run_dir).relative_to(ctx.root)
    sizes = ctx.json(f"{run}/model_card.json").get("split_sizes")
    ctx.expect(sizes == {"train": 233, "valid": 42, "test": 69}, f"split sizes {sizes}")


@check(
    "other datasets train as before",
    points=2,
    visibility="hidden",
    timeout=240,
    success="mlopslab run on a table without bill columns exits 0",
    failure="the feature broke datasets without bill columns",
)
def other_data_unchanged(ctx: Context) -> None:
    found = ctx.session(OTHER_SESSION, step="other table")
    try:
        code = int(found.measure("tumours.code"))
    except ValueError:
        raise CheckFailed("no exit code for the run on another table") from None
    ctx.expect(
        code == 0,
        f"mlopslab run --data tumours.csv (no bill columns) exited {code}",
    )
