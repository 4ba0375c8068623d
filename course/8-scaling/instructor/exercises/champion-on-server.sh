# Where does the champion live? Ask the server, then read its backend store directly.
cat > where_is_champion.py <<'PY'
import os
import sqlite3

from mlflow import MlflowClient

client = MlflowClient(tracking_uri="http://127.0.0.1:8780")
version = client.get_model_version_by_alias("penguins", "champion")
files = client.get_model_version_download_uri("penguins", version.version)
print(f"server: champion is v{version.version}, files in {files}")
print("run:", version.run_id, "test accuracy", version.tags["test_accuracy"])

# The backend store is an ordinary database: the alias is one row in one table.
store = sqlite3.connect("shared.db")
aliases = list(store.execute("SELECT name, alias, version FROM registered_model_aliases"))
print("shared.db:", aliases)
assert aliases == [("penguins", "champion", int(version.version))]

# The artifact store is a folder: the model's MLmodel file sits under shared-artifacts.
models = files.split("/shared-artifacts/")[1]
assert os.path.isfile(os.path.join("shared-artifacts", models, "MLmodel")), models
print("artifact store: shared-artifacts/" + models + "/MLmodel")

# The local workspace's own store knows nothing of it: no run, no model.
local = sqlite3.connect(".mlopslab/mlflow.db")
counts = [local.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "registered_models")]
print("local .mlopslab/mlflow.db: runs and registered models", counts)
assert counts == [0, 0]
# ... while the run folder is local only.
assert os.path.isdir(os.path.join(".mlopslab", "runs", version.run_id))
PY
python where_is_champion.py
