"""The fairness section: an HTML fragment for the report, lines for the card.

Both say the same things in the same words: each group's accuracy and recall
with their 95% intervals, its selection rates, the three differences, and which
groups had too few rows to measure. The plot shows the intervals because on a
small test set a gap between two points can be noise: overlapping intervals say
so at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from mlopslab.fairness import FairnessResult, FeatureFairness, GroupMetrics
from mlopslab.reports.svg import FONT, PALETTE, TITLE_FONT

WHAT = (
    "How the model's test-set quality differs between groups of each sensitive "
    "column. Accuracy and recall (the mean recall over the classes a group "
    "holds) come with 95% bootstrap intervals; selection rates are the share "
    "of a group's rows predicted as each class. The accuracy gap is the best "
    "group's accuracy minus the worst's. Demographic parity and equalized odds "
    "differences are Fairlearn's binary metrics taken one class against the "
    "rest; the largest over the classes is shown (for equalized odds, only "
    "groups holding both the class and another one take part). Groups with "
    "fewer than {min_rows} rows are listed but never compared."
)


def fairness_html(result: FairnessResult) -> str:
    """The report's fairness section; "" when no column was assessed."""
    if not result.features:
        return ""
    parts = [
        "<h2>Fairness</h2>",
        f"<p>{escape(WHAT.format(min_rows=result.min_rows))}</p>",
    ]
    for feature in result.features:
        parts.append(_feature_html(feature, result.min_rows))
    return "\n".join(parts)


def fairness_markdown(result: FairnessResult) -> list[str]:
    """The model card's fairness section, as lines; [] when nothing was assessed."""
    if not result.features:
        return []
    lines = ["## Fairness", WHAT.format(min_rows=result.min_rows), ""]
    for feature in result.features:
        lines += [
            f"### {_cell(feature.feature)}",
            "",
            "| group | rows | accuracy [95% interval] | recall [95% interval] "
            "| selection rates |",
            "|---|---|---|---|---|",
        ]
        for group in feature.groups:
            accuracy, recall = _measured(group, result.min_rows)
            lines.append(
                f"| {_cell(group.group)} | {group.rows} | {_cell(accuracy)} "
                f"| {_cell(recall)} | {_cell(_rates(group))} |"
            )
        lines += ["", *(f"- {name}: {value}" for name, value in _gaps(feature)), ""]
    return lines


# --- pieces shared by both ---------------------------------------------------


def _measured(group: GroupMetrics, min_rows: int) -> tuple[str, str]:
    """The accuracy and recall cells: a value and interval, or why there is none."""
    if group.insufficient:
        note = f"insufficient ({group.rows} rows < {min_rows})"
        return note, note
    return (
        _interval(group.accuracy, group.accuracy_low, group.accuracy_high),
        _interval(group.recall, group.recall_low, group.recall_high),
    )


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{value:.4f}"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def _rates(group: GroupMetrics) -> str:
    if not group.selection_rates:
        return "n/a"
    return ", ".join(
        f"{name} {rate:.2f}" for name, rate in group.selection_rates.items()
    )


def _gaps(feature: FeatureFairness) -> list[tuple[str, str]]:
    return [
        ("accuracy gap", _number(feature.accuracy_gap)),
        (
            "demographic parity difference (max over classes)",
            _number(feature.demographic_parity_difference),
        ),
        (
            "equalized odds difference (max over classes)",
            _number(feature.equalized_odds_difference),
        ),
    ]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _cell(text: str) -> str:
    """Text safe in a markdown table cell: a pipe would split the cell."""
    return text.replace("|", "\\|").replace("\n", " ")


# --- HTML --------------------------------------------------------------------


