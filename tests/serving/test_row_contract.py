"""One contract for a row: nulls the model imputes, booleans, per-row errors.

An in-process model (the repository's own preprocessing, no registry) behind
the real app (TestClient) and the batch scorer: bool, int, float, category,
date text and a column with gaps.
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
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlopslab.baseline import compute_constraints
from mlopslab.config import MonitorConfig, ServeConfig
from mlopslab.data import infer_schema
from mlopslab.errors import DataError
from mlopslab.flows.monitoring import read_window
from mlopslab.monitor.constraints import check_constraints
from mlopslab.preprocess import build_preprocessor
from mlopslab.serving.app import create_app
from mlopslab.serving.batch import score_file
from mlopslab.serving.model import ServedModel, imputed_columns
from mlopslab.serving.schema import RowError, RowSchema
from mlopslab.stores.capture.sqlite import SQLiteCaptureStore
from mlopslab.stores.registry.versions import VersionInfo

# The signature MLflow infers from the training frame below.
SIGNATURE = [
    {"name": "member", "type": "boolean", "required": True},
    {"name": "age", "type": "long", "required": True},
    {"name": "score", "type": "double", "required": True},
    {"name": "colour", "type": "string", "required": True},
    {"name": "day", "type": "string", "required": True},
    {"name": "income", "type": "double", "required": False},
]
FEATURES = [str(f["name"]) for f in SIGNATURE]


def training_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A table as data.py hands it to training: booleans as Python's True and
    False in an object column, gaps as NaN."""
    rng = np.random.default_rng(seed)
    member = rng.random(n) < 0.5
    age = rng.integers(18, 80, n)
    score = rng.normal(0, 1, n)
    colour = rng.choice(["red", "green", "blue"], n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D")
    income = rng.normal(50, 10, n)
    income[rng.choice(n, n // 10, replace=False)] = np.nan
    logit = 2 * member - 1 + 0.04 * (age - 50) + score + (colour == "red")
    return pd.DataFrame(
        {
            "member": pd.Series(member, dtype=object),
            "age": age,
            "score": score,
            "colour": pd.Series(colour, dtype=object),
            "day": pd.Series(day.strftime("%Y-%m-%d"), dtype=object),
            "income": income,
            "label": np.where(logit > 0.3, "yes", "no"),
        }
    )


FRAME = training_frame()
X = FRAME.drop(columns="label")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    schema = infer_schema(FRAME, "label")
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(schema)),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )
    return model.fit(X, FRAME["label"])


def served(pipeline: Any, strict_nulls: bool = False) -> ServedModel:
    imputed = imputed_columns(pipeline)
    assert imputed is not None
    return ServedModel(
        name="table",
        version="1",
        pipeline=pipeline,
        schema=RowSchema.from_signature(SIGNATURE, imputed, strict_nulls),
        classes=[str(c) for c in pipeline.classes_],
    )


def as_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a JSON client sends them: NaN as null, numbers as numbers."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in plain.to_dict(orient="records")
    ]


def expected(pipeline: Any, frame: pd.DataFrame) -> np.ndarray:
    """The pipeline's probabilities on rows shaped as training fed them."""
    return np.asarray(pipeline.predict_proba(frame[FEATURES]))


# The schema: nulls where the model imputes, strict mode, each row on its own.


def test_null_is_accepted_where_the_pipeline_imputes() -> None:
    schema = RowSchema.from_signature(SIGNATURE, imputed=FEATURES)
    row = {name: None for name in FEATURES}
    assert schema.validate_row(0, row) == row
    strict = schema.with_strict_nulls(True)
    with pytest.raises(RowError) as info:
        strict.validate_row(0, row)
    assert info.value.field == "member"
    assert "no gaps in training; serve.strict_nulls" in info.value.problem
    # Where training had gaps, null is always accepted.
    ok = strict.validate_row(0, {**as_json(X.head(1))[0], "income": None})
    assert ok["income"] is None
    # A column the pipeline does not impute keeps the signature's rule.
    bare = RowSchema.from_signature(SIGNATURE, imputed=["income"])
    with pytest.raises(RowError, match="field 'age': must not be null"):
        bare.validate_row(0, {**as_json(X.head(1))[0], "age": None})


def test_the_served_contract_is_described_as_it_is_enforced() -> None:
    schema = RowSchema.from_signature(SIGNATURE, imputed=FEATURES)
    described = {f["name"]: f for f in schema.describe()}
    assert described["age"] == {
        "name": "age",
        "kind": "integer",
        "required": True,
        "nullable": True,
    }
    properties = schema.json_schema()["properties"]
    assert properties["member"] == {"type": ["boolean", "null"]}
    strict = schema.with_strict_nulls(True)
    assert {f["name"]: f["nullable"] for f in strict.describe()}["age"] is False
    assert strict.json_schema()["properties"]["member"] == {"type": "boolean"}
    assert strict.json_schema()["properties"]["income"] == {"type": ["number", "null"]}


def test_check_rows_gives_each_bad_row_its_own_error() -> None:
    schema = RowSchema.from_signature(SIGNATURE, imputed=FEATURES)
    good = as_json(X.head(1))[0]
    checked = schema.check_rows(
        [good, {**good, "age": "old"}, good, {**good, "member": "yes"}, [1]], 10
    )
    assert checked.positions == [0, 2] and len(checked.rows) == 2
    assert [(e.row, e.field) for e in checked.errors] == [
        (1, "age"),
        (3, "member"),
        (4, None),
    ]
    assert checked.total == 5
    for batch, problem in (([], "non-empty list"), ([good] * 11, "exceed the limit")):
        with pytest.raises(RowError, match=problem) as info:
            schema.check_rows(batch, 10)
        assert info.value.row is None


def test_datetime_fields_take_iso_8601_text() -> None:
    schema = RowSchema.from_signature(
        [{"name": "at", "type": "datetime", "required": True}]
    )
    assert schema.validate_row(0, {"at": "2024-01-31"}) == {"at": "2024-01-31"}
    assert schema.validate_row(0, {"at": "2024-01-31T12:00:00+02:00"}) == {
        "at": "2024-01-31T10:00:00"
    }
    for bad in ("last tuesday", 20240131):
        with pytest.raises(RowError, match="ISO 8601"):
            schema.validate_row(0, {"at": bad})
    assert schema.json_schema()["properties"]["at"] == {
        "type": "string",
        "format": "date-time",
    }


def test_imputed_columns_are_read_from_the_fitted_preprocessing(
    pipeline: Pipeline,
) -> None:
    assert imputed_columns(pipeline) == frozenset(FEATURES)
    from mlopslab.calibration import calibrated

    wrapped = calibrated(pipeline, X, FRAME["label"], folds=3)
    assert imputed_columns(wrapped) == frozenset(FEATURES)
    assert imputed_columns(LogisticRegression()) is None


# The model: booleans and gaps reach it as training fed them.


def test_booleans_and_nulls_get_the_pipelines_own_probabilities(
    pipeline: Pipeline,
) -> None:
    model = served(pipeline)
    rows = X.head(12).copy()
    rows.loc[[1, 4], "member"] = np.nan
    rows.loc[[2, 5], "age"] = np.nan
    rows.loc[3, ["score", "colour", "day", "income"]] = np.nan
    clean = model.schema.validate_rows(as_json(rows), 100)
    got = np.array([list(p.probabilities.values()) for p in model.predict(clean)])
    assert np.allclose(got, expected(pipeline, rows), rtol=0, atol=1e-12)
    flipped = [
        model.predict([{**clean[0], "member": value}])[0] for value in (True, False)
    ]
    assert flipped[0].probabilities != flipped[1].probabilities


# The endpoint: per-row errors, capture of the rows scored, strict modes.


@dataclass
class Fixed:
    """A model source that always has this one model."""

    model: ServedModel
    name: str = "table"
    unconfirmed: bool = False

    def resolve(self) -> VersionInfo:
        return VersionInfo("table", "1", "approved", ("champion",), "run", 0)

    def load(self, info: VersionInfo) -> ServedModel:
        return self.model

    def close(self) -> None:
        return None


