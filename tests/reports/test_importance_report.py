"""Importance and attribution-drift fragments: escaped, charted, tabulated."""

from __future__ import annotations

import re

from mlopslab.explain import ColumnImportance, Importance
from mlopslab.monitor.attribution import attribution_drift
from mlopslab.reports.importance import (
    attribution_html,
    importance_html,
    importance_markdown,
)

IMPORTANCE = Importance(
    items=(
        ColumnImportance(("<b>bill</b>", "a|b"), 0.75, 0.1, 0.25),
        ColumnImportance(("island",), 0.08, 0.02, 0.03),
        ColumnImportance(("year",), -0.001, 0.0005, 0.0),
    ),
    repeats=5,
    rows=69,
    grouped_at=0.8,
)


def test_importance_html_has_a_heading_a_chart_and_an_escaped_table() -> None:
    html = importance_html(IMPORTANCE)
    assert html.startswith("<h2>Explanations: permutation importance</h2>")
    assert "shuffled" in html and "shuffled together" in html
    assert html.count("<svg") == 1
    assert "&lt;b&gt;bill&lt;/b&gt; + a|b" in html and "<b>" not in html
    rows = re.findall(r"<tr>.*?</tr>", html.split("</svg>")[1])
    assert len(rows) == 1 + len(IMPORTANCE.items)
    assert "0.7500" in rows[1] and "25.0%" in rows[1] and "log-loss increase" in html
    assert 'height="-' not in html  # a negative importance draws no bar


def test_label_free_importance_says_what_it_measures() -> None:
    html = importance_html(Importance(IMPORTANCE.items, 5, 69, 0.8, labelled=False))
    assert "mean probability change" in html and "predictions changed" in html
    assert "log-loss" not in html


def test_wide_data_shows_the_most_important_twenty() -> None:
    items = tuple(
        ColumnImportance((f"pixel_{i}",), 1.0 - i / 100, 0.0, 0.0) for i in range(25)
    )
    html = importance_html(Importance(items, 5, 100, 0.8))
    assert "pixel_19" in html and "pixel_20" not in html
    assert "The 20 most important of 25 are shown." in html


def test_importance_markdown_is_a_card_section_with_a_table() -> None:
    lines = importance_markdown(IMPORTANCE)
    assert lines[0] == "## Explanations"
    assert "| columns | log-loss increase | ± std | accuracy drop |" in lines
    table = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert table[1:] == [
        "| &lt;b&gt;bill&lt;/b&gt; + a\\|b | 0.7500 | 0.1000 | 25.0% |",
        "| island | 0.0800 | 0.0200 | 3.0% |",
        "| year | -0.0010 | 0.0005 | 0.0% |",
    ]


def test_nothing_to_show_renders_nothing() -> None:
    assert importance_html(None) == ""
    assert importance_markdown(None) == []
    assert attribution_html(None) == ""


def test_attribution_html_gives_the_reason_and_baseline_against_window() -> None:
    baseline = Importance(
        tuple(
            ColumnImportance((name,), value, 0.0, 0.0)
            for name, value in (("<x>", 0.5), ("b", 0.3), ("c", 0.1))
        ),
        5,
        69,
        0.8,
        labelled=False,
    )
    window = Importance(
        tuple(
            ColumnImportance((name,), value, 0.0, 0.0)
            for name, value in (("c", 0.5), ("b", 0.3), ("<x>", 0.1))
        ),
        5,
        50,
        0.8,
        labelled=False,
    )
    html = attribution_html(attribution_drift(baseline, window))
    assert "VIOLATED" in html and 'class="bad"' in html
    assert "importance ranking moved: Spearman -1.00 &lt; 0.5" in html
    assert "<x>" not in html and "&lt;x&gt;" in html
    rows = re.findall(r"<tr>.*?</tr>", html)
    assert len(rows) == 1 + 3
    assert "baseline" in rows[0] and "window" in rows[0]
    assert "0.5000" in rows[1] and "0.1000" in rows[1]  # &lt;x&gt; moved most

    stable = attribution_html(attribution_drift(baseline, baseline))
    assert 'class="good">ok<' in stable and "stable" in stable
    few = attribution_html(attribution_drift(baseline, window, min_rows=60))
    assert "insufficient data: 50 rows &lt; 60" in few
