"""Each student's own numbers for an assignment: seeded by their id and the module.

An assignment declares them in `assignment.yaml`:

    variant:
      feature: {choices: [flipper_length_mm, bill_length_mm]}
      shift: {min: 0.8, max: 1.4, decimals: 1}

Every student draws their own values, always the same ones (`mlopslab course
variant MODULE --student ID` shows them; the course server shows them on the
assignment page), and the checks compute what that student's copy must do from
the same values (`Context.variant`). An answer written out for one student's
numbers fails another's. The draw is public on purpose, like a quiz's: knowing
another student's numbers does not answer one's own.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag

from mlopslab.course.content import Param, Strict

Value = float | int | str


class Choice(Strict):
    """One of a list: a feature, a class, a seed that the instructor vetted."""

    choices: list[float | int | str] = Field(min_length=1)


def _kind(value: Any) -> str:
    """A list of choices or a range: errors then speak of the one meant."""
    if isinstance(value, dict):
        return "choices" if "choices" in value else "range"
    return "choices" if isinstance(value, Choice) else "range"


Entry = Annotated[
    Annotated[Param, Tag("range")] | Annotated[Choice, Tag("choices")],
    Discriminator(_kind),
]
Spec = Mapping[str, Param | Choice]


def variant_seed(student: str, module: str) -> int:
    """Not a quiz's seed: a student's quiz and assignment numbers are unrelated."""
    text = f"assignment\0{student}\0{module}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def draw(spec: Spec, student: str, module: str) -> dict[str, Value]:
    """`student`'s values for `module`: the same every time, by name order."""
    rng = random.Random(variant_seed(student, module))
    return {name: _one(spec[name], rng) for name in sorted(spec)}


def draw_number(
    low: float, high: float, integer: bool, decimals: int | None, rng: random.Random
) -> float:
    """A number from [low, high]: an integer, or rounded (2 decimals by default)."""
    if integer:
        return rng.randint(int(low), int(high))
    value = rng.uniform(low, high)
    return round(value, 2 if decimals is None else decimals)


def _one(param: Param | Choice, rng: random.Random) -> Value:
    if isinstance(param, Choice):
        return param.choices[rng.randrange(len(param.choices))]
    return draw_number(param.min, param.max, param.integer, param.decimals, rng)


def describe(values: Mapping[str, Any]) -> list[str]:
    """`name: value` lines, in name order, for a terminal or a page."""
    return [
        f"{name}: {values[name]:g}"
        if _number(values[name])
        else f"{name}: {values[name]}"
        for name in sorted(values)
    ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