@pytest.fixture
def app_for(pipeline: Pipeline, tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        cfg = ServeConfig(poll_seconds=0, capture_sync=True, **settings)
        store = SQLiteCaptureStore(tmp_path / f"capture{len(clients)}.db")
        client = TestClient(create_app(cfg, Fixed(served(pipeline)), store))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def captured(client: TestClient) -> list[dict[str, Any]]:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    return [record.input for record, _ in reversed(store.recent(100))]


def test_a_bad_row_gets_its_own_error_and_the_others_are_scored(
    app_for: Any, pipeline: Pipeline
) -> None:
    client = app_for()
    rows = as_json(X.head(4))
    rows[1]["age"] = "old"
    rows[2]["member"] = None  # imputed, as training's gaps were
    response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 200
    answers = response.json()["predictions"]
    assert answers[1] == {
        "error": {
            "row": 1,
            "field": "age",
            "problem": "must be a number, got str",
            "message": "row 1, field 'age': must be a number, got str",
        }
    }
    frame = X.head(4).copy()
    frame.loc[2, "member"] = np.nan
    want = expected(pipeline, frame)
    for index in (0, 2, 3):
        probabilities = list(answers[index]["probabilities"].values())
        assert np.allclose(probabilities, want[index], rtol=0, atol=1e-12)
    # Only the rows scored are captured, a null as a null.
    inputs = captured(client)
    assert len(inputs) == 3 and inputs[1]["member"] is None
    ids = {a["inference_id"] for a in answers if "inference_id" in a}
    assert len(ids) == 3


def test_invocations_keeps_mlflows_shape_with_nulls_and_errors(
    app_for: Any,
) -> None:
    client = app_for()
    rows = as_json(X.head(3))
    clean = client.post("/invocations", json={"dataframe_records": rows})
    assert clean.status_code == 200 and set(clean.json()) == {"predictions"}
    rows[0]["score"] = "high"
    rows[2]["day"] = 5
    mixed = client.post(
        "/invocations",
        json={
            "dataframe_split": {
                "columns": FEATURES,
                "data": [list(r.values()) for r in rows],
            }
        },
    ).json()
    assert mixed["predictions"][1] == clean.json()["predictions"][1]
    assert mixed["predictions"][0] is None and mixed["predictions"][2] is None
    assert [(e["row"], e["field"]) for e in mixed["errors"]] == [
        (0, "score"),
        (2, "day"),
    ]


def test_a_batch_of_only_bad_rows_is_a_422_naming_each(app_for: Any) -> None:
    client = app_for()
    rows = as_json(X.head(2))
    rows[0]["age"], rows[1]["colour"] = 1.5, 3
    response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["row"] == 0 and body["error"]["field"] == "age"
    assert body["error"]["message"].startswith("all 2 rows were refused; the first:")
    assert [e["field"] for e in body["errors"]] == ["age", "colour"]
    assert captured(client) == []


def test_refuse_batch_fails_the_whole_batch_at_its_first_bad_row(
    app_for: Any,
) -> None:
    client = app_for(on_bad_row="refuse_batch")
    rows = as_json(X.head(3))
    rows[2]["age"] = "old"
    response = client.post("/predict", json={"rows": rows})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "status": 422,
        "message": "row 2, field 'age': must be a number, got str",
        "field": "age",
        "row": 2,
    }
    invocations = client.post("/invocations", json={"dataframe_records": rows})
    assert invocations.status_code == 422
    assert captured(client) == []


def test_strict_nulls_refuse_null_where_training_had_no_gaps(app_for: Any) -> None:
    client = app_for(strict_nulls=True)
    rows = as_json(X.head(2))
    rows[0]["member"], rows[1]["income"] = None, None
    answers = client.post("/predict", json={"rows": rows}).json()["predictions"]
    assert answers[0]["error"]["field"] == "member"
    assert "serve.strict_nulls" in answers[0]["error"]["problem"]
    assert "prediction" in answers[1]  # income had gaps in training
    signature = {f["name"]: f for f in client.get("/model").json()["signature"]}
    assert signature["member"]["nullable"] is False
    assert signature["income"]["nullable"] is True


