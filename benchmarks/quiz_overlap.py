"""How much two students' quizzes share: per module of the shipped course.

For each module, draws the graded quiz (attempt 0) of `--students` students
(s01, s02, ...) and prints the items per attempt, the questions the quiz holds,
the mean and largest share of items two students have in common, and the mean
share between a student's attempt 0 and attempt 1. An item is a question id:
the same numeric question with other numbers still counts as shared. The
course's rule: a mean pairwise overlap of at most 0.5 (tests hold it).

    .venv/bin/python -m benchmarks.quiz_overlap [--students 30] [--course course]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from pathlib import Path

from mlopslab.course.content import QuizFile, load_course
from mlopslab.course.quiz import make_variant

REPO = Path(__file__).resolve().parents[1]
LIMIT = 0.5


def drawn_ids(quiz: QuizFile, module: str, student: str, attempt: int = 0) -> set[str]:
    """The question ids of one student's graded attempt."""
    variant = make_variant(quiz, student, module, attempt=attempt)
    return {shown.id for shown in variant.questions}


def overlap(first: set[str], second: set[str]) -> float:
    """Items two draws share, as a share of the items in one draw."""
    return len(first & second) / max(len(first), len(second))


def module_row(quiz: QuizFile, module: str, students: list[str]) -> dict[str, float]:
    """The table's figures for one module."""
    draws = [drawn_ids(quiz, module, student) for student in students]
    pairs = [overlap(a, b) for a, b in itertools.combinations(draws, 2)]
    retakes = [
        overlap(first, drawn_ids(quiz, module, student, attempt=1))
        for student, first in zip(students, draws, strict=True)
    ]
    return {
        "items": statistics.median(len(d) for d in draws),
        "questions": len(quiz.all_questions()),
        "mean": statistics.mean(pairs),
        "max": max(pairs),
        "retake": statistics.mean(retakes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--course", type=Path, default=REPO / "course")
    args = parser.parse_args()
    course = load_course(args.course)
    students = [f"s{n:02d}" for n in range(1, args.students + 1)]
    print(
        f"graded quiz items shared by two of {args.students} students (attempt 0), "
        f"and by a student's attempts 0 and 1; rule: mean <= {LIMIT}"
    )
    print(
        f"{'module':<16}{'items':>7}{'questions':>11}{'mean':>8}{'max':>7}"
        f"{'retake':>8}{'':>3}"
    )
    for module in course.modules:
        if module.quiz is None:  # a students' copy: the keys stay on the server
            print(f"{module.id:<16}no quiz keys in this copy")
            continue
        row = module_row(module.quiz, module.id, students)
        verdict = "ok" if row["mean"] <= LIMIT else "OVER"
        print(
            f"{module.id:<16}{row['items']:>7.0f}{row['questions']:>11}"
            f"{row['mean']:>8.2f}{row['max']:>7.2f}{row['retake']:>8.2f}"
            f"{verdict:>5}"
        )


if __name__ == "__main__":
    main()
