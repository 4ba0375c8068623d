"""The assistant's flows on a real (embedded) MLflow store: build, gate, register,
ask with traces. Slow: each build evaluates through mlflow.genai.evaluate."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from mlopslab.assistant import scoring
from mlopslab.assistant.answer import PromptSpec, answer
from mlopslab.assistant.corpus import read_course
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.questions import read_golden
from mlopslab.assistant.usage import usage
from mlopslab.errors import StoreError
from mlopslab.flows import assistant
from mlopslab.flows.assistant_build import build
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.workspace import Workspace
from tests.assistant_course import make_course

pytestmark = pytest.mark.slow


@pytest.fixture
def registry(workspace: Path) -> Registry:
    ws = Workspace(workspace).ensure()
    return Registry.connect(ws.local_tracking_uri(), ws.artifact_location())


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


def test_build_registers_a_champion_scored_as_our_scorers_score_it(
    registry: Registry, course: Path
) -> None:
    result = build(registry, course, course / "golden.yaml", PromptSpec())
    assert (result.status, result.version, result.champion_after) == (
        "approved",
        "1",
        "1",
    )
    assert result.prompt_uri == "prompts:/course-assistant-prompt/1"
    # mlflow.genai.evaluate's means are the pure scorers' means.
    index = PassageIndex().fit(read_course(course))
    rows = [
        scoring.score(q, answer(index, q.question, PromptSpec()), index)
        for q in read_golden(course / "golden.yaml")
    ]
    assert result.metrics == pytest.approx(scoring.means(rows))
    run = registry.client.get_run(str(result.run_id))
    assert run.data.metrics["citation_valid/mean"] == result.metrics["citation_valid"]
    assert run.data.params["prompt.uri"] == result.prompt_uri
    evaluated = registry.client.search_traces(
        locations=[run.info.experiment_id], run_id=run.info.run_id, max_results=50
    )
    assert len(evaluated) == 6  # one trace per golden question, with its spans
    assert {s.name for s in evaluated[0].data.spans} == {"ask", "retrieve", "answer"}
    assert all(t.info.tags["mlopslab.kind"] == "evaluate" for t in evaluated)
    again = build(registry, course, course / "golden.yaml", PromptSpec())
    assert (again.status, again.prompt_changed) == ("unchanged", False)
    assert registry.latest_version("course-assistant") == 1


def test_a_worse_prompt_version_is_registered_rejected_and_the_champion_stays(
    registry: Registry, course: Path
) -> None:
    build(registry, course, course / "golden.yaml", PromptSpec())
    worse = PromptSpec(citation="(from {source})")
    result = build(registry, course, course / "golden.yaml", worse)
    assert result.prompt_changed
    assert result.prompt_uri == "prompts:/course-assistant-prompt/2"
    assert result.status == "rejected"
    assert result.decision is not None
    assert any("citation_valid" in r and "worse" in r for r in result.decision.reasons)
    assert result.champion_metrics is not None
    assert result.champion_metrics["citation_valid"] == 1.0
    v2 = registry.version("course-assistant", "2")
    assert v2.status == "rejected"
    assert registry.champion("course-assistant").version == "1"  # type: ignore[union-attr]


def test_a_better_prompt_becomes_champion_and_the_old_one_previous(
    registry: Registry, course: Path
) -> None:
    build(registry, course, course / "golden.yaml", PromptSpec())
    result = build(registry, course, course / "golden.yaml", PromptSpec(sentences=3))
    assert (result.status, result.champion_before, result.champion_after) == (
        "approved", "1", "2",
    )  # fmt: skip
    assert registry.version("course-assistant", "previous").version == "1"
    served = assistant.champion(registry)
    assert served.version == "2" and served.prompt.sentences == 3


def test_ask_is_traced_with_retrieve_and_answer_spans(
    registry: Registry, course: Path
) -> None:
    build(registry, course, course / "golden.yaml", PromptSpec())
    champion = assistant.champion(registry)
    asked = assistant.ask(registry, champion, "What is data drift?")
    assistant.ask(registry, champion, "How long should sourdough bread proof?")
    assert "[glossary#data-drift]" in asked.answer.text
    trace = mlflow.get_trace(str(asked.trace_id))
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"ask", "retrieve", "answer"}
    assert spans["retrieve"].inputs["question"] == "What is data drift?"
    assert spans["retrieve"].outputs[0]["source"] == "glossary#data-drift"
    assert spans["answer"].outputs["refused"] is False
    records = assistant.asked(registry, last=10)
    assert [r.refused for r in records] == [True, False]  # newest first
    assert records[1].question == "What is data drift?"
    numbers = usage(records)
    assert numbers.refusal_share == 0.5 and numbers.versions == ["1"]
    # Nothing of this store's experiment stays in the environment: a process
    # started next, on another store, must not inherit its id.
    assert "MLFLOW_EXPERIMENT_ID" not in os.environ


def test_a_failure_after_registering_leaves_the_registry_as_it_was(
    registry: Registry, course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(registry, course, course / "golden.yaml", PromptSpec())

    def broken(*args: object) -> None:
        raise StoreError("the store went away")

    monkeypatch.setattr(registry, "promote", broken)
    with pytest.raises(StoreError, match="the store went away") as failed:
        build(registry, course, course / "golden.yaml", PromptSpec(sentences=3))
    assert "the registry and champion are unchanged" in failed.value.hint
    assert registry.latest_version("course-assistant") == 1
    assert registry.champion("course-assistant").version == "1"  # type: ignore[union-attr]
