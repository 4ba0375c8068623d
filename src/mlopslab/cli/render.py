"""What the commands print: stage progress, the run summary, the monitor's verdict.

Shared by the `*_cmds` modules, which do not import each other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mlopslab.flows.monitoring import MonitorOutputs
    from mlopslab.flows.run import RunSummary
    from mlopslab.monitor.cbpe import PerformanceEstimate
    from mlopslab.monitor.drift import FeatureDrift
    from mlopslab.monitor.result import MonitorResult


class RichReporter:
    """Stage-by-stage progress: a spinner while a stage runs (on a terminal), then
    one line per stage, printed once, as it finishes.

    A long stage also says how far it is (trials done of planned, time left):
    on a terminal in the spinner's text, otherwise (output redirected to a
    file or a CI log) as a plain line at most every `every` seconds.
    """

    def __init__(self, console: Console, every: float = 10.0) -> None:
        self.console = console
        self.status = console.status("")
        self.every = every
        self._started = self._said = time.monotonic()

    def start(self, stage: str) -> None:
        self._started = self._said = time.monotonic()
        self.status.update(f"[bold]{stage}[/] ...")
        self.status.start()

    def progress(self, stage: str, done: int, total: int, unit: str) -> None:
        now = time.monotonic()
        elapsed = now - self._started
        text = f"{stage}: {done}/{total} {unit}, {elapsed:.0f}s"
        if 0 < done < total:
            text += f", about {elapsed / done * (total - done):.0f}s left"
        if self.console.is_terminal:
            self.status.update(f"[bold]{escape(text)}[/] ...")
        elif now - self._said >= self.every:
            self._said = now
            self.console.print(f"  {text}", markup=False, highlight=False)

    def stop(self) -> None:
        """The spinner off, without a line (the command prints its own)."""
        self.status.stop()

    def fail(self, stage: str) -> None:
        self.status.stop()
        self.console.print(f"[red]✗[/] {stage}")

    def finish(self, stage: str, seconds: float, result: str) -> None:
        self.status.stop()
        self.console.print(f"[green]✓[/] {stage:<11} {seconds:6.2f}s  {result}")


def render_summary(
    console: Console, summary: RunSummary, wall_seconds: float | None = None
) -> None:
    """The total, the gate's verdict and reasons, and where the files are.

    Each stage printed its own line as it finished (RichReporter); a table
    repeating them would say everything twice.
    """
    # The stages' sum leaves out loading libraries and opening the registry.
    overall = "" if wall_seconds is None else f" ({wall_seconds:.1f}s in all)"
    console.print(
        f"  {'total':<11} {summary.total_seconds:6.2f}s{overall}  "
        f"run {summary.run_id[:8]}"
    )
    colour = {"approved": "green", "rejected": "red"}.get(summary.status, "yellow")
    console.print(f"Gate: [{colour}]{summary.decision.verdict}[/]")
    for reason in summary.decision.reasons:
        console.print(f"  - {reason}")
    for note in summary.notes:
        console.print(f"  note: {note}")
    champion = f"v{summary.champion_after}" if summary.champion_after else "none"
    console.print(
        f"Registered [bold]{summary.model_name} v{summary.version}[/] "
        f"status [{colour}]{summary.status}[/]; champion: {champion}"
    )
    for label, key in (
        ("evaluation report", "report"),
        ("model card", "card_md"),
        ("baseline", "statistics"),
        ("constraints", "constraints"),
    ):
        console.print(f"  {label:<18} {summary.paths[key]}")


def render_monitor_result(
    console: Console, result: MonitorResult, outputs: MonitorOutputs
) -> None:
    """The window, one line per feature, the violations and the verdict."""
    window, drift = result.window, result.drift
    console.print(
        f"Window: {window.rows} rows ({window.labelled} labelled), "
        f"model {result.model.name} v{result.model.version}"
    )
    for feature in drift.features:
        console.print(_feature_line(feature))
    prediction = drift.prediction
    if prediction:
        console.print(
            f"  {'(predictions)':<22} {prediction.method:<13} "
            f"{prediction.statistic or 0:>9.4g}  {prediction.status}"
        )
    console.print(
        f"Drift share {drift.drift_share:.2f}; constraint violations: "
        f"{len(result.constraint_violations)}; "
        f"quality: {result.quality.status}"
    )
    for violation in result.constraint_violations:
        console.print(
            f"  - {violation['feature_name']}: {violation['constraint_check_type']}: "
            f"{violation['description']}"
        )
    for reason in result.quality.reasons:
        console.print(f"  - quality: {reason}")
    if result.estimate is not None:
        console.print(_estimate_line(result.estimate))
    if result.attribution is not None:
        flag = "[yellow]flagged[/]: " if result.attribution.drifted else ""
        console.print(f"Attribution: {flag}{escape(result.attribution.reason)}")
    flagged = result.verdict.flagged()
    status = (
        f"[red]VIOLATED ({', '.join(flagged)})[/]" if flagged else "[green]all clear[/]"
    )
    console.print(f"Verdict: {status}")
    console.print(f"  result  {outputs.result}\n  report  {outputs.report}")


def _estimate_line(estimate: PerformanceEstimate) -> str:
    """CBPE's accuracy without labels, beside the realised one when known."""
    accuracy = estimate.accuracy
    line = (
        f"Estimated accuracy without labels (CBPE): {accuracy.value:.3f} "
        f"[{accuracy.low:.3f}, {accuracy.high:.3f}]"
    )
    if accuracy.realised is not None:
        line += f"; realised {accuracy.realised:.3f}"
    if estimate.reference_accuracy is not None:
        line += f"; champion's test accuracy {estimate.reference_accuracy:.3f}"
    return line


def _feature_line(feature: FeatureDrift) -> str:
    mark = {"drift": "[red]DRIFT[/]", "ok": "[green]ok[/]"}.get(
        feature.status, "[yellow]insufficient data[/]"
    )
    statistic = feature.statistic
    shown = "n/a" if statistic is None else f"{statistic:.4g}"
    p_value = feature.adjusted_p_value
    p_text = "" if p_value is None else f", adjusted p {p_value:.3g}"
    return f"  {feature.feature:<22} {feature.method:<13} {shown:>9}{p_text}  {mark}"
