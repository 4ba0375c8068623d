# The yardstick in the file layer; a new workspace, so the same split (seed 42).
cat > mlopslab.toml <<'TOML'
[tune]
cv_folds = 8
TOML
mlopslab run --trials 4 --home ws-cv8 > cv8.log 2>&1
grep "tune" cv8.log
python - <<'PY'
import glob, json
four = json.load(open(glob.glob(".mlopslab/runs/*/tuning.json")[0]))[:4]
eight = json.load(open(glob.glob("ws-cv8/runs/*/tuning.json")[0]))
for a, b in zip(four, eight):
    print(f"{a['number']} {a['family']:<8} same params {a['params'] == b['params']}"
          f"  log loss 4 folds {a['cv_log_loss']:.4f}, 8 folds {b['cv_log_loss']:.4f}"
          f"  rows {a['rows']} -> {b['rows']}")
# Prediction 1: in the random start-up phase the proposals do not depend on
# the scores, so the same seed proposes the same four settings.
assert [(t["family"], t["params"]) for t in four] == [(t["family"], t["params"]) for t in eight]
# Prediction 2: a different yardstick gives different numbers: each fold
# trains on 7/8 of the 233 rows instead of 3/4.
assert all(a["cv_log_loss"] != b["cv_log_loss"] for a, b in zip(four, eight))
assert all(a["rows"] < b["rows"] for a, b in zip(four, eight))
PY
