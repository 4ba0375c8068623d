"""The model card's sections for a reviewer: uses and limits, fairness,
importance, calibration and where the data came from."""

from __future__ import annotations

from typing import Any

from mlopslab.calibration import Calibration
from mlopslab.explain import Importance
from mlopslab.fairness import FairnessResult
from mlopslab.reports.calibration import calibration_markdown
from mlopslab.reports.fairness import fairness_markdown
from mlopslab.reports.importance import importance_markdown


def review_markdown(card: dict[str, Any]) -> list[str]:
    """Markdown lines for the sections a card has (older cards have none)."""
    lines: list[str] = []
    for key, title in (
        ("out_of_scope", "Out-of-scope uses"),
        ("limitations", "Limitations"),
        ("ethical_considerations", "Ethical considerations"),
    ):
        if card.get(key):
            lines += [f"## {title}", str(card[key]), ""]
    lines += _lineage(card.get("data", {}))
    if card.get("fairness"):
        lines += [*fairness_markdown(FairnessResult.from_dict(card["fairness"])), ""]
    if card.get("importance"):
        lines += importance_markdown(Importance.from_dict(card["importance"]))
    if card.get("calibration"):
        lines += calibration_markdown(Calibration.from_dict(card["calibration"]))
        if card["calibration"].get("recalibrated"):
            lines += [f"- {card['calibration']['recalibrated']}"]
    if lines and lines[-1] != "":
        lines.append("")
    return lines


def _lineage(data: dict[str, Any]) -> list[str]:
    golden, training = data.get("golden"), data.get("training")
    if not golden or not training:
        return []
    return [
        "## Data lineage",
        f"- golden test set: v{golden['version']} of `{golden['key']}`, "
        f"{golden['rows']} rows, sha256 `{golden['digest']}`"
        + (" (frozen by this run)" if golden.get("frozen_by_this_run") else ""),
        f"- training and validation rows: {training['rows']} "
        f"({training['labelled_rows']} from labelled captures), "
        f"sha256 `{training['digest']}`, saved as `{training['path']}` "
        "(`mlopslab run --data` on it rebuilds this model)",
        "",
    ]
