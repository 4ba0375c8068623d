"""Assignment 9, public checks: `mlopslab course check 9-pytorch` runs these.

One sandboxed session trains an MLP champion with your mlopslab in a fresh
folder, runs your `port/parity.py` there twice (with `--activation identity`,
then as it is), keeping each run's parity.json and weights.pt apart, and then
starts the grader's own probe: it loads each weights.pt into a fresh
nn.Sequential and reports its probabilities, and the champion's, on the gate's
test rows, which the grader rebuilds with its own mlopslab (the seeded split).
The grader computes the gap and the class agreement from those itself: the
numbers in parity.json must be these, not just any numbers that pass. The
checks read the exit codes and the probe's report from the session, and
parity.json from outside the sandbox.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from mlopslab.config import load_config
from mlopslab.course.grading import CheckFailed, Context, Session, check
from mlopslab.data import load_dataset
from mlopslab.preprocess import split_dataset

HOME = "ws-parity"  # the folder the session trains and ports in
CONFIG = '[tune]\nfamilies = ["mlp"]\n'  # its mlopslab.toml
TOLERANCE = 1e-5  # the tool's default
# How close a reported max_abs_diff must be to the grader's own: within 1e-6 of
# it, relative (1e-12 absolute for a gap of about nothing). A port as asked
# (the champion's weights in float32, the test rows cast to float32 in one
# batch, torch.softmax, the gap taken against predict_proba's float64) computes
# the very numbers the probe computes, in the same sandbox: its gap is the
# grader's to the last bit, or to float32's 7 digits if it was stored as one.
# A float32 port's gap is about 1e-7, so a window of 1e-9 would be 1% wide and
# would let a guessed "about 1e-7" through on some machine; a number made up,
# measured on other rows or of another port misses this one.
REPORT_RTOL = 1e-6
REPORT_ATOL = 1e-12
# `tool LABEL ARGS...` runs the learner's parity tool with ARGS in the current
# folder, measures its exit code (LABEL.code) and the end of what it printed
# (LABEL.out), then moves the parity.json and weights.pt it wrote to
# out/LABEL/, as the learner: no run can pass off another's files as its own.
TOOL = r"""
tool() {
  label=$1
  shift
  learner "$label.log" python ../port/parity.py "$@"
  measure "$label.code" $?
  tail -c 3000 "$label.log" | report "$label.out"
  learner /dev/null sh -c \
    'mkdir -p "out/$0" && mv -f parity.json weights.pt "out/$0/"' "$label"
}
"""
# Started isolated (`python -I`: no current folder, user site or PYTHON*
# variables on its path), and none of the submission's code on it: the
# champion's pickle is read by an unpickler that lets through scikit-learn's
# classes and NumPy's arrays only (a champion that imported the learner's own
# module could rewrite this probe's report).
# Its arguments: the gate's test rows (raw columns, from the grader's own
# split) and the runs to load, each with the activation of the nn.Sequential
# its weights.pt goes into (null: the champion's own). It reports the
# champion's probabilities on those rows and each port's, and computes no
# verdict: the grader compares them.
PROBE = r"""
import json
import pickle
import sys

import mlflow
import numpy as np
import pandas as pd
import torch
from torch import nn

given = json.loads(sys.argv[1])
acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}
acts["identity"] = nn.Identity
out = {"runs": {}}
NUMPY = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
}
BUILTINS = {"slice", "list", "dict", "set", "frozenset", "tuple", "complex"}


class Champion(pickle.Unpickler):
    # The champion's pickle is the learner's: it may name scikit-learn's
    # classes, NumPy's arrays and scalars, and nothing else. The module is
    # judged before it is imported, so no code of the learner's runs here.
    def find_class(self, module, name):
        allowed = (
            (module, name) in NUMPY
            or (module == "builtins" and name in BUILTINS)
            or module.split(".")[0] in ("sklearn", "numpy")
        )
        found = super().find_class(module, name) if allowed else None
        if (module, name) in NUMPY or (module == "builtins" and found):
            return found
        if isinstance(found, type) and (
            module.startswith("sklearn.")
            or issubclass(found, (np.generic, np.random.BitGenerator))
        ):
            return found
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")


