"""A team's capstone repository, read against the capstone's checklist.

`mlopslab course capstone-report DIR` looks for the evidence each checklist
item of `course/capstone.md` asks for (files, the report's sections, the
model card's fingerprint quoted in the report, the milestones' git tags, each
member's commits) and says, per item, found or missing, and where. It finds
evidence; it does not grade: the rubric is applied by a person, who reads the
report. It reads the folder only: nothing in it is run or imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlopslab.errors import CourseError

MILESTONES = ("milestone-1", "milestone-2", "milestone-3")
REPORT = "REPORT.md"
# Files a team may commit that are not theirs to count: the workspace and tools.
SKIPPED = {".git", ".mlopslab", ".venv", "mlruns", "node_modules", "__pycache__"}
READ_LIMIT = 2_000_000  # bytes of any one file


@dataclass(frozen=True)
class Finding:
    item: str
    found: bool
    evidence: str


@dataclass(frozen=True)
class Repository:
    root: Path
    files: tuple[Path, ...]
    report: str

    def named(self, name: str) -> list[Path]:
        return [f for f in self.files if f.name == name]

    def text(self, path: Path) -> str:
        with path.open("rb") as handle:
            return handle.read(READ_LIMIT).decode("utf-8", errors="replace")

    def where(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def read(root: Path) -> Repository:
    if not root.is_dir():
        raise CourseError(
            f"no capstone folder at {root}", "give the team's repository folder"
        )
    files = tuple(sorted(_files(root)))
    repo = Repository(root, files, "")
    report = root / REPORT
    text = repo.text(report) if report in files else ""
    return Repository(root, files, text)


def _files(root: Path) -> list[Path]:
    """Regular files only, never through a link: a link may point anywhere on
    the marker's machine. Walked without recursion, however deep the folders."""
    found, folders = [], [root]
    while folders:  # a stack, not recursion (os.walk recurses on Python 3.11)
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name in SKIPPED or entry.is_symlink():
                    continue
                if entry.is_dir():
                    folders.append(Path(entry.path))
                elif entry.is_file():
                    found.append(Path(entry.path))
    return found


def findings(repo: Repository, team: list[str]) -> list[Finding]:
    return [check(repo) for check in CHECKS] + _team(repo, team)


def _report(repo: Repository) -> Finding:
    words = len(repo.report.split())
    ok = 800 <= words <= 4000
    what = f"{REPORT}: {words} words" if repo.report else f"no {REPORT}"
    return Finding("A report of 2 to 4 pages (800 to 4,000 words)", ok, what)


def _config(repo: Repository) -> Finding:
    item = "mlopslab.toml is committed and names the data, the target and the model"
    path = repo.root / "mlopslab.toml"
    if path not in repo.files:
        return Finding(item, False, "no mlopslab.toml at the top of the repository")
    try:
        settings = tomllib.loads(repo.text(path))
    except tomllib.TOMLDecodeError as exc:
        return Finding(item, False, f"mlopslab.toml is not TOML: {exc}")
    data = settings.get("data", {})
    named = [k for k in ("source", "target") if k in data]
    model = settings.get("registry", {}).get("model_name")
    ok = len(named) == 2 and bool(model)
    return Finding(item, ok, f"data {', '.join(named) or 'not named'}; model {model}")


def _replay(repo: Repository) -> Finding:
    item = "capstone.sh replays the project from an empty workspace"
    path = repo.root / "capstone.sh"
    if path not in repo.files:
        return Finding(item, False, "no capstone.sh")
    script = repo.text(path)
    steps = [
        c
        for c in (
            "rm -rf .mlopslab",
            "mlopslab run",
            "mlopslab serve",
            "mlopslab monitor",
        )
        if c in script
    ]
    return Finding(item, len(steps) == 4, f"capstone.sh runs: {', '.join(steps)}")


def _card(repo: Repository) -> Finding:
    item = "The champion's model card, with its fingerprint quoted in the report"
    cards = repo.named("model_card.json")
    if not cards:
        return Finding(item, False, "no model_card.json")
    try:
        fingerprint = str(json.loads(repo.text(cards[0]))["data"]["fingerprint"])
    except (ValueError, KeyError, TypeError):
        return Finding(item, False, f"{repo.where(cards[0])} has no data.fingerprint")
    quoted = fingerprint[:12] in repo.report
    said = "quoted in" if quoted else "not quoted in"
    return Finding(item, quoted, f"fingerprint {fingerprint[:12]}... {said} {REPORT}")


