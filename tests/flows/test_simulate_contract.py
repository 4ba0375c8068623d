"""`simulate traffic` sends only rows the served contract accepts, or says why."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from mlopslab.errors import ConfigError, DataError
from mlopslab.flows.simulate import check_drift, parse_drift, refusal, send_traffic
from mlopslab.serving.schema import RowSchema
from tests.servers import JsonHandler

# /model's fields for a server with serve.strict_nulls: `nullable` is false
# where training had no gaps.
STRICT = [
    {"name": "island", "kind": "string", "required": True, "nullable": False},
    {"name": "mass", "kind": "number", "required": False, "nullable": True},
    {"name": "year", "kind": "integer", "required": True, "nullable": False},
    {"name": "member", "kind": "boolean", "required": True, "nullable": False},
]
# The same model served as by default: null is imputed everywhere.
IMPUTING = [{**f, "nullable": True} for f in STRICT]
MLFLOW_TYPES = {
    "string": "string",
    "number": "double",
    "integer": "long",
    "boolean": "boolean",
}


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "island": ["Dream", None, "Biscoe", "Dream"],
            "mass": [3500.0, np.nan, 4000.0, np.nan],
            "year": [2008.0, 2009.0, np.nan, 2007.0],
            "member": pd.Series([True, False, True, False], dtype=object),
        }
    )


def test_refusal_mirrors_the_servers_checks() -> None:
    row = {"island": "Dream", "mass": None, "year": 2008.0, "member": True}
    assert refusal(row, STRICT) is None
    assert refusal({**row, "island": None}, STRICT) == (
        "field 'island': must not be null"
    )
    assert refusal({**row, "island": None}, IMPUTING) is None
    assert refusal({**row, "year": 2008.5}, STRICT) == (
        "field 'year': must be a whole number"
    )
    assert refusal({**row, "member": "True"}, STRICT) == (
        "field 'member': must be true or false"
    )
    assert refusal({**row, "mass": float("nan")}, STRICT) is not None
    assert refusal({**row, "beak": 1}, STRICT) == "field 'beak': unknown field"
    # Fields as an older server lists them (no `nullable`): `required` decides.
    old = [{k: v for k, v in f.items() if k != "nullable"} for f in STRICT]
    assert refusal({**row, "island": None}, old) is not None


def test_missing_drift_follows_what_the_server_accepts() -> None:
    spec = parse_drift("island:missing=20%")
    check_drift(spec, IMPUTING, "penguins v1")  # imputed: allowed
    with pytest.raises(ConfigError, match="refuses null in 'island'"):
        check_drift(spec, STRICT, "penguins v1")
    with pytest.raises(ConfigError, match="'member' holds booleans"):
        check_drift(parse_drift("member:+1sd"), STRICT, "penguins v1")
    with pytest.raises(ConfigError, match="'member' holds booleans"):
        check_drift(parse_drift("member:unseen=5%"), STRICT, "penguins v1")


class Server(JsonHandler):
    """/model lists `fields`; /predict validates as the server does, row by row."""

    fields: ClassVar[list[dict[str, Any]]] = STRICT
    posted: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        self.reply(200, {"name": "penguins", "version": "1", "signature": self.fields})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Server.posted.extend(body["rows"])
        imputed = [str(f["name"]) for f in self.fields if f["nullable"]]
        schema = RowSchema.from_signature(
            [{**f, "type": MLFLOW_TYPES[str(f["kind"])]} for f in self.fields],
            imputed,
        )
        checked = schema.check_rows(body["rows"], 1000)
        answers: list[Any] = [None] * checked.total
        for n, position in enumerate(checked.positions):
            answers[position] = {"inference_id": f"i{len(Server.posted)}-{n}"}
        for error in checked.errors:
            assert error.row is not None
            answers[error.row] = {"error": error.to_dict()}
        self.reply(200, {"predictions": answers})


@pytest.fixture
def url() -> Iterator[str]:
    Server.posted, Server.fields = [], STRICT
    server = HTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def truth(path: Path) -> list[str]:
    return [line.split(",")[1] for line in path.read_text().splitlines()]


def test_rows_a_strict_server_would_refuse_are_left_out_and_said_so(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels = pd.Series(["a", "b", "c", "d"])
    with caplog.at_level(logging.WARNING, "mlopslab.simulate"):
        sent = send_traffic(url, rows(), labels, 2, tmp_path / "truth.csv")
    assert sent == 2
    assert [row["island"] for row in Server.posted] == ["Dream", "Dream"]
    assert truth(tmp_path / "truth.csv") == ["a", "d"]
    assert caplog.messages == [
        "left out 2 of 4 rows the served model would refuse "
        "(row 1, field 'island': must not be null)"
    ]


def test_the_default_imputing_server_gets_every_row(url: str, tmp_path: Path) -> None:
    Server.fields = IMPUTING
    labels = pd.Series(["a", "b", "c", "d"])
    assert send_traffic(url, rows(), labels, 3, tmp_path / "truth.csv") == 4
    assert Server.posted[1]["island"] is None and Server.posted[2]["year"] is None
    assert truth(tmp_path / "truth.csv") == ["a", "b", "c", "d"]


def test_no_acceptable_row_sends_nothing_and_says_why(url: str, tmp_path: Path) -> None:
    frame = rows().assign(island=None)
    with pytest.raises(DataError) as info:
        send_traffic(url, frame, pd.Series(list("abcd")), 2, tmp_path / "truth.csv")
    assert info.value.one_line().startswith(
        "the served model refuses all 4 traffic rows (row 0, field 'island': "
        "must not be null), so none was sent; serve it without serve.strict_nulls"
    )
    assert Server.posted == []
    assert not (tmp_path / "truth.csv").exists()


def test_rows_the_server_refuses_after_all_get_no_truth(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A client that believes every field may be null: the server says otherwise.
    with caplog.at_level(logging.WARNING, "mlopslab.simulate"):
        sent = send_traffic(
            url,
            rows(),
            pd.Series(list("abcd")),
            4,
            tmp_path / "truth.csv",
            signature=IMPUTING,
        )
    assert sent == 2 and len(Server.posted) == 4
    assert truth(tmp_path / "truth.csv") == ["a", "d"]
    assert "the server refused 2 of the rows sent" in caplog.text
