"""Assignment 6, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

import re

from mlopslab.course.grading import Context, check

from ..assignment.checks import mean_shifts, monitored, planted, session

# A shift the student's own numbers never use: another feature, the other way.
OTHER = r"""
start serve-other.log mlopslab serve --home ws --port 8000 --capture-rate 1.0
server=$started
ready http://127.0.0.1:8000/ready
learner /dev/null mlopslab simulate traffic --home ws --n 300 --seed 21 \
  --drift "$feature:${shift}sd"
learner monitored/other.out mlopslab monitor --home ws --fail-on constraints \
  --last 300
measure other.code $?
learner /dev/null sh -c \
  'newest=$(ls -d ws/monitoring/*/ | sort | tail -n 1) && cp -r "$newest" "$0"' \
  monitored/other
stop "$server"
"""


@check(
    "the threshold is the setting: +0.2 sd passes at 0.5 and is flagged at 0.1",
    points=2,
    visibility="hidden",
    timeout=240,
    success="body_mass_g +0.2 sd: quiet by default, flagged at mean_shift_sd 0.1",
    failure="the threshold does not follow monitor.mean_shift_sd",
)
def follows_the_setting(ctx: Context) -> None:
    session(ctx)
    _, default = monitored(ctx, "mass")
    ctx.expect(not mean_shifts(default), f"flagged at 0.5: {mean_shifts(default)}")
    _, strict = monitored(ctx, "mass-strict")
    ctx.expect("body_mass_g" in mean_shifts(strict), "not flagged at 0.1")


@check(
    "too few rows give no verdict",
    points=1,
    visibility="hidden",
    timeout=240,
    success="20 drifted rows: no mean_shift_check",
    failure="the check judged a window below monitor.min_rows",
)
def no_verdict_on_few_rows(ctx: Context) -> None:
    session(ctx)
    _, violations = monitored(ctx, "few")
    ctx.expect(not mean_shifts(violations), f"flagged {mean_shifts(violations)}")


@check(
    "the violation reaches metrics.prom and the description gives the numbers",
    points=2,
    visibility="hidden",
    timeout=240,
    success="the gauge counts it and the description has both means and the sds",
    failure="the violation does not reach every output",
)
def everywhere(ctx: Context) -> None:
    session(ctx)
    _, violations = monitored(ctx, "planted")
    metrics = ctx.file("monitored/planted/metrics.prom").read_text()
    match = ctx.require(
        re.search(
            r"^mlopslab_monitor_constraint_violations(?:\{[^}]*\})? (\S+)$",
            metrics,
            re.MULTILINE,
        ),
        "no mlopslab_monitor_constraint_violations gauge",
    )
    ctx.expect(
        float(match.group(1)) == len(violations),
        f"the gauge says {match.group(1)}, the file has {len(violations)}",
    )
    shift = [
        v for v in violations if v.get("constraint_check_type") == "mean_shift_check"
    ]
    numbers = re.findall(r"\d+(?:\.\d+)?", str(shift[0].get("description", "")))
    ctx.expect(len(numbers) >= 3, "the description lacks the means and the shift")


def other_shift_of(ctx: Context) -> tuple[str, str]:
    """Another feature than the student's, shifted 1.2 sd the other way."""
    feature, shift = planted(ctx)
    other = "bill_depth_mm" if feature != "bill_depth_mm" else "flipper_length_mm"
    return other, "+1.2" if shift.startswith("-") else "-1.2"


@check(
    "another feature shifted the other way is flagged, and nothing else",
    points=2,
    visibility="hidden",
    timeout=240,
    success="another feature, direction and seed: exit 1, one mean_shift_check",
    failure="the check does not flag a shift it was never shown",
)
def other_shift(ctx: Context) -> None:
    session(ctx)
    feature, shift = other_shift_of(ctx)
    script = f"feature={feature}\nshift={shift}\n" + OTHER
    code, violations = monitored(ctx, "other", ctx.session(script, step="other"))
    ctx.expect(code == 1, f"{feature} {shift} sd: monitor exited {code}, not 1")
    flagged = mean_shifts(violations)
    ctx.expect(
        flagged == [feature], f"{feature} {shift} sd: mean_shift_check on {flagged}"
    )
