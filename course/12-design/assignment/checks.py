"""Assignment 12, public checks: `mlopslab course check 12-design` runs these.

They read DESIGN.md at the root of your repository, as a plain file, and never
run your code. The sections are the `##` headings of `design-template.md`
(beside this file); a section's `Good:` line and any `[FILL: ...]` left in it
do not count as its content.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from mlopslab.course.grading import CheckFailed, Context, check
from mlopslab.course.safe_text import plain

DESIGN = "DESIGN.md"
LIMIT = 256 * 1024  # bytes: a design document is a few pages, not a data dump
TEMPLATE = Path(__file__).with_name("design-template.md")
PLACEHOLDER = re.compile(r"\[FILL\b[^\]\n]{0,200}\]?", re.IGNORECASE)
GOOD_LINE = re.compile(r"^\s*good:", re.IGNORECASE)
# Bounded, and never starting inside another number: a regular expression is
# one call into C that no watchdog stops, so none may backtrack over a long
# run of digits.
NUMBER = r"(?<![\d.,])\d{1,15}(?:[.,]\d{1,15}){0,3}"
TIME_UNITS = (
    r"ms|milliseconds?|µs|us|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|d|days?"
    r"|weeks?|months?|quarters?|years?"
)
UNITS = (
    TIME_UNITS + r"|%|percent|pp|req/s|rps|qps|requests?|rows?|labels?|predictions?"
    r"|bytes?|[kKMGT]i?B|cores?|v?CPUs?|GPUs?|nodes?|machines?|servers?|workers?"
    r"|people|persons?|person-hours?|engineers?|FTEs?|USD|EUR|GBP|dollars?|euros?"
    r"|pounds?|(?:accuracy |percentage )?points?|pts|[$€£]"
)
# A number followed by a unit ("99.5%", "100 ms", "2 cores", "4 h/week"), or
# money written the usual way ("$12", "€40").
WITH_UNIT = re.compile(
    rf"(?:[$€£]\s?{NUMBER})|(?:{NUMBER}\s?(?:{UNITS})(?![A-Za-z]))", re.IGNORECASE
)
DURATION = re.compile(
    rf"(?:{NUMBER}\s?(?:{TIME_UNITS})(?![A-Za-z]))"
    r"|\b(?:an?|one|per|each|every|rolling|calendar)\s+(?:hour|day|week|month|quarter|year)\b"
    r"|\b(?:hourly|daily|weekly|monthly|quarterly|yearly)\b",
    re.IGNORECASE,
)


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)  # inline text, code and cells
    tables: list[list[list[str]]] = field(default_factory=list)  # rows of cells
    subsections: dict[str, list[str]] = field(default_factory=dict)

    def content(self) -> str:
        """What the learner wrote here: no `Good:` line, no placeholder, and
        nothing the template already says (its table headers, its labels)."""
        given = template_text()
        kept = (unfilled(t) for t in self.text)
        return " ".join(t for t in kept if t and t not in given)


@dataclass
class Design:
    raw: str
    sections: dict[str, Section]  # by the template's heading, as in the template
    headings: list[str]  # the document's own `##` headings, in order


def words(heading: str) -> set[str]:
    return set(re.findall(r"[a-z]+", heading.lower()))


def unfilled(text: str) -> str:
    return PLACEHOLDER.sub("", text).strip()


def short(text: str, width: int = 60) -> str:
    """Learner text for feedback: plain (no control codes), on one line, short.

    It stays text: the course server escapes it as HTML, the terminal prints
    it as text, and `course grade` writes it to JSON.
    """
    flat = " ".join(plain(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def quote(text: str, width: int = 60) -> str:
    """`short(text)`, quoted."""
    return repr(short(text, width))


def template_sections() -> list[str]:
    """The template's `##` headings, in order: the sections every design has."""
    return [
        line[3:].strip()
        for line in TEMPLATE.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    ]


@functools.cache
def template_text() -> frozenset[str]:
    """Every piece of text the template holds, placeholders taken out."""
    raw = TEMPLATE.read_text(encoding="utf-8")
    pieces = (t for s in parse(raw).sections.values() for t in s.text)
    return frozenset(unfilled(t) for t in pieces)


def read_design(ctx: Context) -> str:
    """DESIGN.md's text: a plain file inside the copy, at most LIMIT bytes.

    `ctx.file` refuses a link and a file over the limit; the file is then
    opened without following a link and read only up to the limit, so a file
    swapped in between the two is refused too.
    """
    path = ctx.file(DESIGN, limit=LIMIT)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise CheckFailed(f"{DESIGN} cannot be read as a plain file") from exc
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise CheckFailed(f"{DESIGN} is not a plain file")
        data = stream.read(LIMIT + 1)
    if len(data) > LIMIT:
        raise CheckFailed(f"{DESIGN} is larger than {LIMIT} bytes")
    return data.decode("utf-8", errors="replace").replace("\x00", "")


