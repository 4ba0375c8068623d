import asyncio
from typing import Any

from mlopslab.serving.batcher import MicroBatcher
from mlopslab.serving.model import Prediction


class FakeModel:
    """Predicts the row's `x`; a row with x == "bad" breaks the whole call."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.batches: list[list[Any]] = []  # the `x` of every row, call by call

    def predict(self, rows: list[dict[str, Any]]) -> list[Prediction]:
        self.calls.append(len(rows))
        self.batches.append([row["x"] for row in rows])
        if any(row["x"] == "bad" for row in rows):
            raise ValueError("cannot score 'bad'")
        return [Prediction(str(row["x"]), {str(row["x"]): 1.0}) for row in rows]


async def run_concurrently(
    batcher: MicroBatcher, model: FakeModel, requests: list[list[dict[str, Any]]]
) -> list[Any]:
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.predict(model, rows) for rows in requests),
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
    requests: list[list[dict[str, Any]]] = [[{"x": 1}], [{"x": "bad"}], [{"x": 3}]]
    results = asyncio.run(run_concurrently(MicroBatcher(), model, requests))
    assert [p.label for p in results[0]] == ["1"]
    assert isinstance(results[1], ValueError)
    assert [p.label for p in results[2]] == ["3"]


def test_batches_respect_max_rows() -> None:
    """A request that does not fit waits for the next batch; one too big goes alone."""
    model = FakeModel()
    sizes = [3, 3, 2, 4, 1, 5, 3, 7, 2, 2, 1, 3]  # 7 alone exceeds max_rows
    requests = [[{"x": n}] * size for n, size in enumerate(sizes)]
    results = asyncio.run(run_concurrently(MicroBatcher(max_rows=5), model, requests))
    assert [[p.label for p in r] for r in results] == [
        [str(n)] * size for n, size in enumerate(sizes)
    ]
    for batch in model.batches:
        assert len(batch) <= 5 or set(batch) == {7}, model.batches
    # Requests did share calls: a batcher that never batches passes nothing here.
    assert any(len(set(batch)) > 1 for batch in model.batches), model.batches
    assert sum(model.calls) == sum(sizes)


async def arriving_over_loop_turns(
    batcher: MicroBatcher, model: FakeModel, count: int
) -> list[list[Prediction]]:
    """Request n reaches the batcher n event-loop turns after the first, as
    requests still being parsed from socket buffers do."""

    async def arrive(n: int) -> list[Prediction]:
        for _ in range(n):
            await asyncio.sleep(0)
        return await batcher.predict(model, [{"x": n}])

    batcher.start()
    try:
        return await asyncio.gather(*(arrive(n) for n in range(count)))
    finally:
        await batcher.stop()


def test_gathering_waits_loop_turns_for_requests_still_arriving() -> None:
    model = FakeModel()
    batcher = MicroBatcher(gather_passes=5)
    results = asyncio.run(arriving_over_loop_turns(batcher, model, 4))
    assert [[p.label for p in r] for r in results] == [["0"], ["1"], ["2"], ["3"]]
    assert model.batches == [[0, 1, 2, 3]]


def test_without_gathering_the_first_request_is_scored_at_once() -> None:
    model = FakeModel()
    batcher = MicroBatcher(gather_passes=0)
    results = asyncio.run(arriving_over_loop_turns(batcher, model, 4))
    assert [[p.label for p in r] for r in results] == [["0"], ["1"], ["2"], ["3"]]
    # It did not wait for request 1, one loop turn behind it.
    assert model.batches[0] == [0]
    assert sum(model.calls) == 4
