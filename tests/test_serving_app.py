"""The endpoint in-process (TestClient runs its lifespan): routes, errors, capture."""

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlopslab.config import ServeConfig
from mlopslab.errors import StoreError
from mlopslab.serving.app import create_app
from mlopslab.serving.model import AgentSource, Prediction, ServedModel
from mlopslab.serving.runtime import CaptureFull, Runtime
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
from mlopslab.stores.registry.agent import RegistryAgent
from tests.conftest import PENGUIN

pytestmark = pytest.mark.slow
FEATURES = list(PENGUIN)


def make_client(home: Path, capture: Path, **settings: object) -> TestClient:
    agent = RegistryAgent(f"sqlite:///{home / 'mlflow.db'}")
    cfg = ServeConfig(poll_seconds=0, **settings)
    app = create_app(
        cfg,
        AgentSource(agent, "penguins", "champion"),
        SQLiteCaptureStore(capture),
    )
    return TestClient(app)


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/ready").json()
        time.sleep(0.05)


@pytest.fixture
def client(trained_home: Path, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(
        trained_home, tmp_path / "capture.db", max_batch_rows=50, admin_token="s3cret"
    ) as test_client:
        wait_ready(test_client)
        yield test_client


def test_predict_one_and_many(client: TestClient) -> None:
    one = client.post("/predict", json={"rows": [PENGUIN]}).json()
    assert one["model_version"] == "1" and one["model_name"] == "penguins"
    assert one["request_id"]
    [row] = one["predictions"]
    assert row["prediction"] == "Gentoo"
    assert set(row["probabilities"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert sum(row["probabilities"].values()) == pytest.approx(1.0)
    many = client.post(
        "/predict", json={"rows": [PENGUIN, {**PENGUIN, "sex": None}] * 5}
    )
    assert many.status_code == 200
    ids = [p["inference_id"] for p in many.json()["predictions"]]
    assert len(ids) == len(set(ids)) == 10


def test_invocations_speaks_mlflow_formats(client: TestClient) -> None:
    values = [PENGUIN[f] for f in FEATURES]
    bodies = [
        {"dataframe_split": {"columns": FEATURES, "data": [values, values]}},
        {"dataframe_records": [PENGUIN, PENGUIN]},
        {"inputs": [PENGUIN, PENGUIN]},
        {"inputs": {f: [PENGUIN[f], PENGUIN[f]] for f in FEATURES}},
    ]
    for body in bodies:
        response = client.post("/invocations", json=body)
        assert response.status_code == 200, (body, response.text)
        assert response.json() == {"predictions": ["Gentoo", "Gentoo"]}
    bad = client.post("/invocations", json={"instances": [PENGUIN]})
    assert (
        bad.status_code == 422 and "dataframe_split" in bad.json()["error"]["message"]
    )


def test_health_ready_model_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["model_version"] == "1"
    model = client.get("/model").json()
    assert model["version"] == "1"
    assert [f["name"] for f in model["signature"]] == FEATURES
    assert (
        model["card"]["status"] == "approved" and model["card"]["test_accuracy"] > 0.9
    )
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/invocations", "/labels", "/admin/reload"} <= set(paths)


@pytest.mark.parametrize(
    ("body", "status", "field", "row"),
    [
        # One bad row among good ones is refused alone (tests/serving/
        # test_row_contract.py); a batch of only bad rows is a 422.
        ({"rows": [{**PENGUIN, "wing": 1}]}, 422, "wing", 0),
        (
            {"rows": [{k: v for k, v in PENGUIN.items() if k != "year"}]},
            422,
            "year",
            0,
        ),
        ({"rows": [{**PENGUIN, "body_mass_g": "heavy"}]}, 422, "body_mass_g", 0),
        (
            {"rows": [{**PENGUIN, "island": 3}, {**PENGUIN, "year": 0.5}]},
            422,
            "island",
            0,
        ),
        ({"rows": [PENGUIN] * 51}, 413, "rows", None),
        ({"rows": []}, 422, "rows", None),
        ({"data": [PENGUIN]}, 422, "rows", None),
        # Images are for models trained on images (tests/serving/test_images.py).
        ({"images": [[0.0] * 7]}, 422, "images", None),
        ({"rows": [PENGUIN], "images": [[0.0] * 7]}, 422, "body", None),
    ],
)
def test_bad_requests_name_field_and_row(
    client: TestClient,
    body: dict[str, object],
    status: int,
    field: str,
    row: int | None,
) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["field"] == field and error["row"] == row


def test_nan_not_json_and_content_type(client: TestClient) -> None:
    nan = (
        '{"rows": [{"island": "Dream", "bill_length_mm": NaN, "bill_depth_mm": 1, '
        '"flipper_length_mm": 1, "body_mass_g": 1, "sex": "male", "year": 2008}]}'
    )
    response = client.post(
        "/predict", content=nan, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "bill_length_mm"
    broken = client.post(
        "/predict", content=b"{rows:", headers={"content-type": "application/json"}
    )
    assert (
        broken.status_code == 400
        and "not valid JSON" in broken.json()["error"]["message"]
    )
    text = client.post(
        "/predict", content=b"rows", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415


def test_capture_and_labels(client: TestClient, tmp_path: Path) -> None:
    predictions = client.post("/predict", json={"rows": [PENGUIN] * 3}).json()[
        "predictions"
    ]
    ids = [p["inference_id"] for p in predictions]
    time.sleep(0.3)  # the async writer lingers up to 50 ms before committing
    labels = [{"inference_id": i, "label": "Gentoo"} for i in ids] + [
        {"inference_id": "nobody", "label": "Adelie"}
    ]
    answer = client.post("/labels", json={"labels": labels}).json()
    assert answer == {"received": 4, "matched": 3}
    store = SQLiteCaptureStore(tmp_path / "capture.db")
    captured = store.recent(10)
    assert [r.inference_id for r, _ in captured] == ids
    record, label = captured[0]
    assert record.model_version == "1" and record.prediction == "Gentoo"
    assert record.input == PENGUIN and label == "Gentoo"
    assert set(record.probabilities) == {"Adelie", "Chinstrap", "Gentoo"}
    bad = client.post("/labels", json={"labels": [{"inference_id": "x"}]})
    assert bad.status_code == 422


def test_metrics_count_routes_classes_and_version(client: TestClient) -> None:
    client.post("/predict", json={"rows": [PENGUIN] * 2})
    client.post("/predict", json={"rows": [{**PENGUIN, "year": "x"}]})
    text = client.get("/metrics").text
    assert 'mlopslab_requests_total{route="/predict",status="200"} 1.0' in text
    assert 'mlopslab_requests_total{route="/predict",status="422"} 1.0' in text
    assert (
        'mlopslab_predictions_total{model_version="1",predicted_class="Gentoo"} 2.0'
        in text
    )
    assert (
        'mlopslab_model_version_info{model_name="penguins",model_version="1"} 1.0'
        in text
    )
    assert "mlopslab_capture_queue_depth" in text and "mlopslab_capture_dropped" in text
    assert 'mlopslab_request_seconds_bucket{le="0.005",route="/predict"}' in text


def test_admin_reload_needs_the_token(client: TestClient) -> None:
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.post("/admin/reload", headers={"authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert right.json() == {
        "previous_version": "1",
        "model_version": "1",
        "swapped": False,
    }


def test_reload_disabled_without_token(trained_home: Path, tmp_path: Path) -> None:
    with make_client(trained_home, tmp_path / "c.db") as test_client:
        wait_ready(test_client)
        response = test_client.post(
            "/admin/reload", headers={"authorization": "Bearer x"}
        )
        assert response.status_code == 403
        assert "admin_token" in response.json()["error"]["message"]


def test_not_ready_without_a_model(tmp_path: Path, migrated_db: Path) -> None:
    import shutil

    home = tmp_path / "empty"
    home.mkdir()
    shutil.copy(migrated_db, home / "mlflow.db")
    with make_client(home, tmp_path / "c.db") as test_client:
        time.sleep(0.5)
        assert test_client.get("/health").status_code == 200
        ready = test_client.get("/ready")
        assert ready.status_code == 503
        assert "model not loaded" in ready.json()["error"]["message"]
        assert test_client.post("/predict", json={"rows": [PENGUIN]}).status_code == 503


def test_extreme_values_get_a_4xx_not_nan(client: TestClient) -> None:
    extreme = {
        **PENGUIN,
        "bill_depth_mm": 1.7976931348623155e308,
        "flipper_length_mm": -1.7976931348623157e308,
    }
    response = client.post("/predict", json={"rows": [PENGUIN, extreme]})
    assert response.status_code == 200  # row 0 is answered, row 1 refused alone
    good, refused = response.json()["predictions"]
    assert good["prediction"] == "Gentoo"
    assert refused["error"]["row"] == 1
    assert "not finite" in refused["error"]["message"]
    alone = client.post("/predict", json={"rows": [extreme]})
    assert alone.status_code == 422 and alone.json()["error"]["row"] == 0


def test_a_store_error_on_labels_is_a_503_with_a_json_body(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(self: SQLiteCaptureStore, pairs: object) -> int:
        raise StoreError("capture store is locked", "retry shortly")

    monkeypatch.setattr(SQLiteCaptureStore, "add_labels", locked)
    labels = {"labels": [{"inference_id": "x", "label": "Adelie"}]}
    response = client.post("/labels", json=labels)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "status": 503,
        "message": "capture store is locked; retry shortly",
        "field": None,
        "row": None,
    }


def test_a_full_capture_queue_is_a_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def full(self: Runtime, *args: object) -> bool:
        raise CaptureFull()

    monkeypatch.setattr(Runtime, "capture", full)
    response = client.post("/predict", json={"rows": [PENGUIN]})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "capture queue is full; retry shortly"


def test_only_scoring_errors_are_a_422(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unscorable(self: ServedModel, rows: object) -> list[Prediction]:
        raise ValueError("Input X contains infinity\nand a long explanation")

    with monkeypatch.context() as patch:
        patch.setattr(ServedModel, "predict", unscorable)
        response = client.post("/predict", json={"rows": [PENGUIN]})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "the model cannot score these rows: Input X contains infinity"
    )

    def bug(self: SQLiteCaptureStore, pairs: object) -> int:
        raise ValueError("a bug, not the client's rows")

    monkeypatch.setattr(SQLiteCaptureStore, "add_labels", bug)
    labels = {"labels": [{"inference_id": "x", "label": "Adelie"}]}
    # No 422 for a plain ValueError: it reaches the server's error handling (500).
    with pytest.raises(ValueError, match="a bug"):
        client.post("/labels", json=labels)
    # A second client on the same app, without a second lifespan: /labels only.
    plain = TestClient(client.app, raise_server_exceptions=False)
    assert plain.post("/labels", json=labels).status_code == 500


def test_extreme_values_leave_no_numpy_warning_in_the_log(client: TestClient) -> None:
    extreme = {**PENGUIN, "bill_depth_mm": 1.7e308, "flipper_length_mm": -1.7e308}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.post("/predict", json={"rows": [extreme]})
    assert response.status_code == 422
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []
