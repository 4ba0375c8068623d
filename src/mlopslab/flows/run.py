"""What a training run hands from stage to stage and returns: shared by the flows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from mlopslab.data import Dataset
from mlopslab.evaluate import GateDecision, Metrics
from mlopslab.golden import Holdout
from mlopslab.preprocess import Split
from mlopslab.stores.datasets import GoldenRef

if TYPE_CHECKING:
    from mlopslab.flows.review import Review
from mlopslab.tune import TuneResult


class Reporter(Protocol):
    def start(self, stage: str) -> None: ...

    def finish(self, stage: str, seconds: float, result: str) -> None: ...

    def fail(self, stage: str) -> None: ...

    def progress(self, stage: str, done: int, total: int, unit: str) -> None: ...


@dataclass
class StageTiming:
    name: str
    seconds: float = 0.0
    result: str = ""


@dataclass
class RunSummary:
    run_id: str
    model_name: str
    version: str
    status: str
    decision: GateDecision
    metrics: Metrics
    stages: list[StageTiming]
    paths: dict[str, Path]
    champion_before: str | None
    champion_after: str | None
    # What the gate's reasons do not say: how the champion was compared, or
    # that this version repeats it.
    notes: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)


@dataclass(frozen=True)
class GoldenPlan:
    """The golden test set a run is scored on: the one in use, or one to freeze
    when the run registers (the first run on a source, or --new-test-set)."""

    key: str
    holdout: Holdout
    digest: str
    current: GoldenRef | None  # the version in use before this run
    new_because: str | None = None  # why a new version is frozen, if one is
    # The rows train and validation were split from, in the data's order,
    # and their digest (the run's training data).
    remainder: pd.DataFrame | None = None
    training_digest: str = ""

    @property
    def version(self) -> int:
        """The version this run is scored on (frozen when it registers)."""
        base = self.current.version if self.current else 0
        return base + 1 if self.new_because else base


@dataclass(frozen=True)
class RunDatasets:
    """The datasets a run recorded: its golden test set and training rows."""

    golden: GoldenRef
    training: Path
    training_digest: str
    training_rows: int
    new_golden: bool


@dataclass(frozen=True)
class Prepared:
    """The data, checked and split, with its baseline: what needs no registry."""

    dataset: Dataset
    split: Split
    statistics: dict[str, Any]
    constraints: dict[str, Any]
    golden: GoldenPlan | None = None  # None: a plain split, nothing persisted


@dataclass
class Trained:
    """What the stages before `register` hand over: nothing here is persisted yet."""

    dataset: Dataset
    split: Split
    statistics: dict[str, Any]
    constraints: dict[str, Any]
    tuning: TuneResult
    model: Any
    validation: Metrics
    metrics: Metrics
    decision: GateDecision
    champion_before: str | None
    model_name: str
    # The newest version number when the gate read the champion: versions
    # above it were registered by runs going on at the same time.
    latest_at_gate: int = 0
    notes: list[str] = field(default_factory=list)
    # The champion's version when this model is the same model again (same
    # data, same predictions): registered as a record, not promoted.
    repeats: str | None = None
    # Set once the register stage has saved them.
    datasets: RunDatasets | None = None
    # Fairness, importance and calibration on the golden test set.
    review: Review | None = None


@dataclass
class Stages:
    reporter: Reporter | None = None
    timings: list[StageTiming] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[StageTiming]:
        timing = StageTiming(name)
        if self.reporter:
            self.reporter.start(name)
        started = time.perf_counter()
        try:
            yield timing
        except BaseException:
            if self.reporter:  # stop the spinner before the error line is printed
                self.reporter.fail(name)
            raise
        timing.seconds = time.perf_counter() - started
        self.timings.append(timing)
        if self.reporter:
            self.reporter.finish(name, timing.seconds, timing.result)

    def progress(self, stage: str, unit: str) -> Callable[[int, int], None]:
        """A callback for a long stage: `done` of `total` `unit` so far."""

        def tell(done: int, total: int) -> None:
            if self.reporter:
                self.reporter.progress(stage, done, total, unit)

        return tell
