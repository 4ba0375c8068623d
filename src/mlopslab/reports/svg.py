"""Small inline-SVG charts for self-contained HTML reports.

Reports embed their plots as SVG text: no image files, no plotting backend to
start (matplotlib's import and render cost about a second per report).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#3b6fb6", "#e08a2c", "#4a9d5b", "#b4465a")
FONT = 13  # axis, tick and legend text: readable at 100% zoom
TITLE_FONT = 15


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    y_max: float | None = None,
    width: int = 640,
    height: int = 260,
    *,
    y_label: str | None = None,
    x_label: str | None = None,
    percent: bool = False,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series.

    `height` is the plot's own; long category labels are turned to a slant and
    the chart grows to fit them. `percent` writes the values as percentages.
    """
    left = 62 if y_label else 46
    top, plot_h = 34, height - 34
    plot_w = width - left - 12
    peak, ticks = _ticks(
        y_max or max((max(v) for v in series.values() if len(v)), default=1.0)
    )
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    shown = [_shorten(str(c)) for c in categories]
    widest = max((_text_width(c, FONT) for c in shown), default=0.0)
    slant = widest > group_w - 6
    label_h = widest * 0.6 + 8 if slant else FONT + 6  # sin(37°) ~ 0.6
    axis_y = top + plot_h
    x_label_y = axis_y + label_h + FONT + 8
    legend_y = x_label_y + (FONT + 10 if x_label else 0)
    total_h = int(legend_y + FONT + 10)
    parts = [
        _frame(title, width, total_h),
        _y_axis(left, top, plot_h, peak, ticks, percent),
    ]
    if y_label:
        middle = top + plot_h / 2
        parts.append(
            f'<text x="14" y="{middle:.1f}" font-size="{FONT}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{axis_y}" y2="{axis_y}" '
        'stroke="#555"/>'
    )
    for s_index, (name, values) in enumerate(series.items()):
        colour = PALETTE[s_index % len(PALETTE)]
        for c_index, value in enumerate(values):
            bar_h = plot_h * min(value / peak, 1.0)
            x = left + c_index * group_w + group_w * 0.1 + s_index * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{axis_y - bar_h:.1f}" width="{bar_w:.1f}" '
                f'height="{bar_h:.1f}" fill="{colour}"><title>{escape(name)} '
                f"{escape(str(categories[c_index]))}: "
                f"{_value(value, percent, precise=True)}</title></rect>"
            )
        legend_x = (
            left
            + 8
            + sum(_text_width(str(n), FONT) + FONT + 24 for n in list(series)[:s_index])
        )
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{legend_y - FONT + 2}" width="{FONT}" '
            f'height="{FONT}" fill="{colour}"/><text x="{legend_x + FONT + 6:.1f}" '
            f'y="{legend_y}" font-size="{FONT}">{escape(name)}</text>'
        )
    for c_index, label in enumerate(shown):
        x = left + (c_index + 0.5) * group_w
        y = axis_y + FONT + 6
        if slant:
            parts.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="end" '
                f'transform="rotate(-37 {x:.1f} {y:.1f})">{escape(label)}</text>'
            )
        else:
            parts.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if x_label:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{x_label_y:.1f}" '
            f'font-size="{FONT}" text-anchor="middle">{escape(x_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap_table(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    matrix: Sequence[Sequence[int]],
) -> str:
    """A table whose cells are shaded by value: readable, searchable, printable."""
    peak = max((max(row) for row in matrix if len(row)), default=1) or 1
    head = "".join(f"<th>{escape(c)}</th>" for c in col_labels)
    rows = []
    for label, row in zip(row_labels, matrix, strict=True):
        cells = []
        for value in row:
            shade = value / peak
            colour = "#fff" if shade > 0.55 else "#222"
            cells.append(
                f'<td style="background:rgba(59,111,182,{shade:.2f});color:{colour}">'
                f"{value}</td>"
            )
        rows.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    return (
        '<table class="heatmap"><tr><th>actual \\ predicted</th>'
        f"{head}</tr>{''.join(rows)}</table>"
    )


def _frame(title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        'style="max-width:100%;height:auto">'
        f'<title>{escape(title)}</title><text x="{width / 2}" y="20" '
        f'font-size="{TITLE_FONT}" font-weight="bold" text-anchor="middle">'
        f"{escape(title)}</text>"
    )


def _ticks(peak: float) -> tuple[float, list[float]]:
    """A round top for the axis at or above `peak`, and four to six round ticks."""
    if not peak > 0:
        return 1.0, [0.0, 0.25, 0.5, 0.75, 1.0]
    magnitude = 10 ** math.floor(math.log10(peak / 4))
    step = next(m * magnitude for m in (1, 2, 5, 10) if peak / (m * magnitude) <= 5)
    count = math.ceil(peak / step - 1e-9)
    return round(step * count, 12), [round(step * i, 12) for i in range(count + 1)]


def _y_axis(
    left: int, top: int, plot_h: int, peak: float, ticks: list[float], percent: bool
) -> str:
    parts = [
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#555"/>'
    ]
    for value in ticks:
        y = top + plot_h - plot_h * value / peak
        parts.append(
            f'<line x1="{left}" x2="{left - 5}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#555"/>'
            f'<text x="{left - 8}" y="{y + FONT / 3:.1f}" font-size="{FONT}" '
            f'text-anchor="end">{_value(value, percent)}</text>'
        )
    return "".join(parts)


def _value(value: float, percent: bool, precise: bool = False) -> str:
    if percent:
        return f"{value * 100:.1f}%" if precise else f"{value * 100:.3g}%"
    return f"{value:.3f}" if precise else f"{value:.3g}"


def _shorten(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def _text_width(text: str, size: int) -> float:
    """Roughly how wide `text` is in a sans-serif font (no font metrics here)."""
    return len(text) * size * 0.58
