"""The course as passages: one per lesson `##` section and one per glossary term."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlopslab.errors import DataError

GLOSSARY = "glossary"
FENCE = re.compile(r"^(`{3,})(.*)$")
LINK = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]+))?\]\]")


@dataclass(frozen=True)
class Passage:
    """A piece of the course an answer can cite as `[source]`."""

    source: str  # "3-evaluation#principles" or "glossary#data-drift"
    title: str
    text: str


def slug(heading: str) -> str:
    """A heading as a citation part: lower case, words joined by hyphens."""
    words = re.findall(r"[a-z0-9]+", heading.lower())
    return "-".join(words) or "section"


def read_course(root: Path) -> list[Passage]:
    """Every lesson section and glossary term of the course in `root`."""
    if not (root / "course.yaml").is_file():
        raise DataError(
            f"no course.yaml in {root}", "pass --course with a course folder"
        )
    passages: list[Passage] = []
    for lesson in sorted(root.glob("*/lesson.md")):
        text = lesson.read_text(encoding="utf-8")
        passages += lesson_passages(lesson.parent.name, text)
    glossary = root / "glossary.yaml"
    if glossary.is_file():
        terms = yaml.safe_load(glossary.read_text(encoding="utf-8")) or {}
        passages += glossary_passages(terms.get("terms") or [])
    if not passages:
        raise DataError(f"no lessons in {root}", "pass --course with a course folder")
    return passages


def lesson_passages(module: str, markdown: str) -> list[Passage]:
    """One passage per `##` section of a lesson (front matter and title left out)."""
    sections: list[tuple[str, list[str]]] = []
    for is_heading, line in _lines_outside_fences(_body(markdown)):
        if is_heading:
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    passages = []
    seen: set[str] = set()
    for heading, lines in sections:
        source = _unique(f"{module}#{slug(heading)}", seen)
        text = _plain("\n".join(lines))
        if text:
            passages.append(Passage(source=source, title=heading, text=text))
    return passages


def glossary_passages(terms: list[dict[str, Any]]) -> list[Passage]:
    """One passage per glossary term: the term, then its definition."""
    passages = []
    for entry in terms:
        term = str(entry.get("term", "")).strip()
        definition = str(entry.get("definition", "")).strip()
        if term and definition:
            passages.append(
                Passage(f"{GLOSSARY}#{slug(term)}", term, f"{term}: {definition}")
            )
    return passages


def digest(passages: list[Passage]) -> str:
    """A fingerprint of the passages: the same course gives the same index."""
    sha = hashlib.sha256()
    for passage in passages:
        for part in (passage.source, passage.title, passage.text):
            sha.update(part.encode("utf-8") + b"\0")
    return sha.hexdigest()


def _body(markdown: str) -> str:
    if markdown.startswith("---"):
        end = markdown.find("\n---", 3)
        if end != -1:
            return markdown[end + 4 :]
    return markdown


def _lines_outside_fences(text: str) -> list[tuple[bool, str]]:
    """(is a `##` heading, line) for each line outside fenced blocks.

    A `## ` inside a fence (a model card shown in a lesson) is not a section.
    Fenced blocks are left out: logs and YAML are noise to a bag of words,
    and a question a lesson asks in a command (say, one the course should
    refuse) would otherwise become a question the course answers.
    """
    kept: list[tuple[bool, str]] = []
    fence: str | None = None
    for line in text.splitlines():
        match = FENCE.match(line.strip())
        if match and fence is None:
            fence = match.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            kept.append((line.startswith("## "), line))
    return kept


def _plain(text: str) -> str:
    """Glossary links as their words; blank lines collapsed."""
    text = LINK.sub(lambda m: m.group(2) or m.group(1), text).replace("**", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _unique(source: str, seen: set[str]) -> str:
    """Two sections with one heading in a lesson get `-2`, `-3`."""
    candidate, n = source, 1
    while candidate in seen:
        n += 1
        candidate = f"{source}-{n}"
    seen.add(candidate)
    return candidate
