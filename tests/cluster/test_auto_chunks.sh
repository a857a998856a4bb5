#!/usr/bin/env bash
# test_auto_chunks.sh - the real binary on real videos made by ffmpeg:
#   * several devices (--device cpu,cpu) chunk a video automatically: 3 chunks per engine while
#     each chunk owns at least 32 + 8 x overlap frames; the overlap is computed only where the
#     merge aligns (normalized outputs); the result equals a single pass; --chunks 1 is a single
#     pass (an ordinary run report, no chunk folder);
#   * same-named videos: in/a/clip.mp4 and in/b/clip.mp4 walked in one chunked run get their own
#     work folders and outputs (OUTDIR/a/, OUTDIR/b/), each equal to its single pass; given as
#     arguments, the second is refused like a single pass refuses it, and the first is kept;
#   (Video Depth Anything in chunks: test_vda_chunks.sh)
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg missing"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
FAST=(--model "$MODEL" --input-size 28 --threads 1 --batch 1 --progress none)
npz_same() { "$PY" -c "import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); \
sys.exit(not (sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)))" "$1" "$2"; }
chunks_of() { "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); \
print(len(r['chunks']), r['overlap'])" "$1"; }

# ---- 1. automatic chunks with several devices ----
# (48 pixels wide: a 40-wide video overruns the reader's sws_scale buffer, see note)
# 200 frames: raw outputs need no overlap -> min(3 x 2 engines, 200 / 32) = 6 chunks
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=25 -t 8 -g 12 -pix_fmt yuv420p "$T/long.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --video-npz -o "$T/single" "$T/long.mp4" 2>/dev/null
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu --video-npz --report "$T/auto.json" -o "$T/auto" \
  "$T/long.mp4" 2>"$T/err"
check "two devices: exits 0" test $? -eq 0
check "two devices: 6 chunks (3 per engine), no overlap for raw outputs" \
  test "$(chunks_of "$T/auto.json")" = "6 0"
check "automatic chunks: npz equals the single pass" npz_same "$T/single/long.npz" "$T/auto/long.npz"
# a depth video aligns over the default overlap 16: each chunk owns >= 32 + 128 frames -> 1
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu --report "$T/norm.json" -o "$T/norm" \
  "$T/long.mp4" 2>"$T/err"
check "normalized output, default overlap 16: one chunk of 200 frames" \
  test "$(chunks_of "$T/norm.json")" = "1 16"
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu --overlap 2 --report "$T/norm2.json" -o "$T/norm2" \
  "$T/long.mp4" 2>"$T/err"
check "normalized output, --overlap 2: 4 chunks (200 / 48), overlap used" \
  test "$(chunks_of "$T/norm2.json")" = "4 2"
"$FATHOM_BIN" run "${FAST[@]}" --device cpu,cpu --chunks 1 --video-npz --report "$T/one.json" \
  -o "$T/one" "$T/long.mp4" 2>"$T/err"
check "--chunks 1: one pass (ordinary report, no chunk folder), same depth" \
  "$PY" - "$T" <<'PYEOF'
import json, os, sys, numpy as np
T = sys.argv[1]
r = json.load(open(f"{T}/one.json"))
assert "chunks" not in r and "items" in r, list(r)
assert not os.path.exists(f"{T}/one/.fathom-chunks")
a, b = np.load(f"{T}/single/long.npz"), np.load(f"{T}/one/long.npz")
assert np.array_equal(a["depth"], b["depth"])
PYEOF

# ---- 2. same-named videos ----
mkdir -p "$T/in/a" "$T/in/b"
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=25 -t 3 -g 10 -pix_fmt yuv420p "$T/in/a/clip.mp4"
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=48x32:rate=25 -t 4 -g 10 -pix_fmt yuv420p "$T/in/b/clip.mp4"
for d in a b; do
  "$FATHOM_BIN" run "${FAST[@]}" --video-npz -o "$T/s_$d" "$T/in/$d/clip.mp4" 2>/dev/null
done
"$FATHOM_BIN" run "${FAST[@]}" -r --chunks 3 --video-npz -o "$T/walk" "$T/in" 2>"$T/err"
check "walked same-named videos: exit 0" test $? -eq 0
check "walked: each its own output, equal to its single pass" \
  bash -c "$(declare -f npz_same); PY=$PY; npz_same '$T/s_a/clip.npz' '$T/walk/a/clip.npz' && npz_same '$T/s_b/clip.npz' '$T/walk/b/clip.npz'"
check "walked: two work folders" \
  bash -c "[ \$(ls -d '$T'/walk/*/.fathom-chunks/clip.mp4.* | wc -l) -eq 2 ]"
"$FATHOM_BIN" run "${FAST[@]}" --chunks 3 --video-npz -o "$T/args" "$T/in/a/clip.mp4" \
  "$T/in/b/clip.mp4" 2>"$T/err"
rc=$?
check "arguments of the same name: exit 2 (refused before any chunk), naming the clash" \
  bash -c "[ $rc -eq 2 ] && grep -q 'in/b/clip.mp4: output .*clip.npz is also the output of an earlier video' '$T/err'"
check "arguments: the first kept, equal to its single pass; one work folder" \
  bash -c "$(declare -f npz_same); PY=$PY; npz_same '$T/s_a/clip.npz' '$T/args/clip.npz' && [ \$(ls -d '$T'/args/.fathom-chunks/* | wc -l) -eq 1 ]"
"$FATHOM_BIN" run "${FAST[@]}" --chunks 3 --video-npz -o "$T/args2" "$T/in/b/clip.mp4" 2>/dev/null
"$FATHOM_BIN" run "${FAST[@]}" --chunks 3 --video-npz --overwrite -o "$T/args2" "$T/in/a/clip.mp4" 2>"$T/err"
check "one OUTDIR, two same-named inputs in turn: separate work folders, no false resume clash" \
  bash -c "[ \$? -eq 0 ] && [ \$(ls -d '$T'/args2/.fathom-chunks/clip.mp4.* | wc -l) -eq 2 ]"

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
