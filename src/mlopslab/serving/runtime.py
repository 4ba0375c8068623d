"""What a running endpoint holds: the current model, capture, batching, metrics.

The current model is one reference, replaced atomically after the new version
is loaded and warmed; requests in flight keep the model they started with.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlopslab.config import ServeConfig
from mlopslab.errors import MlopsLabError, StoreError, first_line
from mlopslab.serving.batcher import MicroBatcher
from mlopslab.serving.http import ApiError, ScoringError
from mlopslab.serving.metrics import ServingMetrics
from mlopslab.serving.model import NOT_FINITE, UNSCORABLE, Prediction, ServedModel
from mlopslab.serving.schema import CheckedRows, RowError
from mlopslab.stores.capture.record import CaptureRecord, CaptureStore
from mlopslab.stores.capture.writer import CaptureWriter
from mlopslab.stores.registry.versions import VersionInfo

log = logging.getLogger("mlopslab.serving")


class ModelSource(Protocol):
    """Where the endpoint gets models: resolve the reference, then load a version."""

    name: str

    def resolve(self) -> VersionInfo: ...

    def load(self, info: VersionInfo) -> ServedModel: ...

    def close(self) -> None: ...

    @property
    def unconfirmed(self) -> bool:
        """True when the first model came from a cache the registry must confirm."""
        ...


@dataclass(frozen=True)
class Scored:
    """A batch after scoring: the rows answered (with where each was in the
    request and its prediction) and one error for each row refused."""

    rows: list[dict[str, Any]]
    positions: list[int]
    predictions: list[Prediction]
    errors: list[RowError]

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.errors)


class CaptureFull(StoreError):
    """The capture queue is full in sync mode: the request cannot be acknowledged."""

    def __init__(
        self, message: str = "capture queue is full", hint: str = "retry shortly"
    ) -> None:
        super().__init__(message, hint)


@dataclass
class Runtime:
    cfg: ServeConfig
    source: ModelSource
    store: CaptureStore | None
    model: ServedModel | None = None
    load_error: str | None = None
    writer: CaptureWriter | None = None
    batcher: MicroBatcher = field(default_factory=MicroBatcher)
    metrics: ServingMetrics = field(init=False)
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _sampler: random.Random = field(default_factory=random.Random)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _id_prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.metrics = ServingMetrics(
            queue_depth=lambda: float(self.writer.depth if self.writer else 0),
            dropped=lambda: float(self.writer.dropped if self.writer else 0),
        )

    async def start(self) -> None:
        if self.store is not None:
            self.writer = CaptureWriter(
                self.store,
                max_queue=self.cfg.capture_queue,
                linger_seconds=0.0 if self.cfg.capture_sync else 0.05,
            )
        self.batcher.start()
        # Load before the server accepts connections: with several workers on
        # one socket, no request may reach a worker that cannot predict yet.
        # A failed load still starts the server, answering 503 until it works.
        await self._first_load()
        loop = asyncio.get_running_loop()
        if self.source.unconfirmed:
            # Started from the cached copy: ask the registry now, not in a poll.
            self._tasks.append(loop.create_task(self._check_alias()))
        if self.cfg.poll_seconds > 0:
            self._tasks.append(loop.create_task(self._follow_alias()))

    async def stop(self) -> None:
        """Stop background work, then flush every accepted capture record."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.batcher.stop()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self.store is not None:
            self.store.close()
        self.source.close()

    async def reload(self) -> tuple[str | None, str]:
        """If the reference moved, load and warm the new version, then swap."""
        async with self._reload_lock:
            info = await asyncio.to_thread(self.source.resolve)
            old = self.model.version if self.model else None
            if old != info.version:
                fresh = await asyncio.to_thread(self.source.load, info)
                fresh = fresh.with_strict_nulls(self.cfg.strict_nulls)
                self.model = (
                    fresh  # one assignment: requests see old or new, never both
                )
                self.load_error = None
                self.metrics.serving(fresh.name, fresh.version)
                # Everything loaded so far lives as long as the server: keep it out of
                # the collector's scans, which otherwise stall requests for ~100 ms.
                gc.freeze()
                log.warning("now serving %s v%s", fresh.name, fresh.version)
            return old, info.version

    async def predict(
        self, model: ServedModel, rows: list[dict[str, Any]]
    ) -> list[Prediction]:
        try:
            predictions = await self.batcher.predict(
                model, rows, self.metrics.batch_rows.observe
            )
        except (ValueError, TypeError, KeyError) as exc:
            # Rows that passed the schema but that the model cannot score: the
            # batcher has already kept every other request's rows out of it.
            raise ScoringError(exc) from exc
        for label, count in Counter(p.label for p in predictions).items():
            self.metrics.predictions.labels(model.version, label).inc(count)
        return predictions

    async def score(self, model: ServedModel, checked: CheckedRows) -> Scored:
        """Predict the accepted rows; with `serve.on_bad_row = "refuse_row"`, a
        row the model cannot score (or scores to non-finite probabilities) is
        refused alone, and the others are still answered.

        With "refuse_batch" such a row fails the whole request (a 422), as a
        single row always does.
        """
        rows, positions = checked.rows, checked.positions
        alone = self.cfg.on_bad_row == "refuse_batch" or checked.total == 1
        errors = list(checked.errors)
        if not rows:
            return Scored([], [], [], errors)
        try:
            predictions: list[Prediction | str] = list(await self.predict(model, rows))
        except ScoringError:
            if alone:
                raise
            # Find the rows it cannot score, one at a time; the rest are answered.
            predictions = [await self._score_one(model, row) for row in rows]
        kept_rows, kept_positions, kept = [], [], []
        for row, position, prediction in zip(rows, positions, predictions, strict=True):
            if isinstance(prediction, str):
                errors.append(RowError(position, None, prediction))
            elif not prediction.finite:
                if alone:
                    raise ApiError(422, f"row {position}: {NOT_FINITE}", row=position)
                errors.append(RowError(position, None, NOT_FINITE))
            else:
                kept_rows.append(row)
                kept_positions.append(position)
                kept.append(prediction)
        errors.sort(key=lambda e: e.row if e.row is not None else -1)
        return Scored(kept_rows, kept_positions, kept, errors)

    async def _score_one(
        self, model: ServedModel, row: dict[str, Any]
    ) -> Prediction | str:
        """The row's prediction, or why the model cannot score it."""
        try:
            [prediction] = await self.predict(model, [row])
        except ScoringError as exc:
            cause = exc.__cause__
            return f"{UNSCORABLE}: {first_line(cause, 300) if cause else exc.message}"
        return prediction

    async def capture(
        self,
        model: ServedModel,
        rows: list[dict[str, Any]],
        predictions: list[Prediction],
        ids: list[str],
    ) -> bool:
        """Sample this request; in sync mode return only once its records commit."""
        if self.writer is None or self._sampler.random() >= self.cfg.capture_rate:
            return False
        now = time.time()
        records = [
            CaptureRecord(
                inference_id,
                now,
                model.name,
                model.version,
                row,
                prediction.label,
                prediction.probabilities,
            )
            for inference_id, row, prediction in zip(
                ids, rows, predictions, strict=True
            )
        ]
        if not self.cfg.capture_sync:
            for record in records:
                self.writer.submit(record)
            return True
        waits = [self.writer.submit_and_wait(record) for record in records]
        if any(wait is None for wait in waits):
            raise CaptureFull()
        await asyncio.gather(*(asyncio.wrap_future(w) for w in waits if w is not None))
        return True

    def new_ids(self, count: int) -> list[str]:
        """Unique ids: a random per-process prefix and a counter (no syscall each)."""
        start = self._next_id
        self._next_id += count  # only the event loop thread calls this
        return [f"{self._id_prefix}{n:012x}" for n in range(start, start + count)]

    async def _first_load(self) -> None:
        try:
            await self.reload()
        except (MlopsLabError, OSError) as exc:
            self.load_error = str(exc)
            log.error("could not load the model: %s", exc)

    async def _check_alias(self) -> None:
        try:
            await self.reload()
        except (MlopsLabError, OSError) as exc:
            log.warning("could not confirm the alias, still serving: %s", exc)

    async def _follow_alias(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.poll_seconds)
            try:
                await self.reload()
            except (MlopsLabError, OSError) as exc:
                # Keep serving what we have; the registry may be briefly unavailable.
                log.warning("alias check failed, still serving: %s", exc)
