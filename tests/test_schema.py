import math

import pytest

from mlopslab.serving.schema import RowError, RowSchema

SCHEMA = RowSchema.from_signature(
    [
        {"name": "island", "type": "string", "required": True},
        {"name": "mass", "type": "double", "required": False},
        {"name": "year", "type": "long", "required": True},
    ]
)
GOOD = {"island": "Dream", "mass": 3500.5, "year": 2008}


def test_valid_rows_are_normalised() -> None:
    rows = SCHEMA.validate_rows([GOOD, {**GOOD, "mass": None, "year": 2009.0}], 10)
    assert rows[0] == {"island": "Dream", "mass": 3500.5, "year": 2008}
    assert rows[1]["mass"] is None and rows[1]["year"] == 2009
    assert isinstance(rows[1]["year"], int)


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({**GOOD, "beak": 1}, "beak", "unknown field"),
        ({"island": "Dream", "mass": 1.0}, "year", "missing field"),
        ({**GOOD, "mass": "heavy"}, "mass", "must be a number"),
        ({**GOOD, "mass": True}, "mass", "must be a number"),
        ({**GOOD, "island": 3}, "island", "must be a string"),
        ({**GOOD, "mass": math.nan}, "mass", "not NaN or infinity"),
        ({**GOOD, "mass": math.inf}, "mass", "not NaN or infinity"),
        ({**GOOD, "island": None}, "island", "must not be null"),
        ({**GOOD, "year": 2008.5}, "year", "whole number"),
    ],
)
def test_bad_rows_name_row_and_field(
    row: dict[str, object], field: str, problem: str
) -> None:
    with pytest.raises(RowError) as info:
        SCHEMA.validate_rows([GOOD, row], 10)
    assert info.value.row == 1
    assert info.value.field == field
    assert problem in info.value.problem
    assert str(info.value).startswith(f"row 1, field '{field}'")


def test_batch_shape_errors() -> None:
    with pytest.raises(RowError, match="exceed the limit of 2"):
        SCHEMA.validate_rows([GOOD] * 3, 2)
    with pytest.raises(RowError, match="non-empty list"):
        SCHEMA.validate_rows([], 2)
    with pytest.raises(RowError, match="non-empty list"):
        SCHEMA.validate_rows({"island": "x"}, 2)
    with pytest.raises(RowError, match="row 0: must be a JSON object"):
        SCHEMA.validate_rows([[1, 2, 3]], 2)


def test_a_boolean_column_takes_true_and_false() -> None:
    schema = RowSchema.from_signature(
        [
            {"name": "x", "type": "double", "required": True},
            {"name": "member", "type": "boolean", "required": True},
            {"name": "opted", "type": "boolean", "required": False},
        ]
    )
    rows = schema.validate_rows(
        [
            {"x": 1.0, "member": True, "opted": None},
            {"x": 1, "member": False, "opted": True},
        ],
        10,
    )
    assert [(r["member"], r["opted"]) for r in rows] == [(True, None), (False, True)]
    for wrong in ("True", 1, None):
        with pytest.raises(RowError, match="member") as info:
            schema.validate_row(0, {"x": 1.0, "member": wrong, "opted": None})
        assert "true or false" in str(info.value) or "must not be null" in str(
            info.value
        )
    properties = schema.json_schema()["properties"]
    assert properties["member"] == {"type": "boolean"}
    assert properties["opted"] == {"type": ["boolean", "null"]}
    assert schema.openapi_example()["member"] is True
