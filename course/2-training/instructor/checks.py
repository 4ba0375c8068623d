"""Assignment 2, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

from mlopslab.course.grading import Context, check

from ..assignment.checks import PATIENT, nested_params, run, trials


@check(
    "the nested MLflow runs match tuning.json and carry min_samples_leaf",
    points=2,
    visibility="hidden",
    timeout=120,
    success="one nested run per trial; hist_gb ones have min_samples_leaf",
    failure="the nested trial runs do not match",
)
def nested_runs(ctx: Context) -> None:
    run(ctx, "ws-full", 24)
    nested = nested_params(ctx, "ws-full")
    ctx.expect(len(nested) == len(trials(ctx, "ws-full")), f"{len(nested)} nested runs")
    hist = [p for p in nested if p.get("family") == "hist_gb"]
    ctx.expect(bool(hist), "no nested hist_gb run")
    ctx.expect(all("min_samples_leaf" in p for p in hist), "a hist_gb run lacks it")


@check(
    "without patience, --trials 8 runs exactly 8 trials",
    points=1,
    visibility="hidden",
    timeout=120,
    success="8 trials",
    failure="trials are cut short without patience",
)
def no_patience(ctx: Context) -> None:
    run(ctx, "ws-eight", 8)
    count = len(trials(ctx, "ws-eight"))
    ctx.expect(count == 8, f"{count} trials, not 8")


@check(
    "the same seed and patience give the same trials",
    points=2,
    visibility="hidden",
    timeout=120,
    success="two fresh workspaces: the same families and parameters",
    failure="early stopping made tuning irreproducible",
)
def reproducible(ctx: Context) -> None:
    run(ctx, "ws-patient", 40, PATIENT)
    run(ctx, "ws-patient-again", 40, PATIENT)
    first = [(t.get("family"), t.get("params")) for t in trials(ctx, "ws-patient")]
    second = [
        (t.get("family"), t.get("params")) for t in trials(ctx, "ws-patient-again")
    ]
    ctx.expect(first == second, "the two runs tried different trials")
