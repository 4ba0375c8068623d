"""`mlopslab monitor`, `mlopslab simulate traffic|labels`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console

from mlopslab.cli.context import (
    CaptureUrlOpt,
    ConfigOpt,
    HomeOpt,
    capture_location,
    open_registry,
    open_workspace,
    registry_agent,
    resolve_config,
    tracking_uri,
)
from mlopslab.config import Config
from mlopslab.stores.registry.versions import CHAMPION, Baseline, VersionInfo

if TYPE_CHECKING:
    from concurrent.futures import Future

    from mlopslab.stores.registry.client import Registry

simulate_app = typer.Typer(
    no_args_is_help=True, help="Seeded traffic and ground truth."
)
DEFAULT_URL = "http://127.0.0.1:8000"


def monitor(
    last: Annotated[
        int | None, typer.Option(help="How many of the newest captured rows.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the HTML report here.")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="drift, quality, constraints or any.")
    ] = None,
    alert_webhook: Annotated[
        str | None, typer.Option(help="POST the JSON result here.")
    ] = None,
    alert_command: Annotated[
        str | None, typer.Option(help="Run this; result JSON on stdin.")
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Retrain when violated.")
    ] = False,
    model_name: Annotated[
        str | None, typer.Option(help="Registered model (default: the only one).")
    ] = None,
    capture_url: CaptureUrlOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Check captured traffic against the champion's baseline; exit 1 when violated."""
    from mlopslab.stores.capture import open_capture_store

    cfg = resolve_config(
        config,
        home,
        **{
            "monitor.last": last,
            "monitor.fail_on": fail_on,
            "registry.model_name": model_name,
            "serve.capture_url": capture_url,
        },
    )
    workspace = open_workspace(cfg)
    local = local_champion_baseline(tracking_uri(workspace), cfg)
    with registry_agent(workspace) as agent:
        # Unless the embedded store answered directly (registry_local.py), the
        # agent reads the champion's baseline while this process reads the
        # captured window and imports the checks.
        target = agent.submit(champion_baseline, cfg) if local is None else None
        from mlopslab.flows.monitoring import (
            read_window,
            run_checks,
            send_alerts,
            write_outputs,
        )
        from mlopslab.monitor.reference import references

        store = open_capture_store(capture_location(cfg, workspace))
        try:
            window = read_window(store, cfg.monitor.last)
        finally:
            store.close()
        champion, baseline = local or agent.wait(cast("Future[Any]", target))
    name = champion.name
    result = run_checks(
        window, baseline, cfg.monitor, {"name": name, "version": champion.version}
    )
    paths = write_outputs(
        workspace, result, references(baseline.statistics), window, report
    )
    console = Console(highlight=False, soft_wrap=True)
    _print_result(console, result, paths)
    violated = bool(result["verdict"][cfg.monitor.fail_on])
    if violated:
        for problem in send_alerts(
            result, paths["result"], alert_webhook, alert_command
        ):
            console.print(f"[yellow]alert not delivered:[/] {problem}")
        if retrain:
            _retrain(console, cfg, workspace, baseline, window, name)
    return 1 if violated else 0


def local_champion_baseline(
    uri: str, cfg: Config
) -> tuple[VersionInfo, Baseline] | None:
    """The champion and its baseline, read from the embedded store, or None."""
    from mlopslab.stores.registry.embedded import local_baseline, local_version

    champion = local_version(uri, cfg.registry.model_name, CHAMPION)
    baseline = local_baseline(champion) if champion else None
    return (champion.info, baseline) if champion and baseline else None


def champion_baseline(registry: Registry, cfg: Config) -> tuple[VersionInfo, Baseline]:
    """Agent task: the champion of the model to monitor, and its baseline."""
    from mlopslab.cli.serve_cmds import pick_model_name
    from mlopslab.stores.registry.agent import load_baseline

    champion = registry.version(pick_model_name(cfg, registry), CHAMPION)
    return champion, load_baseline(registry, champion)


def _print_result(
    console: Console, result: dict[str, Any], paths: dict[str, Path]
) -> None:
    verdict = result["verdict"]
    window = result["window"]
    console.print(
        f"Window: {window['rows']} rows ({window['labelled']} labelled), "
        f"model {result['model']['name']} v{result['model']['version']}"
    )
    drift = result["drift"]
    for feature in drift["features"]:
        mark = {"drift": "[red]DRIFT[/]", "ok": "[green]ok[/]"}.get(
            feature["status"], "[yellow]insufficient data[/]"
        )
        statistic = feature["statistic"]
        shown = "n/a" if statistic is None else f"{statistic:.4g}"
        p_value = feature["adjusted_p_value"]
        p_text = "" if p_value is None else f", adjusted p {p_value:.3g}"
        console.print(
            f"  {feature['feature']:<22} {feature['method']:<13} {shown:>9}"
            f"{p_text}  {mark}"
        )
    prediction = drift["prediction"]
    if prediction:
        console.print(
            f"  {'(predictions)':<22} {prediction['method']:<13} "
            f"{prediction['statistic'] or 0:>9.4g}  {prediction['status']}"
        )
    console.print(
        f"Drift share {drift['drift_share']:.2f}; constraint violations: "
        f"{len(result['constraint_violations'])}; "
        f"quality: {result['quality']['status']}"
    )
    for violation in result["constraint_violations"]:
        console.print(
            f"  - {violation['feature_name']}: {violation['constraint_check_type']}: "
            f"{violation['description']}"
        )
    for reason in result["quality"]["reasons"]:
        console.print(f"  - quality: {reason}")
    flagged = [name for name, bad in verdict.items() if bad and name != "any"]
    status = (
        f"[red]VIOLATED ({', '.join(flagged)})[/]" if flagged else "[green]all clear[/]"
    )
    console.print(f"Verdict: {status}")
    console.print(f"  result  {paths['result']}\n  report  {paths['report']}")


