"""Assignment 4, public checks: `mlopslab course check 4-registry` runs these.

The grader commits your copy to a fresh git repository in the sandbox (so
`git_sha` has a value), runs `mlopslab run --trials 4` and then
`mlopslab run --trials 2` (another model: the same one twice would be a repeat,
kept as a record and not promoted) in one workspace, then reads the model
cards and the MLflow store from outside.
"""

from __future__ import annotations

import platform
from datetime import datetime
from importlib import metadata
from typing import Any

from mlopslab.course.grading import CheckFailed, Context, check

HOME = "ws"
KEYS = {
    "run_id",
    "data_source",
    "data_fingerprint",
    "git_sha",
    "git_dirty",
    "champion_before",
    "python",
    "packages",
    "created_at",
}
PACKAGES = ("scikit-learn", "mlflow", "optuna", "pandas", "numpy")


# A new repository every time (a submitted .git, with its hooks and config,
# never runs), and no hooks: the SHA printed is git's own.
COMMIT = """
rm -rf .git
git init -q
echo .home >> .git/info/exclude
git add -A
git -c core.hooksPath=/dev/null -c user.name=grader -c user.email=grader@localhost \\
  commit -qm copy
git rev-parse HEAD
"""


def committed(ctx: Context) -> str:
    """Your copy as one git commit (made inside the sandbox); its SHA."""

    def commit() -> str:
        outcome = ctx.shell(f"set -e\n{COMMIT}", timeout=60)
        ctx.expect_exit(outcome, 0, "git commit of the copy")
        return outcome.stdout.strip().splitlines()[-1]

    return ctx.step("commit", commit)


def two_runs(ctx: Context) -> tuple[float, float]:
    """Two runs in one workspace; the wall-clock window they ran in."""
    committed(ctx)

    def run() -> tuple[float, float]:
        started = datetime.now().timestamp()
        for number, trials in ((1, "4"), (2, "2")):
            outcome = ctx.mlopslab("run", "--trials", trials, "--home", HOME)
            ctx.expect_exit(outcome, 0, f"mlopslab run (number {number})")
        return started, datetime.now().timestamp()

    return ctx.step("runs", run)


def cards(ctx: Context) -> dict[str, dict[str, Any]]:
    """Each version's model_card.json, by version."""
    found = {}
    for folder in ctx.folders(f"{HOME}/runs"):
        card = ctx.json(f"{HOME}/runs/{folder.name}/model_card.json")
        found[str(card.get("version"))] = card
    for version in ("1", "2"):
        if version not in found:
            raise CheckFailed(f"no model card for version {version}")
    return found


def lineage(card: dict[str, Any]) -> dict[str, Any]:
    value = card.get("lineage")
    if not isinstance(value, dict):
        raise CheckFailed(f"version {card.get('version')}'s card has no lineage object")
    return value


@check(
    "every card has a lineage object with the specified fields",
    points=3,
    timeout=150,
    success="lineage names the run, data, software and time",
    failure="the lineage object is not as specified",
)
def lineage_fields(ctx: Context) -> None:
    started, ended = two_runs(ctx)
    card = cards(ctx)["1"]
    found = lineage(card)
    ctx.expect(
        set(found) == KEYS, f"lineage keys {sorted(found)}, expected {sorted(KEYS)}"
    )
    ctx.expect(
        found["run_id"] == card["run_id"], "lineage.run_id is not the card's run_id"
    )
    ctx.expect(found["data_source"] == card["data"]["source"], "data_source differs")
    ctx.expect(
        found["data_fingerprint"] == card["data"]["fingerprint"],
        "data_fingerprint differs",
    )
    ctx.expect(
        found["python"] == platform.python_version(), f"python {found['python']!r}"
    )
    for name in PACKAGES:
        have = (found["packages"] or {}).get(name)
        ctx.expect(have == metadata.version(name), f"packages[{name!r}] is {have!r}")
    try:
        created = datetime.fromisoformat(
            str(found["created_at"]).replace("Z", "+00:00")
        )
    except ValueError:
        raise CheckFailed(
            f"created_at {found['created_at']!r} is not ISO 8601"
        ) from None
    ctx.expect(
        created.utcoffset() is not None and not created.utcoffset(),
        "created_at is not UTC",
    )
    ctx.expect(
        started - 1 <= created.timestamp() <= ended + 1,
        "created_at is not the run's time",
    )


@check(
    "champion_before says what each version replaced, in the card and the tags",
    points=2,
    timeout=150,
    success="v1 replaced none, v2 replaced 1",
    failure="champion_before is not right",
)
def champion_before(ctx: Context) -> None:
    two_runs(ctx)
    found = cards(ctx)
    ctx.expect(
        lineage(found["1"])["champion_before"] is None,
        "v1's champion_before is not null",
    )
    ctx.expect(
        lineage(found["2"])["champion_before"] == "1",
        'v2\'s champion_before is not "1"',
    )
    versions = ctx.versions(HOME)
    for version, expected in (("1", "none"), ("2", "1")):
        tag = versions.get(version, {}).get("tags", {}).get("champion_before")
        ctx.expect(tag == expected, f"v{version}'s champion_before tag is {tag!r}")
