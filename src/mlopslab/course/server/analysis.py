"""What an instructor learns from a module's attempts: items and checks."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from mlopslab.course.classroom.models import QuizRun, Submission
from mlopslab.course.quiz import LETTERS, make_variant
from mlopslab.course.server.syllabus import Unit

GROUP = 0.27  # the top and bottom 27% of scores, as the classic index uses


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str
    answered: int
    correct: float  # mean points, 0 to 1
    discrimination: float | None  # top group's mean minus bottom group's
    common_wrong: str  # the wrong answer chosen most, as option text


@dataclass(frozen=True)
class CheckRate:
    id: str
    name: str
    visibility: str
    graded: int
    passed: float


def items(unit: Unit) -> list[Item]:
    """Item analysis over every finished graded attempt of the module's quiz."""
    if unit.quiz is None:
        return []
    runs = list(QuizRun.objects.filter(module=unit.id, demo="", attempt__isnull=False))
    totals = {run.pk: sum(run.points.values()) for run in runs}
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    prompts: dict[str, str] = {}
    for run in runs:
        variant = make_variant(unit.quiz, run.student, unit.id, None, run.number)
        for shown in variant.questions:
            prompts.setdefault(shown.id, shown.prompt)
            got = float(run.points.get(shown.id, 0.0))
            points[shown.id].append((totals[run.pk], got))
            if got < 1.0:
                wrong[shown.id][_as_text(shown.choices, run.answers.get(shown.id))] += 1
    return [
        Item(
            qid,
            prompts[qid],
            len(scored),
            sum(p for _, p in scored) / len(scored),
            _discrimination(scored),
            wrong[qid].most_common(1)[0][0] if wrong[qid] else "",
        )
        for qid, scored in sorted(points.items())
    ]


def check_rates(unit: Unit) -> list[CheckRate]:
    """Per check: the share of students whose latest graded submission passed."""
    latest: dict[str, Submission] = {}
    for sub in Submission.objects.filter(module=unit.id, status="graded").order_by(
        "id"
    ):
        latest[sub.student] = sub
    seen: dict[str, list[bool]] = defaultdict(list)
    names: dict[str, tuple[str, str]] = {}
    for sub in latest.values():
        for result in sub.results:
            seen[result["id"]].append(result["status"] == "passed")
            names[result["id"]] = (result["name"], result["visibility"])
    return [
        CheckRate(cid, *names[cid], len(flags), sum(flags) / len(flags))
        for cid, flags in seen.items()
    ]


def _discrimination(scored: list[tuple[float, float]]) -> float | None:
    if len(scored) < 4:
        return None
    ranked = sorted(scored)
    size = max(1, round(len(ranked) * GROUP))
    low, high = ranked[:size], ranked[-size:]
    return sum(p for _, p in high) / size - sum(p for _, p in low) / size


def _as_text(choices: tuple[str, ...], given: object) -> str:
    """A given answer in option texts, so shuffled variants count together."""
    if given is None:
        return "(no answer)"
    text = str(given)
    if not choices:
        return text
    letters = [part.strip() for part in text.split(",") if part.strip()]
    picked = [
        choices[LETTERS.index(letter)]
        for letter in letters
        if letter in LETTERS[: len(choices)]
    ]
    return " + ".join(picked) if picked else text
