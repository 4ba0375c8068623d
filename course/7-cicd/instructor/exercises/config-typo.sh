# The CI job's settings, committed next to the code, with a typo.
cat > mlopslab.toml <<'TOML'
[tune]
trails = 4
TOML
status=0
bash gate.sh > typo.log 2>&1 || status=$?
cat typo.log
test "$status" -eq 2  # bad config: a broken pipeline, not a rejection
grep -q "::error title=Pipeline error::mlopslab run failed with exit code 2" typo.log
grep -q "tune.trails: Extra inputs are not permitted" typo.log
# Spelled right, plus a floor the model clears: no MLOPSLAB_* variable needed.
cat > mlopslab.toml <<'TOML'
[tune]
trials = 4

[gate]
thresholds = { macro_f1 = 0.95 }
TOML
# Nothing ran, so the registry still holds v1 (champion) and v2 (rejected) only.
mlopslab registry list | tee registry.txt
grep -q "│ 2 " registry.txt
if grep -q "│ 3 " registry.txt; then echo "a version 3 was registered"; exit 1; fi
mlopslab config show | python -c 'import json, sys; c = json.load(sys.stdin); assert c["tune"]["trials"] == 4 and c["gate"]["thresholds"] == {"macro_f1": 0.95}, c'
bash gate.sh | tee fixed.log
grep -q "macro_f1 0.9829 meets the threshold >= 0.95" fixed.log
# The same model as v1: approved and kept as a record; v1 still serves.
grep -q "Registered penguins v3 status approved; champion: v1" fixed.log
grep -q "gate approved: the candidate is registered" fixed.log
