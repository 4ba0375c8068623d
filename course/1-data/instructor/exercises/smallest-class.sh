# Nine Chinstraps pass; eight are refused with exit code 4 (a data problem):
# stratified test and validation parts and every cross-validation fold need some.
few() {
  python - "$1" <<'EOF'
import sys
import pandas as pd
df = pd.read_csv("penguins.csv")
chinstrap = df[df.species == "Chinstrap"].head(int(sys.argv[1]))
pd.concat([df[df.species != "Chinstrap"], chinstrap]).to_csv("few.csv", index=False)
EOF
}
few 8
code=0
mlopslab run --data few.csv --target species --trials 4 --home ws-few8 2> refused.txt || code=$?
test "$code" = 4
grep -q "class 'Chinstrap' has 8 rows; the split needs at least 9 per class" refused.txt
few 9
mlopslab run --data few.csv --target species --trials 4 --home ws-few9 > passed.txt
grep -q "✓ preprocess" passed.txt