def _evaluations(repo: Repository) -> Finding:
    found = [f for f in repo.files if re.fullmatch(r"evaluation.*\.html", f.name)]
    where = ", ".join(repo.where(f) for f in found[:3]) or "none"
    if len(found) > 3:
        where += f" and {len(found) - 3} more"
    return Finding(
        "The evaluation reports of an approved and a rejected run",
        len(found) >= 2,
        f"{len(found)} evaluation report(s): {where}",
    )


def _monitoring(repo: Repository) -> Finding:
    results = [f for f in repo.named("result.json") if _is_monitoring(repo, f)]
    pages = [f for f in repo.files if f.suffix == ".html" and "monitor" in f.name]
    pages += repo.named("report.html")
    evidence = f"{len(results)} monitoring result.json, {len(pages)} report page(s)"
    return Finding(
        "A monitoring report and its result.json", bool(results and pages), evidence
    )


def _is_monitoring(repo: Repository, path: Path) -> bool:
    try:
        result = json.loads(repo.text(path))
    except ValueError:
        return False
    return isinstance(result, dict) and "drift" in result


def _mentions(item: str, *patterns: str) -> Callable[[Repository], Finding]:
    """An item the report must show: each pattern somewhere in REPORT.md."""

    def check(repo: Repository) -> Finding:
        missing = [p for p in patterns if not re.search(p, repo.report, re.I | re.M)]
        said = "shown" if not missing else f"not found: {', '.join(missing)}"
        return Finding(item, not missing, f"{REPORT}: {said}")

    return check


CHECKS: list[Callable[[Repository], Finding]] = [
    _report,
    _mentions("The dataset: its source and licence", r"licen[cs]e", r"source"),
    _config,
    _mentions("Thresholds chosen with a reason", r"threshold"),
    _mentions("A deliberate rejection exiting 3", r"--fail-on-reject", r"\b3\b"),
    _evaluations,
    _mentions("A manual release, promoted and rolled back", r"promote", r"rollback"),
    _card,
    _mentions("The champion loaded with mlflow.pyfunc", r"pyfunc"),
    _mentions(
        "A valid and an invalid request to the server", r"/predict", r"\b4\d\d\b"
    ),
    _mentions("Ground truth attached", r"labels add|simulate labels"),
    _monitoring,
    _mentions("A retrain through the same gate", r"retrain"),
    _replay,
    _mentions("A reflection", r"^#+ .*reflect"),
]


def _team(repo: Repository, team: list[str]) -> list[Finding]:
    """Milestone tags, and every member's own commits (roles need hands)."""
    log = _git(repo.root, "log", "--format=%ae")
    if log is None:
        return [Finding("A git repository", False, "no git history to read")]
    tags = set((_git(repo.root, "tag", "--list") or "").split())
    missing = [t for t in MILESTONES if t not in tags]
    said = "all tagged" if not missing else f"missing tags: {', '.join(missing)}"
    out = [Finding("The three milestones, tagged", not missing, said)]
    commits: dict[str, int] = {}
    for author in log.split():
        commits[author] = commits.get(author, 0) + 1
    members = team or sorted(commits)
    idle = [m for m in members if commits.get(m, 0) == 0]
    counts = ", ".join(f"{m} {commits.get(m, 0)}" for m in members)
    out.append(Finding("Every member commits", bool(members) and not idle, counts))
    out.append(_mentions("Roles: who owned what", r"^#+ .*roles?\b")(repo))
    return out


def _git(root: Path, *args: str) -> str | None:
    try:
        # The team's own git settings never run a command here: no fsmonitor,
        # hooks, pager, or signature check (its gpg.program would run).
        safe = [
            *("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"),
            *("-c", "core.pager=cat", "-c", "log.showSignature=false"),
        ]
        done = subprocess.run(
            ["git", *safe, "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def as_markdown(repo: Repository, found: list[Finding]) -> str:
    done = sum(f.found for f in found)
    lines = [
        f"# Capstone evidence: {repo.root.name}",
        "",
        f"{done} of {len(found)} items have their evidence. This report finds "
        "evidence; the rubric in capstone.md is applied by a person.",
        "",
        "| | item | evidence |",
        "|---|---|---|",
    ]
    for finding in found:
        mark = "found" if finding.found else "MISSING"
        evidence = finding.evidence.replace("|", "\\|")
        lines.append(f"| {mark} | {finding.item} | {evidence} |")
    return "\n".join(lines) + "\n"
