"""Is "better than the champion" more than noise? A paired test on the golden set.

Both models are scored on the same rows, so only the rows where they disagree
carry evidence: b rows the candidate gets right and the champion wrong, c the
reverse. Under "equally good" each such row is a coin flip, and the exact
McNemar test is the binomial test of b against b + c. On penguins' 69 test
rows one row is 1.45 points of accuracy; this says whether a gain of one or
two rows could be chance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class PairedTest:
    rows: int
    candidate_only: int  # b: rows the candidate gets right and the champion wrong
    champion_only: int  # c: the reverse
    p_value: float  # exact McNemar, two-sided

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(
    truth: np.ndarray, candidate: np.ndarray, champion: np.ndarray
) -> PairedTest:
    """The exact McNemar test of two models' predictions on the same rows."""
    truth = np.asarray(truth).astype(str)
    new_right = np.asarray(candidate).astype(str) == truth
    old_right = np.asarray(champion).astype(str) == truth
    b = int(np.sum(new_right & ~old_right))
    c = int(np.sum(~new_right & old_right))
    p_value = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return PairedTest(len(truth), b, c, p_value)


def significance_check(
    test: PairedTest, required: bool, alpha: float, version: str | None
) -> dict[str, Any]:
    """The gate's line on the paired test; a condition only when `required`."""
    label = f"champion v{version}" if version else "the champion"
    better = test.candidate_only > test.champion_only
    significant = better and test.p_value < alpha
    verdict = (
        f"significant (p = {test.p_value:.3g} < {alpha:g})"
        if significant
        else f"not significant (p = {test.p_value:.3g})"
    )
    reason = (
        f"paired test on {test.rows} golden rows: right where {label} is wrong on "
        f"{_rows(test.candidate_only)}, wrong where it is right on "
        f"{_rows(test.champion_only)}; {verdict}, exact McNemar"
    )
    if not required:
        reason += " (informative: gate.require_significance is off)"
    return {
        "check": "champion:significance",
        "passed": significant or not required,
        "reason": reason,
        "paired_test": test.to_dict(),
    }


def _rows(count: int) -> str:
    return f"{count} row" + ("" if count == 1 else "s")


def majority_check(
    truth: np.ndarray, predicted: np.ndarray, majority: str, alpha: float
) -> dict[str, Any]:
    """The data's own floor: better than always answering `majority` (the most
    common training class), by the same paired test as against a champion."""
    truth = np.asarray(truth).astype(str)
    test = mcnemar(truth, predicted, np.full(len(truth), str(majority)))
    model = float(np.mean(np.asarray(predicted).astype(str) == truth))
    baseline = float(np.mean(truth == str(majority)))
    beats = test.candidate_only > test.champion_only and test.p_value < alpha
    verb = "beats" if beats else "does not beat"
    return {
        "check": "majority_baseline",
        "passed": beats,
        "reason": (
            f"accuracy {model:.4f} {verb} the majority-class baseline "
            f"{baseline:.4f} (always '{majority}') on {test.rows} golden rows "
            f"(p = {test.p_value:.3g}, exact McNemar)"
        ),
        "paired_test": test.to_dict(),
    }
