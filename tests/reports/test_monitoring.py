"""The monitoring report says what the terminal says, and what changed since last time.

The windows are real: penguins rows checked against a baseline built from them,
through the same `run_checks` that `mlopslab monitor` calls.
"""

import io
import re
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from mlopslab.baseline import compute_constraints, compute_statistics
from mlopslab.cli.render import render_monitor_result
from mlopslab.config import DataConfig, MonitorConfig
from mlopslab.data import load_dataset
from mlopslab.flows.monitoring import (
    MonitorOutputs,
    Window,
    previous_check,
    run_checks,
    write_outputs,
)
from mlopslab.monitor.reference import references
from mlopslab.monitor.result import MonitoredModel, MonitorResult, PastCheck
from mlopslab.reports.monitoring import bin_labels, render_monitor_report
from mlopslab.stores.registry.versions import Baseline
from mlopslab.stores.workspace import Workspace
from tests.browser import needs_browser, rendered_dom

MODEL = MonitoredModel("penguins", "3")


@pytest.fixture(scope="module")
def penguins() -> tuple[pd.DataFrame, Baseline]:
    """The labelled rows (features and `species`) and a baseline built from them."""
    dataset = load_dataset(DataConfig())
    X = dataset.X
    predicted = dataset.y.astype(str).value_counts()
    baseline = Baseline(
        statistics=compute_statistics(X, dataset.schema),
        constraints=compute_constraints(X, dataset.schema),
        evaluation={
            "test": {
                "accuracy": 0.98,
                "macro_f1": 0.97,
                "prediction_counts": {str(k): int(v) for k, v in predicted.items()},
            }
        },
        card={},
    )
    return X.assign(species=dataset.y.astype(str)), baseline


def window(
    X: pd.DataFrame,
    *,
    seed: int = 0,
    shift: float = 0.0,
    missing_sex: float = 0.0,
    predicted: str | None = None,
    labels: bool = False,
) -> Window:
    """300 sampled rows, as captured; predictions are right unless `predicted`."""
    rows = X.sample(300, replace=True, random_state=seed).reset_index(drop=True)
    truth = rows.pop("species").astype(object)
    rows["bill_length_mm"] = rows["bill_length_mm"] * (1 + shift)
    if missing_sex:
        blank = np.random.default_rng(seed).random(len(rows)) < missing_sex
        rows.loc[blank, "sex"] = None
    predictions = truth.copy() if predicted is None else pd.Series([predicted] * 300)
    return Window(
        inputs=rows,
        predictions=predictions.astype(object),
        labels=truth if labels else pd.Series([None] * 300, dtype=object),
        first="2026-01-01T00:00:00+00:00",
        last="2026-01-01T01:00:00+00:00",
    )


def check(baseline: Baseline, current: Window) -> MonitorResult:
    return run_checks(current, baseline, MonitorConfig(), MODEL)


def report(
    baseline: Baseline, current: Window, result: MonitorResult, **kwargs: object
) -> str:
    refs = references(baseline.statistics)
    return render_monitor_report(result, refs, current.inputs, **kwargs)  # type: ignore[arg-type]


def summary_state(html: str, check_name: str) -> str:
    match = re.search(rf"<tr><td>{check_name}</td><td class=\"\w+\">([^<]+)</td>", html)
    assert match, f"no summary row for {check_name}"
    return match.group(1).strip()


def terminal(result: MonitorResult) -> str:
    buffer = io.StringIO()
    outputs = MonitorOutputs(*(Path(name) for name in ("r", "v", "h", "m")))
    render_monitor_result(Console(file=buffer, width=200), result, outputs)
    return buffer.getvalue()


def test_quality_without_labels_is_insufficient_data_as_in_the_terminal(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X)
    result = check(baseline, current)
    html = report(baseline, current, result)
    assert "quality: insufficient data" in terminal(result)
    assert summary_state(html, "quality") == "insufficient data"
    assert "0 labelled rows; at least 30 are needed" in html


def test_degraded_quality_is_violated_with_its_numbers(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X, predicted="Chinstrap", labels=True)
    result = check(baseline, current)
    html = report(baseline, current, result)
    assert "quality: degraded" in terminal(result)
    assert summary_state(html, "quality") == "VIOLATED"
    assert "Quality: <span" in html and ">degraded</span>" in html
    accuracy = result.quality.accuracy
    assert accuracy is not None and accuracy < 0.5
    reason = f"accuracy {accuracy:.4f} is below the champion's 0.9800"
    assert reason in unescape(html)
    assert f'<td class="num">{accuracy:.4f}</td>' in html


def test_prediction_drift_the_terminal_flags_is_in_the_report(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X, predicted="Chinstrap")
    result = check(baseline, current)
    assert result.drift.prediction is not None
    assert result.drift.prediction.status == "drift"
    assert re.search(r"\(predictions\)\s+chi2\s+\S+\s+drift", terminal(result))
    html = report(baseline, current, result)
    assert summary_state(html, "drift") == "VIOLATED"
    assert "predictions: drift" in html
    section = html.split("<h2>Predictions:", 1)[1].split("<h2>", 1)[0]
    assert ">drift</span>" in section and "<svg" in section
    assert "Chinstrap" in section  # the predicted classes are charted


def feature_section(html: str, feature: str) -> str:
    """One feature's part of the report."""
    return html.split(f"<h3>{feature}:", 1)[1].split("</section>", 1)[0]


