# Nine rows are enough if the setting says so: Torgersen is measured, and can be gated.
MLOPSLAB_EVALUATE__MIN_GROUP_ROWS=9 mlopslab run --trials 4 2>&1 | grep -E '^(Gate|Registered)'
cat > islands.py <<'PY'
import glob, json, os
import mlflow
import pandas as pd

run = max(glob.glob(".mlopslab/runs/*/"), key=os.path.getmtime)
fairness = json.load(open(os.path.join(run, "evaluation.json")))["fairness"]
island = next(f for f in fairness["features"] if f["feature"] == "island")
reported = {g["group"]: g for g in island["groups"]}
print("each group needs", fairness["min_rows"], "rows")
for name, g in reported.items():
    print(f"  {name:9} {g['rows']:2} rows  insufficient {g['insufficient']}  accuracy {g['accuracy']}")
print(f"  gap {island['accuracy_gap']:.4f}")
assert fairness["min_rows"] == 9
torgersen = reported["Torgersen"]
assert not torgersen["insufficient"] and torgersen["rows"] == 9 and torgersen["accuracy"] == 1.0
assert f"{island['accuracy_gap']:.4f}" == "0.0385"  # Dream is still the worst group

# By hand: the champion's predictions on the golden test set, per island.
golden = pd.read_parquet(glob.glob(".mlopslab/datasets/golden/*/v1.parquet")[0])
mlflow.set_tracking_uri("sqlite:///.mlopslab/mlflow.db")
champion = mlflow.pyfunc.load_model("models:/penguins@champion")
right = champion.predict(golden.drop(columns="species")) == golden["species"].to_numpy()
by_hand = pd.Series(right, index=golden.index).groupby(golden["island"]).agg(["size", "mean"])
print(by_hand)
for name, row in by_hand.iterrows():
    assert row["size"] == reported[name]["rows"]
    assert abs(row["mean"] - reported[name]["accuracy"]) < 1e-9, name
PY
python islands.py 2>&1 | grep -v "WARNING mlflow"
