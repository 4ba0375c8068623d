"""What the commands print: stage progress, the run summary, the monitor's verdict.

Shared by the `*_cmds` modules, which do not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from mlopslab.flows.monitoring import MonitorOutputs
    from mlopslab.flows.run import RunSummary
    from mlopslab.monitor.drift import FeatureDrift
    from mlopslab.monitor.result import MonitorResult


class RichReporter:
    """Stage-by-stage progress on stderr: a spinner while a stage runs, a tick after."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status = console.status("")

    def start(self, stage: str) -> None:
        self.status.update(f"[bold]{stage}[/] ...")
        self.status.start()

    def fail(self, stage: str) -> None:
        self.status.stop()
        self.console.print(f"[red]✗[/] {stage}")

    def finish(self, stage: str, seconds: float, result: str) -> None:
        self.status.stop()
        self.console.print(f"[green]✓[/] {stage:<11} {seconds:6.2f}s  {result}")


def render_summary(console: Console, summary: RunSummary) -> None:
    """The stage table, the gate's verdict and reasons, and where the files are."""
    table = Table(title=f"mlopslab run {summary.run_id[:8]}: {summary.model_name}")
    table.add_column("stage")
    table.add_column("time", justify="right")
    table.add_column("result")
    for stage in summary.stages:
        table.add_row(stage.name, f"{stage.seconds:.2f}s", stage.result)
    table.add_row("total", f"{summary.total_seconds:.2f}s", "", style="bold")
    console.print(table)
    colour = {"approved": "green", "rejected": "red"}.get(summary.status, "yellow")
    console.print(f"Gate: [{colour}]{summary.decision.verdict}[/]")
    for reason in summary.decision.reasons:
        console.print(f"  - {reason}")
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
    flagged = result.verdict.flagged()
    status = (
        f"[red]VIOLATED ({', '.join(flagged)})[/]" if flagged else "[green]all clear[/]"
    )
    console.print(f"Verdict: {status}")
    console.print(f"  result  {outputs.result}\n  report  {outputs.report}")


def _feature_line(feature: FeatureDrift) -> str:
    mark = {"drift": "[red]DRIFT[/]", "ok": "[green]ok[/]"}.get(
        feature.status, "[yellow]insufficient data[/]"
    )
    statistic = feature.statistic
    shown = "n/a" if statistic is None else f"{statistic:.4g}"
    p_value = feature.adjusted_p_value
    p_text = "" if p_value is None else f", adjusted p {p_value:.3g}"
    return f"  {feature.feature:<22} {feature.method:<13} {shown:>9}{p_text}  {mark}"
