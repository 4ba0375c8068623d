"""deploy/: the image and the team stack, tested without a container engine.

No engine runs here, so what can be checked is checked: hadolint on the
Dockerfile (and on a planted bad one, so the lint can fail), the compose file's
structure, and every command the image and the stack would run, run here for
real on loopback with free ports: the serving CMD and its HEALTHCHECK on a
trained workspace, the MLflow server and the course server on a real PostgreSQL.
Only what differs between a container and this machine is swapped: paths,
ports, the interface, and the service name `postgres` for the tests' database.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml

from tests.postgres import needs_postgres, postgres_url  # noqa: F401
from tests.servers import copy_workspace, free_port, running

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
HADOLINT = BIN / "hadolint"
STATEFUL = ("postgres", "mlflow", "course")  # services that keep data or serve it
VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


# -- reading the files as an engine would ---------------------------------------


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuations joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        found.append((keyword.upper(), rest.strip()))
        pending = ""
    return found


def last(dockerfile: str, keyword: str) -> str:
    """The arguments of the last `keyword` (the one an image keeps)."""
    matches = [rest for key, rest in instructions(dockerfile) if key == keyword]
    assert matches, f"no {keyword} in the Dockerfile"
    return matches[-1]


def exec_form(arguments: str) -> list[str]:
    """A JSON exec form (`["a", "b"]`); a shell form fails the test."""
    argv = json.loads(arguments)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def healthcheck_command(dockerfile: str) -> list[str]:
    """The HEALTHCHECK's command, its --options skipped."""
    _, _, command = last(dockerfile, "HEALTHCHECK").partition("CMD ")
    return exec_form(command)


