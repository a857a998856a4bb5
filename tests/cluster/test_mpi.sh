#!/usr/bin/env bash
# test_mpi.sh - `mpirun --oversubscribe -np 3 fathom run --mpi` on one machine (tiny model, one
# thread per rank): an image set split across ranks gives every output exactly once (same
# names and bytes as a single run) and one merged report; a video in chunks over the ranks
# equals a single pass; a worker rank killed with SIGKILL ends the job with mpirun's message
# naming it, and a rerun with --resume finishes without redoing finished chunks; a Video Depth
# Anything video in chunks over the ranks gives the local chunked run's merged depth.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v mpirun >/dev/null || { echo "SKIP: mpirun missing (openmpi-bin)"; exit 77; }
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg missing"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
if "$FATHOM_BIN" run --mpi -o /nonexistent/x /nonexistent.png 2>&1 | grep -q "built without MPI"; then
  echo "SKIP: fathom built without MPI (FATHOM_MPI)"; exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
T=$(mktemp -d)
BG=""
trap '[ -n "$BG" ] && kill -9 $BG 2>/dev/null; rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
FAST=(--model "$MODEL" --input-size 28 --threads 1 --batch 1 --progress none)
MPI=(mpirun --oversubscribe -np 3)
npz_same() { "$PY" -c "import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); \
sys.exit(not all(np.array_equal(a[k], b[k]) for k in a.files))" "$1" "$2"; }
img() { ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=$2" -frames:v 1 "$1"; }

# ---- 1. image set over the ranks ----
mkdir -p "$T/in/sub"
for i in $(seq 1 13); do img "$T/in/f$i.png" "$((14 + i))x$((10 + i))"; done
img "$T/in/f3.jpg" 20x20      # name clash: depends on the inputs before it
img "$T/in/sub/f1.png" 18x18
echo "broken" >"$T/in/sub/bad.png"
"$FATHOM_BIN" run "${FAST[@]}" -r -o "$T/single" --report "$T/single.json" "$T/in" 2>/dev/null
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" -r -o "$T/mpi" --report "$T/mpi.json" "$T/in" 2>"$T/err"
rc=$?
check "mpirun exits 1 (one corrupt input, like the single run)" test $rc -eq 1
check "every output once, names as a single run" \
  diff <(cd "$T/single" && find . -type f ! -name .fathom-manifest | sort) \
       <(cd "$T/mpi" && find . -type f ! -name .fathom-manifest | sort)
same=1
for f in $(cd "$T/single" && find . -name '*.npy'); do cmp -s "$T/single/$f" "$T/mpi/$f" || same=0; done
check "outputs byte-identical to a single run" test $same -eq 1
check "one merged report: every input exactly once; worker shares disjoint; the job's elapsed_s" "$PY" - "$T" <<'PYEOF'
import json, sys
T = sys.argv[1]
s, m = json.load(open(f"{T}/single.json")), json.load(open(f"{T}/mpi.json"))
key = lambda i: (i["index"], i["source"], i["state"])
assert sorted(map(key, s["items"])) == list(map(key, m["items"])), (s["items"], m["items"])
assert m["totals"]["finished"] == s["totals"]["finished"] == 16 and m["totals"]["failed"] == 1
# every rank computes, rank 0 too; hand-out is dynamic (a rank that starts late may get
# nothing): the shares are disjoint and cover every input
sh = [{i["index"] for i in json.load(open(f"{T}/mpi.json.rank{r}.json"))["items"]} for r in range(3)]
assert sum(map(len, sh)) == 16 and len(set().union(*sh)) == 16, sh
print("  items per rank:", [len(x) for x in sh])
# elapsed_s is the job's on rank 0's clock (its hand-out start to every rank done and the
# reports merged): at least rank 0's own run; the longest rank's run is kept beside it
el = [json.load(open(f"{T}/mpi.json.rank{r}.json"))["totals"]["elapsed_s"] for r in range(3)]
t = m["totals"]
assert t["longest_rank_s"] == max(el) and t["elapsed_s"] >= el[0] > 0, (t, el)
PYEOF

# ---- 2. a video in chunks over the ranks ----
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=10 -f lavfi \
  -i sine=frequency=440:sample_rate=8000 -t 4 -g 7 -pix_fmt yuv420p -c:v libx264 -c:a aac \
  -shortest "$T/clip.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --video-npz --video "$T/single.mkv" -o "$T/vs" "$T/clip.mp4" 2>/dev/null
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --chunks 5 --overlap 3 --video-npz \
  --video "$T/mpi.mkv" --report "$T/vrep.json" -o "$T/vm" "$T/clip.mp4" 2>"$T/err"
check "video over the ranks exits 0" test $? -eq 0
check "merged npz equals the single pass" npz_same "$T/vs/clip.npz" "$T/vm/clip.npz"
check "one engine created per rank that ran chunks (kept across its chunks)" "$PY" -c "
import json, sys
r = json.load(open(sys.argv[1]))
used = {c['ran_on'] for c in r['chunks']}
assert r['totals']['engines_created'] == len(used) and r['totals']['ran'] == 5, (r['totals'], used)
" "$T/vrep.json"
check "depth video and audio equal the single pass" \
  diff <(ffmpeg -loglevel error -i "$T/single.mkv" -f framemd5 - | grep -v '^#') \
       <(ffmpeg -loglevel error -i "$T/mpi.mkv" -f framemd5 - | grep -v '^#')

# ---- 3. a worker rank killed with SIGKILL, then --resume ----
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=20 -t 10 -g 20 -pix_fmt yuv420p "$T/long.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --input-size 154 --video-npz -o "$T/ls" "$T/long.mp4" 2>/dev/null
MAN="" # OUTDIR/.fathom-chunks/<file name>.<hash of its real path>/manifest.json
"${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --input-size 154 --chunks 24 --overlap 2 --video-npz \
  -o "$T/lm" "$T/long.mp4" 2>"$T/kerr" &
BG=$!
victim=""
for _ in $(seq 1 3000); do # the ranks are mpirun's children; rank 1 is a worker
  for p in $(pgrep -P "$BG"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
  done
  [ -n "$victim" ] && break
  sleep 0.01
done
for _ in $(seq 1 3000); do # then kill it once a chunk is recorded
  [ -n "$MAN" ] || MAN=$(ls "$T"/lm/.fathom-chunks/long.mp4.*/manifest.json 2>/dev/null)
  grep -q '"done":	true' "$MAN" 2>/dev/null && break
  sleep 0.01
done
[ -n "$victim" ] && kill -9 "$victim"
wait $BG
krc=$?
BG=""
ndone=$(grep -c '"done":	true' "$MAN")
echo "  rank 1 (pid ${victim:-none}) killed with $ndone of 24 chunks done; mpirun exit $krc"
grep -m2 -i "signal\|killed\|exited" "$T/kerr" | sed 's/^/  | /'
check "killed rank: the job ends non-zero, naming the rank and the signal" \
  bash -c "[ -n '$victim' ] && [ $krc -ne 0 ] && grep -qi 'rank 1' '$T/kerr' && grep -qi 'signal 9\|killed' '$T/kerr'"
check "killed: some chunks recorded, no merged output" \
  bash -c "[ $ndone -ge 1 ] && [ $ndone -lt 24 ] && [ ! -e '$T/lm/long.npz' ]"
"$PY" -c "import json,sys; print(' '.join(str(i) for i,c in enumerate(json.load(open(sys.argv[1]))['chunks']) if c['done']))" "$MAN" >"$T/done_before"
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --input-size 154 --chunks 24 --overlap 2 \
  --video-npz --resume --report "$T/lrep.json" -o "$T/lm" "$T/long.mp4" 2>"$T/err"
check "--resume over the ranks exits 0" test $? -eq 0
check "--resume: finished chunks not redone, each other chunk run once" "$PY" - "$T" <<'PYEOF'
import json, sys
T = sys.argv[1]
r = json.load(open(f"{T}/lrep.json"))
done = [int(x) for x in open(f"{T}/done_before").read().split()]
assert r["totals"]["reused"] == len(done) and r["totals"]["ran"] == 24 - len(done), (r["totals"], done)
assert all((c["attempts"] == 0) == (i in done) for i, c in enumerate(r["chunks"])), r["chunks"]
assert all(c["attempts"] <= 1 for c in r["chunks"])
PYEOF
check "resumed result equals a single pass" npz_same "$T/ls/long.npz" "$T/lm/long.npz"

# ---- 3b. a chunk that fails on every rank: retried once on another rank (the ranks without a
# chunk wait while one may fail), then the job ends (exit 1, no hang, both ranks named);
# --resume then runs only that chunk ----
rm -f "$T/lm/long.npz"
"$PY" - "$MAN" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["chunks"][3]["done"] = False
m["merged"] = 0
json.dump(m, open(sys.argv[1], "w"))
PYEOF
C3=$(dirname "$MAN")/c00003
rm -rf "$C3" && echo blocker >"$C3" # every attempt fails to write chunk 3's result
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --input-size 154 --chunks 24 --overlap 2 \
  --video-npz --resume --report "$T/frep.json" -o "$T/lm" "$T/long.mp4" 2>"$T/err"
frc=$?
tries=$(grep -oE 'chunk 3 failed twice \(ranks [0-2] and [0-2]' "$T/err" | grep -oE '[0-2] and [0-2]')
check "a chunk failing twice over the ranks: exit 1 (not a hang), tried on two ranks, both named" \
  bash -c "[ $frc -eq 1 ] && [ -n '$tries' ] && [ '${tries% and *}' != '${tries#* and }' ] && [ ! -e '$T/lm/long.npz' ]"
rm -f "$C3"
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --input-size 154 --chunks 24 --overlap 2 \
  --video-npz --resume --report "$T/grep.json" -o "$T/lm" "$T/long.mp4" 2>"$T/err"
check "then --resume over the ranks exits 0" test $? -eq 0
check "then --resume runs chunk 3 alone (23 reused)" "$PY" -c "
import json, sys
t = json.load(open(sys.argv[1]))['totals']
assert t['ran'] == 1 and t['reused'] == 23, t
" "$T/grep.json"
check "resumed-after-failure result equals a single pass" npz_same "$T/ls/long.npz" "$T/lm/long.npz"

# ---- 4. automatic chunks over the ranks (no --chunks): 3 per rank, at least 32 frames each ----
timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${FAST[@]}" --input-size 154 --video-npz \
  --report "$T/arep.json" -o "$T/la" "$T/long.mp4" 2>"$T/err"
check "automatic chunks over 3 ranks: exit 0" test $? -eq 0
check "automatic chunks: min(3 x 3 ranks, 200 frames / 32) = 6" \
  "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(len(r['chunks']) != 6)" "$T/arep.json"
check "automatic chunks: equal to a single pass" npz_same "$T/ls/long.npz" "$T/la/long.npz"

# ---- 5. Video Depth Anything over the ranks: the same merge as a local --chunks run ----
VDA="$FATHOM_GOLDEN/../golden-vda/tiny-offline/model.pth"
if [ -f "$VDA" ]; then
  VFAST=(-m "$VDA" --input-size 28 --threads 1 --progress none --chunks 3 --overlap 8 --video-npz)
  "$FATHOM_BIN" run "${VFAST[@]}" --report "$T/vdal.json" -o "$T/vdal" "$T/clip.mp4" 2>/dev/null
  timeout 300 "${MPI[@]}" "$FATHOM_BIN" run --mpi "${VFAST[@]}" --report "$T/vdam.json" \
    -o "$T/vdam" "$T/clip.mp4" 2>"$T/err"
  check "VDA over the ranks exits 0" test $? -eq 0
  check "VDA over the ranks: 3 chunks, 2 fitted seams, npz equal to the local chunked run" \
    bash -c "$(declare -f npz_same); PY=$PY; npz_same '$T/vdal/clip.npz' '$T/vdam/clip.npz' && \
      $PY -c \"import json, sys; r = json.load(open(sys.argv[1])); \
sys.exit(not (len(r['chunks']) == 3 and len(r['seams']) == 2))\" '$T/vdam.json'"
else
  echo "SKIP (part 5): no golden-vda weights"
fi

# ---- 6. GPU binding: --device local splits a machine's visible GPUs between its ranks ----
# Open MPI's node split gives each rank its local rank; 6 visible devices (listed, none needed
# here: the run stops at the engine) over 3 ranks: cuda:0,1 / 2,3 / 4,5, said by each rank.
CUDA_VISIBLE_DEVICES=0,1,2,3,4,5 timeout 120 "${MPI[@]}" -x CUDA_VISIBLE_DEVICES "$FATHOM_BIN" run \
  --mpi "${FAST[@]}" --device local -o "$T/gpu" "$T/in" >/dev/null 2>"$T/err"
check "--device local over 3 ranks: disjoint pairs of the 6 visible devices" bash -c "
  grep -q 'local rank 0 of 3, 6 visible: cuda:0,cuda:1\$' '$T/err' &&
  grep -q 'local rank 1 of 3, 6 visible: cuda:2,cuda:3\$' '$T/err' &&
  grep -q 'local rank 2 of 3, 6 visible: cuda:4,cuda:5\$' '$T/err'"
CUDA_VISIBLE_DEVICES=0,1 timeout 120 "${MPI[@]}" -x CUDA_VISIBLE_DEVICES "$FATHOM_BIN" run \
  --mpi "${FAST[@]}" --device local:1 -o "$T/gpu" "$T/in" >/dev/null 2>"$T/err"
check "--device local:1, 3 ranks on 2 devices: round robin, said to be shared" bash -c "
  grep -q 'local rank 2 of 3, 2 visible: cuda:0 (more ranks than devices' '$T/err' &&
  grep -q 'local rank 1 of 3, 2 visible: cuda:1 (more ranks' '$T/err'"

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
