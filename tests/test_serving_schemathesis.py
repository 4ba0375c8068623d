"""Property-based API tests: the schemathesis CLI against a live server's OpenAPI.

(The CLI rather than the pytest plugin: the plugin's fixture loader does not
work with the pytest version pinned here.)
"""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import Endpoint

pytestmark = pytest.mark.slow
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def test_api_never_errors_and_matches_its_schema(
    trained_home: Path, tmp_path: Path
) -> None:
    live = Endpoint.fresh(trained_home, tmp_path)
    url = live.url
    with live.serving("--poll-seconds", "0"):
        document = httpx.get(f"{url}/openapi.json").json()
        body = document["paths"]["/predict"]["post"]["requestBody"]
        rows = body["content"]["application/json"]["schema"]["properties"]["rows"]
        assert rows["items"]["required"][0] == "island"
        assert rows["items"]["additionalProperties"] is False
        # Null is imputed, as training's gaps were (serve.strict_nulls refuses it).
        assert rows["items"]["properties"]["year"] == {"type": ["integer", "null"]}
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{url}/openapi.json",
                "--checks",
                CHECKS,
                "--max-examples",
                "60",
                "--seed",
                "7",
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "passed" in result.stdout and "failure" not in result.stdout.lower()
