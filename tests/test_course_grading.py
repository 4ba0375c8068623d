"""Grading the sample submissions of each assignment gives their exact scores.

The samples are patches on this repository's own code, kept with the
instructor material (`course/<module>/instructor/`): the reference solution,
a partial one, a broken one and a hostile one.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from mlopslab.course.sandbox import Sandbox, bwrap_works
from tests.conftest import CliResult
from tests.test_course_copies import git_bomb
from tests.test_course_safe_text import HOSTILE_NAMES

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course"
MODULE = COURSE / "3-evaluation"
if not (MODULE / "instructor").is_dir():  # a student bundle has no samples
    pytest.skip("no instructor material in this copy", allow_module_level=True)
# Without bubblewrap the samples are still graded (they are ours to trust),
# but not the hostile one.
UNFENCED = () if bwrap_works() else ("--allow-unfenced",)


def submission(folder: Path, patch: Path | None) -> Path:
    """This repository's code with `patch` applied, as a learner would submit it."""
    for part in ("src", "tests"):
        shutil.copytree(
            REPO / part, folder / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", folder / "pyproject.toml")
    if patch is not None:
        subprocess.run(["git", "apply", str(patch)], cwd=folder, check=True)
    return folder


@pytest.fixture
def probe() -> Iterator[tuple[int, list[bytes]]]:
    """A listener on the grader's loopback that the hostile sample tries to reach."""
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(1000))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def graded_modules() -> list[str]:
    return sorted(
        p.parts[-4] for p in COURSE.glob("*/instructor/samples/expected.yaml")
    )


def fully_fenced(tmp_path: Path) -> bool:
    """The hostile samples need every fence: files, network and process count."""
    return bwrap_works() and "NO" not in " ".join(Sandbox(tmp_path).isolation)


@pytest.mark.parametrize("module", graded_modules())
def test_each_sample_gets_its_exact_score(
    module: str,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    probe: tuple[int, list[bytes]],
) -> None:
    port, received = probe
    folder = COURSE / module / "instructor"
    expected = yaml.safe_load((folder / "samples" / "expected.yaml").read_text())
    submissions = tmp_path / "submissions"
    for name in expected:
        if name == "hostile" and not fully_fenced(tmp_path):
            continue
        patch = folder / (
            "solution.patch" if name == "reference" else f"samples/{name}.patch"
        )
        submission(submissions / name, patch)
    if (submissions / "hostile").exists():
        (submissions / "hostile" / "probe_port.txt").write_text(str(port))
    out = tmp_path / "grades"

    result = cli(
        "course", "grade", module, submissions, "--out", out, "--jobs", "2", *UNFENCED
    )

    assert result.code == 0, result.err
    scores = {
        p.parent.name: json.loads(p.read_text())
        for p in out.glob("results/*/results.json")
    }
    assert {name: r["score"] for name, r in scores.items()} == {
        name: expected[name] for name in scores
    }
    assert set(scores) >= {"reference", "partial", "broken"}
    top = sum(t["max_score"] for t in scores["reference"]["tests"])
    assert scores["reference"]["score"] == top
    assert scores["reference"]["output"].startswith("public checks passed: ")
    assert received == []  # no sample reached the grader's loopback
    # Hostile code prints LEAKED and what it read, if it reads anything.
    everything = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "LEAKED" not in everything and '"score": 1000' not in everything


def test_the_graders_own_edge_cases(
    tmp_path: Path, cli: Callable[..., CliResult], probe: tuple[int, list[bytes]]
) -> None:
    """Assignment 3: hostile samples beside the reference, a zip, garbage, a git
    bomb, the LMS export."""
    port, received = probe
    samples = MODULE / "instructor" / "samples"
    folder = tmp_path / "submissions"
    fenced = fully_fenced(tmp_path)
    submission(folder / "reference", MODULE / "instructor" / "solution.patch")
    if fenced:
        hostile = submission(folder / "hostile", samples / "hostile.patch")
        (hostile / "probe_port.txt").write_text(str(port))
        submission(folder / "hog", samples / "hog.patch")
        git_bomb(tmp_path, copies=260).rename(folder / "bomb.bundle")
    broken = submission(tmp_path / "broken", samples / "broken.patch")
    with zipfile.ZipFile(folder / "broken.zip", "w") as archive:
        for path in broken.rglob("*"):
            archive.write(path, Path("project") / path.relative_to(broken))
    (folder / "garbage.zip").write_bytes(b"not a zip")
    (folder / "notes.txt").write_text("not a submission")
    for name in HOSTILE_NAMES:  # learner text: markup, terminal codes, formulas
        (folder / name).mkdir()
    out = tmp_path / "grades"

    result = cli("course", "grade", "3-evaluation", folder, "--out", out, *UNFENCED)

    assert result.code == 0, result.err
    scores = {
        p.parent.name: json.loads(p.read_text())
        for p in out.glob("results/*/results.json")
    }
    assert scores["reference"]["score"] == 11  # whatever the others did
    assert scores["broken"]["score"] == 0
    assert scores["broken"]["output"].startswith("public checks passed: 0/3")
    assert scores["garbage"]["output"].startswith("ungradable: garbage.zip is not")
    assert scores["notes.txt"]["output"].startswith("ungradable: notes.txt is not")
    for results in scores.values():
        assert sum(t["max_score"] for t in results["tests"]) == 11
        assert {t["visibility"] for t in results["tests"]} == {"visible", "hidden"}
    if fenced:
        outputs = [t["output"] for t in scores["hostile"]["tests"]]
        assert "did not finish within 12 s" in outputs[0]  # the infinite loop
        assert "exited 9" in outputs[1]  # the fork bomb, stopped at the limit
        assert "MemoryError" in outputs[4]  # the 10 GB allocation
        assert received == []
        # Its disk, /dev/shm and memory filled, 20,000 folders deep: only its own.
        assert scores["hog"]["score"] == 0
        assert "tree is larger than" in scores["bomb"]["output"]
    summary = (out / "summary.csv").read_text()
    assert "student,score,max_score" in summary
    assert "'=HYPERLINK" in summary and "\x1b" not in result.out
    assert all(
        (out / "results" / name / "results.json").is_file() for name in HOSTILE_NAMES
    )

    exported = cli("course", "gradebook", "--export", "canvas")
    rows = exported.out.splitlines()
    assert rows[0].startswith("Student,ID,SIS User ID,SIS Login ID,Section,")
    assert rows[1].startswith("Points Possible,,,,,11")
    assert "broken,,broken,broken,,0" in rows


def test_check_runs_the_public_checks_only(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    learner = submission(
        tmp_path / "mine", MODULE / "instructor" / "samples" / "partial.patch"
    )

    result = cli(
        "course", "check", "3-evaluation", "--path", learner, "--student", "ana"
    )

    assert result.code == 1
    assert "public checks passed: 2/3; hidden checks run at grading" in result.out
    assert "all tests passed" not in result.out.lower()
    assert "`mlopslab run --fail-on-reject (floor" not in result.out  # it ran fine
    # Ana's own split and floor, in the reason her copy should have printed.
    assert "the output has none of ['recall of " in result.out
    assert "champion comparison" not in result.out  # a hidden check's name
    assert not (learner / "ws-strict").exists()  # graded on a copy


def test_the_sandbox_states_what_it_fenced(tmp_path: Path) -> None:
    fences = Sandbox(tmp_path).isolation
    assert any("wall-clock" in f for f in fences)
    assert len(fences) == 6
