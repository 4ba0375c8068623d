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

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "course"
MODULE = COURSE / "3-evaluation"
if not (MODULE / "instructor").is_dir():  # a student bundle has no samples
    pytest.skip("no instructor material in this copy", allow_module_level=True)


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


def test_a_class_gets_exact_scores_and_nothing_leaks(
    tmp_path: Path, cli: Callable[..., CliResult], probe: tuple[int, list[bytes]]
) -> None:
    port, received = probe
    samples = MODULE / "instructor" / "samples"
    expected = yaml.safe_load((samples / "expected.yaml").read_text())
    folder = tmp_path / "submissions"
    submission(folder / "reference", MODULE / "instructor" / "solution.patch")
    submission(folder / "partial", samples / "partial.patch")
    # The hostile sample needs every fence: files, network and process count.
    fenced = bwrap_works() and "NO" not in " ".join(Sandbox(tmp_path).isolation)
    if fenced:
        hostile = submission(folder / "hostile", samples / "hostile.patch")
        (hostile / "probe_port.txt").write_text(str(port))
    broken = submission(tmp_path / "broken", samples / "broken.patch")
    with zipfile.ZipFile(folder / "broken.zip", "w") as archive:
        for path in broken.rglob("*"):
            archive.write(path, Path("project") / path.relative_to(broken))
    (folder / "garbage.zip").write_bytes(b"not a zip")
    out = tmp_path / "grades"

    result = cli("course", "grade", "3-evaluation", folder, "--out", out, "--jobs", "2")

    assert result.code == 0, result.err
    scores = {
        p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")
    }
    assert {name: r["score"] for name, r in scores.items()} == {
        "reference": expected["reference"],
        "partial": expected["partial"],
        "broken": expected["broken"],
        "garbage": 0,
        **({"hostile": expected["hostile"]} if fenced else {}),
    }
    assert scores["garbage"]["output"].startswith("ungradable: garbage.zip is not")
    for name, results in scores.items():
        assert sum(t["max_score"] for t in results["tests"]) == 11, name
        assert {t["visibility"] for t in results["tests"]} == {"visible", "hidden"}
    reference = scores["reference"]
    assert reference["output"].startswith(
        "public checks passed: 3/3; 3 hidden checks graded"
    )
    assert all(t["status"] == "passed" for t in reference["tests"])
    if fenced:
        outputs = [t["output"] for t in scores["hostile"]["tests"]]
        assert "did not finish within 12 s" in outputs[0]  # the infinite loop
        assert "exited 9" in outputs[1]  # the fork bomb, stopped at the limit
        assert "MemoryError" in outputs[4]  # the 10 GB allocation
        assert received == []  # no network
    # The hostile code prints LEAKED and what it read, if it reads anything.
    everything = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "LEAKED" not in everything and '"score": 1000' not in everything
    assert "student,score,max_score" in (out / "summary.csv").read_text()

    exported = cli("course", "gradebook", "--export", "canvas")
    rows = exported.out.splitlines()
    assert rows[0].startswith("Student,ID,SIS User ID,SIS Login ID,Section,")
    assert rows[1].startswith("Points Possible,,,,,11")
    assert "reference,,reference,reference,,11" in rows


def test_check_runs_the_public_checks_only(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    learner = submission(
        tmp_path / "mine", MODULE / "instructor" / "samples" / "partial.patch"
    )

    result = cli("course", "check", "3-evaluation", "--path", learner)

    assert result.code == 1
    assert "public checks passed: 2/3; hidden checks run at grading" in result.out
    assert "all tests passed" not in result.out.lower()
    assert "`mlopslab run --fail-on-reject (floor 0.99)`" not in result.out  # ran fine
    assert "no `recall of Adelie 0.9667`" in result.out
    assert "champion comparison" not in result.out  # a hidden check's name
    assert not (learner / "ws-strict").exists()  # graded on a copy


def test_the_sandbox_states_what_it_fenced(tmp_path: Path) -> None:
    fences = Sandbox(tmp_path).isolation
    assert any("wall-clock" in f for f in fences)
    assert len(fences) == 4
