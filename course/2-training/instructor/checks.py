"""Assignment 2, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

from mlopslab.course.grading import Context, check

from ..assignment.checks import PATIENT, nested_params, run, trials

# A patience and a seed the public checks never use.
PATIENT_TWO = {"MLOPSLAB_TUNE__PATIENCE": "2", "MLOPSLAB_SEED": "7"}
BATCH = 4


def expected_stop(losses: list[float], patience: int, limit: int) -> int:
    """How many trials the rule allows: stop at `patience` stale batches in a row."""
    best, stale = float("inf"), 0
    for start in range(0, limit, BATCH):
        if stale >= patience:
            return start
        batch = losses[start : start + BATCH]
        if not batch:  # it stopped although the rule says go on
            return limit
        if min(batch) < best:
            best, stale = min(batch), 0
        else:
            stale += 1
    return limit


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


@check(
    "with patience 2 and another seed, tuning stops at the first 2 stale batches",
    points=2,
    visibility="hidden",
    timeout=120,
    success="exactly as many trials as the rule allows, replayed on the losses",
    failure="the stopping rule does not follow tune.patience",
)
def patience_two(ctx: Context) -> None:
    run(ctx, "ws-patient-two", 40, PATIENT_TWO)
    losses = [t.get("cv_log_loss") for t in trials(ctx, "ws-patient-two")]
    done = [loss if isinstance(loss, float | int) else float("inf") for loss in losses]
    stop = expected_stop(done, 2, 40)
    ctx.expect(len(done) == stop, f"{len(done)} trials; the rule stops at {stop}")
