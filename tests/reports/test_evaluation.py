import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from mlopslab.config import GateConfig
from mlopslab.evaluate import Metrics, gate
from mlopslab.reports.card import build_card, card_markdown
from mlopslab.reports.evaluation import RunFacts, render_report
from mlopslab.tune import TrialRecord
from tests.browser import needs_browser, rendered_dom, run_browser

METRICS = Metrics(
    accuracy=0.96,
    macro_f1=0.95,
    log_loss=0.1,
    per_class={
        "<a>": {"precision": 1.0, "recall": 0.9, "f1": 0.95, "support": 10},
        "b": {"precision": 0.9, "recall": 1.0, "f1": 0.95, "support": 9},
    },
    labels=["<a>", "b"],
    confusion_matrix=[[9, 1], [0, 9]],
    prediction_counts={"<a>": 9, "b": 10},
    n_rows=19,
)


def render() -> str:
    decision = gate(METRICS, GateConfig(), METRICS, "4")
    return render_report("demo", "run123", "mlp", METRICS, decision)


def test_report_is_self_contained_and_escaped() -> None:
    html = render()
    assert html.count("<svg") == 1 and 'class="heatmap"' in html
    assert "champion v4" in html and "approved" in html
    assert "&lt;a&gt;" in html and "<a>" not in html  # labels are escaped
    assert "src=" not in html and "href=" not in html  # nothing to fetch


def test_card_markdown_has_every_section() -> None:
    decision = gate(METRICS, GateConfig())
    card = build_card(
        model_name="demo",
        version="3",
        status="approved",
        run_id="r",
        dataset={
            "source": "x.csv",
            "target": "y",
            "fingerprint": "f" * 64,
            "rows": 95,
            "classes": ["<a>", "b"],
        },
        split_sizes={"train": 60, "valid": 16, "test": 19},
        family="mlp",
        params={"alpha": 0.1},
        metrics=METRICS.to_dict(),
        validation=METRICS.headline(),
        gate={"verdict": decision.verdict, "reasons": decision.reasons},
        config={"seed": 1},
        code_version={"mlopslab": "0.1.0", "git_sha": "abc"},
    )
    text = card_markdown(card)
    for heading in (
        "## Intended use",
        "## Data",
        "## Model",
        "## Test-set metrics",
        "## Gate decision: approved",
        "## Configuration",
    ):
        assert heading in text
    assert "git abc" in text and "train 60, valid 16, test 19" in text


@needs_browser
def test_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(), encoding="utf-8")
    dom = rendered_dom(page.as_uri())
    assert "<svg" in dom and "Confusion matrix" in dom and "champion v4" in dom
    shot = tmp_path / "report.png"
    run_browser("--window-size=900,1200", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def render_with_facts() -> str:
    """A report with the run's date, data digest and tuning history."""
    trials = [
        TrialRecord(0, "logreg", {"C": 0.0012674255}, 0.8617, 0.7983, 0.6027, 0.02),
        TrialRecord(
            1, "mlp", {"hidden_units": 64, "alpha": 2.657e-4}, 0.0227, 0.99, 0.98, 0.05
        ),
        TrialRecord(
            2,
            "hist_gb",
            {"max_iter": 20},
            None,
            None,
            None,
            0.01,
            error="ValueError: <boom>",
        ),
        TrialRecord(
            3, "mlp", {"hidden_units": 16, "alpha": 0.1}, 0.0512, 0.98, 0.97, 0.04
        ),
    ]
    facts = RunFacts(
        created_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        data_source="penguins",
        rows=344,
        fingerprint="ab" * 32,
        params=trials[1].params,
        trials=trials,
        chosen_trial=1,
    )
    decision = gate(METRICS, GateConfig(), METRICS, "4")
    return render_report("demo", "run123", "mlp", METRICS, decision, facts)


def test_report_says_when_on_which_data_and_how_it_was_tuned() -> None:
    html = render_with_facts()
    assert "2026-03-04 05:06:07 UTC" in html
    assert f"fingerprint (sha256): <code>{'ab' * 32}</code>" in html
    assert "<code>penguins</code>, 344" in html
    chosen = html.split("<h2>Chosen hyperparameters", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", chosen)
    assert cells == ["hidden_units", "64", "alpha", "0.0002657"]
    trials = html.split("<h2>Tuning trials</h2>", 1)[1]
    rows = re.findall(r"<tr( class=\"chosen\")?>\s*<td>(\d+)</td>", trials)
    # Best cross-validated log loss first, failed trials last; the chosen marked.
    assert rows == [(' class="chosen"', "1"), ("", "3"), ("", "0"), ("", "2")]
    assert "hidden_units=64, alpha=0.0002657" in trials
    assert "C=0.001267" in trials and "0.8617" in trials
    assert "failed: ValueError: &lt;boom&gt;" in trials


def test_a_pruned_trial_is_listed_as_pruned_not_failed() -> None:
    pruned = TrialRecord(
        4,
        "torch_mlp",
        {"layers": 2},
        None,
        None,
        None,
        0.3,
        error="pruned after its first fold (log loss 0.9000, above the median "
        "0.1000 of earlier trials)",
        first_fold_log_loss=0.9,
        pruned=True,
    )
    facts = RunFacts(
        created_at=datetime(2026, 3, 4, tzinfo=UTC),
        data_source="penguins",
        rows=344,
        fingerprint="ab" * 32,
        params={"C": 1.0},
        trials=[TrialRecord(0, "logreg", {"C": 1.0}, 0.1, 0.9, 0.9, 0.01), pruned],
        chosen_trial=0,
    )
    decision = gate(METRICS, GateConfig(), METRICS, "4")
    html = render_report("demo", "run1", "logreg", METRICS, decision, facts)
    trials = html.split("<h2>Tuning trials</h2>", 1)[1]
    assert "pruned after its first fold (log loss 0.9000" in trials
    assert "failed:" not in trials


def test_gate_reasons_stay_the_only_list_items() -> None:
    # Lesson 3 greps the reasons out as <li> elements.
    html = render_with_facts()
    decision = gate(METRICS, GateConfig(), METRICS, "4")
    assert re.findall(r"<li>([^<]*)</li>", html) == [
        escape(reason) for reason in decision.reasons
    ]
    assert re.search(r'<h2>Gate: <span class="[a-z]*">approved', html)


def test_chart_text_is_readable() -> None:
    html = render_with_facts()
    sizes = [int(size) for size in re.findall(r'font-size="(\d+)"', html)]
    assert sizes and min(sizes) >= 12
    assert ">score</text>" in html and ">class</text>" in html
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', html)
    assert ticks == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
