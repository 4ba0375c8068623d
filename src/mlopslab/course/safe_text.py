"""Learner text is data: never markup, never terminal codes, never a formula.

Names and messages that come from a submission (its file name, what its code
printed) reach the instructor's terminal and the CSV files an LMS or a
spreadsheet opens. `plain` drops terminal escape sequences and control
characters; `SafeWriter` does that to every CSV cell and neutralises a cell a
spreadsheet would run as a formula (OWASP's advice: prefix it with a quote).
Where a table is drawn, learner text goes in as `rich.text.Text`, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# CSI and other ESC sequences first, then lone C0/C1 controls (tab and newline too).
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x1f\x7f-\x9f]")
_FORMULA = ("=", "+", "-", "@")


def plain(text: str) -> str:
    """`text` without terminal escape sequences or control characters."""
    return _CONTROL.sub("", text)


def cell(value: Any) -> Any:
    """A CSV cell: strings made plain, and quoted when they would be a formula."""
    if not isinstance(value, str):
        return value
    text = plain(value)
    if text.startswith(_FORMULA) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class SafeWriter:
    """A `csv.writer` whose every cell goes through `cell` first."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(value) for value in row])
