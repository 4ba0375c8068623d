"""Assignment 3, public checks: `mlopslab course check 3-evaluation` runs these.

Each check drives your copy of mlopslab through its CLI, in a sandbox, and then
reads what it left behind (the MLflow store, the run's files) from outside.
"""

from __future__ import annotations

from typing import Any

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

STRICT = {"MLOPSLAB_GATE__MIN_CLASS_RECALL": "0.99"}
LENIENT = {"MLOPSLAB_GATE__MIN_CLASS_RECALL": "0.9"}
RUN = ("run", "--trials", "4", "--fail-on-reject")


def strict_run(ctx: Context) -> Outcome:
    return ctx.step(
        "strict", lambda: ctx.mlopslab(*RUN, "--home", "ws-strict", env=STRICT)
    )


def lenient_run(ctx: Context) -> Outcome:
    return ctx.step(
        "lenient", lambda: ctx.mlopslab(*RUN, "--home", "ws-lenient", env=LENIENT)
    )


def recall_checks(ctx: Context, home: str) -> list[dict[str, Any]]:
    evaluation = ctx.json(f"{ctx.newest_run(home)}/evaluation.json")
    checks = evaluation.get("gate", {}).get("checks", [])
    return [c for c in checks if c.get("check") == "threshold:min_class_recall"]


@check(
    "gate.min_class_recall is a setting, unset by default and bounded to 0..1",
    points=1,
    timeout=30,
    success="the key is shown as null and 1.5 is refused with exit 2",
    failure="the new setting is not there yet",
)
def setting(ctx: Context) -> None:
    gate = ctx.config().get("gate", {})
    ctx.expect("min_class_recall" in gate, "no min_class_recall under gate")
    ctx.expect(gate["min_class_recall"] is None, "min_class_recall is not null")
    bad = ctx.mlopslab(
        "config", "show", env={"MLOPSLAB_GATE__MIN_CLASS_RECALL": "1.5"}, timeout=12
    )
    ctx.expect_exit(bad, 2, "MLOPSLAB_GATE__MIN_CLASS_RECALL=1.5 mlopslab config show")
    ctx.expect(
        "min_class_recall" in bad.stderr, "the error does not name min_class_recall"
    )


@check(
    "a floor of 0.99 rejects the model and names Adelie's recall",
    points=3,
    timeout=120,
    success="rejected with exit 3, the reason names Adelie 0.9667, no alias",
    failure="the per-class floor did not reject the model as asked",
)
def rejects_below_floor(ctx: Context) -> None:
    run = strict_run(ctx)
    ctx.expect_exit(run, 3, "mlopslab run --fail-on-reject (floor 0.99)")
    ctx.expect("recall of Adelie 0.9667" in run.output, "no `recall of Adelie 0.9667`")
    version = ctx.require(
        ctx.versions("ws-strict").get("1"), "no version 1 was registered"
    )
    ctx.expect(version["tags"].get("status") == "rejected", "v1 is not rejected")
    ctx.expect(not version["aliases"], f"v1 has aliases {sorted(version['aliases'])}")


@check(
    "a floor of 0.9 approves the model with a passing per-class check",
    points=2,
    timeout=120,
    success="approved, champion, and evaluation.json holds the passing check",
    failure="the floor of 0.9 did not approve the model as asked",
)
def approves_above_floor(ctx: Context) -> None:
    run = lenient_run(ctx)
    ctx.expect_exit(run, 0, "mlopslab run --fail-on-reject (floor 0.9)")
    version = ctx.versions("ws-lenient").get("1", {"tags": {}, "aliases": set()})
    ctx.expect(version["tags"].get("status") == "approved", "v1 is not approved")
    ctx.expect("champion" in version["aliases"], "v1 is not the champion")
    found = recall_checks(ctx, "ws-lenient")
    ctx.expect(len(found) == 1, f"{len(found)} threshold:min_class_recall checks")
    ctx.expect(found[0].get("passed") is True, "the per-class check did not pass")
