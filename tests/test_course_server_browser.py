"""The course server in a real browser (Debian's chromium through Playwright).

A student logs in, takes a quiz, hands in a zip and watches it get graded; an
instructor sees the grid, regrades and exports. Screenshots of every page, at
laptop and phone sizes, land in `$SCREENSHOTS` (default: the test's
temporary folder) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import FLAGS, chromium, needs_browser
from tests.classroom_fixture import (
    PASSWORDS,
    Classroom,
    prepare,
    serving,
    submission_zip,
)

pytestmark = pytest.mark.xdist_group("course-server-browser")
sync_api = pytest.importorskip("playwright.sync_api")
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    with serving(prepare(tmp_path_factory.mktemp("browser-classroom"))) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=[f for f in FLAGS if f != "--headless"]
        )
        yield launched
        launched.close()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS", tmp_path / "shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page: object, folder: Path, name: str) -> None:
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})  # type: ignore[attr-defined]
        page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 800})  # type: ignore[attr-defined]


def log_in(browser: object, room: Classroom, who: str) -> object:
    page = browser.new_page(base_url=room.url)  # type: ignore[attr-defined]
    page.goto("/login/")
    page.get_by_label("User name").fill(who)
    page.get_by_label("Password").fill(PASSWORDS[who])
    page.get_by_role("button", name="Log in").click()
    return page


def answer(question: object) -> None:
    """Answer one question whatever its type, the way a person would."""
    radios = question.locator("input[type=radio]")  # type: ignore[attr-defined]
    boxes = question.locator("input[type=checkbox]")  # type: ignore[attr-defined]
    if radios.count():
        radios.first.check()
    elif boxes.count():
        boxes.first.check()
    elif question.locator("input[inputmode=decimal]").count():  # type: ignore[attr-defined]
        question.locator("input[inputmode=decimal]").fill("0.9")  # type: ignore[attr-defined]
    elif question.locator("ol.choices li").count():  # type: ignore[attr-defined]
        count = question.locator("ol.choices li").count()  # type: ignore[attr-defined]
        question.locator("input[name=answer]").fill("ABCDEFGH"[:count])  # type: ignore[attr-defined]
    else:
        question.locator("input[name=answer]").fill("data drift")  # type: ignore[attr-defined]
    question.get_by_role("button", name="Send this answer").click()  # type: ignore[attr-defined]


@needs_browser
def test_a_student_takes_a_quiz_hands_in_and_sees_the_grade(
    browser: object, room: Classroom, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    page = log_in(browser, room, "ana")
    page.get_by_role("heading", name="My modules").wait_for()  # type: ignore[attr-defined]
    snap(page, folder, "student-home")
    page.goto("/m/0-intro/")  # type: ignore[attr-defined]
    snap(page, folder, "student-lesson")
    page.get_by_role("link", name="Take the quiz").click()  # type: ignore[attr-defined]
    questions = page.locator("section.question")  # type: ignore[attr-defined]
    total = questions.count()
    assert total >= 5
    assert page.locator("p.explanation").count() == 0  # type: ignore[attr-defined]
    snap(page, folder, "student-quiz")
    for index in range(total):
        question = page.locator("section.question").nth(index)  # type: ignore[attr-defined]
        answer(question)
        page.locator("section.question").nth(index).locator("p.mark").wait_for()  # type: ignore[attr-defined]
    page.get_by_text("this attempt is recorded").wait_for()  # type: ignore[attr-defined]
    assert page.locator("p.explanation").count() == total  # type: ignore[attr-defined]
    snap(page, folder, "student-quiz-answered")
    page.goto("/m/0-intro/assignment/")  # type: ignore[attr-defined]
    zipped = tmp_path / "work.zip"
    zipped.write_bytes(submission_zip())
    page.locator("input[type=file]").set_input_files(str(zipped))  # type: ignore[attr-defined]
    page.get_by_role("button", name="Hand in").click()  # type: ignore[attr-defined]
    page.get_by_text("Score:").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    assert "6 / 6" in page.content()  # type: ignore[attr-defined]
    assert "HIDDEN-PASS" not in page.content()  # type: ignore[attr-defined]
    snap(page, folder, "student-submission")
    page.goto("/")  # type: ignore[attr-defined]
    assert "6 / 6" in page.content()  # type: ignore[attr-defined]


@needs_browser
def test_an_instructor_sees_the_grid_regrades_and_exports(
    browser: object, room: Classroom, tmp_path: Path
) -> None:
    folder = shots(tmp_path)
    student = log_in(browser, room, "bob")
    student.goto("/m/0-intro/assignment/")  # type: ignore[attr-defined]
    zipped = tmp_path / "bob.zip"
    zipped.write_bytes(submission_zip(answer="41"))
    student.locator("input[type=file]").set_input_files(str(zipped))  # type: ignore[attr-defined]
    student.get_by_role("button", name="Hand in").click()  # type: ignore[attr-defined]
    student.get_by_text("Score:").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    page = log_in(browser, room, "prof")
    page.get_by_role("heading", name="Class").wait_for()  # type: ignore[attr-defined]
    assert "bob" in page.content()  # type: ignore[attr-defined]
    snap(page, folder, "instructor-grid")
    page.get_by_role("link", name="0-intro").first.click()  # type: ignore[attr-defined]
    page.get_by_role("heading", name="Quiz item analysis").wait_for()  # type: ignore[attr-defined]
    snap(page, folder, "instructor-module")
    page.get_by_role("button", name="Regrade every latest submission").click()  # type: ignore[attr-defined]
    page.get_by_text("queued again").wait_for()  # type: ignore[attr-defined]
    page.goto("/teach/queue/")  # type: ignore[attr-defined]
    snap(page, folder, "instructor-queue")
    page.goto("/teach/")  # type: ignore[attr-defined]
    with page.expect_download() as download:  # type: ignore[attr-defined]
        page.get_by_role("link", name="CSV").click()  # type: ignore[attr-defined]
    saved = tmp_path / "gradebook.csv"
    download.value.save_as(str(saved))
    assert "bob" in saved.read_text()
