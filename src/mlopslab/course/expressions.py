"""Numeric quiz answers computed from a student's drawn parameters.

`simpleeval` evaluates arithmetic without Python's `eval`: course files are
data, and an expression in one must not be able to run code.
"""

from __future__ import annotations

import math

from simpleeval import InvalidExpression, SimpleEval

FUNCTIONS = {"min": min, "max": max, "round": round, "abs": abs, "sqrt": math.sqrt}


def evaluate(expression: float | str, values: dict[str, float]) -> float:
    """The value of `expression` with `values` bound; ValueError if it has none."""
    if isinstance(expression, int | float):
        return float(expression)
    evaluator = SimpleEval(names=dict(values), functions=FUNCTIONS)
    try:
        result = evaluator.eval(expression)
    except (InvalidExpression, ArithmeticError, TypeError, SyntaxError) as exc:
        raise ValueError(f"answer {expression!r} cannot be computed: {exc}") from exc
    if not isinstance(result, int | float) or isinstance(result, bool):
        raise ValueError(f"answer {expression!r} is not a number")
    if not math.isfinite(result):
        raise ValueError(f"answer {expression!r} is not finite")
    return float(result)
