"""`mlopslab monitor`, `mlopslab simulate traffic|labels`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from mlopslab.cli.context import (
    CaptureUrlOpt,
    ConfigOpt,
    HomeOpt,
    capture_location,
    existing_workspace,
    open_registry,
    open_workspace,
    registry_agent,
    resolve_config,
    tracking_uri,
)
from mlopslab.cli.render import RichReporter, render_monitor_result, render_summary
from mlopslab.cli.stopping import STOPPED_RUN, stoppable
from mlopslab.config import Config
from mlopslab.stores.registry.lookup import (
    champion_baseline,
    embedded_champion_baseline,
)
from mlopslab.stores.registry.versions import Baseline, VersionInfo

if TYPE_CHECKING:
    from mlopslab.flows.monitoring import Window
    from mlopslab.stores.workspace import Workspace

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
    workspace = existing_workspace(cfg)
    name = cfg.registry.model_name
    local = embedded_champion_baseline(tracking_uri(workspace), name)
    with registry_agent(workspace) as agent:
        # Unless the embedded store answered directly, the agent reads the
        # champion's baseline while this process reads the captured window and
        # imports the checks.
        answer = local or agent.submit(champion_baseline, name)
        from mlopslab.flows.monitoring import (
            read_window,
            review_window,
            run_checks,
            send_alerts,
            write_outputs,
        )
        from mlopslab.monitor.reference import references
        from mlopslab.monitor.result import MonitoredModel

        store = open_capture_store(capture_location(cfg, workspace))
        try:
            window = read_window(store, cfg.monitor.last)
        finally:
            store.close()
        if not isinstance(answer, tuple):
            answer = agent.wait(answer)
        champion, baseline = answer
        model = champion_model(workspace, agent, baseline, champion)
    monitored = MonitoredModel(champion.name, champion.version)
    result = review_window(
        run_checks(window, baseline, cfg.monitor, monitored),
        window,
        baseline,
        cfg,
        model,
    )
    refs = references(baseline.statistics)
    outputs = write_outputs(workspace, result, refs, window, report)
    console = Console(highlight=False, soft_wrap=True)
    render_monitor_result(console, result, outputs)
    violated = result.verdict.violated(cfg.monitor.fail_on)
    if violated:
        for problem in send_alerts(
            result, outputs.result, alert_webhook, alert_command
        ):
            console.print(f"[yellow]alert not delivered:[/] {problem}")
        if retrain:
            _retrain(console, cfg, workspace, baseline, window, monitored.name)
    return 1 if violated else 0


def champion_model(
    workspace: Workspace, agent: Any, baseline: Baseline, champion: VersionInfo
) -> Any | None:
    """The champion's pipeline, for the attribution check: read from the
    embedded store when it can be, else fetched by the registry agent. None
    when its baseline has no ranking to compare with, or it cannot load."""
    import shutil

    from mlopslab.errors import RegistryError
    from mlopslab.flows.monitoring import needs_model
    from mlopslab.stores.registry.embedded import local_files
    from mlopslab.stores.registry.lookup import fetch_version
    from mlopslab.stores.registry.versions import load_pipeline

    if not needs_model(baseline):
        return None
    files = local_files(tracking_uri(workspace), champion.name, champion.version)
    try:
        if files is not None:
            return load_pipeline(files)
        fetched = agent.call(fetch_version, champion.name, champion.version)
        try:
            return load_pipeline(fetched)
        finally:
            shutil.rmtree(fetched.directory, ignore_errors=True)
    except RegistryError:
        return None  # the other checks need no model


def _retrain(
    console: Console,
    cfg: Config,
    workspace: Workspace,
    baseline: Baseline,
    window: Window,
    name: str,
) -> None:
    from mlopslab.flows.monitoring import retraining_dataset
    from mlopslab.flows.training import run_pipeline

    dataset = retraining_dataset(baseline, window, name)
    console.print(
        f"Retraining {name} on {len(dataset.frame)} rows ({dataset.source}) ..."
    )
    retrain_cfg = cfg.model_copy(
        update={"registry": cfg.registry.model_copy(update={"model_name": name})}
    )
    with stoppable(STOPPED_RUN):
        summary = run_pipeline(
            retrain_cfg,
            workspace,
            partial(open_registry, workspace),
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

    from mlopslab.errors import DataError
    from mlopslab.flows.simulate import (
        apply_drift,
        check_drift,
        parse_drift,
        send_traffic,
        traffic_rows,
    )

    specs = [parse_drift(spec) for spec in drift or []]
    cfg = resolve_config(config, home)
    workspace = open_workspace(cfg)
    try:
        served = httpx.get(f"{url}/model", timeout=10).json()
        card, signature = served["card"], served["signature"]
        model = f"{served['name']} v{served['version']}"
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"cannot read the model from {url}/model: {exc}",
            "start it with `mlopslab serve`, or pass --url",
        ) from exc
    for spec in specs:  # before anything is sent
        check_drift(spec, signature, model)
    rng = np.random.default_rng(seed)
    sample, how = traffic_rows(card, n, rng)
    target = str(card["target"])
    rows = sample.drop(columns=[target])
    for spec in specs:
        rows = apply_drift(rows, spec, rng)
    sent = send_traffic(
        url,
        rows,
        sample[target],
        batch,
        workspace.home / "simulations" / "truth.csv",
    )
    typer.echo(
        f"sent {sent} rows to {url}"
        + (f" with drift {', '.join(drift or [])}" if drift else "")
        + f": {how}"
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
    workspace = existing_workspace(cfg)
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
