"""Images in /predict: `{"images": [IMAGE, ...]}` for a model trained on images.

A model whose card records `data.image` (height, width and the pixel range)
takes each image as a flat list of height*width numbers, row by row, or as
`height` lists of `width` numbers. Each image is checked for its shape, for
numbers (never booleans, strings, null, NaN or infinity) and for the pixel
range, then becomes the row of named pixels (`pixel_0`, `pixel_1`, ... row by
row) the model scores. From there on an image is a row: the same prediction,
capture record, monitoring and response as the 64 (or 784) named fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from mlopslab.data import Image
from mlopslab.serving.http import ApiError
from mlopslab.serving.schema import RowSchema

# How many field names a message lists before it says how many more there are.
SHOWN_FIELDS = 12


@dataclass(frozen=True)
class ImageInput:
    """How a model takes images: their shape and range, and their pixels' fields."""

    image: Image
    fields: tuple[str, ...]  # pixel_0, pixel_1, ... row by row

    @property
    def pixels(self) -> int:
        return self.image.height * self.image.width

    @property
    def shape(self) -> str:
        """'64 values or 8 rows of 8 pixels'."""
        return f"{self.pixels} values or {_rows(self.image.height, self.image.width)}"

    @property
    def range(self) -> str:
        return f"{self.image.low:g} to {self.image.high:g}"

    def rows(self, images: Any, limit: int) -> list[dict[str, Any]]:
        """Check a batch of images; the rows they are, or a 4xx naming the problem."""
        if not isinstance(images, list) or not images:
            raise ApiError(
                422,
                f"'images' must be a non-empty list of images, each {self.shape}",
                field="images",
            )
        if len(images) > limit:
            raise ApiError(
                413, f"{len(images)} images exceed the limit of {limit}", field="images"
            )
        return [self.row(index, image) for index, image in enumerate(images)]

    def row(self, index: int, image: Any) -> dict[str, Any]:
        """One image as the row of named pixels the model scores."""
        values = self._flat(index, image)
        # The common case in one pass of numpy; any doubt, and the slow scan
        # below finds the first bad pixel and says which.
        if {type(v) for v in values} <= {int, float}:
            try:
                array = np.asarray(values, dtype=float)
            except OverflowError:  # an integer beyond any float: out of range
                array = None
            if (
                array is not None
                and np.isfinite(array).all()
                and array.min() >= self.image.low
                and array.max() <= self.image.high
            ):
                return dict(zip(self.fields, array.tolist(), strict=True))
        for position, value in enumerate(values):
            self._check(index, position, value)
        return dict(zip(self.fields, map(float, values), strict=True))

    def _flat(self, index: int, image: Any) -> list[Any]:
        """The pixel values row by row, once the shape is right."""
        height, width = self.image.height, self.image.width
        if not isinstance(image, list):
            raise self._shape_error(
                index, f"must be a list of pixel values, got {_json_type(image)}"
            )
        if not image:
            raise self._shape_error(index, "is empty")
        nested = [isinstance(value, list) for value in image]
        if not any(nested):
            if len(image) != self.pixels:
                raise ApiError(
                    422,
                    f"image {index}: {_count(len(image), 'value')}, expected "
                    f"{self.pixels} values (or {_rows(height, width)})",
                    field="images",
                    row=index,
                )
            return image
        if not all(nested):
            raise self._shape_error(index, "mixes pixel values and lists")
        if any(isinstance(value, list) for line in image for value in line):
            raise self._shape_error(
                index, "has lists inside its rows (one number per pixel: no channels)"
            )
        widths = sorted({len(line) for line in image})
        if len(image) != height or widths != [width]:
            of = str(widths[0]) if len(widths) == 1 else f"{widths[0]} to {widths[-1]}"
            sent = f"{_count(len(image), 'row')} of {of}"
            raise ApiError(
                422,
                f"image {index}: {sent}, expected {_rows(height, width)}",
                field="images",
                row=index,
            )
        return [value for line in image for value in line]

    def _check(self, index: int, position: int, value: Any) -> None:
        row, column = divmod(position, self.image.width)
        where = f"image {index}, row {row}, column {column} ({self.fields[position]})"

        def refuse(problem: str) -> ApiError:
            return ApiError(
                422, f"{where}: {problem}", field=self.fields[position], row=index
            )

        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"must be a number, got {_json_type(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise refuse(f"must be a finite number, got {_json_type(value)}")
        if not self.image.low <= value <= self.image.high:
            raise refuse(f"{_show(value)} is outside the pixel range {self.range}")

    def _shape_error(self, index: int, problem: str) -> ApiError:
        return ApiError(
            422,
            f"image {index}: {problem}; expected {self.shape}",
            field="images",
            row=index,
        )


