"""A real CNN on digits behind a real `mlopslab serve`: images in, the same answers
as rows and as MLflow's pyfunc; simulated traffic and the monitor on its captures.

Trained once for the module (torch_cnn only, four trials) and served once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from mlopslab.cli.main import main
from tests.browser import needs_browser, rendered_dom
from tests.conftest import Cli
from tests.servers import Endpoint, copy_workspace, free_port

# One worker trains and serves the module's model once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("images-live")]

PIXELS = [f"pixel_{i}" for i in range(64)]


@pytest.fixture(scope="module")
def digits_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose champion is a torch_cnn on digits."""
    home = tmp_path_factory.mktemp("digits") / ".mlopslab"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("MLOPSLAB_") or name == "MLFLOW_TRACKING_URI":
                patch.delenv(name)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLOPSLAB_TUNE__FAMILIES", '["torch_cnn"]')
        patch.chdir(home.parent)
        code = main(["run", "--home", str(home), "--data", "digits", "--trials", "4"])
    assert code == 0
    return home


@pytest.fixture(scope="module")
def live(
    digits_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    """The champion served from a copy of the workspace, capturing every request."""
    folder = tmp_path_factory.mktemp("live")
    endpoint = Endpoint(copy_workspace(digits_home, folder), free_port(), folder)
    with endpoint.serving("--capture-rate", "1.0", "--capture-sync"):
        yield endpoint


def digits(count: int) -> pd.DataFrame:
    """The first `count` digits as rows of pixels (0 to 16)."""
    from sklearn.datasets import load_digits

    frame = pd.DataFrame(load_digits().data[:count], columns=PIXELS)
    return frame.astype(float)


def answers(url: str, body: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    response = httpx.post(f"{url}/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return [
        (p["prediction"], p["probabilities"]) for p in response.json()["predictions"]
    ]


def test_an_image_flat_nested_or_as_named_fields_gets_the_pyfunc_answer(
    live: Endpoint, digits_home: Path
) -> None:
    import mlflow

    model = httpx.get(f"{live.url}/model").json()
    assert model["card"]["family"] == "torch_cnn"
    assert model["card"]["image"] == {"height": 8, "width": 8, "low": 0, "high": 16}
    frame = digits(5)
    flat = frame.to_numpy().tolist()
    nested = [[image[r * 8 : r * 8 + 8] for r in range(8)] for image in flat]
    rows = frame.to_dict(orient="records")
    as_flat = answers(live.url, {"images": flat})
    assert as_flat == answers(live.url, {"images": nested})
    assert as_flat == answers(live.url, {"rows": rows})
    assert [label for label, _ in as_flat] == ["0", "1", "2", "3", "4"]
    # The registered model, loaded by MLflow in this process, agrees.
    mlflow.set_tracking_uri(f"sqlite:///{(digits_home / 'mlflow.db').resolve()}")
    pyfunc = mlflow.pyfunc.load_model("models:/digits@champion")
    assert list(pyfunc.predict(frame)) == [label for label, _ in as_flat]
    pipeline = pyfunc.get_raw_model()
    expected = pipeline.predict_proba(frame)
    classes = [str(c) for c in pipeline.classes_]
    for (_, probabilities), row in zip(as_flat, expected, strict=True):
        assert list(probabilities) == classes
        served = [probabilities[c] for c in classes]
        assert max(abs(a - float(b)) for a, b in zip(served, row, strict=True)) < 1e-9
    # A bad image is a 422 from the real server too.
    bad = httpx.post(f"{live.url}/predict", json={"images": [nested[0][:7]]})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == (
        "image 0: 7 rows of 8, expected 8 rows of 8 pixels"
    )


@needs_browser
def test_the_docs_page_offers_the_image_examples(live: Endpoint) -> None:
    # The operation's deep link opens it, showing its request body's examples.
    dom = rendered_dom(f"{live.url}/docs#/default/predict_predict_post")
    assert "one image as 8 rows of pixels" in dom
    assert "the same image as 64 values" in dom
    example = httpx.get(f"{live.url}/openapi.json").json()["paths"]["/predict"]
    body = example["post"]["requestBody"]["content"]["application/json"]
    # Try it out sends the first example: a body the endpoint answers.
    assert len(answers(live.url, body["examples"]["image"]["value"])) == 1


def test_simulated_traffic_and_the_monitor_on_a_cnn_champion(
    live: Endpoint, cli: Cli
) -> None:
    home = ("--home", str(live.home))
    url = ("--url", live.url)
    sent = cli("simulate", "traffic", *home, *url, "--n", "300", "--batch", "50")
    assert sent.code == 0, sent.err
    assert cli("simulate", "labels", *home).code == 0
    checked = cli("monitor", *home, "--last", "300")
    assert checked.code in (0, 1), checked.err
    result = newest_result(live.home)
    assert result["window"]["rows"] == 300
    drift = result["drift"]
    assert [f["feature"] for f in drift["features"]] == PIXELS
    # Each pixel by a test, corrected across the 64: no false alarm on clean
    # traffic (by distances, two pixels of this window crossed 0.1).
    assert {f["method"] for f in drift["features"]} <= {"ks", "chi2"}
    assert drift["drifted_features"] == []
    assert drift["prediction"]["method"] == "chi2"
    assert drift["prediction"]["status"] in ("ok", "drift")
    assert result["quality"]["labelled"] == 300
    assert result["quality"]["status"] == "ok"
    # Brighter strokes in one pixel: the monitor sees that pixel drift.
    drifted = cli(
        "simulate", "traffic", *home, *url, "--n", "300", "--drift", "pixel_36:*3"
    )
    assert drifted.code == 0, drifted.err
    assert cli("monitor", *home, "--last", "300").code == 1
    assert "pixel_36" in newest_result(live.home)["drift"]["drifted_features"]


def newest_result(home: Path) -> dict[str, Any]:
    newest = max((home / "monitoring").glob("*/result.json"))
    content: dict[str, Any] = json.loads(newest.read_text())
    return content
