"""Adaptive micro-batching: one predict call serves every request waiting.

Requests put their rows on a queue and await a future. One task takes whatever
is queued (up to `max_rows`; a request that does not fit starts the next batch,
and one larger than `max_rows` is a batch alone), runs a single `predict` in a
worker thread, and hands each request its slice. Under light load a batch is
one request, so latency stays low; under heavy load batches grow and
throughput follows.
Requests are grouped by the model they were validated against, so a model
swap never mixes two versions in one response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mlopslab.serving.model import Prediction


class Scorer(Protocol):
    """All the batcher asks of a model (a ServedModel in the server)."""

    def predict(self, rows: list[dict[str, Any]]) -> list[Prediction]: ...


@dataclass
class _Job:
    model: Scorer
    rows: list[dict[str, Any]]
    done: asyncio.Future[list[Prediction]]
    on_batch: Callable[[float], None] | None = None


class MicroBatcher:
    def __init__(self, max_rows: int = 256, gather_passes: int = 5) -> None:
        self.max_rows = max_rows
        self.gather_passes = gather_passes
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._next: _Job | None = None  # taken from the queue, did not fit
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def predict(
        self,
        model: Scorer,
        rows: list[dict[str, Any]],
        on_batch: Callable[[float], None] | None = None,
    ) -> list[Prediction]:
        """Wait for this request's slice of a shared predict call."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Prediction]] = loop.create_future()
        await self._queue.put(_Job(model, rows, done, on_batch))
        return await done

    async def _run(self) -> None:
        while True:
            jobs = [self._next or await self._queue.get()]
            self._next = None
            # Let the loop parse requests already waiting in socket buffers, so
            # they join this batch instead of waiting a whole predict for the next.
            for _ in range(self.gather_passes):
                await asyncio.sleep(0)
            size = len(jobs[0].rows)
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if size + len(job.rows) > self.max_rows:
                    self._next = job
                    break
                jobs.append(job)
                size += len(job.rows)
            for group in _by_model(jobs):
                await self._serve(group)

    async def _serve(self, jobs: list[_Job]) -> None:
        # Predict runs in a worker thread so the event loop keeps reading the
        # next requests meanwhile; they form the next batch.
        rows = [row for job in jobs for row in job.rows]
        self.batches += 1
        if jobs[0].on_batch is not None:
            jobs[0].on_batch(len(rows))
        try:
            predictions = await asyncio.to_thread(jobs[0].model.predict, rows)
        except (ValueError, TypeError, KeyError) as exc:
            if len(jobs) > 1:  # find the culprit: the other requests must not fail
                for job in jobs:
                    await self._serve([job])
                return
            if not jobs[0].done.done():
                jobs[0].done.set_exception(exc)
            return
        start = 0
        for job in jobs:
            end = start + len(job.rows)
            if not job.done.done():  # the client may have gone away
                job.done.set_result(predictions[start:end])
            start = end


def _by_model(jobs: list[_Job]) -> list[list[_Job]]:
    groups: dict[int, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(id(job.model), []).append(job)
    return list(groups.values())
