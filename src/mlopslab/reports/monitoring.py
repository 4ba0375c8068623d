"""The self-contained HTML monitoring report: a summary, then every feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
from jinja2 import Environment
from markupsafe import Markup

from mlopslab.monitor.reference import Reference
from mlopslab.monitor.result import MonitorResult
from mlopslab.reports.svg import bar_chart

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Monitoring: {{ r.model.name }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}.bad{color:#b42318;font-weight:bold}.good{color:#16794a}
section{border-top:1px solid #ddd;margin-top:1.5em}
</style></head><body>
<h1>Monitoring report: {{ r.model.name }} v{{ r.model.version }}</h1>
<p>Window: {{ r.window.rows }} captured rows ({{ r.window.labelled }} labelled),
{{ r.window.first }} to {{ r.window.last }}.</p>
<h2>Summary</h2>
<table><tr><th>check</th><th>verdict</th><th>detail</th></tr>
{% for name, bad in r.verdict.items() if name != "any" %}
<tr><td>{{ name }}</td><td class="{{ 'bad' if bad else 'good' }}">
{{ 'VIOLATED' if bad else 'ok' }}</td><td>{{ details[name] }}</td></tr>{% endfor %}
</table>
{% if r.constraint_violations %}<h2>Constraint violations</h2>
<table><tr><th>feature</th><th>check</th><th>description</th></tr>
{% for v in r.constraint_violations %}<tr><td>{{ v.feature_name }}</td>
<td>{{ v.constraint_check_type }}</td><td>{{ v.description }}</td></tr>{% endfor %}
</table>{% endif %}
<h2>Features</h2>
{% for f in features %}<section><h3>{{ f.feature }}:
<span class="{{ 'bad' if f.status == 'drift' else 'good' }}">{{ f.status }}</span></h3>
<p>test <code>{{ f.method }}</code>, statistic {{ fmt(f.statistic) }},
{% if f.adjusted_p_value is not none %}p {{ fmt(f.p_value) }},
BH-adjusted p {{ fmt(f.adjusted_p_value) }}, {% endif %}threshold {{ f.threshold }},
current rows {{ f.current_rows }}</p>{{ charts[f.feature] }}</section>{% endfor %}
</body></html>
"""


def render_monitor_report(
    result: MonitorResult, refs: dict[str, Reference], current: pd.DataFrame
) -> str:
    """One HTML page; plots are inline SVG comparing reference and current shares."""
    drift = result.drift
    charts = {
        f.feature: Markup(_chart(refs[f.feature], current[f.feature]))
        for f in drift.features
        if f.feature in refs and f.feature in current
    }
    details = {
        "drift": f"drift share {drift.drift_share:.2f}; drifted: "
        f"{', '.join(drift.drifted) or 'none'}",
        "constraints": f"{len(result.constraint_violations)} violations",
        "quality": "; ".join(result.quality.reasons) or result.quality.status,
    }
    template = Environment(autoescape=True).from_string(TEMPLATE)
    # The page shows what result.json holds, in the same words.
    return template.render(
        r=result.to_json(),
        features=drift.features,
        charts=charts,
        details=details,
        fmt=_fmt,
    )


def _chart(reference: Reference, values: pd.Series) -> str:
    present = values.dropna()
    if reference.categorical_like or reference.quantiles is None:
        current = reference.current_counts(present)
        categories = sorted(set(reference.counts) | set(current))[:20]
        ref_total = max(sum(reference.counts.values()), 1)
        cur_total = max(sum(current.values()), 1)
        series = {
            "reference": [reference.counts.get(c, 0) / ref_total for c in categories],
            "current": [current.get(c, 0) / cur_total for c in categories],
        }
        return bar_chart(f"{reference.name}: share per category", categories, series)
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
    labels = [f"{edges[i]:.4g}" for i in range(len(edges) - 1)]
    return bar_chart(
        f"{reference.name}: share per reference-decile bin",
        labels,
        {"reference": list(ref_share), "current": list(cur_share)},
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
