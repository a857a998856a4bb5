#!/usr/bin/env bash
# test_governor_cli.sh - the governor flags through the real `fathom run` binary on the CPU:
# a governed run completes with the same outputs as an ungoverned one, --nice applies, and
# impossible settings stop before any work with a message naming the flag. (No timing
# assertions: duty cycles are measured by bench/bench_governor.sh.)
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
IMG="$FATHOM_GOLDEN/tiny-hf/input.png"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run() { "$FATHOM_BIN" run "$@" 2>"$T/err"; RC=$?; }
FAST=(--model "$MODEL" --input-size 28 --threads 1 --device cpu --progress none)
mkdir "$T/in"
for i in 1 2 3 4 5 6; do ln -s "$IMG" "$T/in/img$i.png"; done

# ---- a governed run does the same work ----
run "${FAST[@]}" -o "$T/free" "$T/in"
check "ungoverned run exits 0" test "$RC" -eq 0
run "${FAST[@]}" --target-util 60 --max-util 90 --batch-min 1 --batch-max 2 --nice 3 \
  --report "$T/gov.json" -o "$T/gov" "$T/in"
check "governed run exits 0 ($(head -c 300 "$T/err"))" test "$RC" -eq 0
check "governed run writes all 6 outputs" test "$(ls "$T/gov" | wc -l)" -eq 6
same=1
for f in "$T/free"/*.npy; do cmp -s "$f" "$T/gov/$(basename "$f")" || same=0; done
check "governed outputs are identical to ungoverned ones" test "$same" -eq 1
check "report counts 6 finished" python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["totals"]["finished"] == 6' "$T/gov.json"

# ---- --nice: the process runs at the requested niceness (seen from outside) ----
mkdir "$T/many"
for i in $(seq 1 200); do ln -s "$IMG" "$T/many/img$i.png"; done
"$FATHOM_BIN" run "${FAST[@]}" --nice 7 --target-util 20 -o "$T/nice" "$T/many" 2>/dev/null &
pid=$!
ni=""
for _ in $(seq 1 100); do
  sleep 0.1
  ni=$(ps -o ni= -p "$pid" 2>/dev/null | tr -d ' ')
  [ "$ni" = "7" ] && break
done
kill -INT "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "--nice 7 seen on the running process (got '$ni')" test "$ni" = "7"

# ---- impossible settings: exit 2 before any output, message names the flag ----
expect_refusal() { # name, pattern, flags...
  local name=$1 pat=$2; shift 2
  rm -rf "$T/x"
  run "${FAST[@]}" "$@" -o "$T/x" "$IMG"
  check "$name: exit 2 (got $RC)" test "$RC" -eq 2
  check "$name: message mentions '$pat'" grep -q -- "$pat" "$T/err"
  check "$name: no output written" test ! -e "$T/x/input.npy"
}
expect_refusal "max-util not above target" "--max-util" --target-util 60 --max-util 61
expect_refusal "batch-max below batch-min" "--batch-max" --batch-min 4 --batch-max 2
expect_refusal "power limit without a GPU" "--gpu-power-limit" --gpu-power-limit 150
expect_refusal "bad memory size" "gpu-mem-limit" --gpu-mem-limit 12X

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
