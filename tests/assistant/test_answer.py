from __future__ import annotations

from pathlib import Path

import pytest

from mlopslab.assistant.answer import PromptSpec, answer, render, sentences
from mlopslab.assistant.corpus import read_course
from mlopslab.assistant.index import PassageIndex
from mlopslab.errors import ConfigError
from tests.assistant_course import make_course


@pytest.fixture
def index(tmp_path: Path) -> PassageIndex:
    return PassageIndex().fit(read_course(make_course(tmp_path / "course")))


def test_the_passage_about_the_question_ranks_first(index: PassageIndex) -> None:
    hits = index.search("What is data drift?", 3)
    assert hits[0].passage.source == "glossary#data-drift"
    assert hits[0].score > hits[1].score >= hits[2].score


def test_an_answer_quotes_the_course_and_cites_it(index: PassageIndex) -> None:
    said = answer(index, "What is a golden test set?", PromptSpec())
    assert not said.refused
    assert "frozen once and reused" in said.text
    assert "[glossary#golden-test-set]" in said.text
    assert said.text.rstrip().endswith("]")  # the Sources line of the template


def test_an_unrelated_question_is_refused_with_the_prompts_text(
    index: PassageIndex,
) -> None:
    prompt = PromptSpec(refusal="Not in the course.")
    said = answer(index, "How long should sourdough bread proof?", prompt)
    assert said.refused and said.text == "Not in the course."
    assert said.top_score < prompt.min_score


def test_the_prompt_decides_passages_sentences_and_citation_format(
    index: PassageIndex,
) -> None:
    prompt = PromptSpec(
        template="Q: {{question}}\n{{answer}}", passages=1, sentences=1,
        citation="<{module}/{section}>",
    )  # fmt: skip
    said = answer(index, "What is data drift?", prompt)
    assert len(said.hits) == 1
    assert said.text.splitlines()[0] == "Q: What is data drift?"
    assert said.text.count("<glossary/data-drift>") == 1
    assert "[" not in said.text


def test_the_same_question_gets_the_same_answer(index: PassageIndex) -> None:
    first = answer(index, "Which rows does the McNemar test look at?", PromptSpec())
    again = answer(index, "Which rows does the McNemar test look at?", PromptSpec())
    assert first == again


def test_sentences_split_lists_and_full_stops_and_drop_stubs() -> None:
    text = "- First item is long enough to keep. Second sentence is kept too.\n- tiny\n"
    assert sentences(text) == [
        "First item is long enough to keep.",
        "Second sentence is kept too.",
    ]


def test_render_fills_known_placeholders_and_keeps_others() -> None:
    assert render("{{ answer }} / {{other}}", answer="A") == "A / {{other}}"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"template": "no placeholder"}, "no {{answer}}"),
        ({"passages": 0}, "passages"),
        ({"min_score": 1.5}, "min_score"),
        ({"citation": "[{page}]"}, "cannot be filled"),
        ({"temperature": 0.2}, "unknown prompt setting"),
    ],
)
def test_a_bad_prompt_is_refused_with_what_to_fix(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{")):
        PromptSpec.from_mapping({"template": "{{answer}}", **values})


def test_settings_and_template_round_trip() -> None:
    spec = PromptSpec(sentences=3)
    assert (
        PromptSpec.from_mapping({"template": spec.template, **spec.settings()}) == spec
    )


def test_the_index_records_its_settings() -> None:
    assert PassageIndex(ngram_max=1).get_params()["ngram_max"] == 1
