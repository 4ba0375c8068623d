"""Assignment 13, hidden checks: only `mlopslab course grade` runs these.

The public checks plant a claim the course never makes. Here the claim is the
course's own words, cited to the wrong passage: a scorer that only asks "is it
somewhere in the course?" approves it; `grounded` asks "is it in the passage
it cites?" and must reject it.
"""

from __future__ import annotations

from mlopslab.course.grading import Context, check
from mlopslab.course.sandbox import Outcome

from ..assignment.checks import BUILD, HOME, MODEL, ON_COURSE, base_build, write_files

MISCITED = (
    "template: |-\n"
    "  {{answer}}\n"
    "  Data leakage lets information about the test rows reach training, and the"
    " scores then look better than they are. [glossary#champion]\n"
    "\n"
    "  Sources: {{sources}}\n"
)


def miscited_build(ctx: Context) -> Outcome:
    def run() -> Outcome:
        base_build(ctx)
        write_files(ctx, {"miscited.yaml": MISCITED})
        prompt = ("--prompt", "miscited.yaml")
        return ctx.mlopslab(*BUILD, *ON_COURSE, *prompt, timeout=180)

    return ctx.step("miscited", run)


@check(
    "a sentence of the course cited to the wrong passage is rejected",
    points=2,
    visibility="after_due_date",
    timeout=420,
    success="rejected with exit 3, grounded among the reasons",
    failure="a claim cited to a passage that does not hold it was approved",
)
def rejects_miscited_claim(ctx: Context) -> None:
    build = miscited_build(ctx)
    ctx.expect_exit(build, 3, "assistant build --prompt (a miscited claim)")
    reasons = build.stdout.split("Gate: rejected", 1)[-1]
    ctx.expect("grounded" in reasons, "no gate reason names grounded")
    status = ctx.versions(HOME, MODEL).get("2", {}).get("tags", {}).get("status")
    ctx.expect(status == "rejected", f"v2 has status {status}, not rejected")
