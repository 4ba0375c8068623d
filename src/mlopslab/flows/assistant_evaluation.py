"""The assistant on the golden questions, through `mlflow.genai.evaluate`.

It runs every question (each answer a trace with its spans, tagged
`evaluate`) and the code-based scorers (each score an assessment on that
trace), and logs each scorer's mean to the active run. The scorers call
`assistant.scoring`, the same code that re-scores the champion, so both are
judged alike. It works offline: code-based scorers call no judge model.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import mlflow

from mlopslab.assistant import scoring
from mlopslab.assistant.answer import Answer
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.questions import GoldenQuestion
from mlopslab.flows.assistant import Assistant, traced_answer

Row = dict[str, Any]


def evaluate(
    assistant: Assistant, questions: list[GoldenQuestion]
) -> tuple[dict[str, float], list[Row]]:
    """Each scorer's mean over the golden questions, and each question's scores."""
    answers: dict[str, Answer] = {}

    def predict(question: str) -> str:
        answers[question] = traced_answer(assistant, question, "evaluate").answer
        return answers[question].text

    data = [
        {"inputs": {"question": q.question}, "expectations": {"id": q.id}}
        for q in questions
    ]
    scorers = _scorers(questions, answers, assistant.index)
    result = _quietly_evaluate(data, predict, scorers)
    metrics = {
        name: float(result.metrics.get(f"{name}/mean", 0.0)) for name in scoring.SCORERS
    }
    return metrics, _rows(questions, answers, assistant.index)


def _scorers(
    questions: list[GoldenQuestion], answers: dict[str, Answer], index: PassageIndex
) -> list[Any]:
    """One MLflow scorer per scoring.SCORERS name, reading the answer predict made."""
    by_id = {q.id: q for q in questions}

    def scorer_for(name: str) -> Any:
        def score_one(inputs: dict[str, Any], expectations: dict[str, Any]) -> Any:
            q, a = by_id[expectations["id"]], answers[inputs["question"]]
            return scoring.score(q, a, index)[name]

        return mlflow.genai.scorer(score_one, name=name)

    return [scorer_for(name) for name in scoring.SCORERS]


def _quietly_evaluate(data: list[Row], predict: Any, scorers: list[Any]) -> Any:
    # SQLite takes one writer at a time: MLflow's default of 10 threads, each
    # writing spans and assessments, queue on the connection pool. A whole
    # build of the course (31 questions) took 78 s so on 2 busy cores, and
    # 28 s with one thread. A server store can take more: set it yourself.
    os.environ.setdefault("MLFLOW_GENAI_EVAL_MAX_WORKERS", "1")
    # Its check runs one question an extra time; our spans are already there.
    os.environ.setdefault("MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION", "true")
    # MLflow narrates (a progress bar, links to its UI); our table says it all.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        return mlflow.genai.evaluate(data=data, predict_fn=predict, scorers=scorers)


def _rows(
    questions: list[GoldenQuestion], answers: dict[str, Answer], index: PassageIndex
) -> list[Row]:
    """Each question with its answer, the passages it drew on and its scores."""
    return [
        {
            "id": q.id,
            "question": q.question,
            "answer": answers[q.question].text,
            "sources": answers[q.question].sources,
            **scoring.score(q, answers[q.question], index),
        }
        for q in questions
    ]


def missed(row: Row) -> bool:
    """True if a scorer that applies to the question gave it less than 1."""
    return any(row.get(name) not in (None, 1.0) for name in scoring.SCORERS)
