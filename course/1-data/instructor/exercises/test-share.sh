# 30 % of 344 is 103.2: the test takes 104 rows; validation 15 % of 240 = 36.
MLOPSLAB_SPLIT__TEST_SIZE=0.3 mlopslab run --data penguins.csv --target species \
  --trials 4 --home ws-30 | tee run.log
grep -q "train 204, valid 36, test 104" run.log
