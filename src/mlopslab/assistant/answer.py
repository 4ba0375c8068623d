"""Extractive answers: the best sentences of the top passages, with citations.

The prompt decides the layout: its template (`{{answer}}`, `{{sources}}`,
`{{question}}`, MLflow's prompt syntax), and in its settings how many passages
an answer draws on, how many sentences it keeps, the citation format and the
refusal below a retrieval score.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from mlopslab.assistant.index import Hit, PassageIndex
from mlopslab.errors import ConfigError

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\[\"'])")
BULLET = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Shorter pieces are headings, command fragments or list stubs, not answers.
MIN_SENTENCE_CHARS = 25


@dataclass(frozen=True)
class PromptSpec:
    """A prompt template and the settings that shape the answer."""

    template: str = "{{answer}}\n\nSources: {{sources}}"
    passages: int = 3
    sentences: int = 2
    min_score: float = 0.12
    citation: str = "[{source}]"
    refusal: str = (
        "I cannot answer that from the course. Try `mlopslab course glossary WORDS`."
    )

    def settings(self) -> dict[str, Any]:
        """Everything but the template: MLflow keeps it as the prompt's model_config."""
        values = asdict(self)
        values.pop("template")
        return values

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> PromptSpec:
        """A spec from a file or the registry; unknown keys and bad values refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown prompt setting(s): {', '.join(unknown)}",
                f"use {', '.join(sorted(known))}",
            )
        spec = cls(**values)
        spec.check()
        return spec

    def check(self) -> None:
        if not isinstance(self.template, str) or "{{answer}}" not in self.template:
            raise ConfigError(
                "the prompt template has no {{answer}}", "put {{answer}} in it"
            )
        for name in ("passages", "sentences"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"prompt {name} must be a whole number >= 1")
        if not isinstance(self.min_score, int | float) or not 0 <= self.min_score < 1:
            raise ConfigError("prompt min_score must be a number from 0 to below 1")
        try:
            self.citation.format(source="m#s", module="m", section="s")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"prompt citation '{self.citation}' cannot be filled in",
                "use {source}, {module} and {section}, e.g. [{source}]",
            ) from exc


@dataclass(frozen=True)
class Answer:
    """What the assistant says, and what it was based on."""

    question: str
    text: str
    refused: bool
    top_score: float
    hits: tuple[Hit, ...]

    @property
    def sources(self) -> list[str]:
        return [hit.passage.source for hit in self.hits]


def retrieve(index: PassageIndex, question: str, prompt: PromptSpec) -> list[Hit]:
    """The passages an answer may draw on: as many as the prompt asks for."""
    return index.search(question, prompt.passages)


def compose(
    index: PassageIndex, question: str, hits: list[Hit], prompt: PromptSpec
) -> Answer:
    """The answer from the retrieved passages, or the refusal when none matches."""
    top = hits[0].score if hits else 0.0
    if top < prompt.min_score:
        return Answer(question, prompt.refusal, True, top, tuple(hits))
    chosen = best_sentences(index, question, hits, prompt.sentences)
    lines = [f"{text} {cite(prompt, source)}" for text, source in chosen]
    used = list(dict.fromkeys(source for _, source in chosen))
    text = render(
        prompt.template,
        answer="\n".join(lines),
        sources=", ".join(cite(prompt, source) for source in used),
        question=question,
    )
    return Answer(question, text, False, top, tuple(hits))


def answer(index: PassageIndex, question: str, prompt: PromptSpec) -> Answer:
    """Retrieve, then compose: the whole answer in one call."""
    return compose(index, question, retrieve(index, question, prompt), prompt)


def best_sentences(
    index: PassageIndex, question: str, hits: list[Hit], count: int
) -> list[tuple[str, str]]:
    """(sentence, source) of the `count` sentences that best match the question."""
    candidates, passage_scores = [], []
    for hit in hits:
        for sentence in sentences(hit.passage.text):
            candidates.append((sentence, hit.passage.source))
            passage_scores.append(hit.score)
    # A sentence counts with its passage: a stray match in a weak passage
    # should not beat the sentences of the passage that is about the question.
    scores = index.sentence_scores(question, [text for text, _ in candidates])
    scores = scores + np.asarray(passage_scores)
    # Best first; on a tie the earlier (better-ranked) passage wins.
    ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    return [candidates[i] for i in ranked[:count]]


def sentences(text: str) -> list[str]:
    """The sentences of a passage that can answer: list items and lines split at
    full stops. A question is never an answer (lessons end with questions)."""
    found = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.)\s)", text):
        flat = BULLET.sub("", " ".join(paragraph.split()))
        for sentence in SENTENCE_END.split(flat):
            stripped = sentence.strip()
            if len(stripped) >= MIN_SENTENCE_CHARS and not stripped.endswith("?"):
                found.append(stripped)
    return found


def cite(prompt: PromptSpec, source: str) -> str:
    module, _, section = source.partition("#")
    return prompt.citation.format(source=source, module=module, section=section)


def render(template: str, **values: str) -> str:
    """`{{name}}` replaced by its value, as MLflow's PromptVersion.format does."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
