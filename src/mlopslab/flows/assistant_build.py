"""`assistant build`: index the course, version the prompt, evaluate, gate, register.

The same lifecycle as a tabular model: a run with its parameters and files,
an evaluation on a golden set (here golden questions, scored in code through
`mlflow.genai.evaluate`: flows/assistant_evaluation.py), a gate with
floors and the champion re-scored on the same questions, then a registered
version whose status and aliases the registry's own `promote` sets. A failure
after the version exists deletes it and puts the aliases back.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow

from mlopslab.assistant import scoring
from mlopslab.assistant.answer import PromptSpec, answer
from mlopslab.assistant.corpus import Passage, digest, read_course
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.questions import GoldenQuestion, read_golden, unknown_sources
from mlopslab.assistant.scoring import GateDecision, Thresholds
from mlopslab.errors import (
    DataError,
    RegistryError,
    StageError,
    StoreError,
    first_line,
)
from mlopslab.flows.assistant import (
    ARTIFACTS,
    ASSISTANT,
    DIGEST_TAG,
    PROMPT_TAG,
    Assistant,
    ensure_prompt,
    in_experiment,
    load_version,
)
from mlopslab.flows.assistant_evaluation import evaluate, missed
from mlopslab.stores.registry.client import (
    CHAMPION,
    PREVIOUS,
    STORE_FAILURES,
    Registry,
    VersionInfo,
)


@dataclass(frozen=True)
class BuildResult:
    status: str  # approved, rejected, or unchanged (the champion already is this)
    prompt_uri: str
    prompt_changed: bool
    passages: int
    questions: int
    metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    decision: GateDecision | None = None
    run_id: str | None = None
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    misses: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """What a build evaluates: the assistant and what it was built from."""

    assistant: Assistant
    passages: list[Passage]
    questions: list[GoldenQuestion]
    fingerprint: str
    prompt_changed: bool


def build(
    registry: Registry,
    course: Path,
    golden: Path,
    prompt: PromptSpec,
    thresholds: Thresholds | None = None,
) -> BuildResult:
    """Build, evaluate and gate one assistant; register it whatever the verdict."""
    candidate = _candidate(registry, course, golden, prompt)
    before = registry.champion(ASSISTANT)
    if before is not None and _same(before, candidate):
        return BuildResult(
            "unchanged",
            candidate.assistant.prompt_uri,
            candidate.prompt_changed,
            passages=len(candidate.passages),
            questions=len(candidate.questions),
            version=before.version,
            champion_before=before.version,
            champion_after=before.version,
        )
    champion_scores = (
        _rescore(registry, before, candidate.questions) if before else None
    )
    return _record(
        registry, candidate, before, champion_scores, thresholds or Thresholds()
    )


def _candidate(
    registry: Registry, course: Path, golden: Path, prompt: PromptSpec
) -> Candidate:
    """Read the course and the questions, fit the index, version the prompt."""
    passages = read_course(course)
    questions = read_golden(golden)
    index = PassageIndex().fit(passages)
    missing = unknown_sources(questions, index.sources_)
    if missing:
        raise DataError(
            f"golden questions cite passages the course lacks: {', '.join(missing)}",
            f"fix the sources in {golden} (see `mlopslab assistant sources`)",
        )
    prompt_uri, changed = ensure_prompt(registry, prompt)
    assistant = Assistant("candidate", index, prompt, prompt_uri)
    return Candidate(assistant, passages, questions, digest(passages), changed)


def _same(info: VersionInfo, candidate: Candidate) -> bool:
    return (
        info.tags.get(DIGEST_TAG) == candidate.fingerprint
        and info.tags.get(PROMPT_TAG) == candidate.assistant.prompt_uri
    )


def _rescore(
    registry: Registry, info: VersionInfo, questions: list[GoldenQuestion]
) -> dict[str, float]:
    """The champion on today's golden questions, with its own index and prompt."""
    old = load_version(registry, info.version, info.run_id, info.tags)
    rows = [
        scoring.score(q, answer(old.index, q.question, old.prompt), old.index)
        for q in questions
    ]
    return scoring.means(rows)


