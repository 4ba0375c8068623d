"""Fairness of a classifier: how its test-set quality differs between groups.

A headline accuracy can hide a group the model serves badly. For each sensitive
column this stage reports every group's accuracy and recall with bootstrap
intervals (a test set is small: a point estimate alone over-reads noise), its
selection rates, and three gaps (accuracy, demographic parity, equalized odds)
computed with Fairlearn. Groups with fewer than `min_rows` rows are reported
but never compared: their numbers are mostly noise, and a gate that failed on
them would punish the model for the data. Pure: values in, a typed result out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
)
from sklearn.metrics import accuracy_score, recall_score

from mlopslab.errors import ConfigError

MISSING = "missing"  # the group of rows whose sensitive value is missing
ALL_GROUPS = "*"  # a recall floor key for every group with enough rows
INTERVAL = (2.5, 97.5)  # percentiles of the bootstrap: a 95% interval
TOLERANCE = 1e-12  # 0.8 - 0.7 is 0.10000000000000009: not over a 0.1 limit


@dataclass(frozen=True)
class GroupMetrics:
    feature: str  # the sensitive column, e.g. "sex"
    group: str  # its value as text; missing values are the group "missing"
    rows: int
    accuracy: float | None  # None when insufficient
    accuracy_low: float | None  # percentile bootstrap interval (95%)
    accuracy_high: float | None
    recall: float | None  # macro recall over the classes in the group's truth
    recall_low: float | None
    recall_high: float | None
    selection_rates: dict[str, float]  # share predicted as each class; {} if few rows
    insufficient: bool  # rows < min_rows: reported, never used for gaps or floors

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "group": self.group,
            "rows": self.rows,
            "accuracy": self.accuracy,
            "accuracy_low": self.accuracy_low,
            "accuracy_high": self.accuracy_high,
            "recall": self.recall,
            "recall_low": self.recall_low,
            "recall_high": self.recall_high,
            "selection_rates": dict(self.selection_rates),
            "insufficient": self.insufficient,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupMetrics:
        return cls(
            feature=str(d["feature"]),
            group=str(d["group"]),
            rows=int(d["rows"]),
            accuracy=_optional(d["accuracy"]),
            accuracy_low=_optional(d["accuracy_low"]),
            accuracy_high=_optional(d["accuracy_high"]),
            recall=_optional(d["recall"]),
            recall_low=_optional(d["recall_low"]),
            recall_high=_optional(d["recall_high"]),
            selection_rates={str(k): float(v) for k, v in d["selection_rates"].items()},
            insufficient=bool(d["insufficient"]),
        )


@dataclass(frozen=True)
class FeatureFairness:
    feature: str
    groups: tuple[GroupMetrics, ...]
    # max - min accuracy over the sufficient groups; None below 2 of them.
    accuracy_gap: float | None
    # Both are Fairlearn's binary metrics taken one-vs-rest per class, and the
    # largest over the classes is reported (see _demographic_parity).
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None

    def sufficient(self) -> tuple[GroupMetrics, ...]:
        return tuple(g for g in self.groups if not g.insufficient)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "groups": [group.to_dict() for group in self.groups],
            "accuracy_gap": self.accuracy_gap,
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureFairness:
        return cls(
            feature=str(d["feature"]),
            groups=tuple(GroupMetrics.from_dict(g) for g in d["groups"]),
            accuracy_gap=_optional(d["accuracy_gap"]),
            demographic_parity_difference=_optional(d["demographic_parity_difference"]),
            equalized_odds_difference=_optional(d["equalized_odds_difference"]),
        )


@dataclass(frozen=True)
class FairnessResult:
    features: tuple[FeatureFairness, ...]
    min_rows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: for evaluation.json and the model card."""
        return {
            "min_rows": self.min_rows,
            "features": [feature.to_dict() for feature in self.features],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FairnessResult:
        return cls(
            features=tuple(FeatureFairness.from_dict(f) for f in d["features"]),
            min_rows=int(d["min_rows"]),
        )


def check_sensitive(features: Sequence[str], columns: Sequence[str]) -> None:
    """Fail early, in the user's words, on a sensitive feature the data lacks."""
    unknown = [name for name in features if name not in set(columns)]
    if not unknown:
        return
    named = ", ".join(repr(name) for name in unknown)
    what = "which is not a column" if len(unknown) == 1 else "which are not columns"
    raise ConfigError(
        f"evaluate.sensitive_features names {named}, {what} of the data",
        f"choose from [{_listed(columns)}] or unset evaluate.sensitive_features",
    )


def assess_fairness(
    truth: pd.Series,
    predicted: np.ndarray | pd.Series,
    sensitive: pd.DataFrame,
    *,
    min_rows: int = 10,
    resamples: int = 200,
    seed: int = 0,
) -> FairnessResult:
    """Per-group metrics and gaps for every column of `sensitive`.

    Rows are matched by position (not index): truth, predictions and the
    sensitive frame must describe the same rows in the same order.
    """
    y_true = np.asarray(truth).astype(str)
    y_pred = np.asarray(predicted).astype(str)
    if not len(y_true) == len(y_pred) == len(sensitive):
        raise ValueError(
            f"lengths differ: {len(y_true)} labels, {len(y_pred)} predictions, "
            f"{len(sensitive)} sensitive rows"
        )
    classes = sorted(set(y_true) | set(y_pred))
    features = tuple(
        _assess_feature(
            str(column),
            y_true,
            y_pred,
            _group_labels(sensitive[column]),
            classes,
            min_rows=min_rows,
            resamples=resamples,
            seed=seed,
        )
        for column in sensitive.columns
    )
    return FairnessResult(features=features, min_rows=min_rows)


def fairness_checks(
    result: FairnessResult,
    max_group_gap: float | None,
    recall_floors: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The gate's fairness checks, shaped like its threshold checks."""
    checks: list[dict[str, Any]] = []
    if max_group_gap is not None:
        checks.extend(
            _gap_check(feature, max_group_gap, result.min_rows)
            for feature in result.features
        )
    if recall_floors:
        checks.extend(_recall_checks(result, recall_floors))
    return checks


# --- assessing one feature ---------------------------------------------------


def _group_labels(column: pd.Series) -> np.ndarray:
    """Each row's group as text; None, NaN and NA all become "missing"."""
    values = column.astype(object)
    return np.asarray(values.where(values.notna(), MISSING).map(str), dtype=str)


def _assess_feature(
    feature: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    classes: list[str],
    *,
    min_rows: int,
    resamples: int,
    seed: int,
) -> FeatureFairness:
    names, counts = np.unique(groups, return_counts=True)  # sorted by name
    sufficient = [str(n) for n, c in zip(names, counts, strict=True) if c >= min_rows]
    keep = np.isin(groups, sufficient)
    y_true, y_pred, groups = y_true[keep], y_pred[keep], groups[keep]
    by_group = pd.DataFrame(columns=["accuracy", "recall"])
    accuracy_gap = dp_difference = eo_difference = None
    if sufficient:
        frame = MetricFrame(
            metrics={"accuracy": accuracy_score, "recall": _recall},
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
        )
        by_group = frame.by_group
        if len(sufficient) >= 2:
            accuracy_gap = float(frame.difference()["accuracy"])
            dp_difference = _demographic_parity(y_true, y_pred, groups, classes)
            eo_difference = _equalized_odds(y_true, y_pred, groups, classes)
    # One generator per feature: adding a sensitive column leaves the others'
    # intervals as they were.
    rng = np.random.default_rng(seed)
    measured = []
    for name, count in zip(names, counts, strict=True):
        if name not in sufficient:
            measured.append(_insufficient(feature, str(name), int(count)))
            continue
        rows = groups == name
        measured.append(
            _group_metrics(
                feature,
                str(name),
                y_true[rows],
                y_pred[rows],
                classes,
                accuracy=float(by_group.loc[name, "accuracy"]),
                recall=float(by_group.loc[name, "recall"]),
                rng=rng,
                resamples=resamples,
            )
        )
    return FeatureFairness(
        feature=feature,
        groups=tuple(measured),
        accuracy_gap=accuracy_gap,
        demographic_parity_difference=dp_difference,
        equalized_odds_difference=eo_difference,
    )


def _recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro recall over the classes in this truth: a group without a class
    is not marked down for it (balanced accuracy, without sklearn's warning
    about predicted classes the truth lacks)."""
    return float(
        recall_score(
            y_true,
            y_pred,
            labels=np.unique(y_true),
            average="macro",
            zero_division=0,
        )
    )


def _insufficient(feature: str, group: str, rows: int) -> GroupMetrics:
    # Nothing measured from a handful of rows: their numbers would be noise,
    # and on one or two rows they would reveal individuals' outcomes.
    return GroupMetrics(
        feature=feature,
        group=group,
        rows=rows,
        accuracy=None,
        accuracy_low=None,
        accuracy_high=None,
        recall=None,
        recall_low=None,
        recall_high=None,
        selection_rates={},
        insufficient=True,
    )


def _group_metrics(
    feature: str,
    group: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str],
    *,
    accuracy: float,
    recall: float,
    rng: np.random.Generator,
    resamples: int,
) -> GroupMetrics:
    accuracy_low, accuracy_high, recall_low, recall_high = _bootstrap(
        y_true, y_pred, rng, resamples
    )
    return GroupMetrics(
        feature=feature,
        group=group,
        rows=len(y_true),
        accuracy=accuracy,
        accuracy_low=accuracy_low,
        accuracy_high=accuracy_high,
        recall=recall,
        recall_low=recall_low,
        recall_high=recall_high,
        selection_rates={c: float(np.mean(y_pred == c)) for c in classes},
        insufficient=False,
    )


def _bootstrap(
    y_true: np.ndarray, y_pred: np.ndarray, rng: np.random.Generator, resamples: int
) -> tuple[float, float, float, float]:
    """Percentile intervals of accuracy and recall over resampled rows.

    All resamples at once, as a (resamples, rows) index matrix: a Python loop
    calling sklearn 200 times per group would cost about a second per feature.
    """
    rows = len(y_true)
    picks = rng.integers(0, rows, size=(resamples, rows))
    correct = (y_true == y_pred)[picks]
    accuracy = correct.mean(axis=1)
    # Recall per resample: over the classes that resample's truth contains.
    labels, codes = np.unique(y_true, return_inverse=True)
    drawn = codes[picks]
    recall_sum = np.zeros(resamples)
    present = np.zeros(resamples)
    for code in range(len(labels)):
        of_class = drawn == code
        support = of_class.sum(axis=1)
        hits = (of_class & correct).sum(axis=1)
        recall_sum += np.divide(
            hits, support, out=np.zeros(resamples), where=support > 0
        )
        present += support > 0
    recall = recall_sum / present  # every resample has at least one class
    accuracy_low, accuracy_high = np.percentile(accuracy, INTERVAL)
    recall_low, recall_high = np.percentile(recall, INTERVAL)
    return (
        float(accuracy_low),
        float(accuracy_high),
        float(recall_low),
        float(recall_high),
    )


def _demographic_parity(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, classes: list[str]
) -> float:
    """The largest one-vs-rest demographic parity difference over the classes.

    Fairlearn's metric is binary; for several classes each class in turn is
    "selected" (y == c) and the worst class is reported, so one number still
    answers "is some class predicted at very different rates across groups?".
    """
    return max(
        float(
            demographic_parity_difference(
                (y_true == c).astype(int),
                (y_pred == c).astype(int),
                sensitive_features=groups,
            )
        )
        for c in classes
    )


def _equalized_odds(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, classes: list[str]
) -> float | None:
    """The largest one-vs-rest equalized odds difference over the classes.

    For class c, only groups whose truth holds both c and another class take
    part: elsewhere the true or false positive rate is 0/0, which Fairlearn
    (through scikit-learn) counts as 0, and a group without class c would make
    the difference 1.0 however good the model (penguins: Torgersen has only
    Adelie). A class with fewer than two such groups adds nothing; None when
    no class can be compared.
    """
    differences = []
    for c in classes:
        positive = (y_true == c).astype(int)
        has_both = [
            g
            for g in np.unique(groups)
            if 0 < positive[groups == g].sum() < (groups == g).sum()
        ]
        if len(has_both) < 2:
            continue
        rows = np.isin(groups, has_both)
        differences.append(
            float(
                equalized_odds_difference(
                    positive[rows],
                    (y_pred == c).astype(int)[rows],
                    sensitive_features=groups[rows],
                )
            )
        )
    return max(differences) if differences else None


# --- gate checks -------------------------------------------------------------


def _gap_check(
    feature: FeatureFairness, max_group_gap: float, min_rows: int
) -> dict[str, Any]:
    name = f"fairness:max_group_gap:{feature.feature}"
    measured = [g for g in feature.sufficient() if g.accuracy is not None]
    if feature.accuracy_gap is None or len(measured) < 2:
        return {
            "check": name,
            "passed": True,
            "reason": (
                f"insufficient data to compare groups of {feature.feature} "
                f"(each group needs {min_rows} rows)"
            ),
        }
    best = max(measured, key=lambda g: g.accuracy or 0.0)
    worst = min(measured, key=lambda g: g.accuracy or 0.0)
    passed = feature.accuracy_gap <= max_group_gap + TOLERANCE
    verb = "is within" if passed else "exceeds"
    return {
        "check": name,
        "passed": passed,
        "reason": (
            f"accuracy gap across {feature.feature} {feature.accuracy_gap:.4f} "
            f"({best.group} {best.accuracy:.4f}, {worst.group} {worst.accuracy:.4f}) "
            f"{verb} max_group_gap {max_group_gap:g}"
        ),
    }


def _recall_checks(
    result: FairnessResult, floors: Mapping[str, float]
) -> list[dict[str, Any]]:
    known = {f"{g.feature}={g.group}": g for f in result.features for g in f.groups}
    unknown = [key for key in floors if key != ALL_GROUPS and key not in known]
    if unknown:
        raise ConfigError(
            f"gate.group_recall_floors names {', '.join(map(repr, unknown))}, "
            "not a sensitive feature=group of the test data",
            f"use '*' or one of [{_listed(list(known))}]",
        )
    checks = []
    for key, group in known.items():
        # The most specific key wins: "sex=female" over "*".
        explicit = key in floors
        floor = floors[key] if explicit else floors.get(ALL_GROUPS)
        if floor is None or (group.insufficient and not explicit):
            continue  # "*" covers the groups that can be measured
        checks.append(_recall_check(key, group, floor, result.min_rows))
    return checks


def _recall_check(
    key: str, group: GroupMetrics, floor: float, min_rows: int
) -> dict[str, Any]:
    name = f"fairness:group_recall:{key}"
    if group.insufficient or group.recall is None:
        # A floor the user named must not pass unseen.
        return {
            "check": name,
            "passed": False,
            "reason": (
                f"{key} has {group.rows} rows, too few to check its recall floor "
                f">= {floor:g} (each group needs {min_rows} rows)"
            ),
        }
    passed = group.recall >= floor - TOLERANCE
    verb = "meets" if passed else "fails"
    return {
        "check": name,
        "passed": passed,
        "reason": f"recall of {key} {group.recall:.4f} {verb} the floor >= {floor:g}",
    }


def _listed(names: Sequence[str], limit: int = 12) -> str:
    """Names for a hint; image data has hundreds of columns, so only the first."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)
