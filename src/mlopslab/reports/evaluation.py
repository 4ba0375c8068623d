"""The self-contained HTML evaluation report: metrics, gate and inline plots."""

from __future__ import annotations

from jinja2 import Environment
from markupsafe import Markup

from mlopslab.evaluate import GateDecision, Metrics
from mlopslab.reports.svg import bar_chart, heatmap_table

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Evaluation report: {{ model_name }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f3f3f3}.approved{color:#16794a}.rejected{color:#b42318}
</style></head><body>
<h1>Evaluation report: {{ model_name }}</h1>
<p>Run <code>{{ run_id }}</code> &middot; test rows: {{ metrics.n_rows }}
&middot; chosen model: <code>{{ family }}</code></p>
<h2>Gate: <span class="{{ decision.verdict }}">{{ decision.verdict }}</span></h2>
<ul>{% for reason in decision.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>
<h2>Test-set metrics</h2>
<table><tr><th>metric</th><th>candidate</th>
{% if decision.champion_metrics %}<th>champion v{{ decision.champion_version }}</th>
{% endif %}</tr>
{% for name, value in metrics.headline().items() %}
<tr><td>{{ name }}</td><td>{{ "%.4f"|format(value) }}</td>
{% if decision.champion_metrics %}
<td>{{ "%.4f"|format(decision.champion_metrics[name]) }}</td>{% endif %}</tr>
{% endfor %}</table>
<h2>Confusion matrix</h2>
{{ confusion }}
<h2>Per class</h2>
{{ per_class_chart }}
<table><tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>
{% for label, row in metrics.per_class.items() %}
<tr><td>{{ label }}</td><td>{{ "%.3f"|format(row.precision) }}</td>
<td>{{ "%.3f"|format(row.recall) }}</td><td>{{ "%.3f"|format(row.f1) }}</td>
<td>{{ row.support }}</td></tr>{% endfor %}
</table>
</body></html>
"""


def render_report(
    model_name: str, run_id: str, family: str, metrics: Metrics, decision: GateDecision
) -> str:
    """Render the report as one HTML string with its plots inlined as SVG."""
    labels = metrics.labels
    chart = bar_chart(
        "Per-class precision and recall (test set)",
        labels,
        {
            "precision": [metrics.per_class[label]["precision"] for label in labels],
            "recall": [metrics.per_class[label]["recall"] for label in labels],
        },
        y_max=1.0,
    )
    template = Environment(autoescape=True).from_string(TEMPLATE)
    return template.render(
        model_name=model_name,
        run_id=run_id,
        family=family,
        metrics=metrics,
        decision=decision,
        confusion=Markup(heatmap_table(labels, labels, metrics.confusion_matrix)),
        per_class_chart=Markup(chart),
    )
