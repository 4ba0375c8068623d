from pathlib import Path

from mlopslab.config import GateConfig
from mlopslab.evaluate import Metrics, gate
from mlopslab.reports.card import build_card, card_markdown
from mlopslab.reports.evaluation import render_report
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
