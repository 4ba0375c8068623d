"""Write src/mlopslab/stores/registry/mlflow_schema.sql from MLflow's own migration.

Run `make mlflow-schema` after changing the pinned MLflow: it migrates an empty
SQLite file with the installed MLflow, exactly as MLflow does for a new store,
and dumps the result (tables, indexes, and the rows the migrations seed).
stores/registry/new_store.py makes new stores from that script.
"""

from __future__ import annotations

import sys
import tempfile
from importlib import metadata
from pathlib import Path

from mlopslab.stores.registry.new_store import HEADER, SCHEMA, migrated_by_mlflow


def revision(statements: list[str]) -> str:
    """The alembic revision the dump ends at."""
    for line in statements:
        if line.startswith('INSERT INTO "alembic_version"'):
            return line.split("'")[1]
    raise SystemExit("MLflow's migration left no alembic_version row")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        statements = migrated_by_mlflow(Path(folder) / "mlflow.db")
    header = f"{HEADER}{metadata.version('mlflow')} {revision(statements)}"
    SCHEMA.write_text("\n".join([header, *statements]) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA} ({header.removeprefix('-- ')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
