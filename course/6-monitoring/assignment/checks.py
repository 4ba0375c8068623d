"""Assignment 6, public checks: `mlopslab course check 6-monitoring` runs these.

One sandboxed session trains, serves on the sandbox's own loopback, sends the
traffic the task README lists and runs `mlopslab monitor` after each batch. The
session reports each monitor's exit code; the checks read its outputs.

Each student has their own numbers (`variant` in assignment.yaml, shown by
`mlopslab course variant 6-monitoring --student ID`): the clean traffic's
seeds and the planted shift, its feature, direction and size.
"""

from __future__ import annotations

import shlex
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, Session, check

SESSION = r"""
learner run.log mlopslab run --trials 4 --home ws || { measure run failed; exit 0; }
start serve.log mlopslab serve --home ws --port 8000 --capture-rate 1.0
server=$started
ready http://127.0.0.1:8000/ready
learner /dev/null mkdir -p monitored
traffic() { learner /dev/null mlopslab simulate traffic --home ws "$@"; }
monitor() {  # monitor NAME ARGS...: its exit code, and its newest result folder
  name=$1; shift
  learner "monitored/$name.out" mlopslab monitor --home ws --fail-on constraints "$@"
  measure "$name.code" $?
  learner /dev/null sh -c \
    'newest=$(ls -d ws/monitoring/*/ | sort | tail -n 1) && cp -r "$newest" "$0"' \
    "monitored/$name"
}
for n in 1 2 3 4 5; do
  traffic --n 300 --seed "$((seed + n))"
  monitor "clean-$n" --last 300
done
traffic --n 300 --seed "$((seed + 10))" --drift "$feature:${shift}sd"
monitor planted --last 300
traffic --n 300 --seed 12 --drift body_mass_g:+0.2sd
monitor mass --last 300
MLOPSLAB_MONITOR__MEAN_SHIFT_SD=0.1 monitor mass-strict --last 300
traffic --n 20 --seed 13 --drift flipper_length_mm:+3sd
monitor few --last 20
stop "$server"
"""


def planted(ctx: Context) -> tuple[str, str]:
    """This student's planted shift: its feature, and its size as `--drift` says it."""
    return str(ctx.variant["feature"]), f"{float(ctx.variant['shift']):+g}"


def session(ctx: Context) -> Session:
    feature, shift = planted(ctx)
    numbers = {"feature": feature, "shift": shift, "seed": str(ctx.variant["seed"])}
    given = "".join(f"{name}={shlex.quote(value)}\n" for name, value in numbers.items())
    found = ctx.session(given + SESSION)
    ctx.expect("run" not in found.measures, "`mlopslab run` failed")
    return found


def monitored(
    ctx: Context, name: str, found: Session | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """A monitor's exit code (measured) and its constraint violations (its files)."""
    try:
        code = int((found or session(ctx)).measure(f"{name}.code"))
    except ValueError:
        raise CheckFailed(f"the `{name}` monitor left no exit code") from None
    found = ctx.json(f"monitored/{name}/constraint_violations.json")
    violations = found.get("violations") if isinstance(found, dict) else None
    if not isinstance(violations, list):
        raise CheckFailed(
            f"`{name}`: constraint_violations.json has no violations list"
        )
    return code, violations


def mean_shifts(violations: list[dict[str, Any]]) -> list[str]:
    return sorted(
        str(v.get("feature_name"))
        for v in violations
        if v.get("constraint_check_type") == "mean_shift_check"
    )


@check(
    "monitor.mean_shift_sd is a setting with a default of 0.5",
    points=1,
    timeout=30,
    success="config show lists mean_shift_sd 0.5 under monitor",
    failure="the new setting is not there",
)
def setting(ctx: Context) -> None:
    value = ctx.config().get("monitor", {}).get("mean_shift_sd")
    ctx.expect(value == 0.5, f"monitor.mean_shift_sd is {value!r}, not 0.5")


@check(
    "clean traffic raises nothing, five of your seeds in a row",
    points=2,
    timeout=240,
    success="five clean windows: exit 0 and no mean_shift_check",
    failure="clean traffic was flagged",
)
def quiet_on_clean(ctx: Context) -> None:
    session(ctx)
    for n in range(1, 6):
        seed = int(ctx.variant["seed"]) + n
        code, violations = monitored(ctx, f"clean-{n}")
        ctx.expect(code == 0, f"seed {seed}: monitor exited {code}, not 0")
        flagged = mean_shifts(violations)
        ctx.expect(not flagged, f"seed {seed}: mean_shift_check on {flagged}")


@check(
    "your planted shift is flagged, on its feature and nothing else",
    points=3,
    timeout=240,
    success="exit 1 and one mean_shift_check, for your shifted feature",
    failure="the shift was not flagged as asked",
)
def flags_a_shift(ctx: Context) -> None:
    session(ctx)
    feature, shift = planted(ctx)
    code, violations = monitored(ctx, "planted")
    ctx.expect(code == 1, f"{feature} {shift} sd: monitor exited {code}, not 1")
    flagged = mean_shifts(violations)
    ctx.expect(
        flagged == [feature], f"{feature} {shift} sd: mean_shift_check on {flagged}"
    )
