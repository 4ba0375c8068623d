"""The self-contained HTML monitoring report: a summary, then every feature.

It renders the same typed `MonitorResult` the terminal prints, in the same
words: a check is "violated", "ok" or "insufficient data" in both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from jinja2 import Environment
from markupsafe import Markup

from mlopslab.monitor.drift import FeatureDrift
from mlopslab.monitor.reference import Reference
from mlopslab.monitor.result import MonitorResult, PastCheck, PredictionCounts
from mlopslab.reports.calibration import estimate_html
from mlopslab.reports.importance import attribution_html
from mlopslab.reports.svg import bar_chart

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Monitoring: {{ r.model.name }} v{{ r.model.version }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;
line-height:1.4}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;text-align:left}td.num{text-align:right}
.bad{color:#b42318;font-weight:bold}.good{color:#16794a}
.warn{color:#9a5b00;font-weight:bold}tr.changed td{background:#fff7e0}
section{border-top:1px solid #ddd;margin-top:1.5em}.note{color:#555}
</style></head><body>
<h1>Monitoring report: {{ r.model.name }} v{{ r.model.version }}</h1>
<p>Window: {{ r.window.rows }} captured rows ({{ r.window.labelled }} labelled),
{{ r.window.first }} to {{ r.window.last }}.</p>
<p>Verdict: {% if flagged %}<span class="bad">VIOLATED ({{ flagged|join(", ") }})</span>
{%- else %}<span class="good">all clear</span>{% endif %}</p>

<h2>Summary</h2>
<table><tr><th>check</th><th>state</th><th>detail</th></tr>
{% for name, state in states.items() %}
<tr><td>{{ name }}</td><td class="{{ css[state] }}">{{ words[state] }}</td>
<td>{{ details[name] }}</td></tr>{% endfor %}
</table>

<h2>Since the previous check</h2>
{% if previous %}
<p>Previous check {{ previous.checked_at }}: {{ previous.window.rows }} rows
({{ previous.window.labelled }} labelled), {{ previous.window.first }} to
{{ previous.window.last }}, model v{{ previous.version }}.
{% if previous.version != r.model.version %}<span class="warn">The champion was
v{{ previous.version }} then; it is v{{ r.model.version }} now.</span>{% endif %}
{% if same_window %}<span class="note">The same captured rows as then: no new traffic
since.</span>{% endif %}</p>
<table><tr><th></th><th>then</th><th>now</th></tr>
{% for row in overall %}<tr{% if row.changed %} class="changed"{% endif %}>
<td>{{ row.name }}</td><td class="{{ row.then_css }}">{{ row.then }}</td>
<td class="{{ row.now_css }}">{{ row.now }}</td></tr>{% endfor %}
</table>
<table><tr><th>feature</th><th>test</th><th>statistic then</th>
<th>statistic now</th><th>status then</th><th>status now</th></tr>
{% for row in per_feature %}<tr{% if row.changed %} class="changed"{% endif %}>
<td>{{ row.name }}</td><td>{{ row.method }}</td>
<td class="num">{{ row.stat_then }}</td><td class="num">{{ row.stat_now }}</td>
<td class="{{ row.then_css }}">{{ row.then }}</td>
<td class="{{ row.now_css }}">{{ row.now }}</td></tr>{% endfor %}
</table>
{% else %}
<p class="note">No earlier check of {{ r.model.name }} in this workspace: nothing to
compare with yet. The next check will show what changed since this one.</p>
{% endif %}

<h2>Quality: <span class="{{ css[states.quality] }}">{{ r.quality.status }}</span></h2>
{% if r.quality.accuracy is none %}
<p>{{ r.quality.reasons|join("; ") }}. Quality is checked once enough captured rows
have ground-truth labels.</p>
{% else %}
<table><tr><th>metric</th><th>window</th><th>champion (test set)</th></tr>
{% for metric in ("accuracy", "macro_f1") %}<tr><td>{{ metric }}</td>
<td class="num">{{ "%.4f"|format(r.quality[metric]) }}</td>
<td class="num">{{ fmt(r.quality.reference.get(metric)) }}</td></tr>{% endfor %}
</table>
{% if r.quality.reasons %}<ul>{% for reason in r.quality.reasons %}
<li class="bad">{{ reason }}</li>{% endfor %}</ul>{% endif %}
<table><tr><th>class</th><th>recall in the window</th></tr>
{% for label, recall in r.quality.per_class_recall.items() %}<tr><td>{{ label }}</td>
<td class="num">{{ "%.3f"|format(recall) }}</td></tr>{% endfor %}</table>
{% endif %}

{% if r.constraint_violations %}<h2>Constraint violations</h2>
<table><tr><th>feature</th><th>check</th><th>description</th></tr>
{% for v in r.constraint_violations %}<tr><td>{{ v.feature_name }}</td>
<td>{{ v.constraint_check_type }}</td><td>{{ v.description }}</td></tr>{% endfor %}
</table>{% endif %}

{% if r.drift.prediction %}{% set p = r.drift.prediction %}
<section><h2>Predictions:
<span class="{{ status_css(p.status) }}">{{ p.status }}</span></h2>
<p>The predicted classes in the window against the champion's predictions on its
test set. {{ test_line(p) }}</p>{{ prediction_chart }}</section>{% endif %}
{{ estimate }}
{{ attribution }}
{{ fairness }}
<h2>Features</h2>
{% for f in r.drift.features %}<section><h3>{{ f.feature }}:
<span class="{{ status_css(f.status) }}">{{ f.status }}</span></h3>
<p>{{ test_line(f) }}</p>
{% set m = missing.get(f.feature) %}{% if m %}
<p{% if f.feature in incomplete %} class="bad"{% endif %}>missing:
{{ pct(m.window) }} of the window's rows (baseline {{ pct(m.baseline) }})
{%- if f.feature in incomplete %}: the completeness check failed{% endif %}.</p>
{% endif %}{{ charts.get(f.feature, "") }}</section>{% endfor %}
</body></html>
"""

