"""One captured request, and the interface every capture store implements.

Serving writes `CaptureRecord`s through a `CaptureStore`; monitoring reads them
back with their labels. SQLite (`sqlite.py`) is the embedded default,
PostgreSQL (`postgres.py`) the shared one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CaptureRecord:
    inference_id: str
    captured_at: float
    model_name: str
    model_version: str
    input: dict[str, Any]
    prediction: str
    probabilities: dict[str, float]

    def as_row(self, encode: Callable[[Any], Any]) -> tuple[Any, ...]:
        """The record as a `captures` row, `input` and `probabilities` encoded."""
        return (
            self.inference_id,
            self.captured_at,
            self.model_name,
            self.model_version,
            encode(self.input),
            self.prediction,
            encode(self.probabilities),
        )


class CaptureStore(Protocol):
    def write(self, records: Sequence[CaptureRecord]) -> None: ...

    def add_labels(
        self, labels: Iterable[tuple[str, str]], *, only_if_matched: bool = False
    ) -> int:
        """Attach ground truth by inference_id; return how many captures matched.

        With `only_if_matched`, nothing is stored when no label matches.
        """
        ...

    def recent(self, limit: int) -> list[tuple[CaptureRecord, str | None]]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...