try:
    mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
    folder = mlflow.artifacts.download_artifacts("models:/penguins@champion")
    with open(f"{folder}/model.pkl", "rb") as handle:
        pipe = Champion(handle).load()
    mlp = pipe.steps[-1][1]
    coefs, intercepts = mlp.coefs_, mlp.intercepts_
    out["activation"] = str(mlp.activation)
    X = np.asarray(pipe[:-1].transform(pd.DataFrame(given["rows"])), dtype=np.float64)
    out["expected"] = mlp.predict_proba(X).tolist()
except Exception as exc:
    print(json.dumps({"error": f"the champion did not load: {exc!r}"[:300]}))
    raise SystemExit(0)
sizes = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
names = [f"{2 * i}.{p}" for i in range(len(coefs)) for p in ("weight", "bias")]
out["expected_keys"] = names
others = np.random.default_rng(909).normal(size=(50, sizes[0]))
for label, activation in given["runs"].items():
    run = out["runs"][label] = {}
    try:
        state = torch.load(f"out/{label}/weights.pt", weights_only=True)
        run["keys"] = [str(k) for k in state]
        run["shapes"] = {str(k): list(v.shape) for k, v in state.items()}
        gaps = []
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            weight, bias = state[f"{2 * i}.weight"], state[f"{2 * i}.bias"]
            gaps.append(float(np.abs(weight.double().numpy() - W.T).max()))
            gaps.append(float(np.abs(bias.double().numpy() - b).max()))
        run["weights_gap"] = max(gaps)
        act = acts[activation or mlp.activation]
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(act())
        fresh = nn.Sequential(*layers)
        fresh.load_state_dict(state)
        fresh.eval()
        with torch.no_grad():
            ported = torch.softmax(fresh(torch.from_numpy(X.astype(np.float32))), dim=1)
            elsewhere = torch.softmax(
                fresh(torch.from_numpy(others.astype(np.float32))), dim=1
            )
        run["proba"] = ported.double().numpy().tolist()
        gap = np.abs(elsewhere.double().numpy() - mlp.predict_proba(others)).max()
        run["others_gap"] = float(gap)
    except Exception as exc:
        run["error"] = f"out/{label}/weights.pt: {exc!r}"[:300]
print(json.dumps(out))
"""
# The runs the probe loads: label, then the activation between the layers.
RUNS = {"main": None, "identity": "identity"}


def session_script(rows: dict[str, list[Any]]) -> str:
    given = json.dumps({"rows": rows, "runs": RUNS})
    return f"""
{TOOL}
learner /dev/null mkdir {HOME}
cd {HOME} || exit 1
learner mlopslab.toml printf {shlex.quote(CONFIG)}
learner run.log mlopslab run --trials 4
measure run.code $?
tool identity --activation identity
tool main
probe probe.log python -I -c {shlex.quote(PROBE)} {shlex.quote(given)} \\
  | tail -n 1 | report probe
"""


def gate_rows(ctx: Context, config: str = CONFIG) -> dict[str, list[Any]]:
    """The gate's test rows (raw columns) for a folder with this mlopslab.toml.

    Rebuilt by the grader's own mlopslab, never the submission's: the same
    configuration (no MLOPSLAB_* variables reach the tool), data, seed and split.
    """

    def rebuild() -> dict[str, list[Any]]:
        with tempfile.TemporaryDirectory(prefix="mlopslab-grader-") as scratch:
            toml = Path(scratch) / "mlopslab.toml"
            toml.write_text(config, encoding="utf-8")
            cfg = load_config(toml, environ={})
        split = split_dataset(
            load_dataset(cfg.data), cfg.split, cfg.tune.cv_folds, cfg.seed
        )
        return {str(c): split.X_test[c].tolist() for c in split.X_test.columns}

    return ctx.step(f"gate rows {config!r}", rebuild)


def session(ctx: Context) -> Session:
    return ctx.session(session_script(gate_rows(ctx)), timeout=280)


def exit_code(ctx: Context, found: Session, label: str) -> int:
    try:
        return int(found.measure(f"{label}.code"))
    except ValueError:
        raise CheckFailed(f"no exit code for the {label} run") from None


def printed(found: Session, label: str) -> str:
    """The end of what a run printed (stdout and stderr), as the learner's text."""
    return found.measures.get(f"{label}.out", "")


