"""Assignment 1, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

from pathlib import Path

from mlopslab.course.grading import Context, check

from ..assignment.checks import champion, exit_code, session, signature_inputs


@check(
    "the baseline's features are exactly the model's inputs",
    points=2,
    visibility="hidden",
    timeout=240,
    success="statistics.json and constraints.json list the 7 signature inputs",
    failure="the baseline does not match the model's inputs",
)
def baseline_consistent(ctx: Context) -> None:
    session(ctx)
    version = champion(ctx)
    inputs = signature_inputs(ctx, version)
    run = Path(version.run_dir).relative_to(ctx.root)
    for name in ("statistics", "constraints"):
        features = ctx.json(f"{run}/baseline/{name}.json").get("features", [])
        names = sorted(f.get("name") for f in features)
        ctx.expect(names == sorted(inputs), f"{name}.json lists {names}")


@check(
    "no rows were dropped or added: split sizes 233, 42, 69",
    points=1,
    visibility="hidden",
    timeout=240,
    success="the card's split sizes are as before",
    failure="the split changed",
)
def same_split(ctx: Context) -> None:
    session(ctx)
    run = Path(champion(ctx).run_dir).relative_to(ctx.root)
    sizes = ctx.json(f"{run}/model_card.json").get("split_sizes")
    ctx.expect(sizes == {"train": 233, "valid": 42, "test": 69}, f"split sizes {sizes}")


@check(
    "other datasets train as before",
    points=2,
    visibility="hidden",
    timeout=240,
    success="mlopslab run --data digits exits 0",
    failure="the feature broke datasets without bill columns",
)
def digits_unchanged(ctx: Context) -> None:
    session(ctx)
    code = exit_code(ctx, "digits")
    ctx.expect(code == 0, f"mlopslab run --data digits exited {code}")
