"""Assignment 9, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.

The public checks port the one champion `mlopslab run` makes: one hidden layer
of ReLU units. Here the grader trains its own MLPs (other depths, other
activations) and a logistic regression, registers each as the champion of a
name no public file gives, and runs the learner's tool on them. The expected
probabilities come from the grader's probe, reported before any learner code
runs in that folder, on rows of its own and on the gate's test rows (rebuilt
by the grader's own mlopslab, as in the public checks). A second probe loads
each weights.pt the tool wrote into a fresh nn.Sequential and reports its
probabilities on both; the grader compares them, and checks that parity.json
reports the gap and agreement they really have.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import numpy as np

from mlopslab.course.grading import CheckFailed, Context, Session, check

from ..assignment.checks import (
    TOLERANCE,
    TOOL,
    Truth,
    expect_code,
    expect_measured,
    expect_parity,
    gate_rows,
    number,
    parity_json,
    printed,
    truth,
)

HOME = "ws-other"
STRICT = 1e-12  # below what any float32 port reaches
MODELS: dict[str, dict[str, Any]] = {
    "deep-tanh": {"hidden": [12, 8], "activation": "tanh", "seed": 3},
    "deeper-logistic": {"hidden": [9, 7, 5], "activation": "logistic", "seed": 5},
    "wide-relu": {"hidden": [14, 6], "activation": "relu", "seed": 7},
}
DEEP = ("deep-tanh", "deeper-logistic")
OTHER = "not-an-mlp"  # a logistic regression
# The tool's runs whose weights.pt the grader loads: label, then the model.
PORTS = {"deep-tanh": "deep-tanh", "deeper-logistic": "deeper-logistic"}
PORTS["strict"] = "wide-relu"
PLAN = {"rows_seed": 31, "rows": 40, "models": MODELS, "other": OTHER, "ports": PORTS}
# Both probes start isolated (`python -I`) and import nothing of the copy.
# This one fits mlopslab's preprocessing on the penguins (from palmerpenguins
# itself), each MLP and a logistic regression on it, registers each pipeline
# as the champion of its name, and reports the probabilities each MLP gives
# the grader's rows and the gate's test rows (its second argument), with the
# preprocessed test rows and the sizes of the input and output layers.
REGISTER = r"""
import json
import sys

import mlflow
import numpy as np
import palmerpenguins
import pandas as pd
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

plan = json.loads(sys.argv[1])
test = pd.DataFrame(json.loads(sys.argv[2]))
frame = palmerpenguins.load_penguins()
frame = frame[frame["species"].notna()]
X, y = frame.drop(columns=["species"]), frame["species"].astype(str)
numbers = [c for c in X.columns if X[c].dtype.kind in "if"]
categories = [c for c in X.columns if c not in numbers]
numeric = Pipeline(
    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
)
onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
categorical = Pipeline(
    [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", onehot)]
)
pre = ColumnTransformer(
    [("numeric", numeric, numbers), ("categorical", categorical, categories)],
    verbose_feature_names_out=False,
).fit(X)
inputs = pre.transform(X)
rows = np.random.default_rng(plan["rows_seed"]).normal(
    size=(plan["rows"], inputs.shape[1])
)
mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
client = MlflowClient()
test_inputs = pre.transform(test)
out = {
    "inputs": int(inputs.shape[1]),
    "classes": int(y.nunique()),
    "test_inputs": test_inputs.tolist(),
    "models": {},
}
estimators = {
    name: MLPClassifier(
        hidden_layer_sizes=tuple(spec["hidden"]),
        activation=spec["activation"],
        alpha=1e-3,
        solver="lbfgs",
        max_iter=2000,
        random_state=spec["seed"],
    )
    for name, spec in plan["models"].items()
}
estimators[plan["other"]] = LogisticRegression(max_iter=1000)
for name, estimator in estimators.items():
    estimator.fit(inputs, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            Pipeline([("preprocess", pre), ("model", estimator)]),
            name="model",
            registered_model_name=name,
            pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )
    version = str(info.registered_model_version)
    client.set_registered_model_alias(name, "champion", version)
    out["models"][name] = {"version": version}
    if name in plan["models"]:
        out["models"][name]["proba"] = estimator.predict_proba(rows).tolist()
        test_proba = estimator.predict_proba(test_inputs)
        out["models"][name]["test_proba"] = test_proba.tolist()
print(json.dumps(out))
"""
# This one loads each run's weights.pt into a fresh nn.Sequential of its
# model's architecture (the input and output sizes the first probe reported,
# its second argument) and reports its probabilities on the same rows, and on
# the preprocessed test rows.
WEIGHTS = r"""
import json
import sys

import numpy as np
import torch
from torch import nn

plan = json.loads(sys.argv[1])
registered = json.loads(sys.argv[2])
inputs, classes = registered["inputs"], registered["classes"]
rows = np.random.default_rng(plan["rows_seed"]).normal(size=(plan["rows"], inputs))
test = np.asarray(registered["test_inputs"], dtype=np.float64)
acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}
out = {}
for label, name in plan["ports"].items():
    spec = plan["models"][name]
    try:
        sizes = [inputs, *spec["hidden"], classes]
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(acts[spec["activation"]]())
        fresh = nn.Sequential(*layers)
        fresh.load_state_dict(torch.load(f"out/{label}/weights.pt", weights_only=True))
        fresh.eval()
        with torch.no_grad():
            proba = torch.softmax(fresh(torch.from_numpy(rows.astype(np.float32))), 1)
            ported = torch.softmax(fresh(torch.from_numpy(test.astype(np.float32))), 1)
        out[label] = {
            "proba": proba.double().numpy().tolist(),
            "test_proba": ported.double().numpy().tolist(),
        }
    except Exception as exc:
        out[label] = {"error": f"out/{label}/weights.pt: {exc!r}"[:300]}
