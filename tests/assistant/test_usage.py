from __future__ import annotations

from mlopslab.assistant.usage import AskRecord, usage


def record(version: str, refused: bool, score: float) -> AskRecord:
    return AskRecord("tr-1", 0, version, "q", "a", refused, score, [])


def test_usage_is_the_share_refused_and_the_mean_top_score() -> None:
    numbers = usage(
        [record("2", True, 0.0), record("10", False, 0.5), record("2", False, 0.4)]
    )
    assert numbers.asked == 3
    assert numbers.refusal_share == 1 / 3
    assert abs(numbers.mean_top_score - 0.3) < 1e-12
    assert numbers.versions == ["2", "10"]  # in version order, not text order


def test_no_questions_gives_zeros() -> None:
    assert usage([]).asked == 0 and usage([]).refusal_share == 0.0
