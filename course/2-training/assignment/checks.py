"""Assignment 2, public checks: `mlopslab course check 2-training` runs these.

Each check runs `mlopslab run` in the sandbox (each setting in its own
workspace) and reads `tuning.json` and the MLflow store from outside.
"""

from __future__ import annotations

from typing import Any

from mlopslab.course.grading import CheckFailed, Context, check
from mlopslab.course.sandbox import Outcome

PATIENT = {"MLOPSLAB_TUNE__PATIENCE": "1"}


def run(
    ctx: Context, home: str, trials: int, env: dict[str, str] | None = None
) -> Outcome:
    """`mlopslab run --trials N` in workspace `home`, once per submission."""

    def go() -> Outcome:
        outcome = ctx.mlopslab("run", "--trials", str(trials), "--home", home, env=env)
        return outcome

    outcome = ctx.step(home, go)
    ctx.expect_exit(outcome, 0, f"mlopslab run --trials {trials} ({home})")
    return outcome


def trials(ctx: Context, home: str) -> list[dict[str, Any]]:
    found = ctx.json(f"{ctx.newest_run(home)}/tuning.json")
    if not isinstance(found, list):
        raise CheckFailed(f"{home}: tuning.json is not a list of trials")
    return found


def nested_params(ctx: Context, home: str) -> list[dict[str, str]]:
    """Each nested trial run's parameters, from the MLflow store."""
    parent = ctx.newest_run(home).rsplit("/", 1)[-1]
    with ctx.sqlite(f"{home}/mlflow.db", ("tags", "params")) as conn:
        children = [
            row[0]
            for row in conn.execute(
                "SELECT run_uuid FROM tags WHERE key = 'mlflow.parentRunId'"
                " AND value = ?",
                (parent,),
            )
        ]
        return [
            dict(
                conn.execute(
                    "SELECT key, value FROM params WHERE run_uuid = ?", (child,)
                ).fetchall()
            )
            for child in children
        ]


@check(
    "tune.patience is a setting: unset by default, at least 1",
    points=1,
    timeout=30,
    success="null by default, and 0 is refused with exit 2",
    failure="the patience setting is not as specified",
)
def setting(ctx: Context) -> None:
    tune = ctx.config().get("tune", {})
    ctx.expect(
        "patience" in tune and tune["patience"] is None, "tune.patience not null"
    )
    bad = ctx.mlopslab(
        "config", "show", env={"MLOPSLAB_TUNE__PATIENCE": "0"}, timeout=15
    )
    ctx.expect_exit(bad, 2, "MLOPSLAB_TUNE__PATIENCE=0 mlopslab config show")


@check(
    "every hist_gb trial tunes min_samples_leaf between 5 and 50",
    points=3,
    timeout=120,
    success="24 trials: each hist_gb trial has an integer min_samples_leaf in 5..50",
    failure="min_samples_leaf is not tuned as asked",
)
def new_hyperparameter(ctx: Context) -> None:
    run(ctx, "ws-full", 24)
    hist = [t for t in trials(ctx, "ws-full") if t.get("family") == "hist_gb"]
    ctx.expect(bool(hist), "no hist_gb trial among 24")
    for trial in hist:
        value = trial.get("params", {}).get("min_samples_leaf")
        ctx.expect(
            isinstance(value, int) and 5 <= value <= 50,
            f"trial {trial.get('number')}: min_samples_leaf {value!r}",
        )


@check(
    "with patience 1, tuning stops after a batch that does not improve",
    points=3,
    timeout=120,
    success="fewer than 40 trials, whole batches, the last one no better",
    failure="early stopping is not as specified",
)
def early_stop(ctx: Context) -> None:
    run(ctx, "ws-patient", 40, PATIENT)
    losses = [t.get("cv_log_loss") for t in trials(ctx, "ws-patient")]
    ctx.expect(len(losses) < 40, f"{len(losses)} trials: no early stop")
    ctx.expect(len(losses) % 4 == 0, f"{len(losses)} trials: not whole batches of 4")
    ctx.expect(len(losses) >= 8, f"stopped after {len(losses)} trials")
    done = [loss if loss is not None else float("inf") for loss in losses]
    ctx.expect(min(done[-4:]) >= min(done[:-4]), "the last batch improved on the best")
