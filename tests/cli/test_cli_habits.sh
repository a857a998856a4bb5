#!/usr/bin/env bash
# test_cli_habits.sh - what a first-hour user meets through the real binary: one-line option
# errors with a suggestion and the "fathom <cmd>:" prefix, --help stating defaults, the summary
# line on stderr without a terminal, NDJSON-only stderr with --progress ndjson, -q, a bad
# --report refused before -o exists, missing inputs among several as item errors, --device auto
# saying what it chose, library warnings (a dropped video stream) shown, Ctrl-C acknowledged at
# once and stopping after the items in flight, times as HH:MM:SS.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_model
need_ffmpeg
FAST=(--model "$MODEL" --input-size 28 --threads 1 --device cpu)
img "$T/a.png" 40x30
img "$T/b.png" 30x40

# ---- 1. unknown and misspelled options: one line, a suggestion, the command's prefix ----
"$FATHOM_BIN" run --formt npy -o "$T/o1" "$T/a.png" 2>"$T/err"; RC=$?
check "misspelled flag: exit 2" test "$RC" -eq 2
check "misspelled flag: one line" test "$(wc -l <"$T/err")" -eq 1
check "misspelled flag: did you mean" grep -qx "fathom run: unknown option '--formt'; did you mean --format? (see fathom run --help)" "$T/err"
check "misspelled flag: nothing created" test ! -e "$T/o1"
"$FATHOM_BIN" info --metrc "$MODEL" 2>"$T/err"; RC=$?
check "info: misspelled flag" test "$RC" -eq 2 -a "$(wc -l <"$T/err")" -eq 1
check "info: did you mean --metric" grep -q "^fathom info: unknown option '--metrc'; did you mean --metric?" "$T/err"
"$FATHOM_BIN" bench --itres 2 2>"$T/err"; RC=$?
check "bench: did you mean --iters" grep -q "^fathom bench: unknown option '--itres'; did you mean --iters?" "$T/err"
"$FATHOM_BIN" run --zzzzzzzz -o "$T/o1" "$T/a.png" 2>"$T/err"; RC=$?
check "far-off flag: no suggestion, points to --help" grep -qx "fathom run: unknown option '--zzzzzzzz' (see fathom run --help)" "$T/err"
"$FATHOM_BIN" run -o 2>"$T/err"; RC=$?
check "missing value: one line naming the option" test "$RC" -eq 2 -a "$(wc -l <"$T/err")" -eq 1
check "missing value: message" grep -q "^fathom run: option '-o' needs a value" "$T/err"

"$FATHOM_BIN" run --invert=1 -o "$T/o1" "$T/a.png" 2>"$T/err"; RC=$?
check "value given to a flag that takes none" grep -qx "fathom run: option '--invert' takes no value (see fathom run --help)" "$T/err"

# library messages name fields; the CLI shows the user's flags
"$FATHOM_BIN" run "${FAST[@]}" --target-util 60 --max-util 61 -o "$T/o1g" "$T/a.png" 2>"$T/err"; RC=$?
check "governor field error in flag words" grep -qx "fathom run: governor: --max-util 61 must be more than 2 points above --target-util 60" "$T/err"
check "... exit 2, nothing created" test "$RC" -eq 2 -a ! -e "$T/o1g"

# ---- 2. --help states the defaults ----
"$FATHOM_BIN" run --help >"$T/help"
for flag in --format --colormap --input-size --device --batch --workers --queue --video-codec \
            --crf --normalize --start --max-frames --progress --report; do
  grep -- "$flag" "$T/help" | grep -q "default" || bad "run --help: $flag states no default"
done
check "run --help: device default auto" grep -q "default auto" "$T/help"
check "run --help: times as HH:MM:SS" grep -q "HH:MM:SS" "$T/help"
"$FATHOM_BIN" info --help | grep -q -- "-m, --model" || bad "info --help: no -m/--model"
"$FATHOM_BIN" bench --help | grep -q -- "-m, --model" || bad "bench --help: no -m/--model"

