"""Where trials and batch scoring run: here (None), or on a Ray cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlopslab.config import Config


@contextmanager
def trial_executor(cfg: Config) -> Iterator[Any]:
    """The Ray cluster when configured, else None (tune's local executor).

    Its own module, so that `predict` gets it without importing training's
    recording (MLflow).
    """
    if cfg.executor.kind != "ray":
        yield None
        return
    from mlopslab.flows.ray_executor import RayExecutor

    assert cfg.executor.ray_address is not None  # the config checks this
    with RayExecutor(cfg.executor.ray_address, cfg.executor.retries) as executor:
        yield executor
