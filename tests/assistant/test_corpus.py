from __future__ import annotations

from pathlib import Path

import pytest

from mlopslab.assistant.corpus import (
    digest,
    glossary_passages,
    lesson_passages,
    read_course,
    slug,
)
from mlopslab.errors import DataError
from tests.assistant_course import LESSON_DATA, make_course


def test_a_lesson_is_split_at_its_level_two_headings() -> None:
    passages = lesson_passages("1-data", LESSON_DATA)
    assert [p.source for p in passages] == [
        "1-data#why-this-matters",
        "1-data#principles",
    ]
    assert passages[0].title == "Why this matters"


def test_fenced_blocks_are_left_out_headings_inside_them_too() -> None:
    principles = lesson_passages("1-data", LESSON_DATA)[1].text
    assert "Not a section" not in principles
    assert "mlopslab run --trials 4" not in principles
    assert "```" not in principles
    assert principles.endswith("than they are.")


def test_front_matter_and_glossary_links_do_not_reach_the_text() -> None:
    lesson = (
        "---\nid: x\ntitle: T\n---\n"
        "## Principles\n\nSee [[data drift|drift]] and [[champion]].\n"
    )
    (passage,) = lesson_passages("x", lesson)
    assert passage.text == "See drift and champion."


def test_a_repeated_heading_gets_its_own_citation() -> None:
    lesson = "## Notes\n\nfirst part here\n\n## Notes\n\nsecond part here\n"
    assert [p.source for p in lesson_passages("m", lesson)] == ["m#notes", "m#notes-2"]


def test_glossary_terms_become_passages_named_by_their_slug() -> None:
    (passage,) = glossary_passages(
        [{"term": "Data drift (PSI)", "definition": "A shift."}, {"term": "empty"}]
    )
    assert passage.source == "glossary#data-drift-psi"
    assert passage.text == "Data drift (PSI): A shift."


def test_slug_keeps_letters_and_digits() -> None:
    assert (
        slug("1. The defaults (principle: layering)")
        == "1-the-defaults-principle-layering"
    )


def test_read_course_reads_lessons_then_glossary(tmp_path: Path) -> None:
    passages = read_course(make_course(tmp_path / "course"))
    sources = [p.source for p in passages]
    assert sources[0] == "1-data#why-this-matters"
    assert sources[-1] == "glossary#champion"
    assert len(sources) == len(set(sources)) == 7


def test_a_folder_without_a_course_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no course\.yaml"):
        read_course(tmp_path)


def test_the_digest_changes_with_any_passage(tmp_path: Path) -> None:
    passages = read_course(make_course(tmp_path / "course"))
    assert digest(passages) == digest(list(passages))
    assert digest(passages) != digest(passages[:-1])
