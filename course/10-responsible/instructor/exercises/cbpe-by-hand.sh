# CBPE's accuracy is the mean probability of the predicted class: compute it from the captures.
cat > cbpe.py <<'PY'
import json
import sqlite3

import numpy as np

db = sqlite3.connect(".mlopslab/capture.db")
rows = db.execute(
    "SELECT prediction, probabilities FROM captures ORDER BY captured_at DESC LIMIT 300"
).fetchall()
confidence = np.array([json.loads(p)[prediction] for prediction, p in rows])
print(f"{len(rows)} captured rows; mean predicted-class probability {confidence.mean():.3f}")
print(f"expected wrong rows: {(1 - confidence).sum():.1f}; "
      f"rows below 0.9: {(confidence < 0.9).sum()}, lowest {confidence.min():.3f}")
assert len(rows) == 300
assert f"{confidence.mean():.3f}" == "0.994"  # the monitor's estimate
assert round((1 - confidence).sum()) == 2     # about 2 wrong rows expected, as section 7 says

# The interval: draw every row's label from its own probabilities, score, repeat.
probabilities = np.array([list(json.loads(p).values()) for _, p in rows])
predicted = probabilities.argmax(axis=1)
rng = np.random.default_rng(0)
draws = [
    np.mean([rng.choice(len(p), p=p / p.sum()) for p in probabilities] == predicted)
    for _ in range(500)
]
low, high = np.percentile(draws, [2.5, 97.5])
print(f"95% interval from 500 draws: [{low:.3f}, {high:.3f}]")
assert 0.98 <= low <= 0.99 and high >= 0.997  # the monitor says [0.987, 1.000]
labels = db.execute("SELECT count(*) FROM labels").fetchone()[0]
assert labels == 0  # no label was needed
PY
python cbpe.py
