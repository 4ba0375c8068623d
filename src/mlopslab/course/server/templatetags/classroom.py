from django import template

from mlopslab.course.quiz import LETTERS

register = template.Library()


@register.filter
def letter(index: int) -> str:
    """0 -> A: the letter a shown choice is answered with."""
    return LETTERS[int(index)]
