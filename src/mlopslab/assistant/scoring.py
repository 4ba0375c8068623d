"""Code-based scorers of an answer, their means, and the gate.

Each scorer gives a number from 0 to 1, or None where it does not apply (no
keyword recall for a question the assistant should refuse); a mean leaves the
Nones out, as `mlflow.genai.evaluate` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlopslab.assistant.answer import Answer
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.questions import GoldenQuestion

CITATION = re.compile(r"\[([\w.-]+#[\w.-]+)\]")
SCORERS = ("source_hit", "keyword_recall", "citation_valid", "refusal_correct")


def source_hit(question: GoldenQuestion, answer: Answer) -> float | None:
    """1 if an expected source is among the passages the answer drew on (hit@k)."""
    if not question.in_scope:
        return None
    return float(any(source in question.sources for source in answer.sources))


def keyword_recall(question: GoldenQuestion, answer: Answer) -> float | None:
    """The share of the required words that the answer contains (any case)."""
    if not question.in_scope or not question.keywords:
        return None
    text = answer.text.lower()
    return sum(word in text for word in question.keywords) / len(question.keywords)


def citation_valid(
    question: GoldenQuestion, answer: Answer, known: frozenset[str]
) -> float | None:
    """1 if the answer cites (`[module#section]`), and only passages that exist."""
    if not question.in_scope:
        return None
    cited = citations(answer.text)
    return float(bool(cited) and all(source in known for source in cited))


def refusal_correct(question: GoldenQuestion, answer: Answer) -> float:
    """1 if the assistant refused exactly when the question is out of scope."""
    return float(answer.refused != question.in_scope)


def citations(text: str) -> list[str]:
    return CITATION.findall(text)


def score(
    question: GoldenQuestion, answer: Answer, index: PassageIndex
) -> dict[str, float | None]:
    """Every scorer on one answer from `index` (the passages it could cite)."""
    return {
        "source_hit": source_hit(question, answer),
        "keyword_recall": keyword_recall(question, answer),
        "citation_valid": citation_valid(question, answer, index.sources_),
        "refusal_correct": refusal_correct(question, answer),
    }


def means(rows: list[dict[str, float | None]]) -> dict[str, float]:
    """Each scorer's mean over the rows it applies to (0 if it applies to none)."""
    result = {}
    for name in SCORERS:
        values = [row[name] for row in rows if row.get(name) is not None]
        result[name] = sum(values) / len(values) if values else 0.0  # type: ignore[arg-type]
    return result


@dataclass(frozen=True)
class Thresholds:
    """The floor every version must reach, and how much worse than the champion
    it may be (0.0: not worse at all)."""

    floors: dict[str, float] = field(
        default_factory=lambda: {
            "source_hit": 0.8,
            "keyword_recall": 0.6,
            "citation_valid": 0.95,
            "refusal_correct": 0.9,
        }
    )
    tolerance: float = 0.0


@dataclass(frozen=True)
class GateDecision:
    approved: bool
    reasons: list[str]

    @property
    def verdict(self) -> str:
        return "approved" if self.approved else "rejected"


def gate(
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    thresholds: Thresholds,
    champion_version: str | None = None,
) -> GateDecision:
    """Floors on each scorer, then no scorer worse than the champion's."""
    reasons, approved = [], True
    for name, floor in thresholds.floors.items():
        ok = candidate[name] >= floor
        approved &= ok
        reasons.append(
            f"{name} {candidate[name]:.3f} {'>=' if ok else '<'} floor {floor}"
        )
    if champion is None:
        return GateDecision(approved, [*reasons, "no champion yet: nothing to compare"])
    for name in SCORERS:
        ok = candidate[name] >= champion[name] - thresholds.tolerance
        approved &= ok
        if not ok:
            reasons.append(
                f"{name} {candidate[name]:.3f} worse than champion "
                f"v{champion_version}'s {champion[name]:.3f}"
            )
    if approved:
        reasons.append(f"no scorer worse than champion v{champion_version}")
    return GateDecision(approved, reasons)
