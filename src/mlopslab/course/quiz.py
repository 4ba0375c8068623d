"""Per-student quiz variants, answer parsing and scoring.

A variant is seeded by the student id and the module: options and ordering
items are shuffled, pools are drawn from, and numeric parameters are drawn with
the correct answer computed from them. The same student always gets the same
variant; the key never leaves this module before an answer is scored.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from dataclasses import dataclass, field
from typing import Any

from mlopslab.course.content import (
    Multiple,
    Numeric,
    Order,
    Pool,
    QuizFile,
    Single,
    Text,
)
from mlopslab.course.expressions import evaluate
from mlopslab.course.variants import draw_number
from mlopslab.errors import CourseError

LETTERS = string.ascii_uppercase
AnyQuestion = Single | Multiple | Numeric | Text | Order


@dataclass(frozen=True)
class Shown:
    """One question as this student sees it, with its key kept apart."""

    id: str
    type: str
    prompt: str
    choices: tuple[str, ...]  # options or ordering items, in the shown order
    explanation: str
    demo: str | None
    _key: Any = field(repr=False)  # displayed letters, a number or patterns
    _tolerance: float = field(default=0.0, repr=False)

    def public(self) -> dict[str, Any]:
        """What may be shown or written before answering: no key."""
        return {
            "id": self.id,
            "type": self.type,
            "prompt": self.prompt,
            "choices": list(self.choices),
            "demo": self.demo,
        }

    def answer_format(self) -> str:
        return {
            "single": "one letter, e.g. B",
            "multiple": "letters, e.g. A,C",
            "numeric": "a number, e.g. 0.25",
            "text": "a word or phrase",
            "order": "every letter once in the right order, e.g. CAB",
        }[self.type]

    def correct_answer(self) -> str:
        """The key, in the answer format: shown only after scoring."""
        if self.type in {"single", "multiple"}:
            return ",".join(self._key)
        if self.type == "order":
            return "".join(self._key)
        if self.type == "numeric":
            return f"{self._key:g} (within {self._tolerance:g})"
        return " or ".join(self._key)


@dataclass(frozen=True)
class Variant:
    student: str
    module: str
    seed: int
    questions: tuple[Shown, ...]

    def question(self, question_id: str) -> Shown:
        for shown in self.questions:
            if shown.id == question_id:
                return shown
        raise CourseError(
            f"question '{question_id}' is not in {self.module} for this student",
            f"answer the ids `mlopslab course quiz {self.module} --show` lists",
        )


@dataclass(frozen=True)
class Marked:
    question: Shown
    given: str
    points: float  # 0 to 1; partial for multiple select
    correct: str


def variant_seed(student: str, module: str, attempt: int = 0) -> int:
    digest = hashlib.sha256(f"{student}\0{module}\0{attempt}".encode()).hexdigest()
    return int(digest[:12], 16)


def make_variant(
    quiz: QuizFile,
    student: str,
    module: str,
    demo: str | None = None,
    attempt: int = 0,
) -> Variant:
    """Draw this student's questions for one attempt; `demo` draws a demo's quiz.

    A retake (the next `attempt`) draws again: other pool questions, other
    numbers and other shuffles, so keys seen after one attempt do not carry over.
    A demo quiz draws from the questions tagged with the demo only (a pool gives
    as many of its tagged questions as it draws, or all if fewer), so every
    student gets the same number of them; a demo without any is a CourseError.
    """
    seed = variant_seed(student, module, attempt)
    rng = random.Random(seed)
    shown: list[Shown] = []
    for item in quiz.questions:
        shown.extend(present(question, rng) for question in _drawn(item, rng, demo))
    if demo is not None and not shown:
        raise CourseError(
            f"no question of {module}'s quiz is on demo '{demo}'",
            f"tag questions with `demo: {demo}` in {module}/quiz.yaml",
        )
    return Variant(student, module, seed, tuple(shown))


def _drawn(
    item: AnyQuestion | Pool, rng: random.Random, demo: str | None
) -> list[AnyQuestion]:
    """The questions one quiz item gives this draw, only the demo's if asked."""
    if not isinstance(item, Pool):
        return [item] if demo is None or item.demo == demo else []
    candidates = [q for q in item.questions if demo is None or q.demo == demo]
    return rng.sample(candidates, min(item.draw, len(candidates)))


