#!/usr/bin/env bash
# test_vda_video.sh - everything the video path does, with a Video Depth Anything model, through
# the real binary (tiny golden-vda weights, 40x30 frames, input size 28: two offline windows):
#  * --video-npz: depth == the npy frames, pts == the input's; --report: one entry per frame;
#    --progress ndjson: progress, item and summary events;
#  * the default depth video: FFV1 gray16, every frame, the input's timestamps, the audio copied;
#    --video FILE with a sequence into an -o folder that does not exist yet;
#    a preview codec (h264, colormapped) when ffmpeg has libx264;
#  * --start/--end, --max-frames, --max-res;
#  * --resume: a finished video is skipped; a cut-short frame sequence is made again from frame 0
#    (with a note) and equals the uninterrupted run;
#  * the governor: same outputs, its slot counts every frame.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "FAIL: /usr/bin/python3 has no numpy (scripts/install-deps.sh)"; exit 1; }
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
M=$FATHOM_GOLDEN/../golden-vda/tiny-offline/model.pth
[ -f "$M" ] || { echo "SKIP: no golden-vda"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
run() { "$FATHOM_BIN" run -m "$M" --input-size 28 --threads 2 "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# 40 frames at 10 fps (4 s) with a sine audio track
ffmpeg -loglevel error -f lavfi -i "testsrc2=size=40x30:rate=10:duration=4" -f lavfi \
    -i "sine=frequency=440:duration=4" -c:v ffv1 -c:a flac -shortest "$T/clip.mkv"

# ---- npz, report, progress ----
run -f npy --video-npz --report "$T/r.json" --progress ndjson -o "$T/a" "$T/clip.mkv" 2>"$T/a.err" ||
    { cat "$T/a.err"; fail "npy + npz run"; }
ffprobe -v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 "$T/clip.mkv" > "$T/in.pts"
$PY - "$T" <<'PY'
import glob, json, sys, numpy as np
t = sys.argv[1]
files = sorted(glob.glob(f"{t}/a/clip/*.npy"))
assert len(files) == 40, len(files)
seq = np.stack([np.load(f) for f in files])
z = np.load(f"{t}/a/clip.npz")
assert z["depth"].shape == (40, 30, 40) and np.array_equal(z["depth"], seq), z["depth"].shape
pts = [int(x) for x in open(f"{t}/in.pts").read().split()]
assert z["pts"].tolist() == pts, (z["pts"][:5], pts[:5])
assert z["time_base"].tolist() == [1, 1000], z["time_base"]
assert np.isfinite(seq).all() and seq.std() > 0
print("npz: 40 frames == the npy sequence, input pts: OK")
r = json.load(open(f"{t}/r.json"))
items = sorted(r["items"], key=lambda i: i["index"])
assert [i["index"] for i in items] == list(range(40)), len(items)
assert all(i["state"] == "done" and i["source"].endswith("clip.mkv#%06d" % i["index"]) for i in items), items[0]
assert all(i["seconds"]["infer"] >= 0 for i in items)
assert r["totals"]["finished"] == 40 and r["totals"]["failed"] == 0, r["totals"]
print("report: one entry per frame: OK")
ev = [json.loads(l) for l in open(f"{t}/a.err") if l.startswith("{")]
kinds = [e["event"] for e in ev]
assert kinds.count("item") == 40 and "summary" in kinds, kinds
s = [e for e in ev if e["event"] == "summary"][-1]
assert s["done"] == 40 and s["total"] == 40, s
print("progress ndjson: 40 item events, summary 40/40: OK")
PY

# ---- the depth video: FFV1 gray16, every frame, timestamps, audio ----
run -o "$T/v" "$T/clip.mkv" 2>/dev/null || fail "depth video run"
V=$T/v/clip_depth.mkv
[ "$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,pix_fmt -of csv=p=0 "$V")" = "ffv1,gray16le" ] ||
    fail "depth video is not FFV1 gray16: $(ffprobe -v error -show_streams "$V" | grep -E 'codec_name|pix_fmt')"
[ "$(ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 "$V")" = audio ] ||
    fail "audio not copied into the depth video"
ffprobe -v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 "$V" > "$T/out.pts"
cmp -s "$T/in.pts" "$T/out.pts" || fail "depth video timestamps differ from the input's"
echo "depth video: FFV1 gray16, 40 frames at the input's timestamps, audio copied: OK"
# --video elsewhere plus a sequence into an -o folder that does not exist yet
run -f npy --video "$T/elsewhere.mkv" -o "$T/new/out" "$T/clip.mkv" 2>/dev/null || fail "--video + -f npy into a new folder"
[ "$(ls "$T/new/out/clip" | grep -c npy)" = 40 ] || fail "--video + -f npy: not 40 npy frames"
[ "$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/elsewhere.mkv")" = 40 ] ||
    fail "--video + -f npy: the depth video has not 40 frames"
echo "--video FILE with -f npy into a new -o folder: both written: OK"
# (grep without -q reads all of ffmpeg's output: -q would end the pipe early under pipefail;
#  Matroska: the clip's FLAC audio is copied, which FFmpeg's MP4 muxer calls experimental)
if ffmpeg -hide_banner -encoders 2>/dev/null | grep libx264 >/dev/null; then
    run --video-codec h264 --video-color --video "$T/prev.mkv" -o "$T/p" "$T/clip.mkv" 2>"$T/p.err" ||
        { cat "$T/p.err"; fail "h264 preview run"; }
    n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,nb_read_frames -of csv=p=0 "$T/prev.mkv")
    [ "$n" = "h264,40" ] || fail "h264 preview: $n"
    echo "h264 colormapped preview: 40 frames: OK"
fi

# ---- ranges and sizes ----
run -f npy --start 1 --end 3 -o "$T/se" "$T/clip.mkv" 2>/dev/null || fail "--start/--end"
[ "$(ls "$T/se/clip" | grep -c npy)" = 20 ] || fail "--start 1 --end 3: $(ls "$T/se/clip" | grep -c npy) frames, want 20"
run -f npy --max-frames 7 -o "$T/mf" "$T/clip.mkv" 2>/dev/null || fail "--max-frames"
[ "$(ls "$T/mf/clip" | grep -c npy)" = 7 ] || fail "--max-frames 7"
run -f npy --max-res 20 --max-frames 3 -o "$T/mr" "$T/clip.mkv" 2>/dev/null || fail "--max-res"
$PY -c "
import numpy as np, sys; a = np.load('$T/mr/clip/000000.npy'); assert a.shape == (15, 20), a.shape"
$PY - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
full = np.load(f"{t}/a/clip.npz")["depth"]
se = np.stack([np.load(f"{t}/se/clip/{i:06d}.npy") for i in range(20)])
assert np.isfinite(se).all() and not np.array_equal(se, full[10:30])  # its own windows
print("--start/--end: 20 frames, --max-frames 7, --max-res 20 -> 20x15: OK")
PY

# ---- resume ----
cp -r "$T/a/clip" "$T/ref"
out=$(run -f npy --resume -o "$T/a" "$T/clip.mkv" 2>&1) || fail "resume of a finished video: $out"
grep -q "skipped" <<<"$out" || fail "resume did not skip a finished video: $out"
for i in $(seq 25 39); do rm "$T/a/clip/0000$i.npy"; done
rm "$T/a/clip/.fathom-complete"
out=$(run -f npy --resume -o "$T/a" "$T/clip.mkv" 2>&1) || fail "resume of a cut-short sequence: $out"
grep -q "made again from frame 0 (Video Depth Anything" <<<"$out" || fail "no resume note: $out"
for f in "$T"/ref/*.npy; do cmp -s "$f" "$T/a/clip/$(basename "$f")" || fail "resumed $(basename "$f") differs"; done
[ -f "$T/a/clip/.fathom-complete" ] || fail "resumed sequence not marked complete"
echo "resume: finished video skipped; cut-short sequence made again from frame 0, identical: OK"

# ---- governor ----
run -f npy --target-util 60 --batch-max 2 --report "$T/g.json" -o "$T/g" "$T/clip.mkv" 2>/dev/null || fail "governed run"
for f in "$T"/ref/*.npy; do cmp -s "$f" "$T/g/clip/$(basename "$f")" || fail "governed $(basename "$f") differs"; done
$PY - "$T/g.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["governor"]
s = g["slots"][0]
assert s["items"] == 40 and s["busy_s"] > 0, s
print("governor: same outputs, its slot counted 40 frames: OK")
PY
echo OK
