"""The self-contained HTML evaluation report: metrics, gate and inline plots.

Then what a reader looks for next: when the run was, on which data (the digest
the model card records), the chosen hyperparameters and every tuning trial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment
from markupsafe import Markup

from mlopslab.evaluate import GateDecision, Metrics
from mlopslab.reports.svg import bar_chart, heatmap_table

if TYPE_CHECKING:
    from mlopslab.tune import TrialRecord


@dataclass(frozen=True)
class RunFacts:
    """The run around the evaluation: when, on which data, and how it was tuned."""

    created_at: dt.datetime
    data_source: str
    rows: int
    fingerprint: str  # sha256 of the labelled data, as the model card records it
    params: dict[str, Any]  # the chosen trial's hyperparameters
    trials: Sequence[TrialRecord] = ()
    chosen_trial: int | None = None  # its number among `trials`


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Evaluation report: {{ model_name }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f3f3f3}.approved{color:#16794a}.rejected{color:#b42318}
td.text,th.text{text-align:left}tr.chosen td{background:#eaf4ec;font-weight:bold}
.error{color:#b42318}
</style></head><body>
<h1>Evaluation report: {{ model_name }}</h1>
<p>Run <code>{{ run_id }}</code> &middot; test rows: {{ metrics.n_rows }}
&middot; chosen model: <code>{{ family }}</code>
{%- if facts %} &middot; {{ created }}{% endif %}</p>
{% if facts %}<p>Data: <code>{{ facts.data_source }}</code>, {{ facts.rows }}
labelled rows &middot; fingerprint (sha256): <code>{{ facts.fingerprint }}</code></p>
{% endif %}
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
{{ review }}
{% if facts %}
<h2>Chosen hyperparameters: <code>{{ family }}</code></h2>
<table><tr><th class="text">parameter</th><th>value</th></tr>
{% for name, value in facts.params.items() %}<tr><td class="text">{{ name }}</td>
<td>{{ number(value) }}</td></tr>{% endfor %}
</table>
<h2>Tuning trials</h2>
<p>{{ facts.trials|length }} trials, best cross-validated log loss first; the chosen
one is highlighted.</p>
<table><tr><th>trial</th><th class="text">family</th><th class="text">parameters</th>
<th>cv log loss</th><th>cv accuracy</th><th>cv macro F1</th><th>seconds</th></tr>
{% for t in trials %}<tr{% if t.number == chosen %} class="chosen"{% endif %}>
<td>{{ t.number }}</td><td class="text">{{ t.family }}</td>
<td class="text">{{ params_text(t.params) }}</td>
{% if t.pruned %}<td class="text" colspan="3">{{ t.error }}</td>
{% elif t.error %}<td class="text error" colspan="3">failed: {{ t.error }}</td>
{% else %}<td>{{ score(t.cv_log_loss) }}</td><td>{{ score(t.cv_accuracy) }}</td>
<td>{{ score(t.cv_macro_f1) }}</td>{% endif %}
<td>{{ "%.2f"|format(t.seconds) }}</td></tr>{% endfor %}
</table>
{% endif %}
</body></html>
"""


def render_report(
    model_name: str,
    run_id: str,
    family: str,
    metrics: Metrics,
    decision: GateDecision,
    facts: RunFacts | None = None,
    review: str = "",
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
        y_label="score",
        x_label="class",
    )
    trials = sorted(
        facts.trials if facts else (),
        key=lambda t: (t.cv_log_loss is None, t.cv_log_loss or 0.0, t.number),
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
        facts=facts,
        trials=trials,
        chosen=facts.chosen_trial if facts else None,
        created=facts.created_at.strftime("%Y-%m-%d %H:%M:%S %Z") if facts else "",
        number=_number,
        params_text=_params_text,
        score=_score,
        review=Markup(review),
    )


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_number(value)}" for name, value in params.items())


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