# ---- 3. summary line on stderr without a terminal; -q hides it; --device auto says so ----
"$FATHOM_BIN" run --model "$MODEL" --input-size 28 --threads 1 -o "$T/o3" "$T/a.png" 2>"$T/err"; RC=$?
check "plain run exits 0" test "$RC" -eq 0
check "summary line without a terminal" grep -q "^fathom run: 1 done, 0 skipped, 0 failed in " "$T/err"
check "default device auto says what it chose" grep -Eq "^fathom run: --device auto: (using CUDA device 0|no usable CUDA device.*; using the CPU)" "$T/err"
"$FATHOM_BIN" run "${FAST[@]}" -q -o "$T/o3q" "$T/a.png" 2>"$T/err"; RC=$?
check "-q: exit 0 and silent" test "$RC" -eq 0 -a ! -s "$T/err"

# ---- 4. --progress ndjson: every stderr line is JSON, also notes and errors ----
"$FATHOM_BIN" run --model "$MODEL" --input-size 28 --threads 1 --progress ndjson -o "$T/o4" \
  "$T/a.png" "$T/missing.png" 2>"$T/err"; RC=$?
check "ndjson with a missing input: exit 1" test "$RC" -eq 1
check "ndjson: every line JSON, messages included" python3 - "$T/err" <<'PYEOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ev = [json.loads(l) for l in lines]          # raises on any plain-text line
kinds = {e["event"] for e in ev}
assert {"item", "summary", "message"} <= kinds, kinds
assert any(e["event"] == "message" and "device auto" in e["text"] for e in ev), ev
assert any(e["event"] == "item" and e["state"] == "failed" and "missing.png" in e["error"] for e in ev), ev
PYEOF

# ---- 5. one missing input among several is an item error (exit 1), named ----
"$FATHOM_BIN" run "${FAST[@]}" -o "$T/o5" "$T/a.png" "$T/nope.png" "$T/b.png" 2>"$T/err"; RC=$?
check "missing among several: exit 1" test "$RC" -eq 1
check "missing among several: the others done" test -f "$T/o5/a.npy" -a -f "$T/o5/b.npy"
check "missing among several: named" grep -q "nope.png" "$T/err"
check "missing among several: counted" grep -q "2 done, 0 skipped, 1 failed" "$T/err"

# ---- 6. a bad --report path is refused before -o is created ----
"$FATHOM_BIN" run "${FAST[@]}" --report "$T/no/such/dir/r.json" -o "$T/o6" "$T/a.png" 2>"$T/err"; RC=$?
check "bad --report: exit 2" test "$RC" -eq 2
check "bad --report: -o not created" test ! -e "$T/o6"
check "bad --report: named" grep -q "no/such/dir" "$T/err"
"$FATHOM_BIN" run "${FAST[@]}" --report "$T/o6b/r.json" -o "$T/o6b" "$T/a.png" 2>"$T/err"; RC=$?
check "--report inside the new -o folder is fine" test "$RC" -eq 0 -a -s "$T/o6b/r.json"

# ---- 7. library warnings reach stderr: a second video stream dropped from the depth video ----
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=32x24:rate=5" -f lavfi -i "testsrc2=size=32x24:rate=5" \
  -map 0 -map 1 -t 1 -c:v ffv1 "$T/two.mkv"
"$FATHOM_BIN" run "${FAST[@]}" -o "$T/o7" "$T/two.mkv" 2>"$T/err"; RC=$?
check "two-stream video: exit 0" test "$RC" -eq 0
check "dropped stream warned on stderr" grep -q "^fathom run: warning: .*dropping stream #1 (video/" "$T/err"
"$FATHOM_BIN" run "${FAST[@]}" -q -o "$T/o7q" "$T/two.mkv" 2>"$T/err"; RC=$?
check "-q hides the warning" test "$RC" -eq 0 -a ! -s "$T/err"

# ---- 7b. an absurd network shape is capped with a warning naming both sizes ----
img "$T/wide.png" 1000x40
"$FATHOM_BIN" run "${FAST[@]}" --input-size 140 --max-network-pixels 40000 -o "$T/o7w" "$T/wide.png" 2>"$T/err"; RC=$?
check "wide image capped: exit 0" test "$RC" -eq 0 -a -s "$T/o7w/wide.npy"
check "wide image: warning with the network sizes" grep -q "^fathom run: warning: .*wide.png: a 1000x40 image gives a 3500x140 network input (0.5 MP); capped to [0-9]*x[0-9]* (max network pixels 40000)" "$T/err"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 140 --max-network-pixels 0 -o "$T/o7x" "$T/wide.png" 2>"$T/err"; RC=$?
check "--max-network-pixels 0: no cap, no warning" test "$RC" -eq 0 -a -z "$(grep warning "$T/err")"
"$FATHOM_BIN" run "${FAST[@]}" -o "$T/o7y" "$T/a.png" 2>"$T/err"; RC=$?
check "ordinary image: no warning" test "$RC" -eq 0 -a -z "$(grep warning "$T/err")"
check "--help documents the cap's default" grep -q "max-network-pixels.*" "$T/help"
grep -A1 -- "--max-network-pixels" "$T/help" | grep -q "default 1M" || bad "--max-network-pixels default not in --help"

