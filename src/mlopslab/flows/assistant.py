"""The course assistant at run time: its prompt in the registry, the champion,
traced answers, and what the traces say about use.

Every `ask` is an MLflow trace (spans `retrieve` and `answer`, with inputs and
outputs) in the assistant's experiment, tagged `mlopslab.kind = ask`: the trace
store is the assistant's capture, and `usage` reads its numbers from there.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow

from mlopslab.assistant.answer import Answer, PromptSpec, compose, retrieve
from mlopslab.assistant.corpus import Passage
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.usage import AskRecord
from mlopslab.errors import ConfigError, RegistryError
from mlopslab.stores.registry.client import STORE_FAILURES, Registry

ASSISTANT = "course-assistant"
# Prompts share MLflow's namespace with registered models: a name of its own.
PROMPT = "course-assistant-prompt"
ARTIFACTS = "assistant"
KIND_TAG = "mlopslab.kind"
PROMPT_TAG = "prompt"
DIGEST_TAG = "passages_digest"


@dataclass(frozen=True)
class Assistant:
    """One version's index and prompt, ready to answer."""

    version: str
    index: PassageIndex
    prompt: PromptSpec
    prompt_uri: str


@dataclass(frozen=True)
class Asked:
    answer: Answer
    version: str
    trace_id: str | None


def read_prompt_file(path: Path) -> PromptSpec:
    """A prompt spec from YAML (`template`, `passages`, ...), checked."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"no prompt file at {path}", "check --prompt")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path} is not a mapping of prompt settings")
    return PromptSpec.from_mapping(values)


def prompt_yaml(spec: PromptSpec) -> str:
    """A spec as the YAML `read_prompt_file` reads (for `assistant prompt`)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # The template as a block, so that it reads (and edits) as it renders.
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(asdict(spec), Dumper=Dumper, sort_keys=False, allow_unicode=True)


def ensure_prompt(registry: Registry, spec: PromptSpec) -> tuple[str, bool]:
    """The prompt version that holds this spec; a new version only for a new spec.

    Any earlier version counts, not just the latest: going back to the
    champion's prompt after a rejected one reuses the champion's version.
    """
    with _answering(registry, f"reading prompt {PROMPT}"):
        exists = registry.client.get_prompt(PROMPT) is not None
        versions = (
            registry.client.search_prompt_versions(PROMPT, max_results=1000)
            if exists
            else []
        )
    for version in versions:
        if _same_spec(version, spec):
            return f"prompts:/{PROMPT}/{version.version}", False
    with _answering(registry, f"registering a version of prompt {PROMPT}"):
        created = registry.client.register_prompt(
            PROMPT,
            spec.template,
            commit_message="mlopslab assistant build",
            model_config=spec.settings(),
        )
    return f"prompts:/{PROMPT}/{created.version}", True


def _same_spec(version: Any, spec: PromptSpec) -> bool:
    try:
        return _spec_of(version) == spec
    except (ConfigError, TypeError):
        return False  # a version made elsewhere (the UI) that is not a spec


def load_prompt(registry: Registry, uri: str) -> PromptSpec:
    with _answering(registry, f"loading {uri}"):
        found = registry.client.load_prompt(uri, allow_missing=True)
    if found is None:
        raise RegistryError(f"prompt {uri} is not in the registry")
    return _spec_of(found)


def _spec_of(version: Any) -> PromptSpec:
    settings = dict(version.model_config or {})
    return PromptSpec.from_mapping({"template": version.template, **settings})


def champion(registry: Registry) -> Assistant:
    """The champion's index and prompt; no champion yet is a RegistryError."""
    info = registry.champion(ASSISTANT)
    if info is None:
        raise RegistryError(
            "no assistant champion yet", "run `mlopslab assistant build` first"
        )
    return load_version(registry, info.version, info.run_id, info.tags)