def test_a_failed_completeness_check_shows_the_missing_share(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X, missing_sex=0.3)
    result = check(baseline, current)
    failed = [
        v
        for v in result.constraint_violations
        if v["constraint_check_type"] == "completeness_check"
    ]
    assert [v["feature_name"] for v in failed] == ["sex"]
    html = report(baseline, current, result)
    section = feature_section(html, "sex")
    share = current.inputs["sex"].isna().mean()
    baseline_share = X["sex"].isna().mean()
    assert f"missing:\n{share * 100:.1f}% of the window's rows" in section
    assert f"(baseline {baseline_share * 100:.1f}%)" in section
    assert "the completeness check failed" in section
    assert 'class="bad"' in section.split("missing:", 1)[0][-20:]


def test_numeric_bins_are_ranges_rounded_to_the_columns_scale() -> None:
    lengths = [33.1, 36.71, 38.8, 40.11, 42.0, 59.6]
    assert bin_labels(lengths) == [
        "33.1\u201336.7",
        "36.7\u201338.8",
        "38.8\u201340.1",
        "40.1\u201342.0",
        "42.0\u201359.6",
    ]
    assert bin_labels([2700.0, 3250.0, 3475.5, 4050.0]) == [
        "2700\u20133250",
        "3250\u20133476",
        "3476\u20134050",
    ]
    # More decimals only where rounding would merge two edges.
    assert bin_labels([40.11, 40.12, 40.5]) == ["40.11\u201340.12", "40.12\u201340.50"]
    assert bin_labels([-2.5, 0.0, 2.5]) == ["-2.5 to 0.0", "0.0 to 2.5"]


def test_charts_are_labelled_and_readable(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X, shift=0.15)
    result = check(baseline, current)
    html = report(baseline, current, result)
    sizes = [int(size) for size in re.findall(r'font-size="(\d+)"', html)]
    assert sizes and min(sizes) >= 12
    section = feature_section(html, "body_mass_g")
    ticks = re.findall(r'text-anchor="(?:end|middle)"[^>]*>([^<]+)</text>', section)
    assert any(re.fullmatch(r"\d{4}\u2013\d{4}", tick) for tick in ticks), ticks
    assert not any(re.search(r"\d\.\d{2}", tick) for tick in ticks), ticks
    assert "share of rows" in section and ">10%</text>" in section


def test_without_an_earlier_check_the_report_says_so(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    current = window(X)
    html = report(baseline, current, check(baseline, current))
    assert "No earlier check of penguins in this workspace" in html


def test_the_report_compares_with_the_previous_check(
    penguins: tuple[pd.DataFrame, Baseline],
) -> None:
    X, baseline = penguins
    calm_window = window(X, seed=1)
    calm = check(baseline, calm_window)
    before = PastCheck.from_json(calm.to_json(), "2026-01-01T00:00:00+00:00")
    shifted = window(X, seed=2, shift=0.15)
    now = check(baseline, shifted)
    html = report(baseline, shifted, now, previous=before)
    section = html.split("<h2>Since the previous check</h2>", 1)[1].split("<h2>", 1)[0]
    assert "Previous check 2026-01-01T00:00:00+00:00: 300 rows" in section
    row = re.search(
        r'<tr class="changed">\s*<td>bill_length_mm</td>(.*?)</tr>', section, re.S
    )
    assert row, "the newly drifted feature is not marked as changed"
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    then_stat = calm.drift.features[1].statistic
    now_stat = now.drift.features[1].statistic
    assert cells == ["ks", f"{then_stat:.4g}", f"{now_stat:.4g}", "ok", "drift"]
    assert re.search(
        r'<tr class="changed">\s*<td>drift check</td><td class="good">ok</td>\s*'
        r'<td class="bad">VIOLATED</td>',
        section,
    )
    assert "<tr>\n<td>island</td>" in section  # unchanged rows are not marked


def test_each_check_reads_the_one_before_it(
    penguins: tuple[pd.DataFrame, Baseline], tmp_path: Path
) -> None:
    X, baseline = penguins
    workspace = Workspace(tmp_path)
    refs = references(baseline.statistics)
    first_window = window(X, seed=1)
    first = write_outputs(
        workspace, check(baseline, first_window), refs, first_window, None
    )
    assert "No earlier check" in first.report.read_text()
    # Another model's check and a broken folder in between are passed over.
    other = tmp_path / "monitoring" / "20990101T000000000000Z"
    other.mkdir()
    (other / "result.json").write_text('{"model": {"name": "digits"}}')
    broken = tmp_path / "monitoring" / "20990101T000000000001Z"
    broken.mkdir()
    (broken / "result.json").write_text("{not json")
    past = previous_check(tmp_path / "monitoring", "penguins")
    assert past is not None and past.window.rows == 300
    second_window = window(X, seed=2, shift=0.15)
    second = write_outputs(
        workspace, check(baseline, second_window), refs, second_window, None
    )
    html = second.report.read_text()
    assert "Since the previous check" in html and "No earlier check" not in html
    assert f"Previous check {past.checked_at}" in html
    assert previous_check(tmp_path / "nothing", "penguins") is None


@needs_browser
def test_the_report_renders_in_a_real_browser(
    penguins: tuple[pd.DataFrame, Baseline], tmp_path: Path
) -> None:
    X, baseline = penguins
    current = window(X, shift=0.15, missing_sex=0.3, predicted="Chinstrap")
    result = check(baseline, current)
    page = tmp_path / "report.html"
    page.write_text(report(baseline, current, result), encoding="utf-8")
    dom = rendered_dom(page.as_uri())
    assert "Since the previous check" in dom and "Predictions:" in dom
    assert dom.count("<svg") == len(result.drift.features) + 1
