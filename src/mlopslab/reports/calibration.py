"""Calibration for the evaluation report and the card; estimated performance
for the monitoring report.

HTML fragments (a heading and what follows), to be placed in a page as they
are: every text is escaped here, and the reliability diagram is inline SVG.
"""

from __future__ import annotations

from html import escape

from mlopslab.calibration import Calibration
from mlopslab.monitor.cbpe import Estimate, PerformanceEstimate
from mlopslab.reports.svg import FONT, PALETTE, TITLE_FONT

MEANING = (
    "ECE is the mean gap between how sure the model is and how often it is right, "
    "over the test rows binned by their top-class probability: 0 means that, of "
    "the rows it predicts with 80% confidence, 80% are right; 0.05 means its "
    "confidence is off by 5 points on average."
)
NOT_MEASURED = "Not measured for this model."
CBPE_NOTE = (
    "Estimated from the captured class probabilities alone (confidence-based "
    "performance estimation), with a 95% interval. It assumes the model's "
    "probabilities are calibrated and that only the inputs moved, not what the "
    "right answer is for an input: it follows covariate shift, not concept drift "
    "or label noise."
)


def calibration_html(cal: Calibration | None) -> str:
    """The ECE, what it means, and the reliability diagram."""
    if cal is None:
        return f"<h2>Calibration</h2>\n<p>{NOT_MEASURED}</p>\n"
    return (
        "<h2>Calibration</h2>\n"
        f"<p>Expected calibration error (ECE): <strong>{cal.ece:.4f}</strong> "
        f"on {cal.rows} test rows. {escape(MEANING)}</p>\n"
        f"{reliability_svg(cal)}\n"
    )


def calibration_markdown(cal: Calibration | None) -> list[str]:
    """The card's calibration section: the ECE and a table of the bins."""
    lines = ["## Calibration", ""]
    if cal is None:
        return [*lines, NOT_MEASURED]
    return [
        *lines,
        f"Expected calibration error (ECE): {cal.ece:.4f} on {cal.rows} test rows "
        "(top-class probability in equal-width bins; 0 is perfectly calibrated).",
        "",
        "| confidence | rows | mean confidence | accuracy | gap |",
        "|---|---|---|---|---|",
        *(
            f"| ({b.low:.2f}, {b.high:.2f}] | {b.rows} | {b.confidence:.3f} "
            f"| {b.accuracy:.3f} | {b.gap:+.3f} |"
            for b in cal.bins
        ),
    ]


def estimate_html(est: PerformanceEstimate | None) -> str:
    """Estimated accuracy and macro F1 of the window, beside realised and champion."""
    heading = "<h2>Estimated performance (no labels needed)</h2>\n"
    if est is None:
        return f'{heading}<p class="note">Not estimated for this window.</p>\n'
    rows = "".join(
        _estimate_row(name, estimate, champion)
        for name, estimate, champion in (
            ("accuracy", est.accuracy, est.reference_accuracy),
            ("macro F1", est.macro_f1, None),
        )
    )
    return (
        f"{heading}<p>{est.rows} rows with class probabilities. "
        f"{escape(CBPE_NOTE)}</p>\n"
        "<table><tr><th>metric</th><th>estimated [95% interval]</th>"
        "<th>realised (labels)</th><th>champion test</th></tr>\n"
        f"{rows}</table>\n"
    )


def _estimate_row(name: str, estimate: Estimate, champion: float | None) -> str:
    if estimate.realised is None:
        realised = "<td>no labels</td>"
    elif estimate.covers_realised:
        realised = f'<td class="num">{estimate.realised:.4f}</td>'
    else:
        realised = (
            f'<td class="num warn">{estimate.realised:.4f} (outside the interval)</td>'
        )
    return (
        f"<tr><td>{escape(name)}</td>"
        f'<td class="num">{estimate.value:.4f} '
        f"[{estimate.low:.4f}, {estimate.high:.4f}]</td>{realised}"
        f'<td class="num">{"" if champion is None else f"{champion:.4f}"}</td></tr>\n'
    )


def reliability_svg(cal: Calibration, size: int = 300) -> str:
    """Accuracy against mean confidence per bin, on the diagonal's scale.

    Each non-empty bin is a bar over its confidence range up to its accuracy,
    and a dot at (mean confidence, accuracy) whose area grows with its rows,
    labelled with them. On the diagonal means calibrated; below it,
    overconfident.
    """
    left, top, bottom, right = 54, 46, 48, 24
    width, height = left + size + right, top + size + bottom
    busiest = max((b.rows for b in cal.bins), default=1)

    def x(value: float) -> float:
        return left + size * value

    def y(value: float) -> float:
        return top + size * (1.0 - value)

    title = "Reliability diagram (test set)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        'style="max-width:100%;height:auto">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:.1f}" y="20" font-size="{TITLE_FONT}" '
        f'font-weight="bold" text-anchor="middle">{escape(title)}</text>'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{y(0):.1f}" '
            f'y2="{y(0) + 5:.1f}" stroke="#555"/>'
            f'<text x="{x(tick):.1f}" y="{y(0) + FONT + 6:.1f}" font-size="{FONT}" '
            f'text-anchor="middle">{tick:g}</text>'
            f'<line x1="{x(0) - 5:.1f}" x2="{x(0):.1f}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#555"/>'
            f'<text x="{x(0) - 8:.1f}" y="{y(tick) + FONT / 3:.1f}" '
            f'font-size="{FONT}" text-anchor="end">{tick:g}</text>'
        )
    parts.append(
        f'<rect x="{x(0)}" y="{y(1)}" width="{size}" height="{size}" fill="none" '
        'stroke="#555"/>'
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#888" '
        'stroke-dasharray="5 4"><title>perfectly calibrated</title></line>'
    )
    for b in cal.bins:
        tip = escape(
            f"confidence ({b.low:.2f}, {b.high:.2f}]: {b.rows} rows, mean "
            f"confidence {b.confidence:.3f}, accuracy {b.accuracy:.3f}"
        )
        radius = 3 + 7 * (b.rows / busiest) ** 0.5
        parts.append(
            f'<g class="bin"><title>{tip}</title>'
            f'<rect x="{x(b.low) + 1:.1f}" y="{y(b.accuracy):.1f}" '
            f'width="{max(size * (b.high - b.low) - 2, 1):.1f}" '
            f'height="{size * b.accuracy:.1f}" fill="{PALETTE[0]}" '
            'fill-opacity="0.25"/>'
            f'<circle cx="{x(b.confidence):.1f}" cy="{y(b.accuracy):.1f}" '
            f'r="{radius:.1f}" fill="{PALETTE[1]}"/>'
            f'<text x="{x(b.confidence):.1f}" y="{y(b.accuracy) - radius - 3:.1f}" '
            f'font-size="{FONT - 2}" text-anchor="middle">{b.rows}</text></g>'
        )
    middle = top + size / 2
    parts.append(
        f'<text x="{x(0.5):.1f}" y="{height - 8}" font-size="{FONT}" '
        'text-anchor="middle">mean confidence (top-class probability)</text>'
        f'<text x="14" y="{middle:.1f}" font-size="{FONT}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">accuracy</text></svg>'
    )
    return "".join(parts)