def test_a_row_the_model_cannot_score_is_refused_alone(
    app_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_for()
    original = ServedModel.predict

    def picky(self: ServedModel, rows: list[dict[str, Any]]) -> Any:
        if any(row["colour"] == "purple" for row in rows):
            raise ValueError("purple is not a colour here\nand more")
        return original(self, rows)

    monkeypatch.setattr(ServedModel, "predict", picky)
    rows = as_json(X.head(3))
    rows[1]["colour"] = "purple"
    answers = client.post("/predict", json={"rows": rows}).json()["predictions"]
    assert "prediction" in answers[0] and "prediction" in answers[2]
    assert answers[1]["error"]["message"] == (
        "row 1: the model cannot score this row: purple is not a colour here"
    )


def test_nulls_reach_the_monitors_completeness_check(
    app_for: Any, tmp_path: Path
) -> None:
    client = app_for()
    rows = as_json(X.head(40))
    for row in rows[:20]:
        row["score"] = None  # never missing in training
    assert client.post("/predict", json={"rows": rows}).status_code == 200
    window = read_window(client.app.state.runtime.store, 100)
    assert window.inputs["score"].isna().sum() == 20
    constraints = compute_constraints(X, infer_schema(FRAME, "label"))
    violations = check_constraints(window.inputs, constraints, MonitorConfig())
    found = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("score", "completeness_check") in found


# `predict` on a file: the same contract, an error column, nothing half-written.


def test_a_file_gets_predictions_for_good_rows_and_errors_for_bad_ones(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    rows = X.head(8).copy()
    text = rows.astype(object)
    text["member"] = ["true", "False", "1", "0", "TRUE", None, "false", "maybe"]
    text.loc[2, "age"] = None
    text.loc[3, "score"] = "high"
    source = tmp_path / "in.csv"
    text.to_csv(source, index=False)
    done = score_file(served(pipeline), source, tmp_path / "out.csv")
    assert (done.scored, done.refused) == (6, 2)
    assert done.first_refusal == "row 3, field 'score': must be a number, got str"
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["error"].isna().tolist() == [True] * 3 + [False] + [True] * 3 + [False]
    assert out.loc[7, "error"] == "field 'member': must be true or false, got str"
    assert out.loc[[3, 7], "prediction"].isna().all()
    frame = rows.copy()
    frame["member"] = pd.Series(
        [True, False, True, False, True, np.nan, False, True], dtype=object
    )
    frame.loc[2, "age"] = np.nan
    good = [0, 1, 2, 4, 5, 6]
    want = expected(pipeline, frame.iloc[good])
    got = out.loc[good, [f"proba_{c}" for c in pipeline.classes_]].to_numpy()
    assert np.allclose(got, want, rtol=0, atol=1e-12)


def test_a_file_of_only_bad_rows_or_refuse_batch_writes_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    text = X.head(3).astype(object)
    text["age"] = pd.Series(["old", "older", "oldest"], dtype=object)
    source = tmp_path / "in.csv"
    text.to_csv(source, index=False)
    target = tmp_path / "out.csv"
    with pytest.raises(DataError) as info:
        score_file(served(pipeline), source, target)
    assert "every row was refused (3 rows); the first: row 0, field 'age'" in (
        info.value.one_line()
    )
    text.loc[[0, 2], "age"] = 40
    text.to_csv(source, index=False)
    with pytest.raises(DataError, match="row 1, field 'age'"):
        score_file(served(pipeline), source, target, on_bad_row="refuse_batch")
    assert not target.exists()


def test_a_file_without_rows_is_scored_as_no_rows(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    X.head(0).to_csv(tmp_path / "empty.csv", index=False)
    done = score_file(served(pipeline), tmp_path / "empty.csv", tmp_path / "out.csv")
    assert (done.scored, done.refused) == (0, 0)
    assert pd.read_csv(tmp_path / "out.csv").empty


def test_batch_scoring_in_chunks_checks_columns_and_names_each_bad_row(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plainly valid rows go to the model column by column, the others row by
    row: the same predictions as the pipeline, and each bad row named by its
    row in the file, across chunk boundaries."""
    import mlopslab.serving.batch as batch

    rows = X.head(40).copy()
    rows["member"] = rows["member"].astype(object)
    rows["age"] = rows["age"].astype(object)
    rows["score"] = rows["score"].astype(object)
    rows.loc[3, "score"] = "high"  # not a number
    rows.loc[17, "member"] = "maybe"  # not a boolean
    rows.loc[30, "colour"] = None  # imputed: scored
    rows.loc[34, "age"] = 41.5  # not a whole number
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    outputs = []
    for chunk in (7, 100_000):
        monkeypatch.setattr(batch, "LOCAL_CHUNK_ROWS", chunk)
        target = tmp_path / f"scored-{chunk}.csv"
        done = score_file(served(pipeline), source, target)
        assert (done.scored, done.refused) == (37, 3)
        outputs.append(pd.read_csv(target))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    scored = outputs[0]
    refused = scored[scored["error"].notna()]
    assert list(refused.index) == [3, 17, 34]
    assert refused.loc[3, "error"] == "field 'score': must be a number, got str"
    assert refused.loc[34, "error"] == "field 'age': must be a whole number"
    good = scored[scored["error"].isna()].index
    truth = FRAME.head(40).drop(columns="label").loc[good].copy()
    truth.loc[30, "colour"] = np.nan
    proba = scored.loc[good, [f"proba_{c}" for c in pipeline.classes_]].to_numpy()
    np.testing.assert_allclose(proba, expected(pipeline, truth), rtol=0, atol=1e-12)


def test_plainly_valid_rows_are_found_column_by_column(pipeline: Pipeline) -> None:
    from mlopslab.serving.batch import _plainly_valid

    schema = served(pipeline).schema
    frame = X.head(6).copy()
    frame["member"] = frame["member"].astype(object)
    frame["age"] = frame["age"].astype(float)
    frame.loc[0, "age"] = 3.5  # not whole
    frame.loc[1, "score"] = np.inf  # not finite
    frame.loc[2, "member"] = 1  # a number, not a boolean
    frame.loc[3, "income"] = np.nan  # a gap the model imputes
    assert list(_plainly_valid(frame, schema)) == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    strict = served(pipeline, strict_nulls=True).schema
    frame.loc[4, "colour"] = None  # no gaps in training: refused when strict
    assert list(_plainly_valid(frame, strict))[3:] == [True, False, True]