MAX_DECIMALS = 10
CSS = {"violated": "bad", "ok": "good", "insufficient data": "warn"}
WORDS = {"violated": "VIOLATED", "ok": "ok", "insufficient data": "insufficient data"}


def _bias_html(result: MonitorResult) -> str:
    """Group metrics over the window's labelled rows (bias drift), if measured."""
    from mlopslab.reports.fairness import fairness_html

    if result.fairness is None:
        return ""
    return (
        "<p>Group metrics over the window's labelled rows, to compare with the "
        "evaluation's (bias drift).</p>" + fairness_html(result.fairness)
    )


def render_monitor_report(
    result: MonitorResult,
    refs: dict[str, Reference],
    current: pd.DataFrame,
    previous: PastCheck | None = None,
) -> str:
    """One HTML page; plots are inline SVG comparing reference and current shares.

    `previous` is the last check of the same model, to show what changed.
    """
    drift = result.drift
    charts = {
        f.feature: Markup(_chart(refs[f.feature], current[f.feature]))
        for f in drift.features
        if f.feature in refs and f.feature in current
    }
    states = result.states()
    template = Environment(autoescape=True).from_string(TEMPLATE)
    same_window = previous is not None and previous.window == result.window
    return template.render(
        r=result,
        states=states,
        flagged=result.verdict.flagged(),
        css=CSS,
        words=WORDS,
        details=_details(result),
        previous=previous,
        same_window=same_window,
        overall=_overall(previous, result) if previous else [],
        per_feature=_per_feature(previous, result) if previous else [],
        missing={m.feature: m for m in result.missing},
        incomplete={
            v["feature_name"]
            for v in result.constraint_violations
            if v["constraint_check_type"] == "completeness_check"
        },
        charts=charts,
        estimate=Markup(estimate_html(result.estimate)),
        attribution=Markup(attribution_html(result.attribution)),
        fairness=Markup(_bias_html(result)),
        prediction_chart=Markup(_prediction_chart(result.predictions))
        if result.predictions
        else "",
        test_line=_test_line,
        status_css=_status_css,
        fmt=_fmt,
        pct=_pct,
    )


