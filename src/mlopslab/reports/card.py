"""The model card, as JSON for tools and markdown for people."""

from __future__ import annotations

from typing import Any

from mlopslab.reports.review import review_markdown

INTENDED_USE = (
    "Tabular classification of rows shaped like the training data ({source}). "
    "Built by mlopslab for learning and prototyping MLOps; validate it on your own "
    "data and population before any consequential use."
)


def build_card(
    *,
    model_name: str,
    version: str | None,
    status: str,
    run_id: str,
    dataset: dict[str, Any],
    split_sizes: dict[str, int],
    family: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    validation: dict[str, float],
    gate: dict[str, Any],
    config: dict[str, Any],
    code_version: dict[str, Any],
) -> dict[str, Any]:
    """Everything a reviewer needs to decide whether to trust this model."""
    return {
        "model_name": model_name,
        "version": version,
        "status": status,
        "run_id": run_id,
        "intended_use": INTENDED_USE.format(source=dataset.get("source", "unknown")),
        "data": dataset,
        "split_sizes": split_sizes,
        "model": {"family": family, "params": params},
        "metrics": {"test": metrics, "validation": validation},
        "gate": gate,
        "config": config,
        "code_version": code_version,
    }


def card_markdown(card: dict[str, Any]) -> str:
    """Render the card for people: headings, a metrics table and the gate's reasons."""
    test = card["metrics"]["test"]
    lines = [
        f"# Model card: {card['model_name']} v{card['version']}",
        "",
        f"**Status:** {card['status']}  ",
        f"**Run:** `{card['run_id']}`  ",
        f"**Code version:** {_code_line(card['code_version'])}",
        "",
        "## Intended use",
        card["intended_use"],
        "",
        "## Data",
        f"- source: `{card['data']['source']}`, target `{card['data']['target']}`",
        f"- fingerprint (sha256): `{card['data']['fingerprint']}`",
        f"- rows: {card['data']['rows']}, "
        f"classes: {', '.join(card['data']['classes'])}",
        "- split sizes: "
        + ", ".join(f"{k} {v}" for k, v in card["split_sizes"].items()),
        "",
        *columns_markdown(card["data"].get("columns", [])),
        "## Model",
        f"- family: `{card['model']['family']}`",
        f"- parameters: `{card['model']['params']}`",
        "",
        "## Test-set metrics",
        "| metric | value |",
        "|---|---|",
        *(
            f"| {name} | {test[name]:.4f} |"
            for name in ("accuracy", "macro_f1", "log_loss")
        ),
        "",
        "| class | precision | recall | support |",
        "|---|---|---|---|",
        *(
            f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} "
            f"| {row['support']} |"
            for label, row in test["per_class"].items()
        ),
        "",
        *review_markdown(card),
        f"## Gate decision: {card['gate']['verdict']}",
        *(f"- {reason}" for reason in card["gate"]["reasons"]),
        "",
        "## Configuration",
        "```json",
        _json(card["config"]),
        "```",
        "",
    ]
    return "\n".join(lines)


def _code_line(code: dict[str, Any]) -> str:
    sha = code.get("git_sha") or "not a git checkout"
    dirty = " (uncommitted changes)" if code.get("git_dirty") else ""
    return f"mlopslab {code.get('mlopslab')}, git {sha}{dirty}"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)


def columns_markdown(decisions: list[dict[str, str]]) -> list[str]:
    """The card's Columns section: what column hygiene dropped, expanded or
    kept, and why (columns.py). None when every column was used as it came."""
    if not decisions:
        return []
    lines = ["## Columns"]
    for decision in decisions:
        detail = f": {decision['detail']}" if decision.get("detail") else ""
        action = decision["action"]
        if action == "kept":
            action = "kept by data.keep"
        lines.append(
            f"- `{decision['column']}` {action} ({decision['reason']}{detail})"
        )
    lines += [
        "",
        "Set `data.drop` to leave a column out, `data.keep` to keep one, "
        '`data.timestamps = "drop"` to leave timestamps out.',
        "",
    ]
    return lines
