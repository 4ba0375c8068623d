"""A real PostgreSQL for the tests: one fresh database per test.

`.ci/start-postgres` installs and starts Debian's PostgreSQL with the login
below; elsewhere these tests are skipped with a reason (in CI they must run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

SERVER_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://mlopslab:mlopslab@127.0.0.1:5432/postgres"
)


def _reachable() -> bool:
    try:
        psycopg.connect(SERVER_URL, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


needs_postgres = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not _reachable(),
    reason="PostgreSQL is not running (run .ci/start-postgres; CI does)",
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"mlopslab_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(SERVER_URL)
    info["dbname"] = name
    user, password = info.get("user", ""), info.get("password", "")
    host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
    yield f"postgresql://{user}:{password}@{host}:{port}/{name}"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
