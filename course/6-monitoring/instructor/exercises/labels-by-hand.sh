# Realised quality by hand: join the newest 300 captures to their labels by
# inference id, and match the monitor's accuracy and per-class recall.
latest=$(ls -d .mlopslab/monitoring/*/ | tail -1)
python3 - "$latest/result.json" <<'PY'
import json, sqlite3, sys
from collections import Counter
quality = json.load(open(sys.argv[1]))["quality"]
db = sqlite3.connect(".mlopslab/capture.db")
rows = db.execute(
    "SELECT c.prediction, l.label FROM "
    "(SELECT * FROM captures ORDER BY captured_at DESC LIMIT 300) c "
    "JOIN labels l USING (inference_id)"
).fetchall()
assert len(rows) == quality["labelled"] == 300
accuracy = sum(p == y for p, y in rows) / len(rows)
print(f"accuracy {accuracy:.4f} (monitor {quality['accuracy']:.4f})")
assert abs(accuracy - quality["accuracy"]) < 1e-12
per_label = Counter(y for _, y in rows)
hits = Counter(y for p, y in rows if p == y)
for label in sorted(per_label):
    recall = hits[label] / per_label[label]
    print(f"  {label:<10} recall {recall:.3f} (monitor {quality['per_class_recall'][label]:.3f})")
    assert abs(recall - quality["per_class_recall"][label]) < 1e-12, label
print("disagreements (label <- prediction):")
for (p, y), n in Counter((p, y) for p, y in rows if p != y).most_common():
    print(f"  {n:3d}  {y} <- {p}")
PY
