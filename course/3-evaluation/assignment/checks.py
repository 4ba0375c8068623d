"""Assignment 3, public checks: `mlopslab course check 3-evaluation` runs these.

Each check drives your copy of mlopslab through its CLI, in a sandbox, and then
reads what it left behind (the MLflow store, the run's files) from outside.
"""

from __future__ import annotations

from typing import Any

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

RUN = ("run", "--trials", "4", "--fail-on-reject")


def own_run(ctx: Context) -> tuple[str, ...]:
    """The run on this student's split: their `seed` (assignment.yaml's variant)."""
    return (*RUN, "--seed", str(ctx.variant["seed"]))


def floor_env(floor: object) -> dict[str, str]:
    return {"MLOPSLAB_GATE__MIN_CLASS_RECALL": f"{float(str(floor)):g}"}


def strict_run(ctx: Context) -> Outcome:
    env = floor_env(ctx.variant["strict"])
    return ctx.step(
        "strict", lambda: ctx.mlopslab(*own_run(ctx), "--home", "ws-strict", env=env)
    )


def lenient_run(ctx: Context) -> Outcome:
    env = floor_env(ctx.variant["lenient"])
    return ctx.step(
        "lenient",
        lambda: ctx.mlopslab(*own_run(ctx), "--home", "ws-lenient", env=env),
    )


def recall_checks(ctx: Context, home: str) -> list[dict[str, Any]]:
    evaluation = ctx.json(f"{ctx.newest_run(home)}/evaluation.json")
    checks = evaluation.get("gate", {}).get("checks", [])
    return [c for c in checks if c.get("check") == "threshold:min_class_recall"]


def expected_reasons(ctx: Context, home: str, floor: float) -> set[str]:
    """The reason the newest run in `home` must give: its worst test recall(s)."""
    evaluation = ctx.json(f"{ctx.newest_run(home)}/evaluation.json")
    recalls = {
        str(label): float(row.get("recall"))
        for label, row in evaluation.get("test", {}).get("per_class", {}).items()
    }
    ctx.expect(bool(recalls), "evaluation.json has no per-class test recall")
    worst = min(recalls.values())
    verb = "meets" if worst >= floor else "fails"
    return {
        f"recall of {label} {worst:.4f} {verb} the per-class floor >= {floor:g}"
        for label, recall in recalls.items()
        if recall == worst
    }


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
    "your strict floor rejects the model and names the worst class's recall",
    points=3,
    timeout=120,
    success="rejected with exit 3, the reason names your split's worst class, no alias",
    failure="the per-class floor did not reject the model as asked",
)
def rejects_below_floor(ctx: Context) -> None:
    run = strict_run(ctx)
    floor = float(str(ctx.variant["strict"]))
    ctx.expect_exit(run, 3, f"mlopslab run --fail-on-reject (floor {floor:g})")
    wanted = expected_reasons(ctx, "ws-strict", floor)
    ctx.expect(
        any(reason in run.output for reason in wanted),
        f"the output has none of {sorted(wanted)}",
    )
    version = ctx.require(
        ctx.versions("ws-strict").get("1"), "no version 1 was registered"
    )
    ctx.expect(version["tags"].get("status") == "rejected", "v1 is not rejected")
    ctx.expect(not version["aliases"], f"v1 has aliases {sorted(version['aliases'])}")


@check(
    "your lenient floor approves the model with a passing per-class check",
    points=2,
    timeout=120,
    success="approved, champion, and evaluation.json holds the passing check",
    failure="the lenient floor did not approve the model as asked",
)
def approves_above_floor(ctx: Context) -> None:
    run = lenient_run(ctx)
    floor = float(str(ctx.variant["lenient"]))
    ctx.expect_exit(run, 0, f"mlopslab run --fail-on-reject (floor {floor:g})")
    version = ctx.versions("ws-lenient").get("1", {"tags": {}, "aliases": set()})
    ctx.expect(version["tags"].get("status") == "approved", "v1 is not approved")
    ctx.expect("champion" in version["aliases"], "v1 is not the champion")
    found = recall_checks(ctx, "ws-lenient")
    ctx.expect(len(found) == 1, f"{len(found)} threshold:min_class_recall checks")
    ctx.expect(found[0].get("passed") is True, "the per-class check did not pass")
