#!/usr/bin/env bash
# test_vda_chunks.sh - Video Depth Anything in chunks, through the real binary (tiny golden-vda
# weights, 48x32 frames, input size 28, 1 thread):
#  * --chunks 2 and 3 with --video-npz: the single pass's frame count and timestamps; every
#    border has a seam entry (scale, shift, residual) fitted over its overlap frames; the merged
#    raw depth (aligned: each VDA chunk has its own scale) is close to the single pass, metric:
#    rms(merged - single) / (max - min of single) <= 0.15 (measured 0.03 and 0.09 with the
#    tiny random weights), and closer than the owner chunks' unaligned depth;
#  * seams: mean |d[t+1] - d[t]| across each border is no larger than the largest such change
#    inside the chunks (relative to the merged depth's range);
#  * the default overlap for VDA is one 32-frame window (the report's "overlap");
#  * a metric VDA model (tiny-metric) is not fitted: scale 1, shift 0, and the merged frames
#    are the owner chunk's own depth;
#  * several devices chunk a VDA video automatically (no longer run whole);
#  * each worker keeps one VDA instance for all its chunks (totals.engines_created: one per
#    worker), and a chunk run on a kept instance equals a fresh instance's over its range.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg missing"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
VDA="$FATHOM_GOLDEN/../golden-vda"
[ -f "$VDA/tiny-offline/model.pth" ] || { echo "SKIP: no golden-vda weights"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { local name=$1; shift; if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi; }
run() { "$FATHOM_BIN" run -m "$VDA/tiny-offline/model.pth" --input-size 28 --threads 1 \
          --progress none "$@"; }

# 60 frames at 10 fps, a keyframe every 8; a steady zoom (x1.7 at the end), so the chunks
# see different content
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=48x32:rate=10:duration=6" \
  -vf "zoompan=z='1+0.012*on':d=1:s=48x32:fps=10" -g 8 -pix_fmt yuv420p "$T/clip.mp4"
run --video-npz -o "$T/single" "$T/clip.mp4" 2>"$T/err" || { cat "$T/err"; echo "FAIL single pass"; exit 1; }

# compare.py SINGLE MERGED REPORT N: frames, pts, seams, closeness, no seam jump
cat > "$T/compare.py" <<'PYEOF'
import glob, json, os, sys, numpy as np
s, m, r, n = np.load(sys.argv[1]), np.load(sys.argv[2]), json.load(open(sys.argv[3])), int(sys.argv[4])
assert m["depth"].shape == s["depth"].shape, (m["depth"].shape, s["depth"].shape)
assert m["pts"].tolist() == s["pts"].tolist(), "timestamps differ"
assert m["time_base"].tolist() == s["time_base"].tolist()
assert len(r["chunks"]) == n and len(r["seams"]) == n - 1, r
for e in r["seams"]:
    assert e["overlap_frames"] > 0 and e["scale"] > 0 and np.isfinite(e["residual"]), e
    assert 0 <= e["residual"] < 0.2, e
a, b = s["depth"].astype(np.float64), m["depth"].astype(np.float64)
rel = np.sqrt(np.mean((a - b) ** 2)) / (a.max() - a.min())
assert rel <= 0.15, f"rms vs single pass {rel:.4f} of its range"
# control: the owner chunks' own depth, unaligned (what discarding the overlap gives)
own = np.concatenate([np.load(glob.glob(f"{os.path.dirname(sys.argv[2])}/.fathom-chunks/*/c{i:05d}/clip.npz")[0])
                      ["depth"][c["first"] - c["decode_from"]:][:c["count"]] for i, c in enumerate(r["chunks"])])
rel_own = np.sqrt(np.mean((a - own) ** 2)) / (a.max() - a.min())
assert rel < rel_own + 0.005, f"aligned {rel:.4f} not closer to the single pass than unaligned {rel_own:.4f}"
d = np.abs(np.diff(b, axis=0)).mean(axis=(1, 2))  # d[t] = change from frame t to t+1
borders = [c["first"] - 1 for c in r["chunks"][1:]]
inside = max(d[t] for t in range(len(d)) if t not in borders)
worst = max(d[t] for t in borders)
assert worst <= inside, f"seam jump {worst:.5g} > largest change inside chunks {inside:.5g}"
print(f"{n} chunks: rms vs single {rel:.4f} of range (unaligned {rel_own:.4f}); seam change {worst:.4g} vs inside "
      f"max {inside:.4g}; residuals {[round(e['residual'], 4) for e in r['seams']]}")
PYEOF

for n in 2 3; do
  run --chunks "$n" --overlap 8 --video-npz --report "$T/r$n.json" -o "$T/c$n" "$T/clip.mp4" 2>"$T/err"
  check "--chunks $n: exit 0" test $? -eq 0
  check "--chunks $n: frames, timestamps, seams, close to the single pass, no seam jump" \
    "$PY" "$T/compare.py" "$T/single/clip.npz" "$T/c$n/clip.npz" "$T/r$n.json" "$n"
done

# one worker runs all 3 chunks on one kept instance (fathom_vda_reset between them): created
# once, and each chunk's depth equals a fresh instance's over the same range (a single pass
# with the chunk's --start/--end from the manifest), bit for bit
check "--chunks 3, one device: one VDA instance created for the 3 chunks" \
  "$PY" -c "import json, sys; t = json.load(open(sys.argv[1]))['totals']; \
sys.exit(not (t['ran'] == 3 and t['engines_created'] == 1))" "$T/r3.json"
# same_as_fresh DIR N [RUN ARGS]: each of the N chunk archives of DIR == a fresh single pass
same_as_fresh() {
  local dir=$1 n=$2 i s e; shift 2
  "$PY" - "$dir" > "$T/ranges" <<'PYEOF'
import glob, json, sys
m = json.load(open(glob.glob(f"{sys.argv[1]}/.fathom-chunks/*/manifest.json")[0]))
for i, c in enumerate(m["chunks"]):
    print(i, "%.6f" % (c["start_us"] / 1e6), "%.6f" % (c["end_us"] / 1e6) if c["end_us"] > 0 else "-")
PYEOF
  check "$dir: the manifest lists $n chunks" test "$(wc -l < "$T/ranges")" -eq "$n"
  while read -r i s e; do
    local rng=(--start "$s"); [ "$e" != - ] && rng+=(--end "$e")
    run "$@" "${rng[@]}" --video-npz -o "$T/fresh" --overwrite "$T/clip.mp4" 2>"$T/err" || cat "$T/err"
    check "${dir##*/} chunk $i on the kept instance == a fresh instance over its range ($s..$e s)" \
      "$PY" -c "import glob, sys, numpy as np; a = np.load(glob.glob(sys.argv[1])[0]); \
b = np.load(sys.argv[2]); sys.exit(not (np.array_equal(a['depth'], b['depth']) and \
a['pts'].tolist() == b['pts'].tolist()))" "$dir/.fathom-chunks/*/c0000$i/clip.npz" "$T/fresh/clip.npz"
  done < "$T/ranges"
}
same_as_fresh "$T/c3" 3
# streaming: its cached state starts over with each chunk too
run --streaming --chunks 2 --overlap 8 --video-npz --report "$T/rs.json" -o "$T/cs" "$T/clip.mp4" \
  2>"$T/err" || cat "$T/err"
same_as_fresh "$T/cs" 2 --streaming

# default overlap for VDA: one 32-frame window (chunks of 30 frames: clamped to the chunk)
run --chunks 2 --video-npz --report "$T/rd.json" -o "$T/cd" "$T/clip.mp4" 2>"$T/err"
check "default VDA overlap: 32 in the report, 30 frames used (the previous chunk's length)" \
  "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); \
sys.exit(not (r['overlap'] == 32 and r['seams'][0]['overlap_frames'] == 30))" "$T/rd.json"

# several devices: chunked automatically (the report of a chunked run)
run --device cpu,cpu --video-npz --report "$T/ra.json" -o "$T/auto" "$T/clip.mp4" 2>"$T/err"
check "two devices: a VDA video goes through the chunked path, same frames as a single pass, one VDA instance per worker" \
  "$PY" -c "import json, sys, numpy as np; r = json.load(open(sys.argv[1])); \
a, b = np.load(sys.argv[2]), np.load(sys.argv[3]); \
sys.exit(not ('chunks' in r and r['overlap'] == 32 and a['depth'].shape == b['depth'].shape \
and 1 <= r['totals']['engines_created'] <= 2))" \
  "$T/ra.json" "$T/single/clip.npz" "$T/auto/clip.npz"

# metric VDA: overlap computed (context), never fitted; frames are the owner chunk's own
if [ -f "$VDA/tiny-metric/model.pth" ]; then
  "$FATHOM_BIN" run -m "$VDA/tiny-metric/model.pth" --input-size 28 --threads 1 --progress none \
    --chunks 2 --overlap 8 --video-npz --report "$T/rm.json" -o "$T/met" "$T/clip.mp4" 2>"$T/err"
  check "metric VDA --chunks 2: exit 0" test $? -eq 0
  check "metric VDA: scale 1, shift 0, merged frames are each owner chunk's depth" \
    "$PY" - "$T" <<'PYEOF'
import glob, json, sys, numpy as np
T = sys.argv[1]
r = json.load(open(f"{T}/rm.json"))
assert r["overlap"] == 8 and len(r["seams"]) == 1, r
e = r["seams"][0]
assert e["scale"] == 1 and e["shift"] == 0, e
m = np.load(f"{T}/met/clip.npz")["depth"]
for i, c in enumerate(r["chunks"]):
    z = np.load(glob.glob(f"{T}/met/.fathom-chunks/*/c{i:05d}/clip.npz")[0])["depth"]
    ov = c["first"] - c["decode_from"]
    assert np.array_equal(m[c["first"]:c["first"] + c["count"]], z[ov:ov + c["count"]]), i
PYEOF
else
  echo "SKIP (metric part): no golden-vda/tiny-metric"
fi

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
