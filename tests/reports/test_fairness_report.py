from mlopslab.fairness import FairnessResult, FeatureFairness, GroupMetrics
from mlopslab.reports.fairness import fairness_html, fairness_markdown


def group(name: str, accuracy: float, low: float, high: float) -> GroupMetrics:
    return GroupMetrics(
        feature="island",
        group=name,
        rows=20,
        accuracy=accuracy,
        accuracy_low=low,
        accuracy_high=high,
        recall=accuracy - 0.05,
        recall_low=low - 0.05,
        recall_high=high,
        selection_rates={"Adelie": 0.25, "Gentoo": 0.75},
        insufficient=False,
    )


SMALL = GroupMetrics(
    feature="island",
    group="Torgersen",
    rows=3,
    accuracy=None,
    accuracy_low=None,
    accuracy_high=None,
    recall=None,
    recall_low=None,
    recall_high=None,
    selection_rates={},
    insufficient=True,
)

RESULT = FairnessResult(
    features=(
        FeatureFairness(
            feature="island",
            groups=(
                group("<b>Biscoe&co</b>", 0.95, 0.85, 1.0),
                group("Dream|North", 0.9, 0.75, 1.0),
                SMALL,
            ),
            accuracy_gap=0.05,
            demographic_parity_difference=0.5,
            equalized_odds_difference=None,
        ),
        FeatureFairness(
            feature="sex",
            groups=(group("female", 1.0, 1.0, 1.0), group("male", 0.8, 0.6, 0.95)),
            accuracy_gap=0.2,
            demographic_parity_difference=0.1,
            equalized_odds_difference=0.25,
        ),
    ),
    min_rows=10,
)


def test_html_escapes_groups_and_plots_each_feature() -> None:
    html = fairness_html(RESULT)
    assert html.startswith("<h2>Fairness</h2>")
    assert "&lt;b&gt;Biscoe&amp;co&lt;/b&gt;" in html
    assert "<b>Biscoe" not in html
    assert html.count("<svg") == 2  # one interval plot per feature
    assert "0.9500 [0.8500, 1.0000]" in html
    assert "insufficient (3 rows &lt; 10)" in html
    assert "equalized odds difference (max over classes): n/a" in html
    assert "accuracy gap: 0.2000" in html
    assert "Adelie 0.25, Gentoo 0.75" in html


def test_markdown_has_a_table_row_per_group() -> None:
    lines = fairness_markdown(RESULT)
    assert lines[0] == "## Fairness"
    assert "### island" in lines and "### sex" in lines
    assert (
        "| Dream\\|North | 20 | 0.9000 [0.7500, 1.0000] | 0.8500 [0.7000, 1.0000] "
        "| Adelie 0.25, Gentoo 0.75 |"
    ) in lines
    assert (
        "| Torgersen | 3 | insufficient (3 rows < 10) | insufficient (3 rows < 10) "
        "| n/a |"
    ) in lines
    assert "- demographic parity difference (max over classes): 0.5000" in lines
    assert "- equalized odds difference (max over classes): n/a" in lines
    assert "- equalized odds difference (max over classes): 0.2500" in lines


def test_no_sensitive_features_renders_nothing() -> None:
    empty = FairnessResult(features=(), min_rows=10)
    assert fairness_html(empty) == ""
    assert fairness_markdown(empty) == []
