"""Assignment 3, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
"""

from __future__ import annotations

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

from ..assignment.checks import (
    RUN,
    expected_reasons,
    lenient_run,
    own_run,
    recall_checks,
    strict_run,
)

SECOND = {"MLOPSLAB_GATE__MIN_ABSOLUTE_CHANGE": "0.01"}
# A split and a floor the public checks never use: no answer written out in
# advance can name the right class and recall here.
OTHER_FLOOR = 0.95
OTHER = {"MLOPSLAB_SEED": "7", "MLOPSLAB_GATE__MIN_CLASS_RECALL": str(OTHER_FLOOR)}


def second_run(ctx: Context) -> Outcome:
    """An identical second run after the approved one, asking for a real gain."""
    lenient_run(ctx)
    return ctx.step(
        "second",
        lambda: ctx.mlopslab(*own_run(ctx), "--home", "ws-lenient", env=SECOND),
    )


@check(
    "on another split and floor, the reason names the worst class's recall",
    points=1,
    visibility="hidden",
    timeout=120,
    success="seed 7, floor 0.95: the verdict, the exit code and the reason agree",
    failure="the per-class reason does not follow the data and the floor",
)
def other_split(ctx: Context) -> None:
    run = ctx.step("other", lambda: ctx.mlopslab(*RUN, "--home", "ws-other", env=OTHER))
    expected = expected_reasons(ctx, "ws-other", OTHER_FLOOR)
    found = recall_checks(ctx, "ws-other")
    ctx.expect(len(found) == 1, f"{len(found)} threshold:min_class_recall checks")
    reason = str(found[0].get("reason", ""))
    ctx.expect(reason in expected, f"reason {reason!r}, expected {sorted(expected)}")
    meets = any(" meets " in text for text in expected)
    ctx.expect_exit(run, 0 if meets else 3, "the run on seed 7, floor 0.95")


@check(
    "without the setting nothing changes, and the champion comparison still rejects",
    points=3,
    visibility="hidden",
    timeout=120,
    success="an identical second run is rejected on the champion; v1 stays champion",
    failure="the gate no longer behaves as before when the floor is unset",
)
def champion_comparison(ctx: Context) -> None:
    run = second_run(ctx)
    ctx.expect_exit(run, 3, "a second identical run with min_absolute_change 0.01")
    versions = ctx.versions("ws-lenient")
    ctx.expect(
        "champion" in versions.get("1", {}).get("aliases", set()), "v1 lost champion"
    )
    ctx.expect(
        versions.get("2", {}).get("tags", {}).get("status") == "rejected",
        "v2 is not rejected",
    )
    ctx.expect(
        not recall_checks(ctx, "ws-lenient"),
        "a run without the setting still has a threshold:min_class_recall check",
    )


@check(
    "the rejected version's model card gives the per-class reason",
    points=1,
    visibility="hidden",
    timeout=120,
    success="model_card.md lists the per-class reason under Gate decision",
    failure="the model card does not explain the rejection",
)
def card_reason(ctx: Context) -> None:
    strict_run(ctx)
    wanted = expected_reasons(ctx, "ws-strict", float(str(ctx.variant["strict"])))
    card = ctx.file(f"{ctx.newest_run('ws-strict')}/model_card.md").read_text()
    ctx.expect("Gate decision" in card, "no Gate decision section in model_card.md")
    section = card.split("Gate decision", 1)[1]
    ctx.expect(
        any(reason in section for reason in wanted),
        "the per-class reason is not under Gate decision",
    )
