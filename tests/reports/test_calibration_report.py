import dataclasses
import re
import xml.etree.ElementTree as ET

import numpy as np

from mlopslab.calibration import Calibration, ReliabilityBin, measure_calibration
from mlopslab.monitor.cbpe import Estimate, PerformanceEstimate
from mlopslab.reports.calibration import (
    calibration_html,
    calibration_markdown,
    estimate_html,
)

SVG = "{http://www.w3.org/2000/svg}"
CAL = Calibration(
    ece=0.0725,
    bins=(
        ReliabilityBin(0.3, 0.4, 12, 0.37, 0.5),
        ReliabilityBin(0.6, 0.7, 40, 0.66, 0.6),
        ReliabilityBin(0.9, 1.0, 148, 0.97, 0.9),
    ),
    rows=200,
)
ESTIMATE = PerformanceEstimate(
    rows=480,
    accuracy=Estimate("accuracy", 0.81, 0.77, 0.85, realised=0.83),
    macro_f1=Estimate("macro_f1", 0.79, 0.75, 0.83, realised=0.70),
    reference_accuracy=0.93,
)


def parsed(fragment: str) -> ET.Element:
    """The fragment as XML: it fails on anything left unescaped or unclosed."""
    return ET.fromstring(f"<div>{fragment}</div>")


def test_calibration_html_has_the_ece_its_meaning_and_a_diagram() -> None:
    html = calibration_html(CAL)
    assert html.startswith("<h2>Calibration</h2>")
    assert "0.0725" in html and "200 test rows" in html
    assert "80% confidence, 80% are right" in html
    root = parsed(html)
    svg = root.find(f"{SVG}svg")
    assert svg is not None and "src=" not in html and "href=" not in html
    bins = svg.findall(f"{SVG}g")
    assert len(bins) == 3  # one mark per non-empty bin
    assert [g.findtext(f"{SVG}text") for g in bins] == ["12", "40", "148"]
    tip = bins[0].findtext(f"{SVG}title") or ""
    assert "(0.30, 0.40]: 12 rows" in tip and "accuracy 0.500" in tip
    radii = [float(g.find(f"{SVG}circle").get("r", "0")) for g in bins]  # type: ignore[union-attr]
    assert radii[0] < radii[1] < radii[2]  # sized by rows


def test_diagram_places_points_on_the_diagonal_scale() -> None:
    svg = parsed(calibration_html(CAL)).find(f"{SVG}svg")
    assert svg is not None
    diagonal = next(
        line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray")
    )
    x0, y0 = float(diagonal.get("x1", 0)), float(diagonal.get("y1", 0))
    x1, y1 = float(diagonal.get("x2", 0)), float(diagonal.get("y2", 0))
    for b, g in zip(CAL.bins, svg.findall(f"{SVG}g"), strict=True):
        circle = g.find(f"{SVG}circle")
        assert circle is not None
        cx, cy = float(circle.get("cx", 0)), float(circle.get("cy", 0))
        assert abs((cx - x0) / (x1 - x0) - b.confidence) < 0.01
        assert abs((cy - y0) / (y1 - y0) - b.accuracy) < 0.01


def test_a_measured_calibration_renders() -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1], 500)
    truth = np.where(rng.random(500) < proba[:, 0], "<a>", "b&c")
    html = calibration_html(measure_calibration(truth, proba, ["<a>", "b&c"]))
    parsed(html)


def test_no_calibration_says_so() -> None:
    assert "Not measured" in calibration_html(None)
    assert "<svg" not in calibration_html(None)
    assert calibration_markdown(None) == [
        "## Calibration",
        "",
        "Not measured for this model.",
    ]


def test_calibration_markdown_has_the_ece_and_a_row_per_bin() -> None:
    lines = calibration_markdown(CAL)
    assert lines[0] == "## Calibration"
    assert any("ECE): 0.0725 on 200 test rows" in line for line in lines)
    table = [line for line in lines if line.startswith("| (")]
    assert table == [
        "| (0.30, 0.40] | 12 | 0.370 | 0.500 | -0.130 |",
        "| (0.60, 0.70] | 40 | 0.660 | 0.600 | +0.060 |",
        "| (0.90, 1.00] | 148 | 0.970 | 0.900 | +0.070 |",
    ]


def cells(html: str) -> list[list[str]]:
    root = parsed(html)
    return [
        ["".join(td.itertext()) for td in tr.findall("td")] for tr in root.iter("tr")
    ][1:]


def test_estimate_html_is_a_table_of_estimate_realised_and_champion() -> None:
    html = estimate_html(ESTIMATE)
    assert "480 rows" in html and "covariate shift" in html
    assert cells(html) == [
        ["accuracy", "0.8100 [0.7700, 0.8500]", "0.8300", "0.9300"],
        ["macro F1", "0.7900 [0.7500, 0.8300]", "0.7000 (outside the interval)", ""],
    ]
    assert re.search(r'class="num warn">0.7000', html)


def test_estimate_html_without_labels_or_estimate() -> None:
    unlabelled = dataclasses.replace(
        ESTIMATE,
        accuracy=dataclasses.replace(ESTIMATE.accuracy, realised=None),
        macro_f1=dataclasses.replace(ESTIMATE.macro_f1, realised=None),
        reference_accuracy=None,
    )
    assert [row[2:] for row in cells(estimate_html(unlabelled))] == [
        ["no labels", ""],
        ["no labels", ""],
    ]
    assert "Not estimated" in estimate_html(None)
    parsed(estimate_html(None))