def load_version(
    registry: Registry, version: str, run_id: str, tags: dict[str, str]
) -> Assistant:
    """A registered version, rebuilt from its passages (the fit is deterministic)."""
    with tempfile.TemporaryDirectory() as scratch:
        with _answering(registry, f"downloading {ASSISTANT} v{version}"):
            local = Path(registry.client.download_artifacts(run_id, ARTIFACTS, scratch))
        passages = [Passage(**p) for p in _json(local / "passages.json")]
        params = _json(local / "index.json")
    index = PassageIndex(**params).fit(passages)
    uri = tags[PROMPT_TAG]
    return Assistant(version, index, load_prompt(registry, uri), uri)


@contextmanager
def in_experiment(experiment_id: str) -> Iterator[None]:
    """MLflow's active experiment for a while (traces and evaluate go there).

    `mlflow.set_experiment` also exports MLFLOW_EXPERIMENT_ID to this process's
    environment, for good: every later process it starts, on another store,
    would inherit an experiment id that store does not have. Put both back.
    """
    from mlflow.tracking import fluent

    before_env = os.environ.get("MLFLOW_EXPERIMENT_ID")
    before_active = fluent._active_experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    try:
        yield
    finally:
        fluent._active_experiment_id = before_active
        if before_env is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = before_env


@contextmanager
def _answering(registry: Registry, doing: str) -> Iterator[None]:
    """A store failure inside the block is a StoreError naming the store."""
    try:
        yield
    except STORE_FAILURES as exc:
        raise registry.unusable(doing, exc) from exc


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def traced_answer(assistant: Assistant, question: str, kind: str) -> Asked:
    """Answer as one trace: a root span, and `retrieve` and `answer` inside it
    with their inputs and outputs; tagged with `kind` (ask, evaluate)."""
    with mlflow.start_span("ask", span_type="CHAIN") as root:
        root.set_inputs({"question": question})
        with mlflow.start_span("retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"question": question, "k": assistant.prompt.passages})
            hits = retrieve(assistant.index, question, assistant.prompt)
            span.set_outputs(
                [{"source": h.passage.source, "score": round(h.score, 4)} for h in hits]
            )
        with mlflow.start_span("answer", span_type="PARSER") as span:
            span.set_inputs({"question": question, "prompt": assistant.prompt_uri})
            answer = compose(assistant.index, question, hits, assistant.prompt)
            span.set_outputs({"answer": answer.text, "refused": answer.refused})
        root.set_outputs({"answer": answer.text})
        mlflow.update_current_trace(
            tags={
                KIND_TAG: kind,
                "version": assistant.version,
                "refused": str(answer.refused).lower(),
                "top_score": f"{answer.top_score:.4f}",
            }
        )
    return Asked(answer, assistant.version, root.trace_id)


def ask(registry: Registry, assistant: Assistant, question: str) -> Asked:
    """Answer one question as a trace in the assistant's experiment."""
    with in_experiment(registry.experiment_id(ASSISTANT)):
        asked = traced_answer(assistant, question, "ask")
        # Traces are written in the background: a short command must wait.
        mlflow.flush_trace_async_logging()
    return asked


def asked(registry: Registry, last: int) -> list[AskRecord]:
    """The newest `last` questions asked, newest first, from the trace store."""
    experiment_id = registry.experiment_id(ASSISTANT)
    with _answering(registry, "reading the assistant's traces"):
        traces = registry.client.search_traces(
            locations=[experiment_id],
            filter_string=f"tags.`{KIND_TAG}` = 'ask'",
            max_results=last,
            order_by=["timestamp_ms DESC"],
            include_spans=True,
        )
    return [_record(trace) for trace in traces]


def _record(trace: Any) -> AskRecord:
    tags = trace.info.tags
    spans = {span.name: span for span in trace.data.spans}
    root = spans.get("ask")
    return AskRecord(
        trace_id=trace.info.trace_id,
        timestamp_ms=int(trace.info.request_time),
        version=tags.get("version", ""),
        question=str((root.inputs or {}).get("question", "")) if root else "",
        answer=str((root.outputs or {}).get("answer", "")) if root else "",
        refused=tags.get("refused") == "true",
        top_score=float(tags.get("top_score", "0")),
        spans=[
            (s.name, (s.end_time_ns - s.start_time_ns) / 1e6) for s in trace.data.spans
        ],
    )
