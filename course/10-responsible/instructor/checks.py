"""Assignment 10, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
"""

from __future__ import annotations

import math

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

from ..assignment.checks import RUN, card_floor, floor_checks, lenient_run

SECOND = {"MLOPSLAB_GATE__MIN_ABSOLUTE_CHANGE": "0.01"}
# A floor, a basis and a group size the public checks never use: island=Dream
# (26 rows) is no longer measured, and the floor is on the lower bounds of the
# intervals. No answer written out in advance can name the group and value.
OTHER_FLOOR = 0.92
OTHER = {
    "MLOPSLAB_GATE__MIN_GROUP_ACCURACY": str(OTHER_FLOOR),
    "MLOPSLAB_GATE__GROUP_FLOOR_ON": "lower_bound",
    "MLOPSLAB_EVALUATE__MIN_GROUP_ROWS": "30",
}


def second_run(ctx: Context) -> Outcome:
    """An identical second run after the approved one, asking for a real gain."""
    lenient_run(ctx)
    return ctx.step(
        "second", lambda: ctx.mlopslab(*RUN, "--home", "ws-lenient", env=SECOND)
    )


@check(
    "on the interval's lower bound and larger groups, the floor follows the data",
    points=2,
    visibility="hidden",
    timeout=150,
    success="lower bound, 30-row groups, floor 0.92: gate, exit code and card agree",
    failure="the group floor does not follow the basis, the group size or the data",
)
def lower_bound(ctx: Context) -> None:
    run = ctx.step("other", lambda: ctx.mlopslab(*RUN, "--home", "ws-other", env=OTHER))
    evaluation = ctx.json(f"{ctx.newest_run('ws-other')}/evaluation.json")
    features = (evaluation.get("fairness") or {}).get("features", [])
    lows = {
        f"{group['feature']}={group['group']}": float(group["accuracy_low"])
        for feature in features
        for group in feature.get("groups", [])
        if not group.get("insufficient") and group.get("accuracy_low") is not None
    }
    ctx.expect(bool(lows), "evaluation.json has no measured group")
    worst = min(lows.values())
    verb = "meets" if worst >= OTHER_FLOOR else "fails"
    names = {name for name, low in lows.items() if low == worst}
    expected = {
        f"accuracy lower bound of {name} {worst:.4f} {verb} the group floor "
        f">= {OTHER_FLOOR:g}"
        for name in names
    }
    found = floor_checks(ctx, "ws-other")
    ctx.expect(len(found) == 1, f"{len(found)} fairness:min_group_accuracy checks")
    reason = str(found[0].get("reason", ""))
    ctx.expect(reason in expected, f"reason {reason!r}, expected {sorted(expected)}")
    ctx.expect(found[0].get("passed") is (verb == "meets"), "wrong verdict")
    ctx.expect_exit(run, 0 if verb == "meets" else 3, "the run on lower bounds")
    floor = card_floor(ctx, "ws-other")
    ctx.expect(isinstance(floor, dict), "the card's group_floor is not an object")
    value = floor.get("value")
    number = value if type(value) in (int, float) else math.nan  # not True
    ctx.expect(
        math.isclose(number, worst, abs_tol=1e-9),
        f"the card's group_floor value is {value!r}, expected {worst}",
    )
    ctx.expect(
        floor.get("group") in names
        and floor.get("on") == "lower_bound"
        and floor.get("floor") == OTHER_FLOOR
        and floor.get("passed") is (verb == "meets"),
        f"the card's group_floor is {floor}",
    )


@check(
    "without the setting nothing changes, and the champion comparison still rejects",
    points=2,
    visibility="hidden",
    timeout=200,
    success="no group check, group_floor null; v2 is rejected and v1 stays champion",
    failure="the gate or the card no longer behave as before when the floor is unset",
)
def unset_floor(ctx: Context) -> None:
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
        not floor_checks(ctx, "ws-lenient"),
        "a run without the setting still has a fairness:min_group_accuracy check",
    )
    floor = card_floor(ctx, "ws-lenient")
    ctx.expect(floor is None, f"group_floor is {floor!r} without the setting")
