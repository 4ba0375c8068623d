# Prediction: rows 0, 1 (an unseen island is still a valid string) and 3 (a
# null is imputed) are answered; row 2 (a missing field is not a null) and
# row 4 (an unknown field) are refused, each with its own reason, and the
# status is still 200.
mlopslab serve --port 8756 --poll-seconds 0 --capture-rate 0 > client.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
curl -s -f -o /dev/null --retry 40 --retry-delay 1 --retry-connrefused --retry-all-errors http://127.0.0.1:8756/ready

cat > client.py <<'PY'
"""Post a batch and judge every entry, not only the status code."""
import json
import sys
import urllib.request

base = {"island": "Dream", "bill_length_mm": 39.0, "bill_depth_mm": 18.5,
        "flipper_length_mm": 190, "body_mass_g": 3700, "sex": "male", "year": 2009}
no_mass = {k: v for k, v in base.items() if k != "body_mass_g"}
rows = [
    base,
    {**base, "island": "Atlantis"},
    no_mass,
    {**base, "body_mass_g": None},
    {**base, "colour": "grey"},
]
request = urllib.request.Request(
    sys.argv[1] + "/predict",
    data=json.dumps({"rows": rows}).encode(),
    headers={"content-type": "application/json"},
)
with urllib.request.urlopen(request) as response:
    status, answer = response.status, json.load(response)
print("HTTP", status, "from", answer["model_name"], "v" + answer["model_version"])
refused = 0
for index, entry in enumerate(answer["predictions"]):
    if "error" in entry:
        refused += 1
        print(f"row {index}: refused, field {entry['error']['field']!r}: {entry['error']['problem']}")
    else:
        print(f"row {index}: {entry['prediction']} ({entry['inference_id']})")
sys.exit(1 if refused else 0)
PY

code=0
python3 client.py http://127.0.0.1:8756 > client.out || code=$?
cat client.out
test "$code" = 1                          # some rows were refused, even with a 200
grep -q '^HTTP 200 ' client.out
grep -q '^row 0: Adelie' client.out
grep -Eq '^row 1: (Adelie|Chinstrap|Gentoo) ' client.out   # Atlantis is answered
grep -q "^row 2: refused, field 'body_mass_g': missing field" client.out
grep -q '^row 3: Adelie' client.out
grep -q "^row 4: refused, field 'colour': unknown field" client.out