def parse(raw: str) -> Design:
    """Sections by `##` heading (matched to the template's by their words)."""
    expected = template_sections()
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    sections: dict[str, Section] = {}
    headings: list[str] = []
    current: Section | None = None
    subsection: list[str] | None = None
    row: list[str] | None = None
    table: list[list[str]] | None = None
    tokens = markdown.parse(raw)
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.type == "heading_open" and following is not None:
            title = following.content.strip()
            if token.tag == "h2":
                headings.append(title)
                name = next((e for e in expected if words(e) <= words(title)), None)
                current = None
                if name is not None and name not in sections:
                    current = sections[name] = Section(title)
                subsection = None
            elif token.tag in ("h3", "h4") and current is not None:
                subsection = current.subsections.setdefault(title.lower(), [])
            continue
        if current is None:
            continue
        if token.type == "table_open":
            table = []
        elif token.type == "table_close" and table is not None:
            current.tables.append(table)
            table = None
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None and table is not None:
            table.append(row)
            row = None
        elif token.type == "inline" or token.type in ("fence", "code_block"):
            text = token.content.strip()
            previous = tokens[index - 1].type if index else ""
            if previous == "heading_open":
                continue  # the heading itself
            if row is not None:
                row.append(text)
            if GOOD_LINE.match(text):
                continue
            current.text.append(text)
            if subsection is not None:
                subsection.append(text)
    return Design(raw, sections, headings)


def design(ctx: Context) -> Design:
    """The document as handed in: read and parsed once, before any code runs."""
    return ctx.step("design", lambda: parse(read_design(ctx)))


def section(ctx: Context, name: str) -> Section:
    found = design(ctx).sections.get(name)
    if found is None:
        raise CheckFailed(f"no `## {name}` section")
    return found


def table(ctx: Context, name: str, columns: int) -> tuple[list[str], list[list[str]]]:
    """The section's first table with at least `columns` columns: header, rows.

    Rows that are still the template's (every cell a placeholder) or empty
    are left out; short rows are padded.
    """
    for found in section(ctx, name).tables:
        if found and len(found[0]) >= columns:
            header = [cell.lower() for cell in found[0]]
            rows = [
                [*r, *[""] * (len(header) - len(r))]
                for r in found[1:]
                if any(unfilled(cell) for cell in r)
            ]
            return header, rows
    raise CheckFailed(f"`## {name}` has no table with {columns} columns")


def column(header: list[str], *names: str, default: int) -> int:
    """The index of the first column whose header has one of `names`."""
    for index, title in enumerate(header):
        if any(name in title for name in names):
            return index
    return default


def accountable_in(cell: str) -> bool:
    """An `A` among the cell's RACI letters (`n/a` is not one)."""
    letters = re.sub(r"\bn/a\b", "", unfilled(cell), flags=re.IGNORECASE)
    return "A" in re.findall(r"[A-Za-z]+", letters) or "accountable" in cell.lower()


def slo_rows(ctx: Context) -> list[dict[str, str]]:
    header, rows = table(ctx, "Service level objectives", 4)
    where = {
        "indicator": column(header, "indicator", "sli", default=0),
        "objective": column(header, "objective", "target", default=1),
        "window": column(header, "window", "period", default=2),
        "measured": column(header, "measure", "how", default=3),
    }
    return [{k: unfilled(r[i]) for k, i in where.items()} for r in rows]


def failure_rows(ctx: Context) -> list[dict[str, str]]:
    header, rows = table(ctx, "Failure modes", 4)
    where = {
        "failure": column(header, "failure", "what", default=0),
        "detected": column(header, "detect", "signal", default=1),
        "impact": column(header, "impact", "effect", default=2),
        "mitigation": column(header, "mitigat", "response", "action", default=3),
    }
    return [{k: unfilled(r[i]) for k, i in where.items()} for r in rows]


@check(
    "DESIGN.md is a plain file at the root of your repository, at most 256 KB",
    points=1,
    timeout=30,
    success="DESIGN.md was read",
    failure="DESIGN.md could not be read",
)
def design_file(ctx: Context) -> None:
    found = design(ctx)
    ctx.expect(bool(found.headings), f"{DESIGN} has no `##` headings")


