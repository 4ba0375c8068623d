"""Images in /predict (serving/images.py): shape, numbers and range checked, then
each image is the row of named pixels it stands for.

No registry and no training here: a stand-in model whose card says 8x8 images
of 0 to 16 (tests/serving/test_images_live.py serves a real CNN).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlopslab.config import ServeConfig
from mlopslab.serving.app import create_app
from mlopslab.serving.http import ApiError
from mlopslab.serving.images import ImageInput, image_input
from mlopslab.serving.model import ServedModel
from mlopslab.serving.schema import RowSchema
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
from mlopslab.stores.registry.versions import VersionInfo
from tests.conftest import PENGUIN

PIXELS = [f"pixel_{i}" for i in range(64)]
IMAGE_CARD = {"data": {"image": {"height": 8, "width": 8, "low": 0, "high": 16}}}
LIMIT = 5


def schema(names: list[str], kind: str = "double") -> RowSchema:
    return RowSchema.from_signature([{"name": n, "type": kind} for n in names])


def spec(card: dict[str, Any] = IMAGE_CARD) -> ImageInput:
    found = image_input(card, schema(PIXELS))
    assert found is not None
    return found


def nested_image() -> list[list[float]]:
    """Every pixel different: pixel k holds k / 4 (0 to 15.75)."""
    return [[(8 * r + c) / 4 for c in range(8)] for r in range(8)]


def flat_image() -> list[float]:
    return [value for line in nested_image() for value in line]


def with_pixel(position: int, value: Any) -> list[Any]:
    pixels: list[Any] = flat_image()
    pixels[position] = value
    return pixels


def refusal(images: Any, limit: int = LIMIT) -> ApiError:
    with pytest.raises(ApiError) as caught:
        spec().rows(images, limit)
    return caught.value


def test_flat_and_nested_images_are_the_same_row_of_named_pixels() -> None:
    expected = {f"pixel_{k}": k / 4 for k in range(64)}
    flat, nested = spec().rows([flat_image(), nested_image()], LIMIT)
    assert flat == nested == expected
    assert list(flat) == PIXELS  # row by row: pixel_8 is row 1, column 0
    # Whole numbers arrive as the floats a row's numbers become.
    [whole] = spec().rows([[int(v) for v in flat_image()]], LIMIT)
    assert all(type(v) is float for v in whole.values())
    # The range is inclusive at both ends.
    assert spec().rows([[0] * 63 + [16]], LIMIT)[0]["pixel_63"] == 16.0


@pytest.mark.parametrize(
    ("images", "message", "field", "row"),
    [
        (
            [nested_image()[:7]],
            "image 0: 7 rows of 8, expected 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [flat_image(), [line[:7] for line in nested_image()]],
            "image 1: 8 rows of 7, expected 8 rows of 8 pixels",
            "images",
            1,
        ),
        (
            [[*nested_image()[:7], [0.0] * 9]],
            "image 0: 8 rows of 8 to 9, expected 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [[flat_image()]],
            "image 0: 1 row of 64, expected 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [flat_image()[:63]],
            "image 0: 63 values, expected 64 values (or 8 rows of 8 pixels)",
            "images",
            0,
        ),
        (
            [[0.0] * 784],
            "image 0: 784 values, expected 64 values (or 8 rows of 8 pixels)",
            "images",
            0,
        ),
        (
            [[]],
            "image 0: is empty; expected 64 values or 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            ["pixels"],
            "image 0: must be a list of pixel values, got a string; "
            "expected 64 values or 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [{"pixel_0": 1}],
            "image 0: must be a list of pixel values, got an object; "
            "expected 64 values or 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [[0.0, [0.0]]],
            "image 0: mixes pixel values and lists; "
            "expected 64 values or 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [[[[0.0, 0.0, 0.0]] * 8] * 8],
            "image 0: has lists inside its rows (one number per pixel: no channels); "
            "expected 64 values or 8 rows of 8 pixels",
            "images",
            0,
        ),
        (
            [with_pixel(19, "3")],
            "image 0, row 2, column 3 (pixel_19): must be a number, got a string",
            "pixel_19",
            0,
        ),
        (
            [with_pixel(0, True)],
            "image 0, row 0, column 0 (pixel_0): must be a number, got true",
            "pixel_0",
            0,
        ),
        (
            [flat_image(), with_pixel(63, None)],
            "image 1, row 7, column 7 (pixel_63): must be a number, got null",
            "pixel_63",
            1,
        ),
        (
            [with_pixel(8, float("nan"))],
            "image 0, row 1, column 0 (pixel_8): must be a finite number, got NaN",
            "pixel_8",
            0,
        ),
        (
            [with_pixel(8, float("-inf"))],
            "image 0, row 1, column 0 (pixel_8): must be a finite number, "
            "got -infinity",
            "pixel_8",
            0,
        ),
        (
            [with_pixel(9, 17)],
            "image 0, row 1, column 1 (pixel_9): 17 is outside the pixel range 0 to 16",
            "pixel_9",
            0,
        ),
        (
            [with_pixel(9, -0.5)],
            "image 0, row 1, column 1 (pixel_9): -0.5 is outside the pixel range "
            "0 to 16",
            "pixel_9",
            0,
        ),
        (
            [with_pixel(2, 10**400)],
            "image 0, row 0, column 2 (pixel_2): 1.00000e+400 is outside the pixel "
            "range 0 to 16",
            "pixel_2",
            0,
        ),
    ],
)
def test_a_bad_image_is_a_422_that_names_the_problem(
    images: list[Any], message: str, field: str, row: int
) -> None:
    error = refusal(images)
    assert (error.status, error.message, error.field, error.row) == (
        422,
        message,
        field,
        row,
    )


@pytest.mark.parametrize("images", [[], None, "x", {"0": []}, 3])
def test_images_must_be_a_non_empty_list(images: Any) -> None:
    error = refusal(images)
    assert (error.status, error.field, error.row) == (422, "images", None)
    assert error.message == (
        "'images' must be a non-empty list of images, "
        "each 64 values or 8 rows of 8 pixels"
    )


def test_more_images_than_the_limit_is_a_413() -> None:
    error = refusal([flat_image()] * (LIMIT + 1))
    assert (error.status, error.field) == (413, "images")
    assert error.message == "6 images exceed the limit of 5"


def test_images_of_another_size_and_range() -> None:
    card = {"data": {"image": {"height": 3, "width": 2, "low": 0.0, "high": 255.0}}}
    found = image_input(card, schema([f"pixel_{i}" for i in range(6)], "float"))
    assert found is not None
    assert found.rows([[[0, 1], [2, 3], [4, 255]]], 1) == [
        {f"pixel_{i}": float(v) for i, v in enumerate([0, 1, 2, 3, 4, 255])}
    ]
    with pytest.raises(ApiError, match=r"image 0: 2 rows of 3, expected 3 rows of 2"):
        found.rows([[[0, 1, 2], [3, 4, 5]]], 1)
    with pytest.raises(ApiError, match=r"256 is outside the pixel range 0 to 255$"):
        found.rows([[0, 1, 2, 3, 4, 256]], 1)


@pytest.mark.parametrize(
    ("card", "names", "kind"),
    [
        ({}, PIXELS, "double"),  # a card from before images
        ({"data": {"image": None}}, PIXELS, "double"),  # a table
        ({"data": None}, PIXELS, "double"),
        ({"data": {"image": {"height": 8}}}, PIXELS, "double"),  # damaged
        (
            {"data": {"image": {**IMAGE_CARD["data"]["image"], "low": "x"}}},
            PIXELS,
            "double",
        ),
        (IMAGE_CARD, PIXELS[:63], "double"),  # the signature is not the image's
        (IMAGE_CARD, [*PIXELS[:63], "pixel_x"], "double"),
        (IMAGE_CARD, PIXELS, "string"),
    ],
)
def test_only_a_model_of_images_takes_images(
    card: dict[str, Any], names: list[str], kind: str
) -> None:
    assert image_input(card, schema(names, kind)) is None


# The endpoint, in-process, with a stand-in model.


class TopLeft:
    """A stand-in classifier: how bright the top-left pixel, pixel_1 and pixel_8 are.

    Different weights for pixel_1 (row 0) and pixel_8 (row 1): an image read
    column by column would score differently.
    """

    classes_ = np.array(["dark", "light"])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        light = (
            frame["pixel_0"] + 2 * frame["pixel_1"] + 3 * frame["pixel_8"]
        ).to_numpy() / 96
        return np.column_stack([1 - light, light])


@dataclass
class StandIn:
    """A ModelSource that always has the one model."""

    model: ServedModel
    name: str = "digits"
    unconfirmed: bool = False

    def resolve(self) -> VersionInfo:
        return VersionInfo(self.name, self.model.version, "approved", (), "run", 0)

    def load(self, info: VersionInfo) -> ServedModel:
        return self.model

    def close(self) -> None:
        pass


def served(card: dict[str, Any], names: list[str]) -> ServedModel:
    return ServedModel(
        "digits", "1", TopLeft(), schema(names), ["dark", "light"], card=card
    )


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return tmp_path / "capture.db"


def client_for(model: ServedModel, capture: Path) -> TestClient:
    cfg = ServeConfig(
        poll_seconds=0, max_batch_rows=LIMIT, capture_rate=1.0, capture_sync=True
    )
    return TestClient(create_app(cfg, StandIn(model), SQLiteCaptureStore(capture)))


@pytest.fixture
def client(capture: Path) -> Iterator[TestClient]:
    with client_for(served(IMAGE_CARD, PIXELS), capture) as test_client:
        yield test_client


def test_an_image_flat_nested_or_as_a_row_is_answered_and_captured_alike(
    client: TestClient, capture: Path
) -> None:
    row = dict(zip(PIXELS, flat_image(), strict=True))
    bodies = [
        {"images": [flat_image()]},
        {"images": [nested_image()]},
        {"rows": [row]},
    ]
    answers = [client.post("/predict", json=body) for body in bodies]
    assert [a.status_code for a in answers] == [200] * 3
    results = [a.json() for a in answers]
    # The same response shape as rows, one inference_id per image.
    assert all(set(r) == set(results[2]) for r in results)
    predictions = [r["predictions"] for r in results]
    assert all(len(p) == 1 for p in predictions)
    assert predictions[0][0]["prediction"] == "dark"  # (0 + 0.5 + 6) / 96
    for p in predictions:
        assert {k: v for k, v in p[0].items() if k != "inference_id"} == {
            k: v for k, v in predictions[2][0].items() if k != "inference_id"
        }
    ids = [p[0]["inference_id"] for p in predictions]
    assert len(set(ids)) == 3
    records = {r.inference_id: r for r, _ in SQLiteCaptureStore(capture).recent(10)}
    assert set(records) == set(ids)
    assert [records[i].input for i in ids] == [row, row, row]
    many = client.post("/predict", json={"images": [nested_image()] * LIMIT}).json()
    assert len({p["inference_id"] for p in many["predictions"]}) == LIMIT


@pytest.mark.parametrize(
    ("body", "status", "message", "field"),
    [
        (
            {"images": [nested_image()[:7]]},
            422,
            "image 0: 7 rows of 8, expected 8 rows of 8 pixels",
            "images",
        ),
        (
            {"images": [with_pixel(3, 16.5)]},
            422,
            "image 0, row 0, column 3 (pixel_3): 16.5 is outside the pixel range "
            "0 to 16",
            "pixel_3",
        ),
        (
            {"images": [flat_image()] * (LIMIT + 1)},
            413,
            "6 images exceed the limit of 5",
            "images",
        ),
        ({"images": []}, 422, None, "images"),
        (
            {"images": [flat_image()], "rows": []},
            422,
            "send either 'rows' or 'images', not both",
            "body",
        ),
        (
            {"pixels": [flat_image()]},
            422,
            "body must be an object with a 'rows' list or an 'images' list",
            "rows",
        ),
        (
            [flat_image()],
            422,
            "body must be an object with a 'rows' list or an 'images' list",
            "rows",
        ),
    ],
)
def test_bad_image_requests_get_a_4xx_json_error(
    client: TestClient,
    body: Any,
    status: int,
    message: str | None,
    field: str,
) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["field"] == field
    if message is not None:
        assert error["message"] == message


def test_a_non_finite_pixel_in_raw_json_is_a_422(client: TestClient) -> None:
    pixels = ", ".join(["1"] * 10 + ["NaN"] + ["1"] * 53)
    response = client.post(
        "/predict",
        content=f'{{"images": [[{pixels}]]}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "status": 422,
        "message": "image 0, row 1, column 2 (pixel_10): must be a finite number, "
        "got NaN",
        "field": "pixel_10",
        "row": 0,
    }


def test_a_model_of_rows_refuses_images_naming_its_fields(capture: Path) -> None:
    names = list(PENGUIN)
    with client_for(served({"data": {"image": None}}, names), capture) as client:
        response = client.post("/predict", json={"images": [flat_image()]})
        assert response.status_code == 422
        assert response.json()["error"]["message"] == (
            "this model takes rows, not images: send 'rows', a list of objects with "
            "the fields island, bill_length_mm, bill_depth_mm, flipper_length_mm, "
            "body_mass_g, sex, year"
        )
        missing = client.post("/predict", json={"data": []}).json()["error"]
        assert missing["message"] == "body must be an object with a 'rows' list"
        model = client.get("/model").json()
        assert model["card"]["image"] is None
        body = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
        schema = body["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == {"rows"}


def test_the_openapi_document_shows_the_images_form(client: TestClient) -> None:
    assert client.get("/model").json()["card"]["image"] == {
        "height": 8,
        "width": 8,
        "low": 0,
        "high": 16,
    }
    body = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    content = body["requestBody"]["content"]["application/json"]
    schema = content["schema"]
    assert set(schema["properties"]) == {"rows", "images"}
    assert schema["oneOf"] == [{"required": ["rows"]}, {"required": ["images"]}]
    assert schema["properties"]["rows"]["items"]["required"] == PIXELS
    images = schema["properties"]["images"]
    assert images["maxItems"] == LIMIT
    nested, flat = images["items"]["oneOf"]
    assert (nested["minItems"], nested["items"]["maxItems"]) == (8, 8)
    assert (flat["minItems"], flat["maxItems"]) == (64, 64)
    assert flat["items"] == {"type": "number", "minimum": 0, "maximum": 16}
    # Every example is a body the endpoint answers, and they agree.
    examples = content["examples"]
    assert set(examples) == {"image", "flat image", "row"}
    answers = [
        client.post("/predict", json=example["value"]).json()["predictions"][0]
        for example in examples.values()
    ]
    assert len({str(a["probabilities"]) for a in answers}) == 1
    stroke = examples["image"]["value"]["images"][0]
    assert len(stroke) == 8 and {len(line) for line in stroke} == {8}
    assert {v for line in stroke for v in line} == {0, 16}