print(json.dumps(out))
"""


def session_script(rows: dict[str, list[Any]]) -> str:
    return f"""
{TOOL}
plan={shlex.quote(json.dumps(PLAN))}
rows={shlex.quote(json.dumps(rows))}
learner /dev/null mkdir -p {HOME}/.mlopslab
cd {HOME} || exit 1
registered=$(probe register.log python -I -c {shlex.quote(REGISTER)} "$plan" "$rows" \\
  | tail -n 1)
measure registered "$registered"
tool deep-tanh --model-name deep-tanh
tool deeper-logistic --model-name deeper-logistic
tool strict --model-name wide-relu --tolerance {STRICT!r}
tool other --model-name {OTHER}
probe weights.log python -I -c {shlex.quote(WEIGHTS)} "$plan" "$registered" \\
  | tail -n 1 | report weights
"""


def session(ctx: Context) -> Session:
    # No mlopslab.toml in that folder: the default configuration's test rows.
    script = session_script(gate_rows(ctx, config=""))
    return ctx.session(script, timeout=280, step="other models")


def report(found: Session, name: str) -> dict[str, Any]:
    try:
        value = json.loads(found.measure(name))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise CheckFailed(f"the grader's probe reported no {name} models")
    return value


def registered(found: Session, name: str) -> dict[str, Any]:
    """What the grader registered under `name`: its version and probabilities."""
    model = report(found, "registered").get("models", {}).get(name)
    if not isinstance(model, dict):
        raise CheckFailed(f"the grader could not register {name}")
    return model


def measured(ctx: Context, found: Session, label: str) -> Truth:
    """The grader's truth of one run's weights.pt on the gate's test rows."""
    mine = report(found, "weights").get(label, {})
    ctx.expect("error" not in mine, f"{label}: {mine.get('error')}")
    expected = registered(found, PORTS[label]).get("test_proba")
    return truth(ctx, expected, mine.get("test_proba"), f"out/{label}")


@check(
    "ports of deeper MLPs with tanh and logistic units pass the parity test",
    points=3,
    visibility="hidden",
    timeout=300,
    success="2 and 3 hidden layers, tanh and logistic: exit 0, parity.json right",
    failure="the port does not follow the champion's depth and activation",
)
def deeper_ports(ctx: Context) -> None:
    found = session(ctx)
    for name in DEEP:
        what = f"python ../port/parity.py --model-name {name}"
        expect_code(ctx, found, name, 0, what)
        version = registered(found, name)["version"]
        expect_parity(
            ctx,
            parity_json(ctx, f"{HOME}/out/{name}"),
            name,
            version,
            TOLERANCE,
            measured(ctx, found, name),
        )


@check(
    "their weights.pt load into a fresh nn.Sequential and give the same probabilities",
    points=2,
    visibility="hidden",
    timeout=300,
    success="0.weight ... 6.bias load strictly and match predict_proba within 1e-5",
    failure="weights.pt does not rebuild a deeper port",
)
def deeper_weights(ctx: Context) -> None:
    found = session(ctx)
    loaded = report(found, "weights")
    for name in DEEP:
        mine = loaded.get(name, {})
        ctx.expect("error" not in mine, f"{name}: {mine.get('error')}")
        expected = np.asarray(registered(found, name)["proba"], dtype=float)
        seen = np.asarray(mine.get("proba"), dtype=float)
        ctx.expect(seen.shape == expected.shape, f"{name}: no probabilities")
        gap = float(np.abs(seen - expected).max())
        ctx.expect(gap < TOLERANCE, f"{name}: probabilities differ by {gap:.1e}")


@check(
    "--tolerance is honoured: one below float32's precision fails the test",
    points=1,
    visibility="hidden",
    timeout=300,
    success="--tolerance 1e-12 exits 1, and parity.json reports it with a real gap",
    failure="the tolerance given is not the one applied",
)
def strict_tolerance(ctx: Context) -> None:
    found = session(ctx)
    what = f"python ../port/parity.py --model-name wide-relu --tolerance {STRICT}"
    expect_code(ctx, found, "strict", 1, what)
    result = parity_json(ctx, f"{HOME}/out/strict")
    ctx.expect(result["model_name"] == "wide-relu", "parity.json names another model")
    ctx.expect(
        number(result["tolerance"]) == STRICT,
        f"tolerance is {result['tolerance']!r}",
    )
    real = measured(ctx, found, "strict")
    expect_measured(ctx, result, real, "wide-relu")
    ctx.expect(
        STRICT < real.gap < TOLERANCE,
        f"the port's gap is {real.gap!r}: not a float32 port's rounding",
    )


@check(
    "a champion that is not an MLP exits 2 with a one-line reason",
    points=1,
    visibility="hidden",
    timeout=300,
    success="a logistic regression champion: exit 2, `not an MLP`",
    failure="a champion without layers is not refused as asked",
)
def not_an_mlp(ctx: Context) -> None:
    found = session(ctx)
    registered(found, OTHER)
    expect_code(
        ctx, found, "other", 2, f"python ../port/parity.py --model-name {OTHER}"
    )
    said = printed(found, "other")
    ctx.expect("not an MLP" in said, "it does not say `not an MLP`")
    ctx.expect("Traceback" not in said, "it crashed with a traceback")
