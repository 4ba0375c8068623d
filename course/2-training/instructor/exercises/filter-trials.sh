# The server from step 3 still answers on port 8720.
RUN=$(python -c "import glob, json; print(json.load(open(glob.glob('.mlopslab/runs/*/summary.json')[0]))['run_id'])")
FILTER="tags.mlflow.parentRunId = '$RUN' and params.family = 'mlp' and metrics.cv_log_loss < 0.08"
curl -s -f -X POST http://127.0.0.1:8720/api/2.0/mlflow/runs/search \
  -H 'content-type: application/json' \
  -d "{\"experiment_ids\": [\"1\"], \"filter\": \"$FILTER\", \"order_by\": [\"metrics.cv_log_loss ASC\"]}" \
  > good-mlps.json
curl -s -f "http://127.0.0.1:8720/api/2.0/mlflow/runs/get?run_id=$RUN" > pipeline.json
python - <<'PY'
import json
runs = json.load(open("good-mlps.json"))["runs"]
names = [r["info"]["run_name"] for r in runs]
print("filtered by MLflow:", names)
assert names == ["trial-003-mlp", "trial-006-mlp"], names
best = {p["key"]: p["value"] for p in runs[0]["data"]["params"]}
pipeline = {p["key"]: p["value"] for p in json.load(open("pipeline.json"))["run"]["data"]["params"]}
chosen = {k.removeprefix("model."): v for k, v in pipeline.items() if k.startswith("model.")}
print("pipeline run:", pipeline["family"], chosen)
assert pipeline["family"] == best.pop("family") == "mlp"
assert chosen == best, (chosen, best)
PY
