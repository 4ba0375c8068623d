"""`mlopslab assistant ...` through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.assistant_course import make_course
from tests.conftest import Cli


def test_an_empty_question_is_one_line_and_exit_4(cli: Cli) -> None:
    result = cli("assistant", "ask", "   ")
    assert result.code == 4
    assert result.err.strip().splitlines() == [
        'error: the question is empty; ask in words: `assistant ask "..."`'
    ]


def test_a_missing_course_folder_is_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("assistant", "build", "--course", tmp_path / "nowhere")
    assert result.code == 8
    assert "no course.yaml in" in result.err and "Traceback" not in result.err


def test_ask_before_any_build_says_to_build(cli: Cli, workspace: Path) -> None:
    result = cli("assistant", "ask", "What is drift?", "--home", workspace)
    assert result.code == 5
    assert result.err.strip() == (
        "error: no assistant champion yet; run `mlopslab assistant build` first"
    )


def test_ask_in_a_workspace_that_does_not_exist_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("assistant", "ask", "What?", "--home", tmp_path / "typo")
    assert result.code == 2 and "no workspace at" in result.err


def test_prompt_prints_the_built_in_prompt_before_any_build(
    cli: Cli, workspace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "prompt.yaml"
    assert cli("assistant", "prompt", "--out", out, "--home", workspace).code == 0
    text = out.read_text(encoding="utf-8")
    assert "{{answer}}" in text and "citation: '[{source}]'" in text


def test_sources_lists_what_golden_questions_can_name(cli: Cli, tmp_path: Path) -> None:
    result = cli("assistant", "sources", "--course", make_course(tmp_path / "c"))
    assert result.code == 0
    assert "1-data#principles" in result.out and "glossary#champion" in result.out


@pytest.mark.slow
def test_build_gate_register_ask_traces_and_monitor(cli: Cli, tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    golden = course / "golden.yaml"
    built = cli("assistant", "build", "--course", course, "--golden", golden)
    assert built.code == 0, built.err
    assert "Gate: approved" in built.out
    assert "Registered course-assistant v1 status approved; champion: v1" in built.out

    asked = cli("assistant", "ask", "What is a golden test set?")
    assert asked.code == 0, asked.err
    assert "[glossary#golden-test-set]" in asked.out
    refused = cli("assistant", "ask", "How long should sourdough bread proof?")
    assert "cannot answer that from the course" in refused.out

    traces = cli("assistant", "traces", "--last", "5")
    assert traces.out.count("retrieve") == 2  # one row per question asked
    monitor = cli("assistant", "monitor")
    assert "2 questions (versions 1): refusal share 0.50" in monitor.out

    cli("assistant", "prompt", "--out", tmp_path / "prompt.yaml")
    prompt = (tmp_path / "prompt.yaml").read_text(encoding="utf-8")
    worse = tmp_path / "worse.yaml"
    worse.write_text(prompt.replace("'[{source}]'", "'(from {source})'"), "utf-8")
    rejected = cli(
        "assistant", "build", "--course", course, "--golden", golden,
        "--prompt", worse, "--fail-on-reject",
    )  # fmt: skip
    assert rejected.code == 3
    assert "Gate: rejected" in rejected.out
    assert "status rejected; champion: v1" in rejected.out

    again = cli("assistant", "build", "--course", course, "--golden", golden)
    assert again.code == 0 and "unchanged: champion v1" in again.out