def expect_code(ctx: Context, found: Session, label: str, code: int, what: str) -> None:
    seen = exit_code(ctx, found, label)
    if seen != code:
        tail = " | ".join(printed(found, label).strip().splitlines()[-3:])
        raise CheckFailed(
            f"`{what}` exited {seen}, expected exit {code}"
            + (f"; it printed: {tail}" if tail else "")
        )


def number(value: Any) -> float | None:
    """A JSON number (not a boolean), else None."""
    if isinstance(value, Real) and not isinstance(value, bool):
        return float(value)
    return None


def parity_json(ctx: Context, folder: str) -> dict[str, Any]:
    found = ctx.json(f"{folder}/parity.json")
    if not isinstance(found, dict):
        raise CheckFailed(f"{folder}/parity.json is not a JSON object")
    missing = [
        key
        for key in (
            "model_name",
            "version",
            "n_rows",
            "max_abs_diff",
            "class_agreement",
            "tolerance",
        )
        if key not in found
    ]
    ctx.expect(not missing, f"parity.json has no {', '.join(missing)}")
    return found


@dataclass(frozen=True)
class Truth:
    """What the grader itself measured of a port on the gate's test rows."""

    n_rows: int
    gap: float  # max |p_torch - p_sklearn|
    agreement: float  # the share of rows whose predicted class is the same