def _retrain(console, cfg, workspace, baseline, window, name) -> None:  # type: ignore[no-untyped-def]
    from mlopslab.cli.run_cmds import RichReporter, render_summary
    from mlopslab.flows.monitoring import retraining_dataset
    from mlopslab.flows.training import run_pipeline

    registry = open_registry(workspace)
    dataset = retraining_dataset(baseline, window, name)
    console.print(
        f"Retraining {name} on {len(dataset.frame)} rows ({dataset.source}) ..."
    )
    retrain_cfg = cfg.model_copy(
        update={"registry": cfg.registry.model_copy(update={"model_name": name})}
    )
    summary = run_pipeline(
        retrain_cfg,
        workspace,
        registry,
        RichReporter(Console(stderr=True)),
        dataset=dataset,
    )
    render_summary(console, summary)
    if not summary.decision.approved:
        console.print(
            f"The retrained model was rejected; "
            f"v{summary.champion_after} stays champion."
        )


def simulate_traffic(
    n: Annotated[int, typer.Option("--n", help="Rows to send.")] = 500,
    drift: Annotated[
        list[str] | None, typer.Option(help="Drift spec, e.g. bill_length_mm:+15%.")
    ] = None,
    url: Annotated[str, typer.Option(help="The server's base URL.")] = DEFAULT_URL,
    seed: Annotated[int, typer.Option(help="Seed for sampling and drift.")] = 0,
    batch: Annotated[int, typer.Option(help="Rows per request.")] = 25,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Send rows sampled from the model's data (optionally drifted) to a server."""
    import httpx
    import numpy as np

    from mlopslab.config import DataConfig
    from mlopslab.data import load_dataset
    from mlopslab.errors import DataError
    from mlopslab.flows.simulate import apply_drift, parse_drift, send_traffic

    specs = [parse_drift(spec) for spec in drift or []]
    cfg = resolve_config(config, home)
    workspace = open_workspace(cfg)
    try:
        card = httpx.get(f"{url}/model", timeout=10).json()["card"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise DataError(
            f"cannot read the model from {url}/model: {exc}",
            "start it with `mlopslab serve`, or pass --url",
        ) from exc
    dataset = load_dataset(
        DataConfig(source=card["data_source"], target=card["target"])
    )
    rng = np.random.default_rng(seed)
    sample = dataset.frame.sample(n=n, replace=True, random_state=seed).reset_index(
        drop=True
    )
    rows = sample.drop(columns=[dataset.target])
    for spec in specs:
        rows = apply_drift(rows, spec, rng)
    sent = send_traffic(
        url,
        rows,
        sample[dataset.target],
        batch,
        workspace.home / "simulations" / "truth.csv",
    )
    typer.echo(
        f"sent {sent} rows to {url}"
        + (f" with drift {', '.join(drift or [])}" if drift else "")
    )


def simulate_labels(
    quality: Annotated[
        float, typer.Option(help="Share of labels that are right, 0 to 1.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for which labels are wrong.")] = 0,
    capture_url: CaptureUrlOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Attach ground truth to simulated, captured rows (a chosen share of it wrong)."""
    import numpy as np

    from mlopslab.errors import ConfigError
    from mlopslab.flows.simulate import simulated_labels
    from mlopslab.stores.capture import open_capture_store

    if not 0.0 <= quality <= 1.0:
        raise ConfigError(
            f"--quality {quality} is not between 0 and 1", "pass e.g. --quality 0.9"
        )
    cfg = resolve_config(config, home, **{"serve.capture_url": capture_url})
    workspace = open_workspace(cfg)
    store = open_capture_store(capture_location(cfg, workspace))
    try:
        labels = simulated_labels(
            workspace.home / "simulations" / "truth.csv",
            quality,
            np.random.default_rng(seed),
        )
        matched = store.add_labels(labels)
    finally:
        store.close()
    typer.echo(
        f"labelled {len(labels)} simulated rows at quality {quality:g} "
        f"({matched} already captured)"
    )


def register(app: typer.Typer) -> None:
    app.command()(monitor)
    simulate_app.command("traffic")(simulate_traffic)
    simulate_app.command("labels")(simulate_labels)
    app.add_typer(simulate_app, name="simulate")