@check(
    "every section of the template is there and filled in",
    points=2,
    timeout=30,
    success="every section has content of its own",
    failure="a section is missing or empty",
)
def sections_filled(ctx: Context) -> None:
    found = design(ctx).sections
    missing = [name for name in template_sections() if name not in found]
    ctx.expect(not missing, f"no section for: {', '.join(missing)}")
    empty = [name for name, s in found.items() if not s.content()]
    ctx.expect(not empty, f"empty (or only placeholders): {', '.join(empty)}")
    kinds = found["Requirements"].subsections
    given = template_text()
    for kind in ("functional", "non-functional"):
        text = [t for title, t in kinds.items() if title.startswith(kind)]
        filled = any(unfilled(x) not in given for texts in text for x in texts)
        ctx.expect(filled, f"Requirements has no filled-in `### {kind.title()}`")


@check(
    "at least 3 SLOs, each with a number and a unit, a window and a measurement",
    points=2,
    timeout=30,
    success="every SLO can be checked",
    failure="the SLO table is not complete",
)
def slo_table(ctx: Context) -> None:
    rows = slo_rows(ctx)
    ctx.expect(len(rows) >= 3, f"{len(rows)} SLOs in the table, at least 3 wanted")
    for number, row in enumerate(rows, 1):
        name = quote(row["indicator"] or f"row {number}")
        ctx.expect(bool(row["indicator"]), f"SLO {number} names no indicator")
        ctx.expect(
            WITH_UNIT.search(row["objective"]) is not None,
            f"SLO {name}: objective {quote(row['objective'])} has no number "
            "with a unit (such as 99.5%, 300 ms, 0.05 accuracy points)",
        )
        ctx.expect(bool(row["window"]), f"SLO {name} has no window")
        ctx.expect(
            len(row["measured"].split()) >= 2,
            f"SLO {name}: no measurement (the command or metric that measures it)",
        )


@check(
    "at least 3 actors, each with a role, and one accountable actor per activity",
    points=1,
    timeout=30,
    success="the actors and their roles are clear",
    failure="the actors table is not complete",
)
def actors(ctx: Context) -> None:
    header, rows = table(ctx, "Actors and roles", 3)
    role = column(header, "what they do", "role", "dut", default=2)
    named = [r for r in rows if unfilled(r[0]) and unfilled(r[role])]
    ctx.expect(len(named) >= 3, f"{len(named)} actors with a role, at least 3 wanted")
    for index, title in enumerate(header):
        if "raci" not in title:
            continue
        accountable = [r for r in named if accountable_in(r[index])]
        ctx.expect(
            len(accountable) == 1,
            f"column {quote(title)}: {len(accountable)} actors marked A "
            "(accountable); exactly one wanted",
        )


@check(
    "at least 4 failure modes, each with how it is detected and a mitigation",
    points=2,
    timeout=30,
    success="every failure mode is detected and mitigated",
    failure="the failure modes table is not complete",
)
def failure_modes(ctx: Context) -> None:
    rows = failure_rows(ctx)
    ctx.expect(len(rows) >= 4, f"{len(rows)} failure modes, at least 4 wanted")
    for number, row in enumerate(rows, 1):
        name = quote(row["failure"] or f"row {number}")
        ctx.expect(bool(row["failure"]), f"failure mode {number} names no failure")
        ctx.expect(bool(row["detected"]), f"failure mode {name}: no detection")
        ctx.expect(bool(row["mitigation"]), f"failure mode {name}: no mitigation")


@check(
    "the cost section gives compute, storage and people as numbers with units",
    points=1,
    timeout=30,
    success="the cost is in numbers",
    failure="the cost is not in numbers",
)
def cost(ctx: Context) -> None:
    text = section(ctx, "Cost").content()
    found = WITH_UNIT.findall(text)
    ctx.expect(
        len(found) >= 3,
        f"{len(found)} numbers with a unit in Cost, at least 3 wanted "
        f"(compute, storage, people); it says {quote(text) if text else 'nothing'}",
    )
    lowered = text.lower()
    for kind, pattern in (
        ("compute", r"comput|cpu|core|server|machine|node|instance"),
        ("storage", r"storage|disk|[kmgt]i?b\b|bytes|database"),
        ("people", r"people|person|engineer|hour|fte|on-call|staff|team"),
    ):
        ctx.expect(re.search(pattern, lowered) is not None, f"Cost says no {kind}")


@check(
    "no template placeholder is left",
    points=1,
    timeout=30,
    success="nothing of the template is left to fill in",
    failure="template text is left",
)
def no_placeholders(ctx: Context) -> None:
    found = PLACEHOLDER.search(design(ctx).raw)
    ctx.expect(found is None, f"still to fill in: {quote(found[0]) if found else ''}")
