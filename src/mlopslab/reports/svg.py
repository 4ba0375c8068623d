"""Small inline-SVG charts for self-contained HTML reports.

Reports embed their plots as SVG text: no image files, no plotting backend to
start (matplotlib's import and render cost about a second per report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#3b6fb6", "#e08a2c", "#4a9d5b", "#b4465a")


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    y_max: float | None = None,
    width: int = 560,
    height: int = 300,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    left, bottom, top = 44, 70, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = y_max or max((max(v) for v in series.values() if len(v)), default=1.0) or 1.0
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = [_frame(title, width, height), _y_axis(left, top, plot_h, peak)]
    for s_index, (name, values) in enumerate(series.items()):
        colour = PALETTE[s_index % len(PALETTE)]
        for c_index, value in enumerate(values):
            bar_h = plot_h * (value / peak)
            x = left + c_index * group_w + group_w * 0.1 + s_index * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
                f'height="{bar_h:.1f}" fill="{colour}"><title>{escape(name)} '
                f"{escape(categories[c_index])}: {value:.3f}</title></rect>"
            )
        parts.append(
            f'<rect x="{left + 8 + s_index * 110}" y="{height - 18}" width="10" '
            f'height="10" fill="{colour}"/><text x="{left + 22 + s_index * 110}" '
            f'y="{height - 9}" font-size="11">{escape(name)}</text>'
        )
    for c_index, category in enumerate(categories):
        x = left + (c_index + 0.5) * group_w
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{escape(category[:14])}</text>'
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
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">'
        f'<title>{escape(title)}</title><text x="{width / 2}" y="18" font-size="13" '
        f'text-anchor="middle">{escape(title)}</text>'
    )


def _y_axis(left: int, top: int, plot_h: int, peak: float) -> str:
    ticks = []
    for step in range(5):
        value = peak * step / 4
        y = top + plot_h - plot_h * step / 4
        ticks.append(
            f'<line x1="{left}" x2="{left - 4}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#555"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{value:.2g}</text>"
        )
    axis = (
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#555"/>'
    )
    return axis + "".join(ticks)
