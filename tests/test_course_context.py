"""What the course commands share: naming a module, and where they may write."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlopslab.cli.context import resolve_config
from mlopslab.cli.course_context import (
    course_database,
    module_id,
    new_folder,
    server_module,
)
from mlopslab.errors import CourseError
from tests.course_fixture import write_course

IDS = ["0-setup", "1-data", "3-evaluation", "3-extras", "10-deploy"]


@pytest.mark.parametrize(
    ("given", "found"),
    [
        ("3-evaluation", "3-evaluation"),  # the id
        ("1", "1-data"),  # its number
        ("10", "10-deploy"),  # a number is exact: `1` is not `10-deploy`
        ("3-ev", "3-evaluation"),  # a unique start of the id
        ("eval", "3-evaluation"),  # ... or of the name after the number
        (" Setup ", "0-setup"),  # any case, spaces around
    ],
)
def test_a_module_is_its_id_number_or_unique_start(given: str, found: str) -> None:
    assert module_id(IDS, given) == found


@pytest.mark.parametrize(
    ("given", "line"),
    [
        ("3", "module '3' could be any of 3-evaluation, 3-extras"),
        ("e", "module 'e' could be any of 3-evaluation, 3-extras"),
        ("7", "no module '7' in the course"),
        ("", "no module '' in the course"),
    ],
)
def test_an_ambiguous_or_unknown_module_lists_the_ids(given: str, line: str) -> None:
    with pytest.raises(CourseError) as caught:
        module_id(IDS, given)
    assert caught.value.one_line() == f"{line}; choose one of: {', '.join(IDS)}"


def test_a_folder_to_make_needs_its_parent(tmp_path: Path) -> None:
    assert new_folder(tmp_path / "site", "--out") == tmp_path / "site"
    with pytest.raises(CourseError) as caught:
        new_folder(tmp_path / "no" / "site", "--out")
    assert caught.value.one_line().endswith(
        "first, or choose --out inside an existing folder"
    )
    assert not (tmp_path / "no").exists()


def test_the_server_gets_names_expanded_only_by_the_students_own_course() -> None:
    cfg = resolve_config(None, None)
    # No ./course here: the package's course may not be the server's, so as typed.
    assert server_module(cfg, None, " 1 ") == "1"
    write_course(Path("course"))
    assert server_module(cfg, None, "1") == "1-drift"
    assert server_module(cfg, None, "9-other") == "9-other"  # the server answers


def test_the_class_database_comes_from_the_flag_then_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable the options' help names is the one that works."""
    monkeypatch.setenv("MLOPSLAB_COURSE__DATABASE", f"sqlite:///{tmp_path}/set.db")
    cfg = resolve_config(None, tmp_path / "ws")
    assert course_database(cfg) == f"sqlite:///{tmp_path}/set.db"
    assert course_database(cfg, f"sqlite:///{tmp_path}/flag.db").endswith("flag.db")
    monkeypatch.delenv("MLOPSLAB_COURSE__DATABASE")
    default = course_database(resolve_config(None, tmp_path / "ws"))
    assert default == f"sqlite:///{(tmp_path / 'ws' / 'course.db').resolve()}"
