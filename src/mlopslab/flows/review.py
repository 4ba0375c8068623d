"""What the evaluation measures beyond the headline metrics, for the report, the
card and the gate: fairness across groups, which raw columns the model relies
on, and whether its probabilities can be taken at their word (calibration).

Everything is measured on the golden test set, through the whole pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from mlopslab.calibration import Calibration, calibrated, measure_calibration
from mlopslab.config import Config
from mlopslab.data import Dataset
from mlopslab.explain import Importance, permutation_importance
from mlopslab.fairness import (
    FairnessResult,
    assess_fairness,
    check_sensitive,
    fairness_checks,
)
from mlopslab.preprocess import Split
from mlopslab.train import SINGLE_THREAD_MAX_ROWS

# A perfectly calibrated model scores an ECE of 0.07-0.10 on 70 rows by
# chance alone (0.03 on 500): fewer validation rows cannot tell.
MIN_CALIBRATION_ROWS = 100
# The built-in data's groups a reviewer asks about first.
DEFAULT_SENSITIVE = {"penguins": ("sex", "island")}


@dataclass(frozen=True)
class Review:
    fairness: FairnessResult | None
    importance: Importance | None  # log loss with labels: the report and card
    # Without labels (change of the probabilities): what monitoring compares a
    # window's ranking with (attribution drift).
    attribution: Importance | None
    calibration: Calibration
    recalibrated: str | None = None  # why the model was calibrated, if it was

    def to_dict(self) -> dict[str, Any]:
        return {
            "fairness": self.fairness.to_dict() if self.fairness else None,
            "importance": self.importance.to_dict() if self.importance else None,
            "attribution_baseline": (
                self.attribution.to_dict() if self.attribution else None
            ),
            "calibration": {
                **self.calibration.to_dict(),
                "recalibrated": self.recalibrated,
            },
        }


def sensitive_features(cfg: Config, data: Dataset) -> tuple[str, ...]:
    """The configured sensitive columns, checked against the data; by default
    penguins' sex and island, and none for other data."""
    chosen = cfg.evaluate.sensitive_features
    if chosen is None:
        source = data.lineage.source if data.lineage else data.source
        chosen = DEFAULT_SENSITIVE.get(source, ())
    check_sensitive(chosen, data.schema.features)
    _check_fairness_gate(cfg, data, tuple(chosen))
    return tuple(chosen)


def _check_fairness_gate(cfg: Config, data: Dataset, chosen: tuple[str, ...]) -> None:
    """Fairness limits need groups to compare, and floors must name real ones:
    refused before any training, in one line."""
    from mlopslab.errors import ConfigError

    limits = cfg.gate.max_group_gap is not None or cfg.gate.group_recall_floors
    if limits and not chosen:
        raise ConfigError(
            "gate.max_group_gap and gate.group_recall_floors need groups to "
            "compare, and evaluate.sensitive_features names none for this data",
            "set evaluate.sensitive_features, or unset the fairness limits",
        )
    for key in cfg.gate.group_recall_floors:
        if key == "*":
            continue
        feature, _, group = key.partition("=")
        known = set(data.frame[feature].dropna().astype(str)) | {"missing"}
        if feature not in chosen or group not in known:
            raise ConfigError(
                f"gate.group_recall_floors names '{key}', which is not a group "
                "of evaluate.sensitive_features in the data",
                f"use '*' or 'feature=group' with a feature among {list(chosen)}",
            )


def maybe_calibrate(
    cfg: Config, data: Dataset, split: Split, on_train: Any, final: Any
) -> tuple[Any, str | None]:
    """Calibrate the final model when the train-only model's probabilities are
    off on the validation rows by more than gate.max_calibration_error."""
    limit = cfg.gate.max_calibration_error
    if limit is None:
        return final, None
    rows = len(split.y_valid)
    if rows < MIN_CALIBRATION_ROWS:
        return final, (
            f"not recalibrated: {rows} validation rows are too few to judge "
            f"calibration ({MIN_CALIBRATION_ROWS} needed)"
        )
    proba = on_train.predict_proba(split.X_valid)
    classes = [str(c) for c in on_train.classes_]
    measured = measure_calibration(split.y_valid, proba, classes)
    if measured.ece <= limit:
        return final, None
    X, y = split.train_and_valid()
    threads = 1 if len(X) < SINGLE_THREAD_MAX_ROWS else None
    with threadpool_limits(threads):  # as in fit_final: small fits only spin
        model = calibrated(
            final, X, y, method="temperature", folds=cfg.tune.cv_folds, seed=cfg.seed
        )
    return model, (
        f"validation ECE {measured.ece:.3f} > gate.max_calibration_error "
        f"{limit:g}: calibrated (temperature scaling on out-of-fold predictions; "
        "the predicted classes do not change)"
    )


