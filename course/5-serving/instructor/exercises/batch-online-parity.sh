# The rows of step 3, through the batch door, with the version that answered
# them online (v1). Prediction: the same classes and the same probabilities.
python3 - <<'PY'
import csv, json
rows = json.load(open("rows.json"))["rows"]
with open("online-rows.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PY
version=$(python3 -c 'import json; print(json.load(open("resp.json"))["model_version"])')
mlopslab predict --input online-rows.csv --output online-scored.csv --model "$version" | tee parity.log
grep -q "scored 2 rows with penguins v$version" parity.log
python3 - <<'PY'
import csv, json
online = json.load(open("resp.json"))["predictions"]
batch = list(csv.DictReader(open("online-scored.csv")))
assert len(online) == len(batch) == 2
gap = 0.0
for o, b in zip(online, batch):
    assert o["prediction"] == b["prediction"], (o["prediction"], b["prediction"])
    for cls, p in o["probabilities"].items():
        gap = max(gap, abs(p - float(b[f"proba_{cls}"])))
print(f"predictions agree; largest probability gap {gap:.2e}")
assert gap < 1e-9, gap
PY
