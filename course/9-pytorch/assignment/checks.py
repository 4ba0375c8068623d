"""Assignment 9, public checks: `mlopslab course check 9-pytorch` runs these.

One sandboxed session trains an MLP champion with your mlopslab in a fresh
folder, runs your `port/parity.py` there twice (with `--activation identity`,
then as it is), keeping each run's parity.json and weights.pt apart, and then
starts the grader's own probe: it loads weights.pt into a fresh nn.Sequential
and compares it with the champion. The checks read the exit codes and the
probe's report from the session, and parity.json from outside the sandbox.
"""

from __future__ import annotations

import json
import shlex
from numbers import Real
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, Session, check

HOME = "ws-parity"  # the folder the session trains and ports in
TOLERANCE = 1e-5  # the tool's default
TEST_ROWS = 69  # penguins' test set with the default seed and split
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
# variables on its path), with everything it uses imported first; the
# submission's src/ goes last on the path, only for the champion's pickle.
PROBE = r"""
import json
import sys

import mlflow
import numpy as np
import torch
from torch import nn

sys.path.append("../src")
out = {}
try:
    mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
    pipe = mlflow.sklearn.load_model("models:/penguins@champion")
    mlp = pipe.steps[-1][1]
    coefs, intercepts = mlp.coefs_, mlp.intercepts_
    out["activation"] = str(mlp.activation)
except Exception as exc:
    print(json.dumps({"error": f"the champion did not load: {exc!r}"[:300]}))
    raise SystemExit(0)
try:
    state = torch.load("out/main/weights.pt", weights_only=True)
    out["keys"] = [str(k) for k in state]
    out["shapes"] = {str(k): list(v.shape) for k, v in state.items()}
    names = [f"{2 * i}.{p}" for i in range(len(coefs)) for p in ("weight", "bias")]
    out["expected_keys"] = names
    gaps = []
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        weight, bias = state[f"{2 * i}.weight"], state[f"{2 * i}.bias"]
        gaps.append(float(np.abs(weight.double().numpy() - W.T).max()))
        gaps.append(float(np.abs(bias.double().numpy() - b).max()))
    out["weights_gap"] = max(gaps)
    sizes = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(acts.get(mlp.activation, nn.Identity)())
    fresh = nn.Sequential(*layers)
    fresh.load_state_dict(state)
    fresh.eval()
    rows = np.random.default_rng(909).normal(size=(50, sizes[0]))
    with torch.no_grad():
        ported = torch.softmax(fresh(torch.from_numpy(rows.astype(np.float32))), 1)
    gap = np.abs(ported.double().numpy() - mlp.predict_proba(rows)).max()
    out["proba_gap"] = float(gap)
except Exception as exc:
    out["error"] = f"weights.pt: {exc!r}"[:300]
print(json.dumps(out))
"""
SESSION = f"""
{TOOL}
learner /dev/null mkdir {HOME}
cd {HOME} || exit 1
learner mlopslab.toml printf '[tune]\\nfamilies = ["mlp"]\\n'
learner run.log mlopslab run --trials 4
measure run.code $?
tool identity --activation identity
tool main
probe probe.log python -I -c {shlex.quote(PROBE)} | tail -n 1 | report probe
"""


def session(ctx: Context) -> Session:
    return ctx.session(SESSION, timeout=280)


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


def expect_parity(
    ctx: Context, found: dict[str, Any], name: str, version: str, tolerance: float
) -> float:
    """parity.json describes a passing port of `name` v`version`; its gap."""
    ctx.expect(found["model_name"] == name, f"model_name is {found['model_name']!r}")
    ctx.expect(str(found["version"]) == version, f"version is {found['version']!r}")
    ctx.expect(found["n_rows"] == TEST_ROWS, f"n_rows is {found['n_rows']!r}")
    gap = number(found["max_abs_diff"])
    ctx.expect(gap is not None and 0 <= gap < TOLERANCE, f"max_abs_diff is {gap!r}")
    agreement = number(found["class_agreement"])
    ctx.expect(agreement == 1.0, f"class_agreement is {found['class_agreement']!r}")
    seen = number(found["tolerance"])
    ctx.expect(seen == tolerance, f"tolerance is {found['tolerance']!r}")
    assert gap is not None
    return gap


def probe(found: Session) -> dict[str, Any]:
    try:
        report = json.loads(found.measure("probe"))
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise CheckFailed("the probe of weights.pt reported nothing")
    return report


@check(
    "the parity test passes for an MLP champion and writes parity.json",
    points=3,
    timeout=300,
    success="exit 0; parity.json names the champion, 69 rows, a gap below 1e-5",
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
        ctx, parity_json(ctx, f"{HOME}/out/main"), "penguins", champions[0], TOLERANCE
    )


@check(
    "weights.pt is the port's state_dict, in PyTorch's layout",
    points=2,
    timeout=300,
    success="0.weight ... hold the transposed coefs_ and load into nn.Sequential",
    failure="weights.pt is not the port's state_dict as asked",
)
def weights_layout(ctx: Context) -> None:
    report = probe(session(ctx))
    ctx.expect("error" not in report, str(report.get("error")))
    keys, expected = report.get("keys"), report.get("expected_keys")
    ctx.expect(keys == expected, f"weights.pt holds {keys}, expected {expected}")
    gap = number(report.get("weights_gap"))
    ctx.expect(
        gap is not None and gap < 1e-6,
        f"the weights differ from the transposed coefs_ by {gap!r}"
        f" (shapes {report.get('shapes')})",
    )
    gap = number(report.get("proba_gap"))
    ctx.expect(
        gap is not None and gap < TOLERANCE,
        f"reloaded, the port's probabilities differ from predict_proba by {gap!r}",
    )


@check(
    "the parity test fails a port without its activation function",
    points=2,
    timeout=300,
    success="--activation identity exits 1 with a `parity test FAILED` line",
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
