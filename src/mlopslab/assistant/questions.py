"""The golden question set: questions with the sources and words a good answer has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlopslab.errors import DataError


@dataclass(frozen=True)
class GoldenQuestion:
    """One question; `sources` are the passages that answer it (any one will do).

    An out-of-scope question has no sources: the right answer is a refusal.
    """

    id: str
    question: str
    sources: tuple[str, ...]
    keywords: tuple[str, ...]

    @property
    def in_scope(self) -> bool:
        return bool(self.sources)


def read_golden(path: Path) -> list[GoldenQuestion]:
    """The questions in a golden YAML file; a bad entry is named in the error."""
    if not path.is_file():
        raise DataError(f"no golden question set at {path}", "pass --golden FILE")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path} is not valid YAML", str(exc).splitlines()[0]) from exc
    entries = content.get("questions") if isinstance(content, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path} has no questions", "add a `questions:` list")
    questions = [_question(path, n, entry) for n, entry in enumerate(entries, 1)]
    ids = [q.id for q in questions]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise DataError(f"{path}: question id(s) used twice: {', '.join(twice)}")
    return questions


def _question(path: Path, n: int, entry: Any) -> GoldenQuestion:
    where = f"{path} question {n}"
    if not isinstance(entry, dict) or not entry.get("id") or not entry.get("question"):
        raise DataError(f"{where} needs an id and a question")
    sources = tuple(str(s) for s in entry.get("sources") or ())
    keywords = tuple(str(k).lower() for k in entry.get("keywords") or ())
    if bool(entry.get("out_of_scope")) == bool(sources):
        raise DataError(
            f"{where} ({entry['id']}) needs sources, or out_of_scope: true, not both"
        )
    return GoldenQuestion(str(entry["id"]), str(entry["question"]), sources, keywords)


def unknown_sources(
    questions: list[GoldenQuestion], known: frozenset[str]
) -> list[str]:
    """Expected sources the course does not have (a renamed section, a typo)."""
    return sorted({s for q in questions for s in q.sources if s not in known})
