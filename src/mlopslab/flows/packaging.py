"""Registered models carry mlopslab's own code, so they load without mlopslab."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


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
