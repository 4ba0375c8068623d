"""Assignment 3, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
"""

from __future__ import annotations

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

from ..assignment.checks import RUN, lenient_run, recall_checks, strict_run

SECOND = {"MLOPSLAB_GATE__MIN_ABSOLUTE_CHANGE": "0.01"}


def second_run(ctx: Context) -> Outcome:
    """An identical second run after the approved one, asking for a real gain."""
    lenient_run(ctx)
    return ctx.step(
        "second", lambda: ctx.mlopslab(*RUN, "--home", "ws-lenient", env=SECOND)
    )


@check(
    "the passing reason says `meets` with the recall and the floor",
    points=1,
    visibility="hidden",
    timeout=120,
    success="the reason reads `recall of Adelie 0.9667 meets the per-class floor`",
    failure="the passing per-class reason is not as specified",
)
def passing_reason(ctx: Context) -> None:
    lenient_run(ctx)
    found = recall_checks(ctx, "ws-lenient")
    ctx.expect(len(found) == 1, "no threshold:min_class_recall check in the run")
    reason = str(found[0].get("reason", ""))
    expected = "recall of Adelie 0.9667 meets the per-class floor >= 0.9"
    ctx.expect(reason == expected, f"reason {reason!r}, expected {expected!r}")


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
    card = ctx.file(f"{ctx.newest_run('ws-strict')}/model_card.md").read_text()
    ctx.expect("Gate decision" in card, "no Gate decision section in model_card.md")
    section = card.split("Gate decision", 1)[1]
    ctx.expect(
        "recall of Adelie 0.9667 fails the per-class floor >= 0.99" in section,
        "the per-class reason is not under Gate decision",
    )
