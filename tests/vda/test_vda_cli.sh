#!/usr/bin/env bash
# test_vda_cli.sh - Video Depth Anything through the real binary, as a user runs it:
#  * every ../shared/golden-vda case: its frames in a lossless video (FFV1, RGB), `fathom run
#    -f npy` (offline, the default) gives frame i == depth.npy[i]; `--streaming` gives
#    depth_stream.npy where the case has it; the README's tolerances;
#  * the default depth video (FFV1 gray16) has every frame, one range for the whole video;
#  * `fathom info` says it is a video model; an image, a truncated checkpoint, a DA-V2
#    checkpoint where VDA is needed: clear errors, no crash;
#  * 1, 2 and 31-frame videos: one finite depth frame per input frame.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "FAIL: /usr/bin/python3 has no numpy (scripts/install-deps.sh)"; exit 1; }
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
GV=$FATHOM_GOLDEN/../golden-vda
[ -d "$GV" ] || { echo "SKIP: no golden-vda"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# frames.npy (N, H, W, 3) RGB -> lossless FFV1 video of N frames (first FRAMES frames if given)
mkvideo() { # npy out [frames]
    $PY - "$1" "${3:-0}" <<'PY' | ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgb24 -s "$($PY -c "import numpy as np,sys; a=np.load('$1'); print(f'{a.shape[2]}x{a.shape[1]}')")" -r 10 -i - -c:v ffv1 -pix_fmt bgr0 "$2"
import sys, numpy as np
a = np.load(sys.argv[1]); n = int(sys.argv[2]) or len(a)
sys.stdout.buffer.write(np.ascontiguousarray(a[:n]).tobytes())
PY
}

for case in "$GV"/*/; do
    [ -f "$case/case.json" ] || continue
    c=$(basename "$case")
    isz=$($PY -c "import json; print(json.load(open('$case/case.json'))['input_size'])")
    mkvideo "$case/frames.npy" "$T/$c.mkv"
    "$FATHOM_BIN" run -m "$case/model.pth" --input-size "$isz" -f npy -o "$T/off" "$T/$c.mkv"
    if [ -f "$case/depth_stream.npy" ]; then
        "$FATHOM_BIN" run -m "$case/model.pth" --input-size "$isz" --streaming -f npy -o "$T/str" "$T/$c.mkv"
    fi
    "$FATHOM_BIN" run -m "$case/model.pth" --input-size "$isz" -o "$T/vid" "$T/$c.mkv"
    $PY - "$T" "$case" "$c" <<'PY'
import sys, os, glob, json, numpy as np, subprocess
t, case, c = sys.argv[1:4]
def check(outdir, ref_name):
    ref = np.load(os.path.join(case, ref_name))
    files = sorted(glob.glob(f"{t}/{outdir}/{c}/*.npy"))
    assert len(files) == len(ref), (outdir, len(files), len(ref))
    out = np.stack([np.load(f) for f in files])
    m = np.abs(ref).max(); e = np.abs(out - ref)
    assert np.isfinite(out).all()
    assert e.max() <= 1e-4 * m and np.sqrt((e ** 2).mean()) <= 1e-5 * m, (c, outdir, e.max() / m)
    print(f"{c} {outdir}: {len(files)} frames, max|d| {e.max() / m:.2e} of max: OK")
check("off", "depth.npy")
if os.path.exists(os.path.join(case, "depth_stream.npy")):
    check("str", "depth_stream.npy")
# the depth video: every frame, gray16, one range for the whole video (the golden min/max),
# near = bright
ref = np.load(os.path.join(case, "depth.npy")); n, h, w = ref.shape
raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", f"{t}/vid/{c}_depth.mkv", "-f", "rawvideo",
                      "-pix_fmt", "gray16le", "-"], capture_output=True, check=True).stdout
v = np.frombuffer(raw, "<u2").reshape(-1, h, w)
assert len(v) == n, (len(v), n)
lo, hi = ref.min(), ref.max()
exp = np.round((ref - lo) / (hi - lo) * 65535)
if json.load(open(os.path.join(case, "case.json")))["metric"]:
    exp = 65535 - exp  # near = bright: metres are small near (as DA-V2 metric videos)
assert np.abs(v.astype(np.float64) - exp).max() <= 8, np.abs(v.astype(np.float64) - exp).max()
print(f"{c} depth video: {n} frames, video-wide range: OK")
PY
done

C=$GV/tiny-offline
isz=$($PY -c "import json; print(json.load(open('$C/case.json'))['input_size'])")
"$FATHOM_BIN" info "$C/model.pth" | tee "$T/info"
grep -qi "video" "$T/info" || { echo "FAIL: fathom info does not say it is a video model"; exit 1; }

# an image given a VDA model: refused with a message that names the way out
$PY -c "import numpy as np; a=np.load('$C/frames.npy'); open('$T/f.ppm','wb').write(b'P6 %d %d 255\n' % (a.shape[2], a.shape[1]) + a[0].tobytes())"
ffmpeg -loglevel error -y -i "$T/f.ppm" "$T/f.png"
if "$FATHOM_BIN" run -m "$C/model.pth" -o "$T/img" "$T/f.png" 2>"$T/err"; then
    echo "FAIL: an image ran through a Video Depth Anything model"; exit 1
fi
grep -q "Video Depth Anything" "$T/err" || { echo "FAIL: image refusal does not say why"; cat "$T/err"; exit 1; }

# truncated checkpoint: a clear error, not a crash
head -c 2000000 "$C/model.pth" > "$T/trunc.pth"
if "$FATHOM_BIN" run -m "$T/trunc.pth" -f npy -o "$T/tr" "$T/tiny-offline.mkv" 2>"$T/err"; then
    echo "FAIL: truncated checkpoint accepted"; exit 1
fi
[ $? -lt 128 ] && grep -q "trunc.pth" "$T/err" || { echo "FAIL: truncated checkpoint"; cat "$T/err"; exit 1; }

# a DA-V2 checkpoint given a video: runs per frame as before (not VDA); the reverse is above
# short videos: 1, 2, 31 frames -> that many finite frames
for n in 1 2 31; do
    mkvideo "$C/frames.npy" "$T/short$n.mkv" $n
    "$FATHOM_BIN" run -m "$C/model.pth" --input-size "$isz" -f npy -o "$T/short$n" "$T/short$n.mkv"
    $PY - "$T/short$n/short$n" $n <<'PY'
import sys, glob, numpy as np
f = sorted(glob.glob(sys.argv[1] + "/*.npy")); n = int(sys.argv[2])
assert len(f) == n, (len(f), n)
assert all(np.isfinite(np.load(x)).all() for x in f)
print(f"{n}-frame video: {n} finite frames: OK")
PY
done
# a video longer than any internal ring: every frame in the depth video, timestamps in order
ffmpeg -loglevel error -f lavfi -i "testsrc2=size=32x24:rate=25:duration=7.2" -c:v ffv1 "$T/long.mkv"
"$FATHOM_BIN" run -m "$C/model.pth" --input-size 28 -o "$T/long" "$T/long.mkv"
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/long/long_depth.mkv")
[ "$n" = 180 ] || { echo "FAIL: long video: $n depth frames, want 180"; exit 1; }
ffprobe -v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 "$T/long/long_depth.mkv" |
    $PY -c "import sys; p=[int(x) for x in sys.stdin.read().split()]; assert p == sorted(p) and len(set(p)) == 180, p[:5]"
echo "180-frame video: every frame, timestamps in order: OK"
echo "OK"
