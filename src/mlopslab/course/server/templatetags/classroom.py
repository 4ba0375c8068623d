from django import template

from mlopslab.course.quiz import LETTERS

register = template.Library()


@register.filter
def letter(index: int) -> str:
    """0 -> A: the letter a shown choice is answered with."""
    return LETTERS[int(index)]


@register.filter
def num(value: float | None) -> str:
    """A score as people write it: 4.8, 6, 0.25 (at most two decimals)."""
    return "" if value is None else f"{round(float(value), 2):g}"