# ---- 8. times as seconds or HH:MM:SS(.ms); bad times named ----
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=32x24:rate=10" -t 3 -c:v ffv1 "$T/v.mkv"
"$FATHOM_BIN" run "${FAST[@]}" --start 00:00:01 --end 0:01.5 -f npy -o "$T/o8" "$T/v.mkv" 2>"$T/err"; RC=$?
check "--start 00:00:01 --end 0:01.5: exit 0" test "$RC" -eq 0
n=$(ls "$T/o8/v" 2>/dev/null | wc -l)
check "HH:MM:SS range gives 5 frames of 10 fps (got $n)" test "$n" -eq 5
"$FATHOM_BIN" run "${FAST[@]}" --start 1:75 -o "$T/o8b" "$T/v.mkv" 2>"$T/err"; RC=$?
check "--start 1:75 refused" test "$RC" -eq 2
check "... naming the flag and the forms" grep -q "^fathom run: --start: '1:75' is not a time" "$T/err"

# ---- 9. Ctrl-C: acknowledged at once, no new item started, exit 130 ----
mkdir -p "$T/many"
img "$T/many/base.png" 320x240
for i in $(seq -w 1 40); do cp "$T/many/base.png" "$T/many/im$i.png"; done
"$FATHOM_BIN" run --model "$MODEL" --device cpu --input-size 266 --threads 1 --workers 2 --queue 4 \
  --batch 1 -o "$T/o9" --report "$T/r9.json" "$T/many" 2>"$T/err" &
PID=$!
for _ in $(seq 600); do [ -n "$(ls "$T/o9" 2>/dev/null | grep npy)" ] && break; sleep 0.1; done
kill -INT "$PID"
for _ in $(seq 20); do grep -q "interrupted: finishing" "$T/err" && break; sleep 0.1; done
check "Ctrl-C acknowledged within 2 s" grep -Eq "^fathom run: interrupted: finishing [0-9]+ item\(s\) in flight, taking no new input; Ctrl-C again to abort" "$T/err"
wait "$PID"; RC=$?
check "Ctrl-C: exit 130" test "$RC" -eq 130
check "Ctrl-C: items not started are not processed" python3 - "$T/r9.json" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert t["cancelled"] is True, t
# the source had up to queue + workers + batch items taken; only those already decoded finish
assert 0 < t["done"] < 40 and t["done"] + t["failed"] + t["skipped"] == t["taken"], t
PYEOF
check "Ctrl-C: summary printed" grep -q "^fathom run: [0-9]* done, 0 skipped, [0-9]* failed" "$T/err"
check "Ctrl-C: items left out are not listed one by one" test "$(grep -c 'not started' "$T/err")" -eq 0
# the same with --progress ndjson: the acknowledgement is a JSON line too
"$FATHOM_BIN" run --model "$MODEL" --device cpu --input-size 266 --threads 1 --workers 2 --queue 4 \
  --batch 1 --progress ndjson -o "$T/o9n" "$T/many" 2>"$T/err" &
PID=$!
for _ in $(seq 600); do [ -n "$(ls "$T/o9n" 2>/dev/null | grep npy)" ] && break; sleep 0.1; done
kill -INT "$PID"
wait "$PID"; RC=$?
check "ndjson Ctrl-C: exit 130" test "$RC" -eq 130
check "ndjson Ctrl-C: every line JSON, the acknowledgement included" python3 - "$T/err" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert any(e["event"] == "message" and e["text"].startswith("interrupted: finishing") for e in ev), ev
assert ev[-1]["event"] in ("summary", "message"), ev[-1]
PYEOF

finish
