import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlopslab.errors import RegistryError, StoreError
from mlopslab.stores.registry.client import Registry
from mlopslab.stores.workspace import Workspace


@pytest.fixture
def registry(tmp_path: Path, migrated_db: Path) -> Registry:
    """A registry on a copy of the session's migrated store: no migration per test."""
    workspace = Workspace(tmp_path / "ws").ensure()
    shutil.copy(migrated_db, workspace.mlflow_db)
    return Registry.connect(
        workspace.local_tracking_uri(), workspace.artifact_location()
    )


def add_version(registry: Registry, tmp_path: Path, status: str = "pending") -> str:
    source = tmp_path / "model"
    source.mkdir(exist_ok=True)
    info = registry.register(
        "m", str(source), "", tags={"status": status}, description="d"
    )
    return info.version


def test_an_experiment_another_run_created_first_is_used(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs on one server both find no experiment, then both create it."""
    create = registry.client.create_experiment

    def lose_the_race(name: str, **kwargs: object) -> str:
        create(name)  # the other run, first
        return create(name)  # MLflow's own RESOURCE_ALREADY_EXISTS

    monkeypatch.setattr(registry.client, "create_experiment", lose_the_race)
    made = registry.experiment_id("penguins")
    found = registry.client.get_experiment_by_name("penguins")
    assert found is not None and made == found.experiment_id


def test_promote_moves_champion_and_previous(
    registry: Registry, tmp_path: Path
) -> None:
    first = add_version(registry, tmp_path)
    second = add_version(registry, tmp_path)
    assert registry.champion("m") is None
    assert registry.promote("m", first) is None
    assert registry.promote("m", second) == first
    champion = registry.champion("m")
    assert champion is not None and champion.version == second
    assert champion.status == "approved"
    assert registry.version("m", "previous").version == first
    assert registry.version("m", "@champion").version == second


def test_rollback_walks_back_through_approved_versions(
    registry: Registry, tmp_path: Path
) -> None:
    versions = [add_version(registry, tmp_path) for _ in range(3)]
    for version in versions:
        registry.promote("m", version)
    assert registry.rollback("m") == (versions[2], versions[1])
    assert registry.version("m", "champion").version == versions[1]
    assert registry.version("m", "previous").version == versions[0]
    assert registry.version("m", versions[2]).tags["rolled_back"] == "true"
    registry.rollback("m")
    assert registry.version("m", "champion").version == versions[0]
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback("m")


def test_status_and_listing(registry: Registry, tmp_path: Path) -> None:
    version = add_version(registry, tmp_path)
    registry.set_status("m", version, "rejected")
    assert [v.status for v in registry.versions("m")] == ["rejected"]
    with pytest.raises(RegistryError, match="unknown status"):
        registry.set_status("m", version, "maybe")


def test_unknown_model_and_version(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no registered model named 'nope'"):
        registry.versions("nope")
    add_version(registry, tmp_path)
    with pytest.raises(RegistryError, match="has no version '9'"):
        registry.version("m", "9")


def test_discard_leaves_no_version(registry: Registry, tmp_path: Path) -> None:
    keep = add_version(registry, tmp_path)
    drop = add_version(registry, tmp_path)
    registry.discard("m", drop)
    assert [v.version for v in registry.versions("m")] == [keep]


def test_corrupt_store_is_a_store_error(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    workspace.mlflow_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the MLflow store"):
        Registry.connect(workspace.local_tracking_uri(), workspace.artifact_location())


def test_connect_leaves_the_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    workspace = Workspace(tmp_path / "ws").ensure()
    Registry.connect(workspace.local_tracking_uri(), workspace.artifact_location())
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert (
        mlflow.get_tracking_uri() == workspace.local_tracking_uri()
    )  # MLflow's own global


def test_missing_artifact_is_a_registry_error(registry: Registry) -> None:
    experiment = registry.experiment_id("m")
    run = registry.client.create_run(experiment)
    with pytest.raises(
        RegistryError, match=r"has no readable baseline/statistics\.json"
    ):
        registry.read_json(run.info.run_id, "baseline/statistics.json")


def test_only_not_found_means_absent(registry: Registry) -> None:
    assert registry.champion("nope") is None
    assert registry.latest_version("nope") == 0
    registry.delete_alias("nope", "champion")  # nothing to remove: no error
    # A model that is not there is named as such, not as a missing version.
    with pytest.raises(RegistryError, match="no registered model named 'nope'"):
        registry.version("nope", "champion")


def test_a_broken_store_is_never_no_champion(registry: Registry) -> None:
    """The gate must not read a store that fails as "no champion": it would approve."""
    Path(registry.tracking_uri.removeprefix("sqlite:///")).write_bytes(
        b"not a database any more" * 200
    )
    reads: list[Callable[[], object]] = [
        lambda: registry.champion("m"),
        lambda: registry.latest_version("m"),
        lambda: registry.version("m", "champion"),
        lambda: registry.versions(),
        lambda: registry.model_names(),
    ]
    for read in reads:
        with pytest.raises(
            StoreError, match=f"MLflow store at {registry.tracking_uri}"
        ):
            read()


@pytest.mark.parametrize(
    "code", ["INTERNAL_ERROR", "PERMISSION_DENIED", "TEMPORARILY_UNAVAILABLE"]
)
def test_other_mlflow_errors_are_store_errors(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos import databricks_pb2

    def failing(*args: object) -> None:
        raise MlflowException("the server said no", getattr(databricks_pb2, code))

    monkeypatch.setattr(registry.client, "get_registered_model", failing)
    with pytest.raises(StoreError, match="the server said no"):
        registry.champion("m")
    with pytest.raises(StoreError, match="the server said no"):
        registry.latest_version("m")
