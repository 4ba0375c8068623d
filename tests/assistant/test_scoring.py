from __future__ import annotations

from pathlib import Path

from mlopslab.assistant import scoring
from mlopslab.assistant.answer import Answer, PromptSpec, answer
from mlopslab.assistant.corpus import Passage, read_course
from mlopslab.assistant.index import Hit, PassageIndex
from mlopslab.assistant.questions import GoldenQuestion, read_golden
from mlopslab.assistant.scoring import Thresholds, gate
from tests.assistant_course import make_course

KNOWN = frozenset({"glossary#data-drift", "6-monitoring#principles"})
DRIFT = GoldenQuestion(
    "drift", "What is data drift?", ("glossary#data-drift",), ("distribution", "input")
)
BREAD = GoldenQuestion("bread", "How long does bread proof?", (), ())


def said(text: str, refused: bool = False, sources: tuple[str, ...] = ()) -> Answer:
    hits = tuple(Hit(Passage(s, s, ""), 0.5) for s in sources)
    return Answer("q", text, refused, 0.5, hits)


def test_source_hit_is_any_expected_source_among_the_passages_used() -> None:
    assert (
        scoring.source_hit(DRIFT, said("x", sources=("a#b", "glossary#data-drift")))
        == 1.0
    )
    assert scoring.source_hit(DRIFT, said("x", sources=("a#b",))) == 0.0
    assert scoring.source_hit(BREAD, said("x")) is None


def test_keyword_recall_is_the_share_of_words_found_in_any_case() -> None:
    assert scoring.keyword_recall(DRIFT, said("The DISTRIBUTION moved")) == 0.5
    assert scoring.keyword_recall(BREAD, said("anything")) is None


def test_a_citation_must_be_there_and_name_a_real_passage() -> None:
    valid = scoring.citation_valid
    assert valid(DRIFT, said("Drift. [glossary#data-drift]"), KNOWN) == 1.0
    assert valid(DRIFT, said("Drift, no citation."), KNOWN) == 0.0
    assert valid(DRIFT, said("[glossary#data-drift] [made#up]"), KNOWN) == 0.0
    assert valid(DRIFT, said("Drift (glossary#data-drift)"), KNOWN) == 0.0


def test_refusal_is_right_only_for_out_of_scope_questions() -> None:
    assert scoring.refusal_correct(BREAD, said("no", refused=True)) == 1.0
    assert scoring.refusal_correct(BREAD, said("an answer")) == 0.0
    assert scoring.refusal_correct(DRIFT, said("no", refused=True)) == 0.0


def test_means_leave_out_scorers_that_do_not_apply() -> None:
    answered: dict[str, float | None] = dict.fromkeys(scoring.SCORERS, 1.0)
    answered["keyword_recall"] = 0.5
    refused: dict[str, float | None] = dict.fromkeys(scoring.SCORERS, None)
    refused["refusal_correct"] = 0.0
    means = scoring.means([answered, refused])
    assert means["keyword_recall"] == 0.5
    assert means["refusal_correct"] == 0.5
    assert means["citation_valid"] == 1.0


# Every scorer at 1 but two: a learner's new scorer does not change these tests.
GOOD = dict.fromkeys(scoring.SCORERS, 1.0) | {"source_hit": 0.9, "keyword_recall": 0.8}


def test_with_no_champion_the_floors_decide() -> None:
    assert gate(GOOD, None, Thresholds()).approved
    low = GOOD | {"citation_valid": 0.5}
    decision = gate(low, None, Thresholds())
    assert not decision.approved
    assert "citation_valid 0.500 < floor 0.95" in decision.reasons


def test_a_candidate_worse_than_the_champion_on_any_scorer_is_rejected() -> None:
    worse = GOOD | {"keyword_recall": 0.75}
    decision = gate(worse, GOOD, Thresholds(), champion_version="2")
    assert decision.verdict == "rejected"
    assert "keyword_recall 0.750 worse than champion v2's 0.800" in decision.reasons
    assert gate(worse, GOOD, Thresholds(tolerance=0.1), "2").approved


def test_a_tie_with_the_champion_passes() -> None:
    assert gate(GOOD, GOOD, Thresholds(), "1").approved


def test_a_prompt_that_breaks_citations_scores_lower_on_the_same_index(
    tmp_path: Path,
) -> None:
    course = make_course(tmp_path / "course")
    index = PassageIndex().fit(read_course(course))
    questions = read_golden(course / "golden.yaml")

    def scores(prompt: PromptSpec) -> dict[str, float]:
        rows = [
            scoring.score(q, answer(index, q.question, prompt), index)
            for q in questions
        ]
        return scoring.means(rows)

    good = scores(PromptSpec())
    assert gate(good, None, Thresholds()).approved, good
    broken = scores(PromptSpec(citation="(from {source})"))
    assert broken["citation_valid"] == 0.0
    assert not gate(broken, good, Thresholds(), "1").approved
