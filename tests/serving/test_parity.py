"""The same row gets the same prediction everywhere: `serve` (/predict and
/invocations), `predict` on a CSV, `mlflow.pyfunc` and `mlflow models serve`.

One model trained by `mlopslab run` on a table of every column type (bool,
int, float, category, a date as text, a column with gaps), then the same rows,
gaps included, through each door. Two gaps MLflow treats differently, and the
test pins down how: a null in an integer column that had no gaps in training
(MLflow refuses it: it cannot make an integer of NaN) and a null in a boolean
column (MLflow's server reads it as false). mlopslab imputes both, as training
imputed its own gaps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import Cli
from tests.servers import Endpoint, free_port, running

pytestmark = pytest.mark.slow
FEATURES = ["member", "age", "score", "colour", "day", "income"]
# Rows MLflow scores differently from training's own imputation (see above).
MLFLOW_REFUSES = "age"
MLFLOW_READS_AS_FALSE = "member"


def table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    member = rng.random(n) < 0.5
    age = rng.integers(18, 80, n)
    score = rng.normal(0, 1, n)
    colour = rng.choice(["red", "green", "blue"], n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D")
    income = rng.normal(50, 10, n)
    income[rng.choice(n, 20, replace=False)] = np.nan
    logit = 1.5 * member - 1 + 0.03 * (age - 50) + score + 0.8 * (colour == "red")
    return pd.DataFrame(
        {
            "member": member,
            "age": age,
            "score": score,
            "colour": colour,
            "day": day.strftime("%Y-%m-%d"),
            "income": income,
            "label": np.where(logit > 0.3, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlopslab.cli.main import main

    folder = tmp_path_factory.mktemp("parity")
    table().to_csv(folder / "table.csv", index=False)
    home = folder / ".mlopslab"
    args = ["run", "--data", str(folder / "table.csv"), "--target", "label"]
    assert main([*args, "--home", str(home), "--trials", "4"]) == 0
    return home


def json_rows() -> tuple[list[dict[str, Any]], list[int]]:
    """Rows as JSON carries them: 12 from the table, the same with the boolean
    flipped, then gaps; and those MLflow scores as training did (no null in
    `age` or `member`)."""
    base = table().drop(columns="label").iloc[:12]
    rows = [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in base.astype(object).where(base.notna(), None).to_dict("records")
    ]
    first = rows[0]
    rows += [{**row, "member": not row["member"]} for row in rows[:12]]
    rows += [
        {**first, "income": None},  # training had gaps here
        {**first, "score": None},  # and none in these four
        {**first, "colour": None},
        {**first, "day": None},
        {**rows[1], "score": None, "colour": None, "income": None},
        {**first, MLFLOW_REFUSES: None},
        {**rows[2], MLFLOW_READS_AS_FALSE: None},
    ]
    comparable = [
        i
        for i, row in enumerate(rows)
        if row[MLFLOW_REFUSES] is not None and row[MLFLOW_READS_AS_FALSE] is not None
    ]
    return rows, comparable


def like_training(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as training fed the pipeline: numbers as floats, booleans as
    Python's True and False in an object column, every gap NaN."""
    frame = pd.DataFrame(rows)[FEATURES]
    for name in ("age", "score", "income"):
        frame[name] = frame[name].astype(float)
    for name in ("member", "colour", "day"):
        frame[name] = pd.Series(
            [np.nan if v is None else v for v in frame[name]], dtype=object
        )
    return frame


def test_every_door_gives_the_same_prediction(
    home: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException
    from mlflow.models.utils import _enforce_schema

    tracking = f"sqlite:///{home / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    mlflow.set_tracking_uri(tracking)
    pyfunc = mlflow.pyfunc.load_model("models:/table@champion")
    schema = pyfunc.metadata.get_input_schema()
    assert schema is not None and schema.input_names() == FEATURES
    pipeline = pyfunc.get_raw_model()
    classes = [str(c) for c in pipeline.classes_]
    rows, comparable = json_rows()
    want = np.asarray(pipeline.predict_proba(like_training(rows)))
    want_labels = [classes[i] for i in want.argmax(axis=1)]
    # The boolean matters to the model: True and False get other probabilities.
    assert np.abs(want[:12] - want[12:24]).max() > 1e-3

    # mlopslab serve: /predict and /invocations.
    live = Endpoint(home, free_port(), tmp_path)
    with live.serving("--poll-seconds", "0"):
        signature = httpx.get(f"{live.url}/model").json()["signature"]
        assert all(field["nullable"] for field in signature)
        answered = httpx.post(f"{live.url}/predict", json={"rows": rows}, timeout=30)
        assert answered.status_code == 200, answered.text
        split = {"columns": FEATURES, "data": [[r[f] for f in FEATURES] for r in rows]}
        invoked = httpx.post(
            f"{live.url}/invocations", json={"dataframe_split": split}, timeout=30
        ).json()
    served = answered.json()["predictions"]
    assert [p["prediction"] for p in served] == want_labels
    assert invoked == {"predictions": want_labels}
    served_proba = np.array([[p["probabilities"][c] for c in classes] for p in served])
    assert np.allclose(served_proba, want, rtol=0, atol=1e-9)

    # mlopslab predict on a CSV (booleans written True/False, gaps empty).
    pd.DataFrame(rows)[FEATURES].to_csv(tmp_path / "rows.csv", index=False)
    scored = cli(
        "predict", "--home", home,
        "--input", tmp_path / "rows.csv", "--output", tmp_path / "scored.csv",
    )  # fmt: skip
    assert scored.code == 0, scored.err
    assert f"scored {len(rows)} rows with table v1" in scored.out
    out = pd.read_csv(tmp_path / "scored.csv")
    assert "error" not in out.columns
    assert out["prediction"].tolist() == want_labels
    csv_proba = out[[f"proba_{c}" for c in classes]].to_numpy()
    assert np.allclose(csv_proba, want, rtol=0, atol=1e-9)

    # mlflow.pyfunc on the same rows (its schema enforcement, then the model).
    mlflow_rows = [rows[i] for i in comparable]
    frame = pd.DataFrame(mlflow_rows)[FEATURES]
    expected_labels = [want_labels[i] for i in comparable]
    assert [str(label) for label in pyfunc.predict(frame)] == expected_labels
    enforced = _enforce_schema(frame, schema)
    pyfunc_proba = np.asarray(pipeline.predict_proba(enforced))
    assert np.allclose(pyfunc_proba, want[comparable], rtol=0, atol=1e-9)
    with pytest.raises(MlflowException, match="age"):
        pyfunc.predict(pd.DataFrame([rows[-2]])[FEATURES])

    # mlflow models serve, offline (the local environment), on loopback.
    port = free_port()
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    command = [mlflow_cli, "models", "serve", "-m", "models:/table@champion"]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    env = {
        "MLFLOW_TRACKING_URI": tracking,
        # MLflow starts `uvicorn` by name: the one beside this interpreter.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/ping", tmp_path / "mlflow-serve.log", env):
        split = {
            "columns": FEATURES,
            "data": [[r[f] for f in FEATURES] for r in mlflow_rows],
        }
        theirs = httpx.post(
            f"{url}/invocations", json={"dataframe_split": split}, timeout=60
        )
        assert theirs.status_code == 200, theirs.text
        assert theirs.json() == {"predictions": expected_labels}
        refused = httpx.post(
            f"{url}/invocations",
            json={"dataframe_records": [rows[-2]]},
            timeout=60,
        )
        assert refused.status_code == 400  # MLflow: no integer from a null
