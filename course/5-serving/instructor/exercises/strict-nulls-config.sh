# Prediction: island and year had no gaps in training, so only they turn to
# "null refused"; a null year is then a 422 naming `year`, a null sex still a 200.
cat > mlopslab.toml <<'TOML'
[serve]
strict_nulls = true
TOML
mlopslab serve --port 8756 --poll-seconds 0 --capture-rate 0 > strict.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
curl -s -f -o /dev/null --retry 40 --retry-delay 1 --retry-connrefused --retry-all-errors http://127.0.0.1:8756/ready

curl -s http://127.0.0.1:8756/model > strict-model.json
python3 - <<'PY'
import json
signature = json.load(open("strict-model.json"))["signature"]
refused = sorted(f["name"] for f in signature if not f["nullable"])
print("null refused in:", refused)
assert refused == ["island", "year"], refused
PY

row='"island": "Biscoe", "bill_length_mm": 45.1, "bill_depth_mm": 14.5, "flipper_length_mm": 215, "body_mass_g": 5000'
year_null=$(curl -s -o year.json -w '%{http_code}' -X POST http://127.0.0.1:8756/predict \
  -H 'content-type: application/json' -d "{\"rows\": [{$row, \"sex\": \"female\", \"year\": null}]}")
sex_null=$(curl -s -o sex.json -w '%{http_code}' -X POST http://127.0.0.1:8756/predict \
  -H 'content-type: application/json' -d "{\"rows\": [{$row, \"sex\": null, \"year\": 2008}]}")
echo "null year: HTTP $year_null $(cat year.json)"
echo "null sex:  HTTP $sex_null"
test "$year_null" = 422
grep -q "field 'year': must not be null" year.json
test "$sex_null" = 200
grep -q '"prediction":"Gentoo"' sex.json