def _details(result: MonitorResult) -> dict[str, str]:
    """One line per check, in the terminal's words."""
    drift, quality = result.drift, result.quality
    prediction = drift.prediction
    drift_detail = (
        f"drift share {drift.drift_share:.2f} "
        f"({len(drift.drifted)} of {len(drift.tested)} tested features); drifted: "
        f"{', '.join(drift.drifted) or 'none'}"
    )
    if prediction:
        drift_detail += f"; predictions: {prediction.status}"
    count = len(result.constraint_violations)
    checks = sorted({v["constraint_check_type"] for v in result.constraint_violations})
    return {
        "drift": drift_detail,
        "constraints": f"{count} violation{'' if count == 1 else 's'}"
        + (f" ({', '.join(checks)})" if checks else ""),
        "quality": "; ".join(quality.reasons) or _quality_line(quality.accuracy),
    }


def _quality_line(accuracy: float | None) -> str:
    return "no labelled rows" if accuracy is None else f"accuracy {accuracy:.4f}"


def _overall(previous: PastCheck, result: MonitorResult) -> list[dict[str, object]]:
    then_states, now_states = previous.states(), result.states()
    rows = [
        _row(
            f"{name} check",
            WORDS[then_states[name]],
            WORDS[now_states[name]],
            CSS[then_states[name]],
            CSS[now_states[name]],
        )
        for name in now_states
    ]
    rows.append(
        _row(
            "drift share",
            f"{previous.drift_share:.2f}",
            f"{result.drift.drift_share:.2f}",
        )
    )
    rows.append(
        _row(
            "constraint violations",
            str(previous.violations),
            str(len(result.constraint_violations)),
        )
    )
    rows.append(
        _row(
            "accuracy (labelled rows)",
            _fmt(previous.accuracy),
            _fmt(result.quality.accuracy),
        )
    )
    rows.append(
        _row(
            "window rows (labelled)",
            f"{previous.window.rows} ({previous.window.labelled})",
            f"{result.window.rows} ({result.window.labelled})",
        )
    )
    return rows


def _per_feature(previous: PastCheck, result: MonitorResult) -> list[dict[str, object]]:
    now: list[FeatureDrift] = list(result.drift.features)
    if result.drift.prediction:
        now.append(result.drift.prediction)
    rows = []
    for feature in now:
        before = (
            previous.prediction
            if feature is result.drift.prediction
            else previous.features.get(feature.feature)
        )
        is_prediction = feature is result.drift.prediction
        name = "(predictions)" if is_prediction else feature.feature
        then = before.status if before else "not checked"
        row = _row(
            name,
            then,
            feature.status,
            _status_css(then),
            _status_css(feature.status),
        )
        row["method"] = feature.method
        row["stat_then"] = _fmt(before.statistic) if before else "n/a"
        row["stat_now"] = _fmt(feature.statistic)
        rows.append(row)
    return rows


def _row(
    name: str, then: str, now: str, then_css: str = "", now_css: str = ""
) -> dict[str, object]:
    return {
        "name": name,
        "then": then,
        "now": now,
        "then_css": then_css,
        "now_css": now_css,
        "changed": then != now,
    }


def _test_line(f: FeatureDrift) -> str:
    parts = [f"test {f.method}", f"statistic {_fmt(f.statistic)}"]
    if f.adjusted_p_value is not None:
        if f.p_value is not None and f.p_value != f.adjusted_p_value:
            parts.append(f"p {_p(f.p_value)}")
            parts.append(f"BH-adjusted p {_p(f.adjusted_p_value)}")
        else:
            parts.append(f"p {_p(f.adjusted_p_value)}")
        parts.append(f"drift when p < {f.threshold:g}")
    else:
        parts.append(f"drift when the statistic \u2265 {f.threshold:g}")
    parts.append(f"{f.current_rows} rows with a value")
    return ", ".join(parts) + "."


