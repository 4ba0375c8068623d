"""Assignment 7, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
A folder, a threshold and an error the public checks never show: a gate script
written around the public inputs (or one that breaks on a space) fails here.
"""

from __future__ import annotations

from mlopslab.course.grading import Context, Session, check

from ..assignment.checks import GATE, gated

OTHER_DIR = "gate b"  # a space in the folder's name
HIDDEN = (
    GATE
    + r"""
fresh "gate b"
gate strict "gate b" 120 'MLOPSLAB_GATE__THRESHOLDS={ macro_f1 = 0.9999 }'
gate config "gate b" 45 MLOPSLAB_GATE__SIGNIFICANCE=2
"""
)
COMMANDS = {
    "strict": "MLOPSLAB_GATE__THRESHOLDS='{ macro_f1 = 0.9999 }' bash ../ci/gate.sh",
    "config": "MLOPSLAB_GATE__SIGNIFICANCE=2 bash ../ci/gate.sh",
}


def hidden_session(ctx: Context) -> Session:
    return ctx.session(HIDDEN, timeout=220, step="hidden")


@check(
    "from a folder with a space in its name, another threshold rejects a first run",
    points=2,
    visibility="hidden",
    timeout=240,
    success="in `gate b`, macro_f1 >= 0.9999: exit 3, rejected, v1 rejected, no alias",
    failure="the gate does not follow another threshold in another folder",
)
def other_threshold(ctx: Context) -> None:
    gated(
        ctx,
        "strict",
        3,
        hidden_session(ctx),
        f"(in `{OTHER_DIR}`) {COMMANDS['strict']}",
    )
    versions = ctx.versions(f"{OTHER_DIR}/.mlopslab")
    first = ctx.require(versions.get("1"), f"no version 1 in {OTHER_DIR}/.mlopslab")
    ctx.expect(first["tags"].get("status") == "rejected", "version 1 is not rejected")
    ctx.expect(
        not first["aliases"], f"version 1 has aliases {sorted(first['aliases'])}"
    )


@check(
    "a bad config value is an error: exit 2, outcome error",
    points=2,
    visibility="hidden",
    timeout=240,
    success='gate.significance 2: exit 2 and {"exit_code": 2, "outcome": "error"}',
    failure="an error other than the public one does not pass through",
)
def config_error(ctx: Context) -> None:
    gated(
        ctx,
        "config",
        2,
        hidden_session(ctx),
        f"(in `{OTHER_DIR}`) {COMMANDS['config']}",
    )
