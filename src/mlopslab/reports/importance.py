"""Permutation importance and attribution drift, as report fragments.

HTML for the evaluation and monitoring reports, markdown lines for the model
card. Every name is escaped: column names come from the user's data.
"""

from __future__ import annotations

from html import escape

from mlopslab.explain import ColumnImportance, Importance
from mlopslab.monitor.attribution import AttributionDrift
from mlopslab.reports.svg import bar_chart

SHOWN = 20  # wide data (images) would make a chart of hundreds of bars

# What each mode measures, in the chart's and the tables' words.
LABELLED = ("log-loss increase", "accuracy drop")
LABEL_FREE = ("mean probability change", "predictions changed")


def importance_html(importance: Importance | None) -> str:
    """`<h2>`, what it measures, a bar chart and a table; "" without importance."""
    if importance is None:
        return ""
    measure, effect = _words(importance)
    shown = importance.items[:SHOWN]
    chart = bar_chart(
        f"Permutation importance ({measure})",
        [item.label for item in shown],
        # Shuffling can help a little by chance: a bar cannot go below zero.
        {measure: [max(item.mean, 0.0) for item in shown]},
        y_label=measure,
    )
    head = (
        f'<tr><th class="text">columns</th><th class="num">{escape(measure)}</th>'
        f'<th class="num">&plusmn; std</th><th class="num">{escape(effect)}</th></tr>'
    )
    rows = "".join(_html_row(item) for item in shown)
    return (
        "<h2>Explanations: permutation importance</h2>\n"
        f"<p>{escape(_sentence(importance))}{escape(_more(importance))}</p>\n"
        f"{chart}\n<table>{head}{rows}</table>\n"
    )


def importance_markdown(importance: Importance | None) -> list[str]:
    """The model card's "Explanations" section, as lines; [] without importance."""
    if importance is None:
        return []
    measure, effect = _words(importance)
    return [
        "## Explanations",
        "",
        escape(_sentence(importance) + _more(importance)),
        "",
        f"| columns | {measure} | ± std | {effect} |",
        "|---|---:|---:|---:|",
        *(
            f"| {_markdown_cell(item.label)} | {item.mean:.4f} | {item.std:.4f} "
            f"| {_share(item.accuracy_drop)} |"
            for item in importance.items[:SHOWN]
        ),
        "",
    ]


def attribution_html(drift: AttributionDrift | None) -> str:
    """The monitoring report's attribution section: the verdict's sentence and
    each column's importance then and now; "" without a check."""
    if drift is None:
        return ""
    state, css = _state(drift)
    rows = "".join(
        f'<tr><td class="text">{escape(column)}</td>'
        f'<td class="num">{before:.4f}</td><td class="num">{now:.4f}</td></tr>'
        for column, before, now in drift.changes[:SHOWN]
    )
    return (
        f'<h2>Attribution drift: <span class="{css}">{state}</span></h2>\n'
        "<p>Which columns the model relies on (permutation importance), on the "
        "champion's test set and on the window, compared by rank.</p>\n"
        f'<p class="{css}">{escape(drift.reason)}</p>\n'
        '<table><tr><th class="text">column</th><th class="num">baseline</th>'
        f'<th class="num">window</th></tr>{rows}</table>\n'
    )


def _words(importance: Importance) -> tuple[str, str]:
    return LABELLED if importance.labelled else LABEL_FREE


def _sentence(importance: Importance) -> str:
    measure, _ = _words(importance)
    effect = "worse" if importance.labelled else "differently"
    return (
        f"How much {effect} the whole pipeline predicts when one raw input column "
        f"is shuffled across rows ({measure}, mean of {importance.repeats} "
        f"shuffles of {importance.rows} rows; higher means the model relies on it "
        "more). Columns whose Spearman correlation is at least "
        f"{importance.grouped_at:g} in absolute value are shuffled together, because "
        "they carry the same information: shuffled alone, each would stand in for "
        "the other."
    )


def _more(importance: Importance) -> str:
    if len(importance.items) <= SHOWN:
        return ""
    return f" The {SHOWN} most important of {len(importance.items)} are shown."


def _html_row(item: ColumnImportance) -> str:
    return (
        f'<tr><td class="text">{escape(item.label)}</td>'
        f'<td class="num">{item.mean:.4f}</td><td class="num">{item.std:.4f}</td>'
        f'<td class="num">{_share(item.accuracy_drop)}</td></tr>'
    )


def _share(value: float) -> str:
    return f"{value * 100:.1f}%"


def _markdown_cell(text: str) -> str:
    """Markdown renders inline HTML, and a pipe would end the table cell."""
    return escape(text).replace("|", "\\|")


def _state(drift: AttributionDrift) -> tuple[str, str]:
    """The state in the monitoring report's words and CSS classes."""
    if drift.insufficient:
        return "insufficient data", "warn"
    return ("VIOLATED", "bad") if drift.drifted else ("ok", "good")
