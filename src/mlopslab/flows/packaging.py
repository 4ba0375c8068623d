"""Registered models carry mlopslab's own code, so they load without mlopslab;
their signatures and dataset inputs are inferred from a few rows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np
import pandas as pd

# Rows MLflow infers a schema from (`schema_rows`), besides one per gapped column.
SCHEMA_ROWS = 1_000


@contextmanager
def code_by_value() -> Iterator[None]:
    """Pickle mlopslab's own model code (the image scaling, the timestamp
    parts, the PyTorch estimators) into the model, so its requirements need
    not list mlopslab."""
    import cloudpickle

    import mlopslab.columns
    import mlopslab.pixels

    modules: list[ModuleType] = [mlopslab.pixels, mlopslab.columns]
    if "mlopslab.neural" in sys.modules:  # imported only for a torch model
        modules.append(sys.modules["mlopslab.neural"])
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def schema_rows(frame: pd.DataFrame, head: int = SCHEMA_ROWS) -> pd.DataFrame:
    """Rows enough for MLflow to infer `frame`'s whole schema: its first rows
    and, for each column with a gap, one row with that gap (which makes MLflow
    mark the column not required).

    MLflow reads every value in Python to infer types and required-ness: on
    300k rows a signature and two dataset inputs took over 30 s. Types come
    from the dtypes, which these rows share with the frame.
    """
    if len(frame) <= head:
        return frame
    gaps = frame.isna().to_numpy()
    has_gap = gaps.any(axis=0)
    picks = set(range(head)) | {
        int(np.argmax(gaps[:, i])) for i in np.flatnonzero(has_gap)
    }
    return frame.iloc[sorted(picks)]