def final_stage_env(dockerfile: str) -> dict[str, str]:
    """The ENV of the image's last stage (KEY=value pairs)."""
    stages: list[dict[str, str]] = []
    for key, rest in instructions(dockerfile):
        if key == "FROM":
            stages.append({})
        elif key == "ENV":
            for pair in shlex.split(rest):
                key_, _, value = pair.partition("=")
                stages[-1][key_] = value
    return stages[-1]


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${VAR}` and `${VAR:-default}` (`$$` is a literal `$`)."""
    text = VARIABLE.sub(lambda m: env.get(m[1]) or (m[2] or ""), text)
    return text.replace("$$", "$")


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    text = (DEPLOY / "compose.yaml").read_text()
    loaded = yaml.safe_load(interpolate(text, env or {}))
    assert isinstance(loaded, dict)
    return loaded


def compose_problems(text: str) -> list[str]:
    """What is wrong with a compose file's structure (empty: nothing)."""
    problems = []
    data = yaml.safe_load(text)
    services: dict[str, Any] = data.get("services") or {}
    declared = set(data.get("volumes") or {})
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: neither image nor build")
        needs = service.get("depends_on") or {}
        for other in needs if isinstance(needs, list) else needs.keys():
            if other not in services:
                problems.append(f"{name}: depends_on unknown service {other}")
        for other, how in needs.items() if isinstance(needs, dict) else ():
            if how.get("condition") not in {"service_healthy", "service_started"}:
                problems.append(f"{name}: depends_on {other} without a condition")
        for mount in service.get("volumes") or []:
            source = str(mount).split(":", 1)[0]
            if not source.startswith((".", "/", "$")) and source not in declared:
                problems.append(f"{name}: volume {source} is not declared")
        if name in STATEFUL and "healthcheck" not in service:
            problems.append(f"{name}: no healthcheck")
    # A secret is written only as ${VAR:-laptop default}: never as a value.
    for number, line in enumerate(text.splitlines(), 1):
        bare = VARIABLE.sub("", line)
        if re.search(r"(?:^|\s)\w*(PASSWORD|SECRET|TOKEN)\w*\s*[:=]\s*\S", bare, re.I):
            problems.append(f"line {number}: a plaintext password, secret or token")
        if re.search(r"://[^:/@\s]*:[^@\s]+@", bare):
            problems.append(f"line {number}: a password in a URL")
    return problems


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def locked_uv_version() -> str:
    """uv's version in uv.lock, read as the Makefile reads it."""
    lock = (REPO / "uv.lock").read_text()
    found = re.search(r'^name = "uv"\nversion = "([^"]+)"', lock, re.MULTILINE)
    assert found is not None
    return found[1]


DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


# -- the image ------------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = hadolint(DEPLOY / "Dockerfile")

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_hadolint_finds_a_planted_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN pip install mlopslab\n"
        "USER root\n"
        "CMD mlopslab serve\n"
    )

    done = hadolint(bad)

    assert done.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3013", "DL3002", "DL3025"):
        assert rule in done.stdout, (rule, done.stdout)


def test_the_image_is_built_from_the_lock_as_a_user_of_its_own() -> None:
    stages = [rest for key, rest in instructions(DOCKERFILE) if key == "FROM"]
    runs = " ".join(rest for key, rest in instructions(DOCKERFILE) if key == "RUN")
    user = last(DOCKERFILE, "USER").split(":")[0]

    assert all(s.split()[0] == "python:3.11-slim" for s in stages) and stages
    assert user not in {"root", "0"}
    # uv at the lock's version; the exact locked set, the project, no dev tools.
    assert f"ARG UV_VERSION={locked_uv_version()}" in DOCKERFILE
    assert compose()["x-image"]["build"]["args"]["UV_VERSION"] == locked_uv_version()
    assert '"uv==${UV_VERSION}"' in runs
    assert runs.count("uv sync --locked --no-dev") == 2
    assert "COPY pyproject.toml uv.lock ./" in DOCKERFILE


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_keys() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [
        r for k, r in instructions(DOCKERFILE) if k == "COPY" and "--from" not in r
    ]
    sources = [word for rest in copies for word in rest.split()[:-1]]

    assert ignore[ignore.index("*") :].count("*") == 1  # everything else is left out
    assert sorted(sources) == sorted(allowed)
    assert all((REPO / source).exists() for source in sources)
    assert {"course/*/instructor/", "course/*/quiz.yaml"} <= set(ignore)


def test_the_port_is_one_setting_for_cmd_expose_and_healthcheck() -> None:
    env = final_stage_env(DOCKERFILE)
    probe = " ".join(healthcheck_command(DOCKERFILE))

    assert exec_form(last(DOCKERFILE, "CMD")) == ["mlopslab", "serve"]
    assert env["MLOPSLAB_SERVE__HOST"] == "0.0.0.0"
    assert last(DOCKERFILE, "EXPOSE") == env["MLOPSLAB_SERVE__PORT"]
    assert "MLOPSLAB_SERVE__PORT" in probe and "/ready" in probe
    assert "curl" not in probe and "wget" not in probe  # not in a slim image


@pytest.fixture
def image_env(trained_home: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The image's ENV on this machine: its virtualenv, a workspace, a free port."""
    env = final_stage_env(DOCKERFILE)
    assert env["PATH"] == "/opt/mlopslab/bin:$PATH"  # the environment uv built
    assert env["MLOPSLAB_HOME"] == "/workspace"
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        MLOPSLAB_HOME=str(copy_workspace(trained_home, tmp_path)),
        MLOPSLAB_SERVE__HOST="127.0.0.1",
        MLOPSLAB_SERVE__PORT=str(free_port()),
    )
    yield env


def healthy(command: list[str], env: Mapping[str, str]) -> bool:
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, timeout=30, check=False
    )
    return done.returncode == 0


@pytest.mark.slow
def test_the_cmd_serves_and_the_healthcheck_follows_it(
    image_env: dict[str, str], tmp_path: Path
) -> None:
    command = exec_form(last(DOCKERFILE, "CMD"))
    probe = healthcheck_command(DOCKERFILE)
    url = f"http://127.0.0.1:{image_env['MLOPSLAB_SERVE__PORT']}"

    assert not healthy(probe, image_env)  # nothing listens yet
    with running(command, f"{url}/ready", tmp_path / "serve.log", image_env):
        assert httpx.get(f"{url}/ready").json()["model_version"] == "1"
        assert healthy(probe, image_env)
    assert not healthy(probe, image_env)  # stopped


# -- the stack ------------------------------------------------------------------


def test_the_compose_file_is_well_formed_and_holds_no_secret() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    services = compose()["services"]

    assert compose_problems(text) == []
    assert set(services) == {"postgres", "mlflow", "serving", "course"}
    assert services["serving"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert "healthcheck" not in services["serving"]  # the image's own, on /ready
    # The only password is the laptop default, and the README says so.
    defaults = set(re.findall(r"\$\{POSTGRES_PASSWORD:-([^}]*)\}", text))
    assert defaults == {"mlopslab"}
    assert "POSTGRES_PASSWORD" in (DEPLOY / "README.md").read_text()


def test_the_compose_checks_catch_planted_mistakes() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    head, _, tail = text.rpartition("    healthcheck:")  # the course server's
    planted = (
        (head + "    x-healthcheck:" + tail)
        .replace(
            "      mlflow:\n        condition", "      tracking:\n        condition"
        )
        .replace("serving-workspace:/workspace", "scratch:/workspace")
        .replace(
            "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-mlopslab}", "PASSWORD: hunter2"
        )
        .replace(
            "${POSTGRES_PASSWORD:-mlopslab}@postgres:5432/capture", "x@postgres:5432/c"
        )
    )

    problems = compose_problems(planted)

    assert len(problems) == 5, problems
    assert any("depends_on unknown service tracking" in p for p in problems)
    assert any("volume scratch is not declared" in p for p in problems)
    assert any("course: no healthcheck" in p for p in problems)
    assert any("plaintext password" in p for p in problems)
    assert any("a password in a URL" in p for p in problems)


def on_this_machine(
    argv: list[str], port: int, database: str | None = None
) -> list[str]:
    """A service's command here: loopback, a free port, the tests' database."""
    out = list(argv)
    for option, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if option in out:
            out[out.index(option) + 1] = value
    if database is not None:
        out = [database if a.startswith("postgresql://") else a for a in out]
    return out


def probe_on(service: dict[str, Any], port: int) -> list[str]:
    """The service's healthcheck command (CMD form), aimed at `port`."""
    kind, *command = service["healthcheck"]["test"]
    assert kind == "CMD"
    inside = service["ports"][0].rsplit(":", 1)[1]
    return [a.replace(f":{inside}/", f":{port}/") for a in command]


def same_login(url: str, service_url: str) -> str:
    """`url` (the tests' database) checked against the service's URL's shape."""
    ours, theirs = urlsplit(url), urlsplit(service_url)
    assert theirs.hostname == "postgres" and theirs.port == 5432
    return urlunsplit(ours)


@pytest.mark.slow
@pytest.mark.integration
@needs_postgres
def test_the_mlflow_service_runs_on_postgresql(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    login = urlsplit(postgres_url)
    env = {
        "POSTGRES_USER": login.username or "",
        "POSTGRES_PASSWORD": login.password or "",
    }
    service = compose(env)["services"]["mlflow"]
    command = service["command"]
    url = next(a for a in command if a.startswith("postgresql://"))
    assert f"{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@" in url
    port = free_port()
    here = {
        **service["environment"],
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLOPSLAB_HOME": str(tmp_path / "workspace"),
    }
    argv = on_this_machine(command, port, same_login(postgres_url, url))
    base = f"http://127.0.0.1:{port}"

    with running(argv, f"{base}/health", tmp_path / "mlflow.log", here):
        assert healthy(probe_on(service, port), here)
        # The other services call it by its service name: MLflow must answer.
        search = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"
        named = httpx.get(search, headers={"Host": "mlflow:5000"})
        assert named.status_code == 200, named.text
        assert httpx.get(search, headers={"Host": "elsewhere:5000"}).status_code == 403
    assert not healthy(probe_on(service, port), here)
    assert (tmp_path / "workspace" / "team-artifacts").is_dir()


@pytest.mark.slow
@pytest.mark.integration
@needs_postgres
def test_the_course_service_runs_on_postgresql(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    service = compose()["services"]["course"]
    command = service["command"]
    url = service["environment"]["MLOPSLAB_COURSE__DATABASE"]
    port = free_port()
    folder = service["volumes"][0].split(":")[0]
    here = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLOPSLAB_HOME": str(tmp_path / "workspace"),
        "MLOPSLAB_COURSE__DATABASE": same_login(postgres_url, url),
    }
    argv = on_this_machine(command, port)
    # The mount: the instructor's course folder, relative to deploy/.
    argv[argv.index("--course") + 1] = str((DEPLOY / folder).resolve())
    assert argv[argv.index("--workers") + 1] == "0"  # grading stays outside

    with running(argv, f"http://127.0.0.1:{port}/login/", tmp_path / "c.log", here):
        assert healthy(probe_on(service, port), here)
    assert not healthy(probe_on(service, port), here)