def _feature_html(feature: FeatureFairness, min_rows: int) -> str:
    rows = []
    for group in feature.groups:
        accuracy, recall = _measured(group, min_rows)
        css = ' class="insufficient"' if group.insufficient else ""
        rows.append(
            f'<tr{css}><td class="text">{escape(group.group)}</td>'
            f"<td>{group.rows}</td><td>{escape(accuracy)}</td>"
            f"<td>{escape(recall)}</td>"
            f'<td class="text">{escape(_rates(group))}</td></tr>'
        )
    gaps = "".join(
        f"<li>{escape(name)}: {escape(value)}</li>" for name, value in _gaps(feature)
    )
    return (
        f"<h3>{escape(feature.feature)}</h3>"
        '<table><tr><th class="text">group</th><th>rows</th>'
        "<th>accuracy [95% interval]</th><th>recall [95% interval]</th>"
        f'<th class="text">selection rates</th></tr>{"".join(rows)}</table>'
        f"<ul>{gaps}</ul>"
        f"{_interval_plot(feature, min_rows)}"
    )


def _interval_plot(feature: FeatureFairness, min_rows: int, width: int = 640) -> str:
    """Each group's accuracy as a dot on its 95% interval, one row per group.

    svg.bar_chart draws no intervals, hence this small chart. The axis starts
    at a round value below the lowest interval, not 0: accuracies usually sit
    near 1, where a 0-1 axis would squash their differences.
    """
    left, right, top, row_h = 150, 24, 34, 26
    plot_w = width - left - right
    lows = [g.accuracy_low for g in feature.groups if g.accuracy_low is not None]
    start = min(math.floor(min(lows, default=0.0) * 10) / 10, 0.9)
    step = 0.2 if 1 - start > 0.6 else 0.1 if 1 - start > 0.2 else 0.05
    ticks = [start + i * step for i in range(round((1 - start) / step) + 1)]
    axis_y = top + row_h * len(feature.groups) + 6
    height = axis_y + FONT + 30

    def x_of(value: float) -> float:
        return left + plot_w * (value - start) / (1 - start)

    title = f"Accuracy by {feature.feature} (95% intervals)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        'style="max-width:100%;height:auto">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2}" y="20" font-size="{TITLE_FONT}" font-weight="bold" '
        f'text-anchor="middle">{escape(title)}</text>'
    ]
    for tick in ticks:
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y}" '
            'stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{axis_y + FONT + 4}" font-size="{FONT}" '
            f'text-anchor="middle">{tick:.2f}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{axis_y}" y2="{axis_y}" '
        'stroke="#555"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{axis_y + 2 * FONT + 10}" '
        f'font-size="{FONT}" text-anchor="middle">accuracy</text>'
    )
    for index, group in enumerate(feature.groups):
        y = top + row_h * index + row_h / 2
        label = group.group if len(group.group) <= 20 else group.group[:19] + "\u2026"
        parts.append(
            f'<text x="{left - 8}" y="{y + FONT / 3:.1f}" font-size="{FONT}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        parts.append(_interval_mark(group, y, x_of, min_rows, left))
    parts.append("</svg>")
    return "".join(parts)


def _interval_mark(
    group: GroupMetrics,
    y: float,
    x_of: Callable[[float], float],
    min_rows: int,
    left: int,
) -> str:
    accuracy, low, high = group.accuracy, group.accuracy_low, group.accuracy_high
    if group.insufficient or accuracy is None or low is None or high is None:
        return (
            f'<text x="{left + 8}" y="{y + FONT / 3:.1f}" font-size="{FONT}" '
            f'fill="#777">insufficient ({group.rows} rows &lt; {min_rows})</text>'
        )
    tip = escape(
        f"{group.group}: accuracy {accuracy:.4f} [{low:.4f}, {high:.4f}], "
        f"{group.rows} rows"
    )
    x_low, x_high, colour = x_of(low), x_of(high), PALETTE[0]
    line = f'stroke="{colour}" stroke-width="2"'
    return (
        f"<g><title>{tip}</title>"
        f'<line x1="{x_low:.1f}" x2="{x_high:.1f}" y1="{y:.1f}" y2="{y:.1f}" {line}/>'
        f'<line x1="{x_low:.1f}" x2="{x_low:.1f}" y1="{y - 5:.1f}" '
        f'y2="{y + 5:.1f}" {line}/>'
        f'<line x1="{x_high:.1f}" x2="{x_high:.1f}" y1="{y - 5:.1f}" '
        f'y2="{y + 5:.1f}" {line}/>'
        f'<circle cx="{x_of(accuracy):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/></g>'
    )
