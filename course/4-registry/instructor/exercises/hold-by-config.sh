# Every run in this folder now waits for a person.
cat > mlopslab.toml <<'TOML'
[registry]
promotion = "manual"
TOML
mlopslab run --trials 4 | tee run.log
# The gate approves (equal accuracy is "not worse"), but v3 only waits.
grep -q "Registered penguins v3 status pending; champion: v1" run.log

field() {  # VERSION FIELD: one field of `registry show`
  mlopslab registry show penguins "$1" | python -c "import json, sys; print(json.load(sys.stdin)['$2'])"
}

# Approving records the decision; it does not move the pointer.
mlopslab registry approve penguins 3 | tee approve.log
grep -q "penguins v3: approved" approve.log
test "$(field champion version)" = 1

# Promoting moves it: v3 serves, v1 becomes the way back.
mlopslab registry promote penguins 3 | tee promote.log
grep -q "penguins v3 is the champion; previous: v1" promote.log
test "$(field 1 aliases)" = "['previous']"

# Undo, so that the next sections read as written: v1 serves again, no setting left behind.
mlopslab registry rollback penguins | tee rollback.log
grep -q "penguins: champion v3 -> v1" rollback.log
rm mlopslab.toml
