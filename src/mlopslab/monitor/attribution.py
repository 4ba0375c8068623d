"""Attribution drift: does the model rely on the same columns as it did?

Feature drift says the inputs moved; attribution drift says the model's use of
them moved: a column it leaned on went constant, or missing and imputed, or a
once-minor column now decides the predictions. Both sides are permutation
importances (`mlopslab.explain`), the baseline's on the champion's test set
and the window's on the captured rows, and the check compares their rankings.

The rule, kept simple so it can be explained in one sentence: over the columns
both sides know, the Spearman rank correlation of their importances; drifted
iff it is below `threshold`. Ranks, not values: label-free importances of two
windows differ in scale with how confident the model is, while which columns
matter most is the question. The top columns and the biggest changes are kept
for the report, not for the verdict.

Insufficient (no verdict, never drifted): a window with fewer than `min_rows`
rows, fewer than MIN_COLUMNS shared columns, or one side whose importances are
all equal (nothing the model relies on more than anything else: the ranking,
and Spearman, are undefined).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from mlopslab.errors import StageError
from mlopslab.explain import Importance

MIN_COLUMNS = 3  # with two, any small wobble swaps the order: Spearman is +-1
TOP = 3


@dataclass(frozen=True)
class AttributionDrift:
    correlation: float | None  # Spearman over the shared columns; None: insufficient
    threshold: float
    drifted: bool
    top_baseline: tuple[str, ...]  # the TOP most important columns of each side
    top_window: tuple[str, ...]
    # (column, baseline importance, window importance), biggest absolute change first
    changes: tuple[tuple[str, float, float], ...]
    rows: int  # the window's rows that were shuffled
    insufficient: bool
    note: str = ""  # why it is insufficient, in words

    @property
    def reason(self) -> str:
        """One sentence for the terminal, the report and alerts."""
        if self.insufficient or self.correlation is None:
            return f"insufficient data: {self.note}"
        if self.drifted:
            return (
                f"importance ranking moved: Spearman {self.correlation:.2f} < "
                f"{self.threshold:g} (top was {', '.join(self.top_baseline)}; "
                f"now {', '.join(self.top_window)})"
            )
        return (
            f"importance ranking stable: Spearman {self.correlation:.2f} >= "
            f"{self.threshold:g} (top {', '.join(self.top_window)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "correlation": self.correlation,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "insufficient": self.insufficient,
            "reason": self.reason,
            "rows": self.rows,
            "top_baseline": list(self.top_baseline),
            "top_window": list(self.top_window),
            "changes": [
                {"column": column, "baseline": before, "window": now}
                for column, before, now in self.changes
            ],
        }


def attribution_drift(
    baseline: Importance,
    window: Importance,
    *,
    threshold: float = 0.5,
    min_rows: int = 30,
) -> AttributionDrift:
    """Compare two importances' rankings; see the module docstring for the rule.

    Both must be measured the same way (both with labels, or both label-free):
    log-loss increases and probability changes are different quantities.
    """
    if baseline.labelled != window.labelled:
        raise StageError(
            "the baseline and window importances are measured differently "
            f"(baseline {_mode(baseline)}, window {_mode(window)})",
            "compute both with labels, or both label-free (y=None)",
        )
    before, now = baseline.ranking(), window.ranking()
    shared = sorted(set(before) & set(now))
    # Insufficient until shown otherwise; the outcomes below replace what differs.
    undecided = AttributionDrift(
        correlation=None,
        threshold=threshold,
        drifted=False,
        top_baseline=_top(before),
        top_window=_top(now),
        changes=_changes(shared, before, now),
        rows=window.rows,
        insufficient=True,
    )
    if window.rows < min_rows:
        return replace(undecided, note=f"{window.rows} rows < {min_rows}")
    if len(shared) < MIN_COLUMNS:
        note = f"{len(shared)} columns in common, {MIN_COLUMNS} needed to rank"
        return replace(undecided, note=note)
    for side, values in (("baseline", before), ("window", now)):
        if np.ptp([values[c] for c in shared]) == 0:
            note = (
                f"every column has the same importance in the {side}, "
                "so there is no ranking to compare"
            )
            return replace(undecided, note=note)
    correlation = float(
        spearmanr([before[c] for c in shared], [now[c] for c in shared]).statistic
    )
    return replace(
        undecided,
        correlation=correlation,
        drifted=correlation < threshold,
        insufficient=False,
    )


def _top(ranking: dict[str, float]) -> tuple[str, ...]:
    ordered = sorted(ranking, key=lambda column: (-ranking[column], column))
    return tuple(ordered[:TOP])


def _changes(
    shared: list[str], before: dict[str, float], now: dict[str, float]
) -> tuple[tuple[str, float, float], ...]:
    rows = [(column, before[column], now[column]) for column in shared]
    rows.sort(key=lambda row: (-abs(row[2] - row[1]), row[0]))
    return tuple(rows)


def _mode(importance: Importance) -> str:
    return "with labels" if importance.labelled else "label-free"
