import asyncio
from typing import Any

import pytest

from mlopslab.serving.batcher import MicroBatcher
from mlopslab.serving.model import Prediction


class FakeModel:
    """Predicts the row's `x`; a row with x == "bad" breaks the whole call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, rows: list[dict[str, Any]]) -> list[Prediction]:
        self.calls.append(len(rows))
        if any(row["x"] == "bad" for row in rows):
            raise ValueError("cannot score 'bad'")
        return [Prediction(str(row["x"]), {str(row["x"]): 1.0}) for row in rows]


async def run_concurrently(
    batcher: MicroBatcher, model: FakeModel, requests: list[list[dict[str, Any]]]
) -> list[Any]:
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.predict(model, rows) for rows in requests),  # type: ignore[arg-type]
            return_exceptions=True,
        )
    finally:
        await batcher.stop()


def test_waiting_requests_share_one_predict_and_get_their_own_slice() -> None:
    model = FakeModel()
    requests = [[{"x": n}, {"x": n}] for n in range(10)]
    results = asyncio.run(run_concurrently(MicroBatcher(), model, requests))
    assert [[p.label for p in r] for r in results] == [[str(n)] * 2 for n in range(10)]
    assert len(model.calls) < 10 and sum(model.calls) == 20


def test_one_bad_request_does_not_fail_its_batch_mates() -> None:
    model = FakeModel()
    requests = [[{"x": 1}], [{"x": "bad"}], [{"x": 3}]]
    results = asyncio.run(run_concurrently(MicroBatcher(), model, requests))
    assert [p.label for p in results[0]] == ["1"]
    assert isinstance(results[1], ValueError)
    assert [p.label for p in results[2]] == ["3"]


def test_batches_respect_max_rows() -> None:
    model = FakeModel()
    requests = [[{"x": n}] * 3 for n in range(6)]
    asyncio.run(run_concurrently(MicroBatcher(max_rows=6), model, requests))
    assert max(model.calls) <= 6


@pytest.mark.parametrize("gather_passes", [0, 2])
def test_gathering_is_optional(gather_passes: int) -> None:
    model = FakeModel()
    results = asyncio.run(
        run_concurrently(MicroBatcher(gather_passes=gather_passes), model, [[{"x": 1}]])
    )
    assert [p.label for p in results[0]] == ["1"]
