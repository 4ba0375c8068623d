from __future__ import annotations

from pathlib import Path

import pytest

from mlopslab.assistant import scoring
from mlopslab.assistant.answer import PromptSpec, answer
from mlopslab.assistant.corpus import read_course
from mlopslab.assistant.index import PassageIndex
from mlopslab.assistant.questions import read_golden, unknown_sources
from mlopslab.errors import DataError

COURSE = Path(__file__).resolve().parents[2] / "course"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "golden.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_questions_read_with_their_sources_and_lowercased_keywords(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "questions:\n"
        "  - {id: a, question: 'What?', sources: [x#y], keywords: [Drift]}\n"
        "  - {id: b, question: 'Bread?', out_of_scope: true}\n",
    )
    first, second = read_golden(path)
    assert first.sources == ("x#y",) and first.keywords == ("drift",)
    assert first.in_scope and not second.in_scope


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("questions: []\n", "has no questions"),
        ("questions:\n  - {id: a}\n", "question 1 needs an id and a question"),
        (
            "questions:\n  - {id: a, question: 'Q?'}\n",
            r"needs sources, or out_of_scope",
        ),
        (
            "questions:\n  - {id: a, question: 'Q?', sources: [x#y],"
            " out_of_scope: true}\n",
            "not both",
        ),
        (
            "questions:\n  - {id: a, question: 'Q?', out_of_scope: true}\n"
            "  - {id: a, question: 'R?', out_of_scope: true}\n",
            "used twice: a",
        ),
        ("questions: [\n", "not valid YAML"),
    ],
)
def test_a_bad_golden_file_names_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        read_golden(write(tmp_path, text))


def test_a_missing_golden_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no golden question set"):
        read_golden(tmp_path / "nowhere.yaml")


def test_the_courses_golden_set_names_only_passages_the_course_has() -> None:
    # Lessons change under the golden set: a renamed section must fail here,
    # not as a quiet drop in source_hit.
    questions = read_golden(COURSE / "13-llm" / "golden.yaml")
    index = PassageIndex().fit(read_course(COURSE))
    assert 20 <= len(questions) <= 40
    assert unknown_sources(questions, index.sources_) == []
    assert sum(not q.in_scope for q in questions) >= 5


def test_the_built_in_prompt_passes_the_gate_on_the_courses_golden_set() -> None:
    questions = read_golden(COURSE / "13-llm" / "golden.yaml")
    index = PassageIndex().fit(read_course(COURSE))
    rows = [
        scoring.score(q, answer(index, q.question, PromptSpec()), index)
        for q in questions
    ]
    means = scoring.means(rows)
    assert scoring.gate(means, None, scoring.Thresholds()).approved, means
