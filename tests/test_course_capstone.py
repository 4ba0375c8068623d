"""The capstone report: a team's repository read against the checklist."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from mlopslab.course.capstone import findings, read
from tests.conftest import CliResult

REPORT = """# Penguins at sea: capstone

Data source: the ship's survey, licence CC-BY 4.0. {padding}

## Gate
Thresholds: accuracy 0.9, chosen before the test scores (a missed class costs a
survey).
`mlopslab run --fail-on-reject` with an unreachable threshold exited 3.

## Registry
A manual release: promote, then rollback. The card's fingerprint is {fingerprint}.
Loaded with mlflow.pyfunc from models:/sea@champion.

## Serving
One valid request to /predict, and one with a misspelt field: 422.
Ground truth with `mlopslab labels add labels.csv`. We retrain with `monitor --retrain`.

## Roles
Ana: data and gate. Ben: serving and monitoring.

## Reflection
We would add a second site before real users.
"""
CARD = {"data": {"fingerprint": "9f2c41d0a7be55aa0123"}}


def git(root: Path, *args: str, author: str = "ana@sea.org") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": author,
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": author,
    }
    subprocess.run(
        ["git", "-C", str(root), *args], check=True, env=env, capture_output=True
    )


def team_repository(root: Path) -> Path:
    """A capstone hand-in with every piece of evidence, by two members."""
    root.mkdir()
    fingerprint = CARD["data"]["fingerprint"][:16]
    (root / "REPORT.md").write_text(
        REPORT.format(padding="word " * 900, fingerprint=fingerprint)
    )
    (root / "mlopslab.toml").write_text(
        '[data]\nsource = "data/sea.csv"\ntarget = "species"\n'
        '[registry]\nmodel_name = "sea"\n'
    )
    (root / "capstone.sh").write_text(
        "rm -rf .mlopslab\nmlopslab run\nmlopslab serve &\nmlopslab monitor\n"
    )
    evidence = root / "evidence"
    evidence.mkdir()
    (evidence / "model_card.json").write_text(json.dumps(CARD))
    (evidence / "evaluation-approved.html").write_text("<html></html>")
    (evidence / "evaluation-rejected.html").write_text("<html></html>")
    (evidence / "monitor-report.html").write_text("<html></html>")
    (evidence / "result.json").write_text(json.dumps({"drift": {}, "verdict": "ok"}))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data and gate")
    for number in (1, 2, 3):
        git(root, "tag", f"milestone-{number}")
    (root / "serve.md").write_text("notes\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "serving", author="ben@sea.org")
    return root


def test_a_complete_hand_in_has_every_piece_of_evidence(tmp_path: Path) -> None:
    repo = read(team_repository(tmp_path / "team"))
    found = findings(repo, ["ana@sea.org", "ben@sea.org"])
    assert [f.item for f in found if not f.found] == []
    [members] = [f for f in found if f.item == "Every member commits"]
    assert members.evidence == "ana@sea.org 1, ben@sea.org 1"


def test_each_missing_piece_is_named(tmp_path: Path) -> None:
    root = team_repository(tmp_path / "team")
    (root / "evidence" / "evaluation-rejected.html").unlink()
    report = (root / "REPORT.md").read_text()
    (root / "REPORT.md").write_text(report.replace("9f2c41d0a7be", "(see card)"))
    git(root, "tag", "-d", "milestone-3")

    found = findings(read(root), ["ana@sea.org", "ben@sea.org", "cy@sea.org"])

    missing = {f.item: f.evidence for f in found if not f.found}
    assert missing == {
        "The evaluation reports of an approved and a rejected run": (
            "1 evaluation report(s): evidence/evaluation-approved.html"
        ),
        "The champion's model card, with its fingerprint quoted in the report": (
            "fingerprint 9f2c41d0a7be... not quoted in REPORT.md"
        ),
        "The three milestones, tagged": "missing tags: milestone-3",
        "Every member commits": "ana@sea.org 1, ben@sea.org 1, cy@sea.org 0",
    }


def test_links_out_of_the_repository_are_not_followed(tmp_path: Path) -> None:
    root = team_repository(tmp_path / "team")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evaluation-x.html").write_text("<html></html>")
    (root / "elsewhere").symlink_to(outside)
    (root / "evidence" / "model_card.json").unlink()
    (root / "evidence" / "model_card.json").symlink_to("/etc/hostname")
    repo = read(root)
    assert all("elsewhere" not in str(f) for f in repo.files)
    assert not [f for f in repo.files if f.name == "model_card.json"]


def test_a_hostile_repository_neither_crashes_nor_leaks(tmp_path: Path) -> None:
    """Folders nested deeper than Python's recursion limit, a report that is a
    link to a file of the marker's machine: read as missing, never followed."""
    root = team_repository(tmp_path / "team")
    deep = root / "deep"
    deep.mkdir()
    os.chdir(deep)
    for _ in range(1500):  # one folder inside the other
        os.mkdir("d")
        os.chdir("d")
    Path("evaluation-deep.html").write_text("<html></html>")
    os.chdir(tmp_path)
    (root / "REPORT.md").unlink()
    (root / "REPORT.md").symlink_to("/etc/hostname")

    try:
        repo = read(root)
    finally:
        remove_chain(deep, 1500)  # shutil.rmtree, pytest's cleanup, recurses too

    assert repo.report == ""
    assert sum(f.name == "evaluation-deep.html" for f in repo.files) == 1
    [report] = [f for f in findings(repo, []) if f.item.startswith("A report")]
    assert not report.found and report.evidence == "no REPORT.md"


def remove_chain(top: Path, depth: int) -> None:
    """Remove `depth` folders named d, one inside the other, from the bottom."""
    os.chdir(top)
    for _ in range(depth):
        os.chdir("d")
    Path("evaluation-deep.html").unlink()
    for _ in range(depth):
        os.chdir("..")
        os.rmdir("d")


def test_the_command_writes_the_report_or_says_what_is_wrong(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    root = team_repository(tmp_path / "team")
    out = tmp_path / "report.md"
    result = cli("course", "capstone-report", root, "--out", out)
    assert result.code == 0, result.err
    assert out.read_text().startswith("# Capstone evidence: team\n\n18 of 18 items")

    missing = cli("course", "capstone-report", tmp_path / "nowhere")
    assert missing.code != 0 and missing.out == ""
    assert missing.err.strip().splitlines() == [
        f"error: no capstone folder at {tmp_path / 'nowhere'}; "
        "give the team's repository folder"
    ]
