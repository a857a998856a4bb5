#!/usr/bin/env bash
# test_governor_cli.sh - the governor flags through the real `fathom run` binary on the CPU:
# a governed run completes with the same outputs as an ungoverned one, --nice applies, the
# governor's state shows in --report, --progress ndjson and the progress bar, and impossible
# settings stop before any work with a message naming the flag. (No timing assertions: duty
# cycles are measured by bench/bench_governor.sh; values are checked for range only.)
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
IMG="$FATHOM_GOLDEN/tiny-hf/input.png"
FAST=(--model "$MODEL" --input-size 28 --threads 1 --device cpu --progress none)
mkdir "$T/in"
for i in 1 2 3 4 5 6; do ln -s "$IMG" "$T/in/img$i.png"; done

# ---- a governed run does the same work ----
run "${FAST[@]}" --report "$T/free.json" -o "$T/free" "$T/in"
check "ungoverned run exits 0" test "$RC" -eq 0
check "ungoverned report has no governor object" python3 -c '
import json, sys
assert "governor" not in json.load(open(sys.argv[1]))' "$T/free.json"
run "${FAST[@]}" --target-util 60 --max-util 90 --batch-min 1 --batch-max 2 --nice 3 \
  --governor-hz 20 --report "$T/gov.json" -o "$T/gov" "$T/in"
check "governed run exits 0 ($(head -c 300 "$T/err"))" test "$RC" -eq 0
check "governed run writes all 6 outputs" test "$(ls "$T/gov" | wc -l)" -eq 6
same=1
for f in "$T/free"/*.npy; do cmp -s "$f" "$T/gov/$(basename "$f")" || same=0; done
check "governed outputs are identical to ungoverned ones" test "$same" -eq 1
check "report counts 6 finished" python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["totals"]["finished"] == 6' "$T/gov.json"
check "report: governor params and final stats of the one slot" python3 - "$T/gov.json" <<'PYEOF'
import json, sys
g = json.load(open(sys.argv[1]))["governor"]
p = g["params"]
assert (p["target_util"], p["max_util"], p["batch_min"], p["batch_max"], p["hz"]) == \
    (60, 90, 1, 2, 20), p
assert p["limits"] == {"nice": 3, "gpu_mem_limit": None, "gpu_mem_fraction": None,
                       "gpu_power_limit_w": None, "host_mem_limit": None}, p["limits"]
assert len(g["slots"]) == 1, g["slots"]
s = g["slots"][0]
assert s["slot"] == 0
assert 0 <= s["util"] <= 100 and 0 <= s["duty"] <= 100, s
assert 1 <= s["batch"] <= 2, s  # advised within --batch-min..--batch-max
assert 0 <= s["pause_s"] <= 5 and isinstance(s["emergency"], bool), s
assert s["util_limit_hits"] >= 0 and s["mem_limit_hits"] >= 0, s
assert s["items"] == 6 and 3 <= s["batches"] <= 6, s  # every item inferred, batches of <= 2
assert s["busy_s"] > 0 and s["paused_s"] >= 0 and s["wall_s"] >= s["busy_s"], s
assert s["samples"] >= 0 and s["gpu_mem_limit"] is None and s["power_limit_w"] is None, s
assert "gpu" not in s, s  # CPU slot: no NVML readings
PYEOF

# ---- progress: ndjson events carry the governor's state, the bar shows it ----
run "${FAST[@]}" --progress ndjson --target-util 50 --batch-max 3 -o "$T/nd" "$T/in"
check "ndjson governed run exits 0" test "$RC" -eq 0
check "ndjson: progress and summary events carry target, util, batch, pause, limits hit" \
  python3 - "$T/err" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
stats = [e for e in ev if e["event"] in ("progress", "summary")]
assert any(e["event"] == "progress" for e in stats) and stats[-1]["event"] == "summary", ev
for e in stats:
    g = e["governor"]
    assert g["target_util"] == 50 and len(g["slots"]) == 1, g
    s = g["slots"][0]
    assert 0 <= s["util"] <= 100 and 0 <= s["duty"] <= 100, s
    # batch is 0 only before the first advice (a progress event on a slow machine)
    assert 0 <= s["batch"] <= 3 and 0 <= s["pause_s"] <= 5, s
    if e["event"] == "summary":
        assert 1 <= s["batch"] <= 3, s
    assert isinstance(s["emergency"], bool), s
    assert s["util_limit_hits"] >= 0 and s["mem_limit_hits"] >= 0, s
assert all("governor" not in e for e in ev if e["event"] == "item")
PYEOF
run "${FAST[@]}" --progress ndjson -o "$T/nd0" "$T/in"
check "ndjson without a governor: no governor field" python3 - "$T/err" <<'PYEOF'
import json, sys
assert all("governor" not in json.loads(l) for l in open(sys.argv[1]) if l.strip())
PYEOF
run "${FAST[@]}" --progress bar --target-util 50 --batch-max 3 -o "$T/bar" "$T/in"
check "bar governed run exits 0" test "$RC" -eq 0
check "bar line shows the governor ($(tr '\r' '\n' <"$T/err" | head -c 300))" \
  grep -q "ETA [0-9:]*  target 50% util [0-9.]*% batch [1-3] pause [0-9.]*s" "$T/err"
check "final line shows the governor" \
  grep -q "^fathom run: governor (device 0): target 50% util [0-9.]*% batch [1-3] pause" "$T/err"

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
expect_refusal "sampler rate too low" "--governor-hz" --governor-hz 0.1
expect_refusal "sampler rate not a number" "--governor-hz" --governor-hz fast

finish
