# The file layer: a TOML list in the [tune] table, next to what was there.
cat > mlopslab.toml <<'TOML'
seed = 7

[tune]
trials = 4
families = ["logreg", "mlp"]
TOML
mlopslab config show > file.json
# The environment layer, for this one command: a list in TOML syntax, quoted.
MLOPSLAB_TUNE__FAMILIES='["logreg", "hist_gb", "mlp", "random_forest"]' \
  mlopslab config show > env.json
mlopslab config show > after.json
python - <<'PY'
import json
file, env, after = (json.load(open(f"{n}.json")) for n in ("file", "env", "after"))
assert file["tune"]["families"] == ["logreg", "mlp"], file["tune"]
assert (file["seed"], file["tune"]["trials"]) == (7, 4), "the file's other keys stay"
assert env["tune"]["families"] == ["logreg", "hist_gb", "mlp", "random_forest"], env["tune"]
assert env["tune"]["trials"] == 4, "the variable changes only what it names"
assert after == file, "the variable lasted one command only"
print("file:", file["tune"]["families"], "| variable:", env["tune"]["families"])
PY
# Prediction: 0.6 is a valid float but outside 0 < test_size < 0.5: exit code 2.
code=0
MLOPSLAB_SPLIT__TEST_SIZE=0.6 mlopslab config show > bad.log 2>&1 || code=$?
cat bad.log
test "$code" -eq 2
grep -q "split.test_size: Input should be less than 0.5" bad.log
