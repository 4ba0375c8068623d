"""Assignment 0, hidden checks: run only by `mlopslab course grade`.

Instructor material: `mlopslab course export --student` leaves this folder out.
Seeds and values the README and the public checks never show: a submission
that writes out the public answers (or ignores a layer) fails here.
"""

from __future__ import annotations

import json
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, Session, check

from ..assignment.checks import (
    CONFIG,
    MODEL_LIMIT,
    RUN,
    RUN_SECONDS,
    chosen,
    exited_zero,
    file_seed,
    model_file,
    other,
    run_config,
    settings,
    sha256,
    two_files,
)

# The hidden run: a seed given only as a variable, none as a flag.
HIDDEN_SEEDS = (2718, 2719)
# `config show` with every layer at values no public file names.
SHOWN_SEEDS = (31337, 31338)
SHOWN_TRIALS = (9, 10)
SHOWN_FAMILIES = ["hist_gb", "random_forest"]
INVALID = {
    "MLOPSLAB_SEED": "seven",
    "MLOPSLAB_TUNE__TRIALS": "-3",
    "MLOPSLAB_TUNE__FAMILIES": '["xgboost"]',
}
# Settings a run's config.json cannot echo as the file wrote them: the
# workspace (the flag --home wins), paths, and secrets (masked).
UNCOMPARED = (
    "home",
    "course",
    "serve.admin_token",
    "serve.capture_url",
    "executor.ray_address",
)


def hidden_seed(ctx: Context) -> int:
    return other(HIDDEN_SEEDS, file_seed(ctx))


def hidden_session(ctx: Context) -> Session:
    script = RUN + f"run h env MLOPSLAB_SEED={hidden_seed(ctx)} mlopslab run\n"
    return ctx.session(script, timeout=RUN_SECONDS + 30, step="hidden")


def leaves(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every setting of a nested table, by its dotted key."""
    found: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(leaves(value, f"{dotted}."))
        else:
            found[dotted] = value
    return found


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values (a TOML 1 and a recorded 1.0 are the same setting)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(
        b, sort_keys=True, default=str
    ) or (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and float(a) == float(b)
    )


@check(
    "a seed given only as a variable wins over the file in a run",
    points=2,
    visibility="hidden",
    timeout=RUN_SECONDS + 45,
    success="config.json has the variable's seed and every other setting of the file",
    failure="the run did not record the variable's seed and the file's settings",
)
def variable_seed_run(ctx: Context) -> None:
    seed = hidden_seed(ctx)
    exited_zero(ctx, "h", hidden_session(ctx))
    recorded = leaves(run_config(ctx, "fresh-h"))
    ctx.expect(
        recorded.get("seed") == seed,
        f"MLOPSLAB_SEED={seed}: config.json has seed {recorded.get('seed')!r}",
    )
    for key, value in leaves(settings(ctx)).items():
        if key == "seed" or any(
            key == u or key.startswith(u + ".") for u in UNCOMPARED
        ):
            continue
        ctx.expect(
            key in recorded and same(recorded[key], value),
            f"{CONFIG} sets {key} = {value!r}, config.json has {recorded.get(key)!r}",
        )


@check(
    "another seed builds another model",
    points=1,
    visibility="hidden",
    timeout=RUN_SECONDS + 45,
    success="the hidden seed's model.pkl hash differs from fresh-a's",
    failure="a run with another seed did not build another model",
)
def seed_changes_model(ctx: Context) -> None:
    exited_zero(ctx, "h", hidden_session(ctx))
    exited_zero(ctx, "a")
    models = model_file(ctx, "fresh-a"), model_file(ctx, "fresh-h")
    first, second = two_files(ctx, *models, limit=MODEL_LIMIT)
    ctx.expect(
        sha256(first) != sha256(second), "the hidden seed's model.pkl equals fresh-a's"
    )


@check(
    "each layer wins with values never shown, and bad ones are refused",
    points=1,
    visibility="hidden",
    timeout=60,
    success="variables beat the file at new values; three bad values exit 2",
    failure="config show does not layer or validate other values",
)
def other_values(ctx: Context) -> None:
    seed, trials, families = chosen(ctx)
    shown_seed, shown_trials = other(SHOWN_SEEDS, seed), other(SHOWN_TRIALS, trials)
    shown = ctx.config(
        env={
            "MLOPSLAB_SEED": str(shown_seed),
            "MLOPSLAB_TUNE__TRIALS": str(shown_trials),
        }
    )
    tune = shown.get("tune") if isinstance(shown.get("tune"), dict) else {}
    ctx.expect(shown.get("seed") == shown_seed, f"seed {shown.get('seed')!r}")
    ctx.expect(tune.get("trials") == shown_trials, f"trials {tune.get('trials')!r}")
    ctx.expect(tune.get("families") == families, "the file's families were lost")
    listed = json.dumps(SHOWN_FAMILIES, separators=(",", ":"))
    shown = ctx.config(env={"MLOPSLAB_TUNE__FAMILIES": listed})
    tune = shown.get("tune") if isinstance(shown.get("tune"), dict) else {}
    ctx.expect(
        tune.get("families") == SHOWN_FAMILIES,
        f"MLOPSLAB_TUNE__FAMILIES={listed}: families {tune.get('families')!r}",
    )
    ctx.expect(shown.get("seed") == seed, "the file's seed was lost")
    for name, value in INVALID.items():
        bad = ctx.mlopslab("config", "show", env={name: value}, timeout=12)
        if bad.code != 2:
            raise CheckFailed(f"`{name}={value} mlopslab config show` {bad.describe()}")
