import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from mlopslab.flows.packaging import schema_rows


def mixed(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 9, rows),
            "flag": rng.random(rows) < 0.5,
            "kind": rng.choice(["a", "b"], rows).astype(object),
            "when": pd.Series(["2024-01-02 10:00"] * rows, dtype=object),
        }
    )
    # Gaps only far past the first rows: the few rows must still find them.
    frame.loc[rows - 3, "x"] = np.nan
    frame.loc[rows - 2, "kind"] = None
    frame["flag"] = frame["flag"].astype(object)
    frame.loc[rows - 1, "flag"] = None
    return frame


def test_a_few_rows_give_mlflow_the_whole_frames_schema() -> None:
    frame = mixed(5_000)
    rows = schema_rows(frame, head=100)
    assert len(rows) == 103
    full = infer_signature(frame).inputs.to_dict()
    assert infer_signature(rows).inputs.to_dict() == full
    assert {c["name"]: c["required"] for c in full} == {
        "x": False,
        "n": True,
        "flag": False,
        "kind": False,
        "when": True,
    }
    whole = from_pandas(frame, targets="n").schema
    assert from_pandas(rows, targets="n").schema == whole


def test_a_small_frame_is_its_own_sample() -> None:
    frame = mixed(50)
    assert schema_rows(frame, head=100) is frame
