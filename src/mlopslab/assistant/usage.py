"""What the assistant's traffic says: how often it refuses, how well it retrieves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AskRecord:
    """One question asked, as its trace recorded it."""

    trace_id: str
    timestamp_ms: int
    version: str
    question: str
    answer: str
    refused: bool
    top_score: float
    spans: list[tuple[str, float]]  # (span name, milliseconds)


@dataclass(frozen=True)
class Usage:
    asked: int
    refusal_share: float
    mean_top_score: float
    versions: list[str]


def usage(records: list[AskRecord]) -> Usage:
    """The monitor's numbers over a window of questions (zeros when there are none).

    A refusal share that climbs, or a mean retrieval score that falls, says
    people ask what the course does not cover, or ask it in other words.
    """
    if not records:
        return Usage(0, 0.0, 0.0, [])
    refused = sum(record.refused for record in records)
    return Usage(
        asked=len(records),
        refusal_share=refused / len(records),
        mean_top_score=sum(r.top_score for r in records) / len(records),
        versions=sorted({r.version for r in records}, key=lambda v: int(v or 0)),
    )
