#!/usr/bin/env bash
# test_sigpipe_leftovers.sh - issue 11 #7 and #13 through the real binary: a closed stderr pipe
# must not kill a run (every input done, report whole), and the --video-npz spill files of a run
# killed with SIGKILL are removed by the next run in the same OUTDIR. Tiny model, CPU.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_ffmpeg
need_model
FAST=(--model "$MODEL" --input-size 28 --threads 1 --device cpu)

# ---- #7: stderr on a pipe whose reader quits after one byte ----
mkdir -p "$T/in"
for i in $(seq 1 12); do
  ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=40x30" -frames:v 1 "$T/in/i$i.png"
done
# -v: notes and warnings go to stderr all along, so the run writes into the closed pipe
( timeout -s KILL 120 "$FATHOM_BIN" run "${FAST[@]}" -v --progress ndjson --report "$T/r.json" \
    -o "$T/out" "$T/in" 2>&1; echo "rc=$?" > "$T/rc" ) | head -c1 > /dev/null
sleep 0.5
check "closed stderr pipe: exit 0 ($(cat "$T/rc" 2>/dev/null))" grep -qx "rc=0" "$T/rc"
check "closed stderr pipe: every input done" test "$(ls "$T/out"/*.npy 2>/dev/null | wc -l)" -eq 12
check "closed stderr pipe: report whole" /usr/bin/python3 -c \
  "import json,sys; r=json.load(open('$T/r.json')); sys.exit(0 if len(r['items']) == 12 else 1)"
check "closed stderr pipe: no report temporary left" test -z "$(ls -a "$T" | grep -F '.tmp')"

# ---- #13: --video-npz spill files of a killed run are removed by the next run ----
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=320x240:rate=25:duration=20" -c:v libx264 \
  -pix_fmt yuv420p "$T/long.mp4"
mkdir -p "$T/v"
# a network size that keeps the run busy for seconds, so it is killed mid-way
"$FATHOM_BIN" run "${FAST[@]}" --input-size 266 --progress none --video-npz -o "$T/v" \
  "$T/long.mp4" 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do  # until the spill files exist and grow
  [ -n "$(ls -a "$T/v" | grep -F 'fathom-tmp')" ] && break
  sleep 0.1
done
sleep 0.5
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
check "killed run left spill files (test setup)" test -n "$(ls -a "$T/v" | grep -F 'fathom-tmp')"
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=64x48:rate=25:duration=0.2" -c:v libx264 \
  -pix_fmt yuv420p "$T/short.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --progress none --video-npz -o "$T/v" "$T/short.mp4" 2>"$T/err"
check "next run: exit 0" test $? -eq 0
check "next run: spill files of the dead run removed" test -z "$(ls -a "$T/v" | grep -F 'fathom-tmp')"
check "next run: says so" grep -q "removed .* temporary file" "$T/err"

finish
