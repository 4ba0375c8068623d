"""Learner text reaches the instructor as data: no markup, codes or formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from mlopslab.course.safe_text import SafeWriter, cell, plain
from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]


def test_plain_drops_escape_sequences_and_control_characters() -> None:
    assert plain("\x1b[2J\x1b[Hana\x07\r\n\tb\x9b") == "anab"
    assert plain("[bold]émilie[/]") == "[bold]émilie[/]"  # markup is rich's to escape


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+2", "'+1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("-0.5", "-0.5"),  # a number stays a number
        ("ana", "ana"),
        (3, 3),
    ],
)
def test_cells_a_spreadsheet_would_run_are_quoted(
    value: object, written: object
) -> None:
    assert cell(value) == written


def test_the_safe_writer_cleans_every_cell() -> None:
    out = io.StringIO()
    SafeWriter(csv.writer(out)).writerow(["=1+1", "\x1b[31mred", 4])
    assert out.getvalue().strip() == "'=1+1,red,4"


HOSTILE_NAMES = [
    "[red]ana[blink]",  # rich markup: styles, links, or a crash
    "\x1b[2J\x1b[Hfake class table",  # clears the terminal, draws its own
    '=HYPERLINK("evil.example","grade")',  # a formula in the LMS export
    "summary.csv",  # one of the grader's own output names
]


def test_hostile_names_are_graded_as_data(cli: Cli, tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    for name in HOSTILE_NAMES:
        (submissions / name).mkdir(parents=True)  # not a project: ungradable
    out = tmp_path / "grades"

    result = cli(
        "course",
        "grade",
        "3-evaluation",
        submissions,
        "--out",
        out,
        "--course",
        REPO / "course",
        "--allow-unfenced",
    )

    assert result.code == 0, result.err
    assert "\x1b" not in result.out + result.err
    assert "[red]ana[blink]" in result.out  # shown as typed, not as markup
    assert "fake class table" in result.out
    for name in HOSTILE_NAMES:
        assert (out / "results" / name / "results.json").is_file()
    summary = (out / "summary.csv").read_text()
    assert '\'=HYPERLINK(""evil.example"",""grade"")' in summary
    canvas = cli("course", "gradebook", "--export", "canvas")
    assert "\n=" not in canvas.out and ",=" not in canvas.out
    assert "'=HYPERLINK" in canvas.out