def present(question: AnyQuestion, rng: random.Random) -> Shown:
    """The question with this draw's shuffles and numbers, its key kept apart."""
    prompt, tolerance = question.prompt, 0.0
    choices: tuple[str, ...] = ()
    key: Any
    if isinstance(question, Single | Multiple):
        order = _shuffled(len(question.options), rng)
        wanted = [question.answer] if isinstance(question, Single) else question.answer
        key = sorted(LETTERS[order.index(index)] for index in wanted)
        choices = tuple(question.options[i] for i in order)
    elif isinstance(question, Order):
        order = _shuffled(len(question.items), rng)
        key = [LETTERS[order.index(k)] for k in range(len(question.items))]
        choices = tuple(question.items[i] for i in order)
    elif isinstance(question, Numeric):
        values = {
            name: draw_number(p.min, p.max, p.integer, p.decimals, rng)
            for name, p in question.params.items()
        }
        prompt = question.prompt.format(**values) if values else question.prompt
        key, tolerance = evaluate(question.answer, values), question.tolerance
    else:
        key = question.accept
    return Shown(
        id=question.id,
        type=question.type,
        prompt=prompt,
        choices=choices,
        explanation=question.explanation,
        demo=question.demo,
        _key=key,
        _tolerance=tolerance,
    )


def _shuffled(count: int, rng: random.Random) -> list[int]:
    """A shuffle that never leaves everything in place (it would give an ordering
    question away, and the written order of options often starts with the key)."""
    while True:
        order = rng.sample(range(count), count)
        if order != list(range(count)):
            return order


def mark(question: Shown, answer: Any) -> Marked:
    """Score one answer (0 to 1); a malformed answer is a CourseError naming it."""
    given = _normalise(question, answer)
    points = _points(question, given)
    return Marked(question, _text(given), points, question.correct_answer())


def _normalise(question: Shown, answer: Any) -> Any:
    if question.type == "numeric":
        try:
            return float(str(answer).strip())
        except ValueError:
            raise _bad(question, answer) from None
    if question.type == "text":
        return str(answer).strip()
    letters = _letters(answer)
    allowed = set(LETTERS[: len(question.choices)])
    if not letters or not set(letters) <= allowed:
        raise _bad(question, answer)
    if question.type == "single" and len(letters) != 1:
        raise _bad(question, answer)
    if question.type == "order" and sorted(letters) != sorted(allowed):
        raise _bad(question, answer)
    if question.type == "multiple" and len(set(letters)) != len(letters):
        raise _bad(question, answer)
    return letters


def _letters(answer: Any) -> list[str]:
    if isinstance(answer, list | tuple):
        return [str(a).strip().upper() for a in answer]
    text = str(answer).strip().upper()
    parts = re.split(r"[\s,;]+", text) if re.search(r"[\s,;]", text) else list(text)
    return [p for p in parts if p]


def _points(question: Shown, given: Any) -> float:
    key = question._key
    if question.type == "numeric":
        return 1.0 if abs(given - key) <= question._tolerance + 1e-9 else 0.0
    if question.type == "text":
        return 1.0 if any(re.fullmatch(p, given, re.IGNORECASE) for p in key) else 0.0
    if question.type == "multiple":
        right = len(set(given) & set(key))
        wrong = len(set(given) - set(key))
        return max(0.0, (right - wrong) / len(key))
    return 1.0 if list(given) == list(key) else 0.0


def _text(given: Any) -> str:
    if isinstance(given, list):
        return ",".join(given)
    return f"{given:g}" if isinstance(given, float) else str(given)


def _bad(question: Shown, answer: Any) -> CourseError:
    """One line: what is wrong with the answer, then what this question takes."""
    letters = ", ".join(LETTERS[: len(question.choices)])
    problem, fix = {
        "single": ("is not one of its letters", f"answer with one of {letters}"),
        "multiple": (
            "is not a set of its letters",
            f"answer with one or more of {letters}, each once, e.g. A,C",
        ),
        "order": (
            "is not an ordering of its letters",
            f"answer with each of {letters} once, in your order",
        ),
        "numeric": ("is not a number", "answer with a number, e.g. 0.25"),
    }[question.type]  # a text answer is any text: never malformed
    if question.type == "single" and len(str(answer).strip()) > 1:
        problem = "gives more than one letter"  # "AB": both may be its letters
    return CourseError(f"answer {answer!r} to '{question.id}' {problem}", fix)