def _status_css(status: str) -> str:
    return {"drift": "bad", "ok": "good"}.get(status, "warn")


def _chart(reference: Reference, values: pd.Series) -> str:
    present = values.dropna()
    if reference.categorical_like or reference.quantiles is None:
        current = reference.current_counts(present)
        categories = sorted(set(reference.counts) | set(current))[:20]
        ref_total = max(sum(reference.counts.values()), 1)
        cur_total = max(sum(current.values()), 1)
        series = {
            "reference (training)": [
                reference.counts.get(c, 0) / ref_total for c in categories
            ],
            "current window": [current.get(c, 0) / cur_total for c in categories],
        }
        return bar_chart(
            f"{reference.name}: share of rows per value",
            categories,
            series,
            y_label="share of rows",
            x_label=reference.name,
            percent=True,
        )
    edges = np.unique(
        np.concatenate(
            [
                reference.quantiles[::10],
                [present.min(), present.max()] if len(present) else [],
            ]
        )
    )
    ref_share = np.diff(np.interp(edges, reference.quantiles, np.linspace(0, 1, 101)))
    cur_share = np.histogram(present.to_numpy(dtype=float), bins=edges)[0] / max(
        len(present), 1
    )
    return bar_chart(
        f"{reference.name}: share of rows per bin",
        bin_labels(edges),
        {"reference (training)": list(ref_share), "current window": list(cur_share)},
        y_label="share of rows",
        x_label=f"{reference.name} (bins: the reference's deciles, "
        "widened to the window's range)",
        percent=True,
    )


def _prediction_chart(counts: PredictionCounts) -> str:
    classes = sorted(set(counts.reference) | set(counts.window))[:20]
    ref_total = max(sum(counts.reference.values()), 1)
    cur_total = max(sum(counts.window.values()), 1)
    return bar_chart(
        "predicted class: share of rows",
        classes,
        {
            "champion on its test set": [
                counts.reference.get(c, 0) / ref_total for c in classes
            ],
            "current window": [counts.window.get(c, 0) / cur_total for c in classes],
        },
        y_label="share of rows",
        x_label="predicted class",
        percent=True,
    )


def bin_labels(edges: Sequence[float] | np.ndarray) -> list[str]:
    """'low-high' per bin (an en dash), with the decimals the bins' widths need.

    The narrowest bin sets the decimals, the edges' own precision caps them:
    33.1-36.7 for lengths in millimetres, 2700-3250 for masses in grams,
    whole numbers whole.
    """
    values = np.asarray(edges, dtype=float)
    widths = np.diff(values)
    positive = widths[widths > 0]
    narrowest = float(positive.min()) if len(positive) else 1.0
    # Enough decimals that rounding moves an edge by at most a tenth of the
    # narrowest bin; never more than the edges themselves have.
    needed = max(0, math.ceil(-math.log10(0.2 * narrowest) - 1e-9))
    scale = float(np.abs(values).max()) if len(values) else 1.0
    exact = next(
        (
            d
            for d in range(MAX_DECIMALS)
            if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9 * scale)
        ),
        MAX_DECIMALS,
    )
    decimals = min(needed, exact)
    while decimals < MAX_DECIMALS and _merges(values, decimals):
        decimals += 1
    joiner = "\u2013" if values.min() >= 0 else " to "
    return [
        f"{_number(low, decimals)}{joiner}{_number(high, decimals)}"
        for low, high in itertools.pairwise(values)
    ]


def _merges(values: np.ndarray, decimals: int) -> bool:
    """Whether rounding to `decimals` would write two edges the same."""
    return len({_number(v, decimals) for v in values}) < len(values)


def _number(value: float, decimals: int) -> str:
    grouped = "," if abs(value) >= 10_000 else ""
    text = f"{value:{grouped}.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _p(value: float) -> str:
    return f"{value:.3g}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"
