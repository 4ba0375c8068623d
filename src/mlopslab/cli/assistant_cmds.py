"""`mlopslab assistant build|ask|prompt|traces|monitor`: the course assistant."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlopslab.cli.context import (
    ConfigOpt,
    HomeOpt,
    existing_workspace,
    open_registry,
    open_workspace,
    resolve_config,
)
from mlopslab.cli.course_context import CourseOpt, course_root
from mlopslab.errors import GATE_REJECTED_EXIT_CODE, DataError

if TYPE_CHECKING:
    from mlopslab.flows.assistant_build import BuildResult

app = typer.Typer(
    no_args_is_help=True,
    help="A course assistant: retrieval and extractive answers, with citations.",
)
GOLDEN = Path("13-llm") / "golden.yaml"


@app.command()
def build(
    course: CourseOpt = None,
    golden: Annotated[
        Path | None,
        typer.Option(help="Golden questions (default COURSE/13-llm/golden.yaml)."),
    ] = None,
    prompt: Annotated[
        Path | None,
        typer.Option(help="Prompt YAML (default: the built-in prompt)."),
    ] = None,
    fail_on_reject: Annotated[
        bool, typer.Option("--fail-on-reject", help="Exit 3 when the gate rejects.")
    ] = False,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Index the course, version the prompt, evaluate, gate and register."""
    from mlopslab.assistant.answer import PromptSpec
    from mlopslab.flows.assistant import read_prompt_file
    from mlopslab.flows.assistant_build import build as build_assistant

    cfg = resolve_config(config, home)
    root = course_root(cfg, course)
    spec = read_prompt_file(prompt) if prompt else PromptSpec()
    registry = open_registry(open_workspace(cfg))
    result = build_assistant(registry, root, golden or root / GOLDEN, spec)
    _render_build(result)
    rejected = result.status == "rejected"
    return GATE_REJECTED_EXIT_CODE if rejected and fail_on_reject else 0


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the course.")],
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Answer from the champion, with citations; the call is kept as a trace."""
    if not question.strip():
        raise DataError("the question is empty", 'ask in words: `assistant ask "..."`')
    from mlopslab.flows import assistant

    registry = open_registry(existing_workspace(resolve_config(config, home)))
    asked = assistant.ask(registry, assistant.champion(registry), question.strip())
    out = Console(highlight=False)
    out.print(escape(asked.answer.text))
    scores = ", ".join(f"{h.passage.source} {h.score:.3f}" for h in asked.answer.hits)
    out.print(
        f"[dim]v{asked.version}; retrieved {escape(scores)}; trace {asked.trace_id}[/]"
    )


@app.command("prompt")
def show_prompt(
    out: Annotated[
        Path | None, typer.Option(help="Write the YAML here instead of printing it.")
    ] = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The champion's prompt as YAML (the built-in one before any build)."""
    from mlopslab.assistant.answer import PromptSpec
    from mlopslab.errors import ConfigError, RegistryError
    from mlopslab.flows import assistant

    cfg = resolve_config(config, home)  # a bad config file is still an error
    try:
        workspace = existing_workspace(cfg)
        spec = assistant.champion(open_registry(workspace)).prompt
    except (ConfigError, RegistryError):  # no workspace, or no champion in it
        spec = PromptSpec()
    text = assistant.prompt_yaml(spec)
    if out is None:
        Console(highlight=False).print(escape(text), end="")
        return
    out.write_text(text, encoding="utf-8")
    Console(highlight=False).print(f"wrote {out}")


@app.command()
def traces(
    last: Annotated[int, typer.Option(help="How many of the newest questions.")] = 5,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The newest questions' traces: version, refusal, top score, span times."""
    from mlopslab.flows import assistant

    registry = open_registry(existing_workspace(resolve_config(config, home)))
    table = Table(title="assistant traces, newest first")
    for column in ("trace", "version", "question", "refused", "top score", "spans"):
        table.add_column(column)
    for record in assistant.asked(registry, last):
        spans = ", ".join(f"{name} {ms:.1f} ms" for name, ms in record.spans)
        table.add_row(
            record.trace_id, record.version, escape(record.question),
            "yes" if record.refused else "no", f"{record.top_score:.3f}", spans,
        )  # fmt: skip
    Console(highlight=False, width=160).print(table)


@app.command()
def monitor(
    last: Annotated[int, typer.Option(help="How many of the newest questions.")] = 100,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Share of refusals and mean retrieval score over the newest questions."""
    from mlopslab.assistant.usage import usage
    from mlopslab.flows import assistant

    registry = open_registry(existing_workspace(resolve_config(config, home)))
    numbers = usage(assistant.asked(registry, last))
    out = Console(highlight=False)
    if not numbers.asked:
        out.print('no questions asked yet: `mlopslab assistant ask "..."`')
        return
    out.print(
        f"{numbers.asked} questions (versions {', '.join(numbers.versions)}): "
        f"refusal share {numbers.refusal_share:.2f}, "
        f"mean retrieval score {numbers.mean_top_score:.3f}"
    )


@app.command()
def sources(
    course: CourseOpt = None,
    home: HomeOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Every passage an answer can cite: what golden questions name as sources."""
    from mlopslab.assistant.corpus import read_course

    root = course_root(resolve_config(config, home), course)
    out = Console(highlight=False)
    for passage in read_course(root):
        out.print(f"{passage.source}  [dim]{escape(passage.title)}[/]")


def _render_build(result: BuildResult) -> None:
    out = Console(highlight=False)
    state = "new version" if result.prompt_changed else "unchanged"
    out.print(
        f"index: {result.passages} passages; prompt {result.prompt_uri} ({state}); "
        f"golden: {result.questions} questions"
    )
    if result.status == "unchanged":
        out.print(
            f"unchanged: champion v{result.version} already has this index and "
            "prompt; nothing registered"
        )
        return
    table = Table(title="golden questions")
    for column in ("scorer", "candidate", "champion"):
        table.add_column(column)
    for name, value in result.metrics.items():
        old = result.champion_metrics.get(name) if result.champion_metrics else None
        table.add_row(name, f"{value:.3f}", "" if old is None else f"{old:.3f}")
    out.print(table)
    if result.misses:
        count = len(result.misses)
        first = "; the first 3" if count > 3 else ""
        out.print(f"{count} question{'s' if count > 1 else ''} missed a scorer{first}:")
        for row in result.misses[:3]:
            out.print(f"  - {escape(row['id'])}: {escape(row['question'])}")
    assert result.decision is not None
    out.print(f"Gate: {result.decision.verdict}")
    for reason in result.decision.reasons:
        out.print(f"  - {escape(reason)}")
    out.print(
        f"Registered course-assistant v{result.version} status {result.status}; "
        f"champion: {f'v{result.champion_after}' if result.champion_after else 'none'}"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="assistant")