def _record(
    registry: Registry,
    candidate: Candidate,
    before: VersionInfo | None,
    champion_scores: dict[str, float] | None,
    thresholds: Thresholds,
) -> BuildResult:
    """One MLflow run: evaluate, gate, register, promote; undone on failure."""
    aliases = _aliases(registry)
    created: list[VersionInfo] = []  # the version, once it exists, to undo
    experiment_id = registry.experiment_id(ASSISTANT)
    try:
        with (
            in_experiment(experiment_id),
            mlflow.start_run(experiment_id=experiment_id, run_name="assistant") as run,
        ):
            _log_params(candidate)
            metrics, rows = evaluate(candidate.assistant, candidate.questions)
            decision = scoring.gate(
                metrics, champion_scores, thresholds, before.version if before else None
            )
            _log_files(candidate, rows, decision, metrics)
            _register(registry, run.info.run_id, candidate, decision, metrics, created)
    except (*STORE_FAILURES, StoreError) as exc:
        if created:
            _restore(registry, created[0].version, aliases)
        raise _failed(exc) from exc
    after = registry.champion(ASSISTANT)
    return BuildResult(
        decision.verdict, candidate.assistant.prompt_uri, candidate.prompt_changed,
        len(candidate.passages), len(candidate.questions), metrics, champion_scores,
        decision, run.info.run_id, created[0].version,
        before.version if before else None, after.version if after else None,
        [row for row in rows if missed(row)],
    )  # fmt: skip


def _register(
    registry: Registry,
    run_id: str,
    candidate: Candidate,
    decision: GateDecision,
    metrics: dict[str, float],
    created: list[VersionInfo],
) -> None:
    """A version of the run's files, its status, and the champion if approved."""
    registry.client.link_prompt_version_to_run(run_id, candidate.assistant.prompt_uri)
    created.append(
        registry.register(
            ASSISTANT,
            f"runs:/{run_id}/{ARTIFACTS}",
            run_id,
            tags=_tags(candidate, decision, metrics),
            description="; ".join(decision.reasons),
        )
    )
    version = created[0].version
    registry.set_status(ASSISTANT, version, decision.verdict)
    if decision.approved:
        registry.promote(ASSISTANT, version)


def _failed(exc: Exception) -> StoreError | StageError:
    unchanged = "the registry and champion are unchanged"
    if isinstance(exc, StoreError):
        return StoreError(
            f"assistant build failed: {exc.message}", f"{unchanged}; {exc.hint}"
        )
    return StageError(
        f"assistant build failed: {first_line(exc)}",
        f"{unchanged}; check the workspace and run again",
    )


def _log_params(candidate: Candidate) -> None:
    assistant = candidate.assistant
    mlflow.log_params(
        {
            **{f"index.{k}": v for k, v in assistant.index.get_params().items()},
            **{f"prompt.{k}": v for k, v in assistant.prompt.settings().items()},
            "prompt.uri": assistant.prompt_uri,
            "passages": len(candidate.passages),
            "passages.digest": candidate.fingerprint,
            "golden.questions": len(candidate.questions),
        }
    )


def _log_files(
    candidate: Candidate,
    rows: list[dict[str, Any]],
    decision: GateDecision,
    metrics: dict[str, float],
) -> None:
    """The version's files: what `ask` rebuilds it from, and its evaluation."""
    assistant = candidate.assistant
    files = {
        "passages.json": [asdict(p) for p in candidate.passages],
        "index.json": assistant.index.get_params(),
        "prompt.json": {"uri": assistant.prompt_uri, **asdict(assistant.prompt)},
        "evaluation.json": {"metrics": metrics, "questions": rows},
        "gate.json": {"verdict": decision.verdict, "reasons": decision.reasons},
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name, content in files.items():
            (Path(scratch) / name).write_text(
                json.dumps(content, indent=2), encoding="utf-8"
            )
        mlflow.log_artifacts(scratch, ARTIFACTS)


def _tags(
    candidate: Candidate, decision: GateDecision, metrics: dict[str, float]
) -> dict[str, str]:
    return {
        "status": "pending",
        "family": "tfidf-extractive",
        PROMPT_TAG: candidate.assistant.prompt_uri,
        DIGEST_TAG: candidate.fingerprint,
        "gate": decision.verdict,
        **{name: f"{value:.4f}" for name, value in metrics.items()},
    }


def _aliases(registry: Registry) -> dict[str, str]:
    """Where `champion` and `previous` point now, to put them back on failure."""
    found = {}
    for alias in (CHAMPION, PREVIOUS):
        try:
            found[alias] = registry.version(ASSISTANT, alias).version
        except RegistryError:
            continue  # not set (or no model yet): nothing to restore
    return found


def _restore(registry: Registry, version: str, aliases: dict[str, str]) -> None:
    """Delete the new version and put the aliases back where they were."""
    registry.discard(ASSISTANT, version)
    for alias, target in aliases.items():
        registry.set_alias(ASSISTANT, alias, target)