def truth(ctx: Context, expected: Any, ported: Any, what: str) -> Truth:
    """The truth of `ported` (the port's probabilities) against `expected`."""
    try:
        sklearn = np.asarray(expected, dtype=np.float64)
        port = np.asarray(ported, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: the probe reported no probabilities") from None
    ctx.expect(
        sklearn.ndim == 2 and sklearn.size > 0 and port.shape == sklearn.shape,
        f"{what}: the probe reported no probabilities",
    )
    return Truth(
        n_rows=len(sklearn),
        gap=float(np.abs(port - sklearn).max()),
        agreement=float((port.argmax(1) == sklearn.argmax(1)).mean()),
    )


def expect_measured(
    ctx: Context, found: dict[str, Any], real: Truth, what: str
) -> float:
    """parity.json's n_rows, max_abs_diff and class_agreement are the real ones.

    `real` is what the grader measured of the run's own weights.pt; returns the
    reported gap.
    """
    rows = found["n_rows"]
    ctx.expect(
        isinstance(rows, int) and not isinstance(rows, bool) and rows == real.n_rows,
        f"{what}: n_rows is {rows!r}, but the gate has {real.n_rows} test rows",
    )
    gap = number(found["max_abs_diff"])
    ctx.expect(
        gap is not None
        and abs(gap - real.gap) <= max(REPORT_RTOL * real.gap, REPORT_ATOL),
        f"{what}: max_abs_diff is {found['max_abs_diff']!r}, but its weights.pt"
        f" differs from predict_proba by {real.gap!r} on the gate's test rows",
    )
    agreement = number(found["class_agreement"])
    ctx.expect(
        agreement == real.agreement,
        f"{what}: class_agreement is {found['class_agreement']!r}, but its"
        f" weights.pt picks the same class on a share of {real.agreement!r}",
    )
    assert gap is not None
    return gap


def expect_parity(
    ctx: Context,
    found: dict[str, Any],
    name: str,
    version: str,
    tolerance: float,
    real: Truth,
) -> float:
    """parity.json describes a passing port of `name` v`version`, as measured."""
    ctx.expect(found["model_name"] == name, f"model_name is {found['model_name']!r}")
    ctx.expect(str(found["version"]) == version, f"version is {found['version']!r}")
    seen = number(found["tolerance"])
    ctx.expect(seen == tolerance, f"tolerance is {found['tolerance']!r}")
    gap = expect_measured(ctx, found, real, name)
    ctx.expect(
        real.gap < TOLERANCE and real.agreement == 1.0,
        f"{name}: the port's gap is {real.gap!r} and classes agree on a share of"
        f" {real.agreement!r}, yet the tool passed it",
    )
    return gap


def probe(found: Session) -> dict[str, Any]:
    try:
        report = json.loads(found.measure("probe"))
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise CheckFailed("the probe of weights.pt reported nothing")
    if "error" in report:
        raise CheckFailed(str(report["error"]))
    return report


def loaded(found: Session, label: str) -> dict[str, Any]:
    """What the probe found of one run's weights.pt (it loaded, or an error)."""
    run = probe(found).get("runs", {}).get(label)
    if not isinstance(run, dict):
        raise CheckFailed(f"the probe did not load out/{label}/weights.pt")
    if "error" in run:
        raise CheckFailed(str(run["error"]))
    return run


def measured(ctx: Context, found: Session, label: str) -> Truth:
    """The grader's truth of one run's weights.pt on the gate's test rows."""
    expected = probe(found).get("expected")
    return truth(ctx, expected, loaded(found, label).get("proba"), f"out/{label}")


@check(
    "the parity test passes for an MLP champion and writes parity.json",
    points=3,
    timeout=300,
    success="exit 0; parity.json names the champion, 69 rows and the port's real gap",
    failure="the parity tool did not pass the champion's port as asked",
)
def parity_passes(ctx: Context) -> None:
    found = session(ctx)
    expect_code(ctx, found, "run", 0, "mlopslab run --trials 4")
    expect_code(ctx, found, "main", 0, "python ../port/parity.py")
    versions = ctx.versions(f"{HOME}/.mlopslab")
    champions = [v for v, seen in versions.items() if "champion" in seen["aliases"]]
    ctx.expect(len(champions) == 1, "mlopslab run registered no champion")
    expect_parity(
        ctx,
        parity_json(ctx, f"{HOME}/out/main"),
        "penguins",
        champions[0],
        TOLERANCE,
        measured(ctx, found, "main"),
    )


@check(
    "weights.pt is the port's state_dict, in PyTorch's layout",
    points=2,
    timeout=300,
    success="0.weight ... hold the transposed coefs_ and load into nn.Sequential",
    failure="weights.pt is not the port's state_dict as asked",
)
def weights_layout(ctx: Context) -> None:
    found = session(ctx)
    expected = probe(found).get("expected_keys")
    run = loaded(found, "main")
    expect_weights(ctx, run, expected, "weights.pt")
    gap = number(run.get("others_gap"))
    ctx.expect(
        gap is not None and gap < TOLERANCE,
        f"reloaded, the port's probabilities differ from predict_proba by {gap!r}",
    )


def expect_weights(ctx: Context, run: dict[str, Any], expected: Any, what: str) -> None:
    """The run's weights.pt holds the champion's weights, in PyTorch's layout."""
    keys = run.get("keys")
    ctx.expect(keys == expected, f"{what} holds {keys}, expected {expected}")
    gap = number(run.get("weights_gap"))
    ctx.expect(
        gap is not None and gap < 1e-6,
        f"the weights in {what} differ from the transposed coefs_ by {gap!r}"
        f" (shapes {run.get('shapes')})",
    )


@check(
    "the parity test fails a port without its activation function",
    points=2,
    timeout=300,
    success="--activation identity exits 1 with a `parity test FAILED` line,"
    " and parity.json reports that port's real gap",
    failure="the parity test does not tell a broken port from the real one",
)
def identity_fails(ctx: Context) -> None:
    found = session(ctx)
    expect_code(ctx, found, "main", 0, "python ../port/parity.py")
    expect_code(
        ctx, found, "identity", 1, "python ../port/parity.py --activation identity"
    )
    lines = [line.strip() for line in printed(found, "identity").splitlines()]
    ctx.expect(
        any(line.startswith("parity test FAILED") for line in lines),
        "no line starts with `parity test FAILED`",
    )
    # The evidence is the broken port's own: the champion's weights, run
    # without activations, and the gap and agreement they really have.
    what = "the --activation identity run"
    expected_keys = probe(found).get("expected_keys")
    expect_weights(
        ctx, loaded(found, "identity"), expected_keys, f"{what}'s weights.pt"
    )
    real = measured(ctx, found, "identity")
    ctx.expect(
        real.gap > TOLERANCE,
        f"{what}: the identity port differs by only {real.gap!r}",
    )
    result = parity_json(ctx, f"{HOME}/out/identity")
    seen = number(result["tolerance"])
    ctx.expect(seen == TOLERANCE, f"{what}: tolerance is {result['tolerance']!r}")
    expect_measured(ctx, result, real, what)
