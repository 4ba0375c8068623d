# Every headline number comes from the confusion matrix (rows: true, columns: predicted).
cat > from_matrix.py <<'PY'
import glob, json, os

def scores(matrix):
    n = len(matrix)
    total = sum(map(sum, matrix))
    accuracy = sum(matrix[i][i] for i in range(n)) / total
    f1s, out = [], {}
    for i in range(n):
        predicted = sum(matrix[r][i] for r in range(n))  # column: predicted as i
        actual = sum(matrix[i])  # row: truly i
        precision = matrix[i][i] / predicted if predicted else 0.0
        recall = matrix[i][i] / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[i] = (precision, recall)
        f1s.append(f1)
    return accuracy, sum(f1s) / n, out

run = max(glob.glob(".mlopslab/runs/*/"), key=os.path.getmtime)
test = json.load(open(os.path.join(run, "evaluation.json")))["test"]
matrix = test["confusion_matrix"]
accuracy, macro_f1, per_class = scores(matrix)
print(f"accuracy {accuracy:.4f} (stored {test['accuracy']:.4f})")
print(f"macro F1 {macro_f1:.4f} (stored {test['macro_f1']:.4f})")
assert abs(accuracy - test["accuracy"]) < 1e-6
assert abs(macro_f1 - test["macro_f1"]) < 1e-6
for i, label in enumerate(test["labels"]):
    precision, recall = per_class[i]
    assert abs(precision - test["per_class"][label]["precision"]) < 1e-6
    assert abs(recall - test["per_class"][label]["recall"]) < 1e-6

# The same mistake, landing in the big Gentoo class instead of the small Chinstrap one.
moved = [row[:] for row in matrix]
moved[0][1] -= 1  # labels are Adelie, Chinstrap, Gentoo
moved[0][2] += 1
accuracy2, macro_f1_2, _ = scores(moved)
print(f"Adelie called Gentoo: accuracy {accuracy2:.4f}, macro F1 {macro_f1_2:.4f}")
assert accuracy2 == accuracy          # one wrong row either way
assert macro_f1_2 > macro_f1 + 0.004  # 0.9878 > 0.9829: a small class's error costs more

# Always answering 'Adelie' (the majority line's baseline) is right on the Adelie row only.
adelie = test["labels"].index("Adelie")
majority = sum(matrix[adelie]) / sum(map(sum, matrix))
print(f"always Adelie: accuracy {majority:.4f}")
assert f"{majority:.4f}" == "0.4348"
PY
python from_matrix.py
