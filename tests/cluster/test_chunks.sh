#!/usr/bin/env bash
# test_chunks.sh - `fathom run --chunks N --overlap K` end to end with the real binary on real
# videos made by ffmpeg: chunked == single pass (raw npz and npy sequences byte-identical; depth
# video frames and audio identical; frame count and VFR timestamps equal the source), SIGKILL
# then --resume finishes without redoing finished chunks (also when killed while merging), a truncated manifest and a changed
# input are refused clearly, and the seam test: two chunks that see different depth scales
# merge without a jump larger than the frame-to-frame change inside the chunks; a chunk that
# fails twice fails the video (then --resume finishes it); Ctrl-C leaves a resumable state.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { echo "SKIP: ffmpeg missing"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
T=$(mktemp -d)
BG=""
trap '[ -n "$BG" ] && kill -9 $BG 2>/dev/null; rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# --batch 1: batch composition changes GEMM blocking in the last bits; one frame per batch makes
# every frame's depth independent of how frames are grouped, so chunked == single bit for bit
FAST=(--model "$MODEL" --input-size 28 --threads 1 --batch 1 --progress none)
# npz archives carry their write time: compare the arrays, bit for bit
npz_same() { "$PY" -c "import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); \
sys.exit(not (sorted(a.files) == sorted(b.files) and all(a[k].dtype == b[k].dtype and \
np.array_equal(a[k], b[k]) for k in a.files)))" "$1" "$2"; }
frames_md5() { ffmpeg -loglevel error -i "$1" -map "0:$2" -f framemd5 - | grep -v '^#'; }
pts_list() { ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$1" | grep -o '^[0-9.]\+'; }

# VFR clip with audio: frame steps alternate 0.08 s / 0.12 s; keyframe every 7 frames
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=10 -f lavfi \
  -i sine=frequency=440:sample_rate=8000 -t 5 -vf "setpts='(N*0.1+0.02*mod(N,2))/TB'" \
  -fps_mode passthrough -g 7 -pix_fmt yuv420p -c:v libx264 -c:a aac -shortest "$T/clip.mkv" \
  || { echo "SKIP: ffmpeg cannot make the test clip"; exit 77; }

# ---- 1. chunked == single pass ----
"$FATHOM_BIN" run "${FAST[@]}" --video-npz --video "$T/single.mkv" -f npy,png16 -o "$T/single" "$T/clip.mkv" 2>"$T/err"
check "single pass exits 0" test $? -eq 0
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu,cpu --chunks 4 --overlap 3 --video-npz \
  --video "$T/chunked.mkv" -f npy,png16 --report "$T/rep.json" -o "$T/chunked" "$T/clip.mkv" 2>"$T/err"
rc=$?
check "chunked run exits 0" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/err"
check "merged npz arrays bit-identical to the single pass" npz_same "$T/single/clip.npz" "$T/chunked/clip.npz"
check "npy/png16 frame sequences identical (same names, same bytes)" \
  diff -r "$T/single/clip" "$T/chunked/clip"
check "depth video frames identical" diff <(frames_md5 "$T/single.mkv" v) <(frames_md5 "$T/chunked.mkv" v)
check "audio copied once, identical" diff <(frames_md5 "$T/single.mkv" a) <(frames_md5 "$T/chunked.mkv" a)
check "frame count and (VFR) timestamps equal the source" diff <(pts_list "$T/clip.mkv") <(pts_list "$T/chunked.mkv")
check "report: 4 chunks, 3 seams with residual 0 (per-frame model)" "$PY" - "$T/rep.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["totals"]["chunks"] == 4 and r["totals"]["ran"] == 4 and r["frames"] == 50, r["totals"]
assert len(r["seams"]) == 3 and all(s["residual"] < 1e-6 and s["overlap_frames"] == 3 for s in r["seams"]), r["seams"]
c = r["chunks"]
assert sum(x["count"] for x in c) == 50 and all(c[i]["decode_from"] == c[i]["first"] - 3 for i in (1, 2, 3))
# engines are kept across chunks: one creation per engine that ran chunks, not one per chunk
used = {x["ran_on"] for x in c}
assert r["totals"]["engines_created"] == len(used), (r["totals"], used)
PYEOF

# ---- 2. existing outputs are not replaced; nothing runs ----
"$FATHOM_BIN" run "${FAST[@]}" --chunks 2 --video-npz -o "$T/chunked" "$T/clip.mkv" 2>"$T/err"
rc=$?
check "existing output: exit 2 naming it, before any chunk" \
  bash -c "[ $rc -eq 2 ] && grep -q 'clip.npz exists' '$T/err'"

# ---- 3. SIGKILL mid-run, then --resume redoes only unfinished chunks ----
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=20 -t 6 -g 20 -pix_fmt yuv420p "$T/long.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --video-npz -o "$T/lsingle" "$T/long.mp4" 2>/dev/null
# the work folder: OUTDIR/.fathom-chunks/<file name>.<hash of its real path>/
# kill_when OUTDIR PATTERN ARGS...: run fathom with ARGS -o OUTDIR in the background and
# SIGKILL it once its chunk manifest matches PATTERN; MAN: that manifest
kill_when() {
  local out=$1 pat=$2
  shift 2
  MAN=""
  "$FATHOM_BIN" run "$@" -o "$out" "$T/long.mp4" 2>"$T/err" &
  BG=$!
  for _ in $(seq 1 3000); do
    [ -n "$MAN" ] || MAN=$(ls "$out"/.fathom-chunks/long.mp4.*/manifest.json 2>/dev/null)
    grep -q "$pat" "$MAN" 2>/dev/null && break
    sleep 0.01
  done
  kill -9 $BG 2>/dev/null
  wait $BG 2>/dev/null
  BG=""
}
kill_when "$T/lchunk" '"done":	true' "${FAST[@]}" --input-size 70 --chunks 10 --overlap 2 --video-npz
ndone=$(grep -c '"done":	true' "$MAN")
echo "  killed with $ndone of 10 chunks done"
check "killed mid-run: some but not all chunks done, no merged output" \
  bash -c "[ $ndone -ge 1 ] && [ $ndone -lt 10 ] && [ ! -e '$T/lchunk/long.npz' ]"
stamp() { for f in "$T"/lchunk/.fathom-chunks/long.mp4.*/c*/long.npz; do [ -e "$f" ] && stat -c '%n %Y.%y' "$f"; done; }
"$PY" - "$MAN" >"$T/done_before" <<'PYEOF'
import json, sys
print(" ".join(str(i) for i, c in enumerate(json.load(open(sys.argv[1]))["chunks"]) if c["done"]))
PYEOF
stamp >"$T/st_before"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --overlap 2 --video-npz --resume \
  --report "$T/lrep.json" -o "$T/lchunk" "$T/long.mp4" 2>"$T/err"
check "--resume exits 0" test $? -eq 0
check "--resume: finished chunks reused (not rerun), the rest run once" "$PY" - "$T" <<'PYEOF'
import json, sys
T = sys.argv[1]
r = json.load(open(f"{T}/lrep.json"))
done = [int(x) for x in open(f"{T}/done_before").read().split()]
t = r["totals"]
assert t["reused"] == len(done) and t["ran"] == 10 - len(done), (t, done)
assert all(c["done"] for c in r["chunks"])
assert all(r["chunks"][i]["attempts"] == 0 for i in done), r["chunks"]
assert all(c["attempts"] == 1 for i, c in enumerate(r["chunks"]) if i not in done), r["chunks"]
PYEOF
stamp >"$T/st_after"
check "finished chunk files untouched by the resume" \
  bash -c "for i in \$(cat '$T/done_before'); do grep \"c\$(printf %05d \$i)/\" '$T/st_before' >'$T/a'; grep \"c\$(printf %05d \$i)/\" '$T/st_after' >'$T/b'; [ -s '$T/a' ] && cmp -s '$T/a' '$T/b' || exit 1; done"
check "resumed result bit-identical to a single pass" npz_same "$T/lsingle/long.npz" "$T/lchunk/long.npz"

# ---- 3b. SIGKILL while merging (the merge runs beside the compute), then --resume ----
# The manifest's "merged" counts the chunks written into the (unfinished) outputs; a kill
# leaves them under temporary names, and the resume merges again from chunk 0: every frame
# once, none missing, no finished chunk rerun.
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 -f npy -o "$T/msingle" "$T/long.mp4" 2>/dev/null
LMAN=$MAN
kill_when "$T/mchunk" '"merged":	[2-9]' "${FAST[@]}" --input-size 70 --chunks 10 --overlap 2 \
  --video-npz -f npy
MAN2=$MAN
MAN=$LMAN
read -r mdone merged < <("$PY" -c "import json, sys; m = json.load(open(sys.argv[1])); \
print(sum(c['done'] for c in m['chunks']), m['merged'])" "$MAN2")
echo "  killed with $mdone of 10 chunks done, $merged merged"
check "killed while merging: chunks merged, outputs unfinished" \
  bash -c "[ $merged -ge 2 ] && [ $merged -lt 10 ] && [ ! -e '$T/mchunk/long.npz' ] && \
           [ ! -e '$T/mchunk/long/.fathom-complete' ] && ls '$T/mchunk/long/' | grep -q npy"
# a kill can land between a temporary's creation and its rename: the resume must remove such
# leftovers of the dead run (planted here, so the check does not depend on where the kill fell)
sh -c : & dead=$!
wait $dead
printf x >"$T/mchunk/long/.000003.npy.fathom-tmp-$dead-7"
printf x >"$T/mchunk/.long.npz.depth.npy.fathom-tmp-$dead-abcdef"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --overlap 2 --video-npz -f npy --resume \
  --report "$T/mrep.json" -o "$T/mchunk" "$T/long.mp4" 2>"$T/err"
rc=$?
check "--resume after a kill while merging exits 0" test $rc -eq 0
[ $rc -eq 0 ] || cat "$T/err"
check "--resume while merging: finished chunks reused, merge restarted, manifest says all merged" \
  "$PY" - "$T/mrep.json" "$MAN2" "$mdone" "$merged" <<'PYEOF'
import json, sys
r, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t = r["totals"]
assert t["reused"] == int(sys.argv[3]) and t["ran"] == 10 - int(sys.argv[3]), t
assert t["merged_before"] == int(sys.argv[4]) and t["frames_merged"] == 120, t
assert m["merged"] == 10 and all(c["done"] for c in m["chunks"]), m["merged"]
PYEOF
check "resumed merge: npz bit-identical to a single pass (no frame twice, none missing)" \
  npz_same "$T/lsingle/long.npz" "$T/mchunk/long.npz"
check "resumed merge: npy sequence identical to a single pass's" \
  diff -r -x .fathom-complete "$T/msingle/long" "$T/mchunk/long"
check "resumed merge: no temporary file left in the outputs (the dead run's removed)" \
  bash -c "! ls -A '$T/mchunk' '$T/mchunk/long' | grep -q fathom-tmp"

# ---- 4. a truncated manifest and a changed input are refused clearly ----
rm -f "$T/lchunk/long.npz"
head -c 100 "$MAN" >"$MAN.t" && mv "$MAN.t" "$MAN"
"$FATHOM_BIN" run "${FAST[@]}" --chunks 10 --overlap 2 --video-npz --resume -o "$T/lchunk" "$T/long.mp4" 2>"$T/err"
rc=$?
check "truncated manifest: exit 2, names the manifest and the cause" \
  bash -c "[ $rc -eq 2 ] && grep -q 'manifest.json' '$T/err' && grep -q 'not complete JSON' '$T/err'"
check "truncated manifest: chunk results kept" \
  bash -c "ls '$T'/lchunk/.fathom-chunks/long.mp4.*/c*/long.npz | wc -l | grep -qx 10"
"$FATHOM_BIN" run "${FAST[@]}" --chunks 2 --overlap 2 --video-npz -o "$T/ch" "$T/clip.mkv" 2>/dev/null
touch -d '2001-01-01' "$T/clip.mkv"
rm -f "$T/ch/clip.npz"
"$FATHOM_BIN" run "${FAST[@]}" --chunks 2 --overlap 2 --video-npz --resume -o "$T/ch" "$T/clip.mkv" 2>"$T/err"
rc=$?
check "changed input: resume refused with the reason" \
  bash -c "[ $rc -eq 2 ] && grep -q 'input changed' '$T/err'"

# ---- 5. seam quality: chunk 2 sees another depth scale (as a clip-relative model would) ----
# The chunk results are written here (depth of chunk 2 = 3 x + 5 of chunk 1's for the same
# frames), with a manifest saying both are done; --resume then only merges. Metric: mean
# |frame[t+1] - frame[t]| of the merged 16-bit depth video; the largest step across the seam
# region must not exceed the largest step inside the chunks (+1 for rounding). Control: the
# same chunks merged with overlap 0 (nothing to align with) must show the jump.
seam() { # $1 overlap -> prints "border_step inside_step"
  local O="$T/seam$1" K=$1
  # a depth video is asked for: the overlap is computed (raw outputs alone need none)
  "$FATHOM_BIN" run "${FAST[@]}" --chunks 2 --overlap "$K" --video-npz --video "$O/first.mkv" \
    -o "$O" "$T/clip.mkv" 2>/dev/null
  "$PY" - "$O"/.fathom-chunks/clip.mkv.* "$K" <<'PYEOF'
import json, sys, numpy as np
d, K = sys.argv[1], int(sys.argv[2])
m = json.load(open(f"{d}/manifest.json"))
h, w = 32, 48
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
def depth(f):  # a smooth scene that drifts slowly: small frame-to-frame change
    return 1.0 + (xx + 0.6 * f) / w + 0.5 * np.sin(yy / 7.0 + 0.05 * f)
for i, c in enumerate(m["chunks"]):
    z = np.load(f"{d}/c{i:05d}/clip.npz")
    fr = range(c["decode_from"], c["first"] + c["count"])
    dep = np.stack([depth(f) for f in fr]).astype(np.float32)
    if i == 1: dep = 3 * dep + 5
    np.savez(f"{d}/c{i:05d}/clip.npz", depth=dep, pts=z["pts"], time_base=z["time_base"])
PYEOF
  rm -f "$O/clip.npz"
  "$FATHOM_BIN" run "${FAST[@]}" --chunks 2 --overlap "$K" --video "$O/merged.mkv" --resume \
    --report "$O/rep.json" -o "$O" "$T/clip.mkv" 2>"$T/err" || { cat "$T/err"; return 1; }
  ffmpeg -loglevel error -i "$O/merged.mkv" -f rawvideo -pix_fmt gray16le - >"$O/raw"
  "$PY" - "$O/raw" "$O/rep.json" <<'PYEOF'
import json, sys, numpy as np
v = np.fromfile(sys.argv[1], dtype="<u2").reshape(-1, 32, 48).astype(np.float64)
first = json.load(open(sys.argv[2]))["chunks"][1]["first"]
step = np.abs(np.diff(v, axis=0)).mean(axis=(1, 2))       # step[t]: frame t -> t+1
lo, hi = first - 8, first + 8                               # the seam region
inside = np.concatenate([step[:lo], step[hi:]]).max()
print(step[lo:hi].max(), inside)
PYEOF
}
read -r b3 i3 < <(seam 3)
read -r b0 i0 < <(seam 0)
echo "  seam steps (mean |d| per frame, 16-bit units): overlap 3: border $b3 inside $i3; overlap 0: border $b0 inside $i0"
check "aligned seam: no step larger than inside the chunks" \
  "$PY" -c "import sys; sys.exit(not (float('$b3') <= float('$i3') + 1))"
check "control (no overlap): the jump is there (test can fail)" \
  "$PY" -c "import sys; sys.exit(not (float('$b0') > 3 * float('$i0')))"

# ---- 6. a chunk that fails is retried once, then fails the video; --resume finishes it ----
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --video-npz -o "$T/fchunk" "$T/long.mp4" 2>/dev/null
FMAN=$(ls "$T"/fchunk/.fathom-chunks/long.mp4.*/manifest.json)
rm -f "$T/fchunk/long.npz"
# chunk 3 undone, and its result folder blocked by a file: every attempt fails to write it
"$PY" - "$FMAN" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["chunks"][3]["done"] = False
m["merged"] = 0
json.dump(m, open(sys.argv[1], "w"))
PYEOF
C3=$(dirname "$FMAN")/c00003
rm -rf "$C3" && echo blocker >"$C3"
# two engines: the retry runs on the other one (the first failure's engine is never reused
# while another is there); the report names both
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu --input-size 70 --chunks 10 --video-npz --resume \
  --report "$T/f2rep.json" -o "$T/fchunk" "$T/long.mp4" 2>"$T/err"
rc=$?
check "2 engines: a chunk failing twice failed on both (exit 1, both named)" \
  bash -c "[ $rc -eq 1 ] && grep -Eq 'chunk 3 failed twice \(engines (0 and 1|1 and 0)\)' '$T/err'"
check "2 engines: the report's chunk 3 retried on another engine than its first try" \
  "$PY" - "$T/f2rep.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))["chunks"][3]
assert c["attempts"] == 2 and not c["done"] and c["failed_on"] != c["ran_on"], c
PYEOF
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --video-npz --resume -o "$T/fchunk" \
  "$T/long.mp4" 2>"$T/err"
rc=$?
check "a chunk failing twice: exit 1, naming the chunk, no merged output" \
  bash -c "[ $rc -eq 1 ] && grep -q 'chunk 3 failed twice' '$T/err' && [ ! -e '$T/fchunk/long.npz' ]"
check "one engine: the retry runs on it (a fresh engine)" grep -q 'chunk 3 failed twice (engines 0 and 0)' "$T/err"
rm -f "$C3"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --video-npz --resume --report "$T/frep.json" \
  -o "$T/fchunk" "$T/long.mp4" 2>"$T/err"
totals_ok() { "$PY" -c "import json, sys; t = json.load(open(sys.argv[1]))['totals']; sys.exit(not ($2))" "$1"; }
check "after the failure, --resume runs only that chunk" totals_ok "$T/frep.json" "t['ran'] == 1 and t['reused'] == 9"
check "after the failure, --resume: equal to a single pass" npz_same "$T/lsingle/long.npz" "$T/fchunk/long.npz"

# ---- 7. Ctrl-C (SIGINT) leaves a resumable state ----
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --video-npz -o "$T/ichunk" "$T/long.mp4" 2>"$T/err" &
BG=$!
IMAN=""
for _ in $(seq 1 3000); do
  [ -n "$IMAN" ] || IMAN=$(ls "$T"/ichunk/.fathom-chunks/long.mp4.*/manifest.json 2>/dev/null)
  grep -q '"done":	true' "$IMAN" 2>/dev/null && break
  sleep 0.01
done
kill -INT $BG
wait $BG
rc=$?
BG=""
ndone=$(grep -c '"done":	true' "$IMAN")
echo "  interrupted with $ndone of 10 chunks done (exit $rc)"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 70 --chunks 10 --video-npz --resume --report "$T/irep.json" \
  -o "$T/ichunk" "$T/long.mp4" 2>"$T/err"
check "Ctrl-C: exit 130 (or done before the signal), then --resume completes" \
  bash -c "{ [ $rc -eq 130 ] || [ $ndone -eq 10 ]; } && [ -e '$T/ichunk/long.npz' ]"
check "Ctrl-C then --resume: the chunks finished before are reused" \
  totals_ok "$T/irep.json" "t['reused'] >= $ndone and t['reused'] + t['ran'] == 10"
check "Ctrl-C then --resume: equal to a single pass" npz_same "$T/lsingle/long.npz" "$T/ichunk/long.npz"

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
