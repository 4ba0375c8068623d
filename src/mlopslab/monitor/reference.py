"""Reference distributions, read from the baseline's statistics.json only.

Monitoring never reloads training data: numbers are described by 101
quantiles (plus per-value counts when they take few values), categories by
their counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlopslab.baseline import QUANTILES, numeric_label


@dataclass(frozen=True)
class Reference:
    name: str
    kind: str  # "numeric" or "categorical"
    count: int
    quantiles: np.ndarray | None = None
    std: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def categorical_like(self) -> bool:
        """Categories, or numbers with few distinct values (tested as categories)."""
        return self.kind == "categorical" or (0 < len(self.counts) <= 5)

    def sample(self) -> np.ndarray:
        """A stand-in for the reference rows: the quantile function at n points."""
        assert self.quantiles is not None
        grid = (np.arange(self.count) + 0.5) / max(self.count, 1)
        return np.interp(grid, QUANTILES, self.quantiles)

    def current_counts(self, values: pd.Series) -> dict[str, int]:
        """Counts of current values, named the way the reference names them."""
        present = values.dropna()
        if self.kind == "numeric":
            labels = present.astype(float).map(numeric_label)
        else:
            labels = present.astype(str)
        return {str(k): int(v) for k, v in labels.value_counts().items()}


def references(statistics: dict[str, Any]) -> dict[str, Reference]:
    """One Reference per feature of a statistics.json document (none for a
    timestamp, which has no distribution to drift from)."""
    found = {}
    for feature in statistics["features"]:
        name = feature["name"]
        if feature.get("timestamp"):
            continue
        if "numerical_statistics" in feature:
            stats = feature["numerical_statistics"]
            distribution = stats.get("distribution", {})
            quantiles = distribution.get("quantiles", {}).get("values")
            buckets = distribution.get("categorical", {}).get("buckets", [])
            found[name] = Reference(
                name=name,
                kind="numeric",
                count=int(stats["common"]["num_present"]),
                quantiles=np.asarray(quantiles, dtype=float) if quantiles else None,
                std=float(stats.get("std_dev") or 0.0),
                counts={b["value"]: int(b["count"]) for b in buckets},
            )
        else:
            stats = feature["string_statistics"]
            buckets = stats["distribution"]["categorical"]["buckets"]
            found[name] = Reference(
                name=name,
                kind="categorical",
                count=int(stats["common"]["num_present"]),
                counts={b["value"]: int(b["count"]) for b in buckets},
            )
    return found