def review_model(
    cfg: Config, data: Dataset, split: Split, model: Any, recalibrated: str | None
) -> Review:
    """Fairness, importance and calibration of `model` on the golden test set."""
    predicted = model.predict(split.X_test)
    proba = model.predict_proba(split.X_test)
    classes = [str(c) for c in model.classes_]
    sensitive = sensitive_features(cfg, data)
    fairness = None
    if sensitive:
        fairness = assess_fairness(
            split.y_test,
            predicted,
            split.X_test[list(sensitive)],
            min_rows=cfg.evaluate.min_group_rows,
            seed=cfg.seed,
        )
    importance = attribution = None
    if data.image is None:  # a pixel's importance alone says little
        importance, attribution = _importances(cfg, data, split, model)
    return Review(
        fairness,
        importance,
        attribution,
        measure_calibration(split.y_test, proba, classes),
        recalibrated,
    )


def _importances(
    cfg: Config, data: Dataset, split: Split, model: Any
) -> tuple[Importance, Importance]:
    def measure(y: Any) -> Importance:
        return permutation_importance(
            model,
            split.X_test,
            y,
            data.schema.numeric,
            repeats=cfg.evaluate.importance_repeats,
            seed=cfg.seed,
            threshold=cfg.evaluate.importance_grouping,
        )

    labelled, unlabelled = measure(split.y_test), measure(None)
    return labelled, unlabelled


def review_checks(cfg: Config, review: Review) -> list[dict[str, Any]]:
    """The gate's lines on fairness (conditions, when configured) and
    calibration (informative)."""
    checks = []
    if review.fairness is not None:
        checks.extend(
            fairness_checks(
                review.fairness, cfg.gate.max_group_gap, cfg.gate.group_recall_floors
            )
        )
    ece = review.calibration.ece
    said = review.recalibrated or "not recalibrated"
    checks.append(
        {
            "check": "calibration",
            "passed": True,
            "reason": (
                f"expected calibration error {ece:.3f} on the golden test set ({said})"
            ),
        }
    )
    return checks


OUT_OF_SCOPE = (
    "Decisions about individuals without a person checking them; data from "
    "another population or measurement process than the training data; any use "
    "where a wrong class does harm."
)
LIMITATIONS = {
    "penguins": (
        "Trained on the palmerpenguins data: 344 penguins of three species "
        "measured on three islands of the Palmer Archipelago in 2007-2009, some "
        "with missing measurements or sex. On the golden test set of {rows} rows "
        "one row is {point:.2f} points of accuracy."
    ),
}
DEFAULT_LIMITATIONS = (
    "Scored on a golden test set of {rows} rows from the same source as the "
    "training data (one row is {point:.2f} points of accuracy): it says how the "
    "model does on data like that, not under drift. Estimates without labels "
    "assume calibrated probabilities and an unchanged relation between inputs "
    "and classes."
)
ETHICS = {
    "penguins": (
        "The data describes animals, not people. Sex and island are compared as "
        "groups so that the fairness checks can be practised on built-in data."
    ),
}
DEFAULT_ETHICS = (
    "Not yet reviewed for the people or groups it may affect: name the columns "
    "to compare in evaluate.sensitive_features and write this section in "
    "card.ethical_considerations before any consequential use."
)


def review_card(cfg: Config, trained: Any) -> dict[str, Any]:
    """The card's reviewer sections: uses and limits (configured, or honest
    defaults), fairness, importance and calibration."""
    data: Dataset = trained.dataset
    source = data.lineage.source if data.lineage else data.source
    rows = len(trained.split.y_test)
    words = {"rows": rows, "point": 100 / max(rows, 1)}
    extra: dict[str, Any] = {
        "out_of_scope": cfg.card.out_of_scope or OUT_OF_SCOPE,
        "limitations": cfg.card.limitations
        or LIMITATIONS.get(source, DEFAULT_LIMITATIONS).format(**words),
        "ethical_considerations": cfg.card.ethical_considerations
        or ETHICS.get(source, DEFAULT_ETHICS),
    }
    if cfg.card.intended_use:
        extra["intended_use"] = cfg.card.intended_use
    if trained.review is not None:
        review = trained.review.to_dict()
        review.pop("attribution_baseline")
        extra |= review
    return extra


def review_html(review: Review | None) -> str:
    """The evaluation report's fairness, importance and calibration sections."""
    from mlopslab.reports.calibration import calibration_html
    from mlopslab.reports.fairness import fairness_html
    from mlopslab.reports.importance import importance_html

    if review is None:
        return ""
    parts = [
        fairness_html(review.fairness) if review.fairness else "",
        importance_html(review.importance),
        calibration_html(review.calibration),
    ]
    return "\n".join(part for part in parts if part)