def image_input(card: dict[str, Any], schema: RowSchema) -> ImageInput | None:
    """How the model takes images, or None when it takes rows only.

    Images need the card's `data.image` and a signature of exactly its pixels,
    `pixel_0` to `pixel_{height*width-1}`, each a number.
    """
    data = card.get("data")
    spec = data.get("image") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return None
    try:
        image = Image(
            int(spec["height"]),
            int(spec["width"]),
            float(spec["low"]),
            float(spec["high"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if image.height < 1 or image.width < 1 or not image.low <= image.high:
        return None
    fields = tuple(f"pixel_{i}" for i in range(image.height * image.width))
    kinds = {field.name: field.kind for field in schema.fields}
    if set(kinds) != set(fields) or set(kinds.values()) != {"number"}:
        return None
    return ImageInput(image, fields)


def takes_rows_only(schema: RowSchema) -> str:
    """The message for images sent to a model of rows, naming its fields."""
    names = schema.names
    shown = ", ".join(names[:SHOWN_FIELDS])
    if len(names) > SHOWN_FIELDS:
        shown += f", ... ({len(names) - SHOWN_FIELDS} more)"
    return (
        "this model takes rows, not images: send 'rows', a list of objects "
        f"with the fields {shown}"
    )


def openapi_body(spec: ImageInput, rows: dict[str, Any], limit: int) -> dict[str, Any]:
    """/predict's request body for an image model: rows or images, with examples.

    `rows` is the body's schema for rows, already filled in from the signature.
    """
    low, high = spec.image.low, spec.image.high
    pixel = {"type": "number", "minimum": low, "maximum": high}
    height, width = spec.image.height, spec.image.width
    nested = {
        "type": "array",
        "description": f"{height} rows of {width} pixels",
        "minItems": height,
        "maxItems": height,
        "items": {
            "type": "array",
            "minItems": width,
            "maxItems": width,
            "items": pixel,
        },
    }
    flat = {
        "type": "array",
        "description": f"{spec.pixels} pixels, row by row",
        "minItems": spec.pixels,
        "maxItems": spec.pixels,
        "items": pixel,
    }
    images = {
        "type": "array",
        "title": "Images",
        "description": (
            f"Images of {height}x{width} pixels from {spec.range}, each "
            f"{spec.shape} (pixel_0 is the top left, then row by row)"
        ),
        "minItems": 1,
        "maxItems": limit,
        "items": {"oneOf": [nested, flat]},
    }
    return {
        "title": "PredictRequest",
        "type": "object",
        "description": "Exactly one of 'rows' or 'images'.",
        "properties": {"rows": rows, "images": images},
        "oneOf": [{"required": ["rows"]}, {"required": ["images"]}],
    }


def openapi_examples(spec: ImageInput) -> dict[str, Any]:
    """Named examples of /predict's body: an image as rows of pixels, flat, as a row."""
    stroke = example_image(spec)
    flat = [value for line in stroke for value in line]
    return {
        "image": {
            "summary": f"one image as {spec.image.height} rows of pixels",
            "value": {"images": [stroke]},
        },
        "flat image": {
            "summary": f"the same image as {spec.pixels} values",
            "value": {"images": [flat]},
        },
        "row": {
            "summary": "the same image as a row of named pixels",
            "value": {"rows": [dict(zip(spec.fields, flat, strict=True))]},
        },
    }


def example_image(spec: ImageInput) -> list[list[float | int]]:
    """A vertical stroke down the middle, at full intensity: something like a 1."""
    height, width = spec.image.height, spec.image.width
    low, high = _plain(spec.image.low), _plain(spec.image.high)
    middle = {(width - 1) // 2, width // 2}
    margin = height // 8
    return [
        [
            high if column in middle and margin <= line < height - margin else low
            for column in range(width)
        ]
        for line in range(height)
    ]


def _plain(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def _rows(height: int, width: int) -> str:
    return f"{_count(height, 'row')} of {width} pixels"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _json_type(value: Any) -> str:
    """What a JSON value is, as its sender wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else f"{'-' if value < 0 else ''}infinity"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__  # pragma: no cover - JSON has no other types


def _show(value: float | int) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{Decimal(value):.6g}"  # ints of any size
