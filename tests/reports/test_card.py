"""The model card's Columns section (the whole card: test_evaluation.py)."""

from mlopslab.columns import ColumnReport, Decision
from mlopslab.reports.card import columns_markdown


def test_columns_section_says_what_was_done_to_each_column_and_why() -> None:
    report = ColumnReport(
        (
            Decision(
                "id", "dropped", "identifier", "1360 distinct values in 1360 rows"
            ),
            Decision("code", "dropped", "copies the target"),
            Decision("ts", "expanded", "timestamp", "into month, weekday, hour"),
            Decision("zip", "kept", "identifier", "990 distinct values in 1000 rows"),
        )
    )
    lines = columns_markdown([d.to_dict() for d in report.decisions])
    assert lines[:5] == [
        "## Columns",
        "- `id` dropped (identifier: 1360 distinct values in 1360 rows)",
        "- `code` dropped (copies the target)",
        "- `ts` expanded (timestamp: into month, weekday, hour)",
        "- `zip` kept by data.keep (identifier: 990 distinct values in 1000 rows)",
    ]
    assert "`data.drop`" in lines[6] and "`data.keep`" in lines[6]
    assert lines[-1] == ""


def test_no_section_when_every_column_was_used_as_it_came() -> None:
    assert columns_markdown([]) == []
