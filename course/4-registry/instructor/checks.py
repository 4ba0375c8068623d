"""Assignment 4, hidden checks: run only by `mlopslab course grade`."""

from __future__ import annotations

from mlopslab.course.grading import Context, check

from ..assignment.checks import HOME, cards, committed, lineage, two_runs

CARD_FIELDS = {
    "model_name",
    "version",
    "status",
    "run_id",
    "intended_use",
    "data",
    "split_sizes",
    "model",
    "metrics",
    "gate",
    "config",
    "code_version",
}


@check(
    "git_sha is the commit the model was built from, in the card and the tag",
    points=2,
    visibility="hidden",
    timeout=150,
    success="lineage.git_sha and the git_sha tag name the graded commit",
    failure="git_sha does not name the commit",
)
def git_sha(ctx: Context) -> None:
    sha = committed(ctx)
    two_runs(ctx)
    found = lineage(cards(ctx)["2"])
    ctx.expect(
        found["git_sha"] == sha, f"lineage.git_sha {found['git_sha']!r}, not {sha}"
    )
    ctx.expect(
        found["git_dirty"] is False, f"git_dirty {found['git_dirty']!r}, not false"
    )
    tag = ctx.versions(HOME).get("2", {}).get("tags", {}).get("git_sha")
    ctx.expect(tag == sha, f"the git_sha tag is {tag!r}")


@check(
    "model_card.md has a Lineage section with the fingerprint and the SHA",
    points=1,
    visibility="hidden",
    timeout=150,
    success="the Lineage section lists the full fingerprint and SHA",
    failure="model_card.md does not show the lineage",
)
def card_section(ctx: Context) -> None:
    sha = committed(ctx)
    two_runs(ctx)
    card = cards(ctx)["2"]
    text = ctx.file(f"{HOME}/runs/{card['run_id']}/model_card.md").read_text()
    ctx.expect("\n## Lineage" in text, "no `## Lineage` heading")
    section = text.split("\n## Lineage", 1)[1]
    ctx.expect(
        card["data"]["fingerprint"] in section, "the fingerprint is not under it"
    )
    ctx.expect(sha in section, "the git SHA is not under it")


@check(
    "nothing else changed: card fields, split sizes, statuses and aliases",
    points=2,
    visibility="hidden",
    timeout=150,
    success="the rest of the card and the registry are as before",
    failure="something besides the lineage changed",
)
def nothing_else(ctx: Context) -> None:
    two_runs(ctx)
    found = cards(ctx)
    for version, card in found.items():
        missing = CARD_FIELDS - set(card)
        ctx.expect(not missing, f"v{version}'s card lost {sorted(missing)}")
    sizes = found["1"]["split_sizes"]
    ctx.expect(sizes == {"train": 233, "valid": 42, "test": 69}, f"split sizes {sizes}")
    versions = ctx.versions(HOME)
    for version, alias in (("1", "previous"), ("2", "champion")):
        entry = versions.get(version, {"tags": {}, "aliases": set()})
        ctx.expect(
            entry["tags"].get("status") == "approved", f"v{version} not approved"
        )
        ctx.expect(alias in entry["aliases"], f"v{version} is not {alias}")


@check(
    "a third version names the second as the champion it replaced",
    points=1,
    visibility="hidden",
    timeout=150,
    success="v3's lineage and tag say 2",
    failure="champion_before does not follow the registry",
)
def third_version(ctx: Context) -> None:
    # Last in this file: the third run changes the registry the others read.
    two_runs(ctx)

    def third() -> None:
        outcome = ctx.mlopslab("run", "--trials", "4", "--home", HOME)
        ctx.expect_exit(outcome, 0, "mlopslab run (number 3)")

    ctx.step("third", third)
    card = ctx.require(cards(ctx).get("3"), "no model card for version 3")
    before = lineage(card)["champion_before"]
    ctx.expect(before == "2", f'v3\'s champion_before is {before!r}, not "2"')
    tag = ctx.versions(HOME).get("3", {}).get("tags", {}).get("champion_before")
    ctx.expect(tag == "2", f"v3's champion_before tag is {tag!r}")
