"""Tuning trials and batch scoring as tasks on a Ray cluster.

Only the driver (this process) asks and tells the Optuna study, in the same
fixed batches as the local executor, so a Ray run draws the same trials and
picks the winner by the same rule; workers only cross-validate. No shared study
storage is needed, and nothing about the result depends on where a trial ran.

Ray's own task retries are off: when a worker or a whole node is lost, this
module resubmits the task itself (up to `retries` times), so every retry is
counted on the trial and reported by the run. A trial still lost after that is
recorded as failed, and the study goes on without it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from mlopslab.errors import ConfigError, StageError, first_line
from mlopslab.tune import Fold, TrialJob, TrialRecord, evaluate_trial

T = TypeVar("T")
Item = TypeVar("Item")


class RayExecutor:
    """A connection to a running Ray cluster (`ray start --head` somewhere)."""

    def __init__(self, address: str, retries: int = 2) -> None:
        self.address = address
        self.retries = retries
        self._shared: dict[int, Any] = {}

    def __enter__(self) -> RayExecutor:
        self._check_reachable()
        import ray

        try:
            ray.init(
                address=self.address,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster at {self.address}: "
                f"{first_line(exc, 160)}",
                "start one with `ray start --head`, or check --ray-address",
            ) from exc
        self._trial = ray.remote(max_retries=0)(evaluate_trial)
        self._score = ray.remote(max_retries=0)(_predict_rows)
        return self

    def _check_reachable(self) -> None:
        """ray.init waits minutes on a wrong address: fail in one line instead."""
        host, _, port = self.address.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                return
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster at {self.address}: "
                f"{getattr(exc, 'strerror', None) or exc}",
                "start one with `ray start --head --port PORT`, or check --ray-address",
            ) from exc

    def __exit__(self, *exc: object) -> None:
        import ray

        self._shared.clear()
        ray.shutdown()

    def run(
        self, jobs: list[TrialJob], folds: list[Fold], seed: int
    ) -> list[TrialRecord]:
        """One batch of trials as Ray tasks; records in job order."""
        folds_ref = self._put(folds)
        outcomes = self.map(lambda job: self._trial.remote(job, folds_ref, seed), jobs)
        return [
            replace(record, retries=tries) if record is not None else _lost(job, tries)
            for job, (record, tries) in zip(jobs, outcomes, strict=True)
        ]

    def predict(self, model: Any, chunks: Sequence[list[dict[str, Any]]]) -> list[Any]:
        """Score row chunks on the cluster; predictions in input order."""
        model_ref = self._put(model)
        outcomes = self.map(lambda rows: self._score.remote(model_ref, rows), chunks)
        lost = [i for i, (result, _) in enumerate(outcomes) if result is None]
        if lost:
            raise StageError(
                f"batch chunks {lost} were lost with their workers "
                f"{self.retries + 1} times",
                "check the Ray cluster (`ray status`) and run again",
            )
        return [prediction for result, _ in outcomes for prediction in result]

    def map(
        self, submit: Callable[[Item], Any], items: Sequence[Item]
    ) -> list[tuple[Any, int]]:
        """Run `submit(item)` for every item; (result or None if lost, retries)."""
        import ray

        lost_errors = _lost_worker_errors()
        refs = {submit(item): index for index, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        tries = [0] * len(items)
        while refs:
            [done], _ = ray.wait(list(refs), num_returns=1)
            index = refs.pop(done)
            try:
                results[index] = ray.get(done)
            except lost_errors:
                if tries[index] < self.retries:
                    tries[index] += 1
                    refs[submit(items[index])] = index
            except (
                ray.exceptions.RayError
            ) as exc:  # a task's own error, or the cluster's
                lines = str(exc).strip().splitlines() or [type(exc).__name__]
                raise StageError(
                    f"a Ray task failed: {lines[-1][:200]}",
                    "run with --executor local to see the error in this process",
                ) from exc
        return list(zip(results, tries, strict=True))

    def _put(self, value: Any) -> Any:
        """Ship a large shared value to the cluster once, not with every task."""
        import ray

        key = id(value)
        if key not in self._shared:
            self._shared[key] = (value, ray.put(value))
        return self._shared[key][1]


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    from ray import exceptions as errors

    names = (
        "WorkerCrashedError",
        "NodeDiedError",
        "LocalRayletDiedError",
        "ObjectLostError",
        "OwnerDiedError",
        "ActorDiedError",
    )
    return tuple(getattr(errors, name) for name in names if hasattr(errors, name))


def _lost(job: TrialJob, tries: int) -> TrialRecord:
    return TrialRecord(
        job.number,
        job.family,
        job.params,
        None,
        None,
        None,
        0.0,
        error=f"lost with its worker {tries + 1} times",
        retries=tries,
    )


def _predict_rows(model: Any, rows: list[dict[str, Any]]) -> list[Any]:
    return list(model.predict(rows))
