"""Assignment 10, public checks: `mlopslab course check 10-responsible` runs these.

Each check drives your copy of mlopslab through its CLI, in a sandbox, and then
reads what it left behind (the MLflow store, the run's files) from outside.
"""

from __future__ import annotations

from typing import Any

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

CHECK = "fairness:min_group_accuracy"
STRICT = {"MLOPSLAB_GATE__MIN_GROUP_ACCURACY": "0.97"}
LENIENT = {"MLOPSLAB_GATE__MIN_GROUP_ACCURACY": "0.9"}
RUN = ("run", "--trials", "4", "--fail-on-reject")
# Penguins, seed 42, 4 trials: island=Dream (26 test rows, one wrong) is the
# worst group, at 0.9615.
STRICT_REASON = "accuracy of island=Dream 0.9615 fails the group floor >= 0.97"
LENIENT_REASON = "accuracy of island=Dream 0.9615 meets the group floor >= 0.9"


def strict_run(ctx: Context) -> Outcome:
    return ctx.step(
        "strict", lambda: ctx.mlopslab(*RUN, "--home", "ws-strict", env=STRICT)
    )


def lenient_run(ctx: Context) -> Outcome:
    return ctx.step(
        "lenient", lambda: ctx.mlopslab(*RUN, "--home", "ws-lenient", env=LENIENT)
    )


def floor_checks(ctx: Context, home: str) -> list[dict[str, Any]]:
    """The group floor's lines in the newest run's evaluation.json."""
    evaluation = ctx.json(f"{ctx.newest_run(home)}/evaluation.json")
    checks = evaluation.get("gate", {}).get("checks", [])
    return [c for c in checks if isinstance(c, dict) and c.get("check") == CHECK]


def card_floor(ctx: Context, home: str) -> Any:
    """The newest run's model_card.json `group_floor`; the key must be there."""
    card = ctx.json(f"{ctx.newest_run(home)}/model_card.json")
    ctx.expect(isinstance(card, dict), "model_card.json is not a JSON object")
    ctx.expect("group_floor" in card, "model_card.json has no group_floor key")
    return card["group_floor"]


@check(
    "gate.min_group_accuracy and gate.group_floor_on are settings, validated",
    points=1,
    timeout=60,
    success="null and point by default; 1.5 and median are refused with exit 2",
    failure="the new settings are not there yet",
)
def setting(ctx: Context) -> None:
    gate = ctx.config().get("gate", {})
    ctx.expect("min_group_accuracy" in gate, "no min_group_accuracy under gate")
    ctx.expect(gate["min_group_accuracy"] is None, "min_group_accuracy is not null")
    ctx.expect(
        gate.get("group_floor_on") == "point",
        f"group_floor_on is {gate.get('group_floor_on')!r}, not 'point'",
    )
    for key, value in (("min_group_accuracy", "1.5"), ("group_floor_on", "median")):
        variable = f"MLOPSLAB_GATE__{key.upper()}"
        bad = ctx.mlopslab("config", "show", env={variable: value}, timeout=12)
        ctx.expect_exit(bad, 2, f"{variable}={value} mlopslab config show")
        ctx.expect(key in bad.stderr, f"the error for {value} does not name {key}")


@check(
    "a floor of 0.97 rejects the model and names the worst group",
    points=3,
    timeout=150,
    success="rejected with exit 3, the reason names island=Dream 0.9615, no alias",
    failure="the group floor did not reject the model as asked",
)
def rejects_below_floor(ctx: Context) -> None:
    run = strict_run(ctx)
    ctx.expect_exit(run, 3, "mlopslab run --fail-on-reject (floor 0.97)")
    ctx.expect(STRICT_REASON in run.output, f"no `{STRICT_REASON}`")
    version = ctx.require(
        ctx.versions("ws-strict").get("1"), "no version 1 was registered"
    )
    ctx.expect(version["tags"].get("status") == "rejected", "v1 is not rejected")
    ctx.expect(not version["aliases"], f"v1 has aliases {sorted(version['aliases'])}")


@check(
    "a floor of 0.9 approves the model with one passing group check",
    points=2,
    timeout=150,
    success="approved, champion, and evaluation.json holds the passing check",
    failure="the floor of 0.9 did not approve the model as asked",
)
def approves_above_floor(ctx: Context) -> None:
    run = lenient_run(ctx)
    ctx.expect_exit(run, 0, "mlopslab run --fail-on-reject (floor 0.9)")
    version = ctx.versions("ws-lenient").get("1", {"tags": {}, "aliases": set()})
    ctx.expect(version["tags"].get("status") == "approved", "v1 is not approved")
    ctx.expect("champion" in version["aliases"], "v1 is not the champion")
    found = floor_checks(ctx, "ws-lenient")
    ctx.expect(len(found) == 1, f"{len(found)} {CHECK} checks, expected 1")
    ctx.expect(found[0].get("passed") is True, "the group check did not pass")
    reason = found[0].get("reason")
    ctx.expect(reason == LENIENT_REASON, f"reason {reason!r}")


@check(
    "the rejected version's model card records the group floor",
    points=1,
    timeout=150,
    success="model_card.md's Fairness section and model_card.json give the floor",
    failure="the model card does not record the group floor",
)
def card_records_floor(ctx: Context) -> None:
    strict_run(ctx)
    home = "ws-strict"
    card = ctx.file(f"{ctx.newest_run(home)}/model_card.md").read_text()
    ctx.expect("\n## Fairness\n" in card, "no Fairness section in model_card.md")
    section = card.split("\n## Fairness\n", 1)[1].split("\n## ", 1)[0]
    line = f"- group accuracy floor: {STRICT_REASON}"
    ctx.expect(line in section.splitlines(), f"no `{line}` in the Fairness section")
    floor = card_floor(ctx, home)
    ctx.expect(isinstance(floor, dict), "group_floor is not an object")
    expected = {"floor": 0.97, "on": "point", "group": "island=Dream", "passed": False}
    wrong = {k: floor.get(k) for k, v in expected.items() if floor.get(k) != v}
    ctx.expect(not wrong, f"group_floor has {wrong}, expected {expected}")
