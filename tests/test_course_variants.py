"""Each student's own numbers: drawn from their id, planted and expected by checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlopslab.course.autograder import policy_of
from mlopslab.course.content import Param
from mlopslab.course.variants import Choice, describe, draw
from mlopslab.errors import CourseError
from tests.conftest import Cli
from tests.course_fixture import write_course

FEATURES: list[float | int | str] = ["bill_length_mm", "body_mass_g", "flipper_length"]
SPEC: dict[str, Param | Choice] = {
    "seed": Param(min=1, max=999),
    "floor": Param(min=0.8, max=0.95, decimals=3),
    "feature": Choice(choices=FEATURES),
}
# A check that expects the student's own seed in seed.txt: an answer written
# for one student is wrong for (almost) every other.
CHECKS = """
from mlopslab.course.grading import Context, check


@check("seed.txt holds your seed", points=2)
def own_seed(ctx: Context) -> None:
    written = ctx.file("seed.txt").read_text().strip()
    ctx.expect(written == str(ctx.variant["seed"]), f"{written}, not your seed")
"""


def test_a_student_always_draws_the_same_numbers_and_others_draw_others() -> None:
    ana = draw(SPEC, "ana@uni.edu", "3-evaluation")
    assert ana == draw(SPEC, "ana@uni.edu", "3-evaluation")
    assert ana != draw(SPEC, "ana@uni.edu", "6-monitoring")
    everyone = [draw(SPEC, f"student{n}", "3-evaluation") for n in range(40)]
    assert len({v["seed"] for v in everyone}) > 30
    assert {v["feature"] for v in everyone} == set(FEATURES)
    for values in everyone:
        assert isinstance(values["seed"], int) and 1 <= values["seed"] <= 999
        assert 0.8 <= float(values["floor"]) <= 0.95
        assert round(float(values["floor"]), 3) == values["floor"]


def test_the_numbers_print_one_per_line_in_name_order() -> None:
    lines = describe({"shift": 1.2, "feature": "body_mass_g", "seed": 7})
    assert lines == ["feature: body_mass_g", "seed: 7", "shift: 1.2"]


def graded_module(tmp_path: Path, variant: object) -> Path:
    course = write_course(tmp_path / "course")
    module = course / "0-intro"
    (module / "assignment" / "checks.py").write_text(CHECKS)
    (module / "assignment" / "assignment.yaml").write_text(
        yaml.safe_dump({"title": "Your seed", "variant": variant})
    )
    return course


def test_a_bad_variant_is_named_in_its_file(tmp_path: Path) -> None:
    for bad, said in (
        ({"seed": {"min": 9, "max": 1}}, "min 9 is above max 1"),
        ({"feature": {"choices": []}}, "at least 1 item"),
        ({"seed": {"low": 1}}, "seed"),
    ):
        course = graded_module(tmp_path / said.replace(" ", "-"), bad)
        with pytest.raises(CourseError, match=r"assignment\.yaml") as caught:
            policy_of(course / "0-intro")
        assert said in str(caught.value)


def test_an_answer_copied_from_another_student_fails(tmp_path: Path, cli: Cli) -> None:
    course = graded_module(tmp_path, {"seed": {"min": 1, "max": 10**6}})
    spec = policy_of(course / "0-intro").variant
    anas = draw(spec, "ana", "0-intro")["seed"]
    submissions = tmp_path / "submissions"
    for student in ("ana", "bob"):  # bob hands in ana's answer
        (submissions / student / "src" / "mlopslab").mkdir(parents=True)
        (submissions / student / "src" / "mlopslab" / "__init__.py").write_text("")
        (submissions / student / "seed.txt").write_text(f"{anas}\n")
    out = tmp_path / "grades"

    result = cli(
        "course", "grade", "0-intro", submissions, "--out", out,
        "--course", course, "--allow-unfenced",
    )  # fmt: skip

    assert result.code == 0, result.err
    scores = {
        who: json.loads((out / "results" / who / "results.json").read_text())["score"]
        for who in ("ana", "bob")
    }
    assert scores == {"ana": 2, "bob": 0}


def test_the_learner_sees_and_checks_their_own_numbers(
    tmp_path: Path, cli: Cli
) -> None:
    course = graded_module(tmp_path, {"seed": {"min": 1, "max": 10**6}})
    mine = draw(policy_of(course / "0-intro").variant, "ana", "0-intro")

    shown = cli("course", "variant", "0", "--student", "ana", "--course", course)
    assert shown.code == 0 and f"seed: {mine['seed']}" in shown.out
    as_json = cli(
        "course", "variant", "0", "--student", "ana", "--json", "--course", course
    )
    assert json.loads(as_json.out) == mine

    copy = tmp_path / "copy"
    (copy / "src" / "mlopslab").mkdir(parents=True)
    (copy / "src" / "mlopslab" / "__init__.py").write_text("")
    (copy / "seed.txt").write_text(f"{mine['seed']}\n")
    checked = cli(
        "course", "check", "0", "--path", copy, "--student", "ana", "--course", course
    )
    assert checked.code == 0, checked.out + checked.err
    assert "public checks passed: 1/1" in checked.out


def test_numbers_need_a_student_and_a_module_that_has_them(
    tmp_path: Path, cli: Cli
) -> None:
    course = graded_module(tmp_path, {"seed": {"min": 1, "max": 9}})
    for args in (("variant", "0"), ("check", "0", "--path", tmp_path)):
        found = cli("course", *args, "--course", course)
        assert found.code == CourseError.exit_code, found.err
        assert "a student id is required" in found.err and "--student" in found.err
        assert "Traceback" not in found.err
    plain = cli("course", "variant", "1", "--student", "ana", "--course", course)
    assert plain.code != 0 and "1-drift is the same for every student" in plain.err
