#!/usr/bin/env bash
# test_video_cli.sh - `fathom run` on videos, end to end with the real binary and the golden
# tiny model: depth video + npy sequence + --video-npz archive, checked with ffprobe/ffmpeg (frame count, every
# timestamp, audio bit-identical, duration), frame-vs-image parity, Ctrl-C leaves a partial
# file, no video stream and truncated input.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg > /dev/null || { echo "SKIP: ffmpeg CLI not installed"; exit 77; }
model="$FATHOM_GOLDEN/tiny-hf/model"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
# numpy comes from Debian's python3-numpy (scripts/install-deps.sh): prefer the system python
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c "import numpy" 2> /dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "no python3 with numpy (run scripts/install-deps.sh)"
run() { "$FATHOM_BIN" run -m "$model" --input-size 70 --batch 2 --progress none "$@"; }

"$FATHOM_BIN" run --help | grep -q -- "--video " ||
  fail "fathom run has no video flags: cli/cmd_run.c must call fathom_video_job (video_job.h)"

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
  -f lavfi -i sine=frequency=440:duration=2 -c:v libx264 -pix_fmt yuv420p -c:a aac clip.mp4

# ---- depth video + npy sequence + all frames in one npz ----
run -o out --video out/d.mkv -f npy --video-npz clip.mp4 2> log.txt || { cat log.txt; fail "run exited $?"; }
cat log.txt
grep -q "50 written" log.txt || fail "summary does not report 50 frames"
[ -f out/d.mkv ] && ! ls out | grep -q partial || fail "depth video not renamed to its final name"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 out/d.mkv)
[ "$frames" = 50 ] || fail "depth video has $frames frames, want 50"
[ "$(ls out/clip/*.npy | wc -l)" = 50 ] || fail "npy sequence is not 50 files"
ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,pix_fmt -of csv=p=0 out/d.mkv |
  grep -q "ffv1,gray16le" || fail "depth video is not FFV1 gray16le"
ts() { ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$1"; }
ts clip.mp4 > src_ts.txt
ts out/d.mkv > out_ts.txt
md5() { ffmpeg -nostdin -v error -i "$1" -map 0:a -c copy -f md5 -; }
[ "$(md5 clip.mp4)" = "$(md5 out/d.mkv)" ] || fail "audio packets differ from the source"
dur() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }
"$PY" - "$(dur clip.mp4)" "$(dur out/d.mkv)" <<'EOF'
import sys
src = [float(x.strip(",")) for x in open("src_ts.txt").read().split()]
out = [float(x.strip(",")) for x in open("out_ts.txt").read().split()]
assert len(src) == len(out) == 50, (len(src), len(out))
# Matroska shifts all streams by the AAC priming so no timestamp is negative: one constant
shift = out[0] - src[0]
assert 0 <= shift < 0.05, shift
bad = [(i, s, o) for i, (s, o) in enumerate(zip(src, out)) if abs(o - shift - s) > 0.0011]
assert not bad, bad[:5]
d_src, d_out = float(sys.argv[1]), float(sys.argv[2])
assert abs(d_src - d_out) < 0.06, (d_src, d_out)
print(f"timestamps: 50 frames match (container shift {shift:.3f} s); duration {d_src} -> {d_out}")
EOF

# the npz: (frames, H, W) float32 equal to the npy sequence, pts equal to the source's
ffprobe -v error -select_streams v:0 -show_entries stream=time_base -of csv=p=0 clip.mp4 > tb.txt
ffprobe -v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 clip.mp4 > src_pts.txt
grep -q "all frames: out/clip.npz" log.txt || fail "the npz is not reported"
! ls -A out | grep -q "npy-" || fail "temporary .npy files left in out/"
"$PY" - <<'EOF'
import numpy as np
z = np.load("out/clip.npz")
assert sorted(z.files) == ["depth", "pts", "time_base"], z.files
d, pts, tb = z["depth"], z["pts"], z["time_base"]
assert d.dtype == np.float32 and d.shape == (50, 120, 160), (d.dtype, d.shape)
for i in range(50):
    assert np.array_equal(d[i], np.load(f"out/clip/{i:06d}.npy")), i
src = [int(x.strip(",")) for x in open("src_pts.txt").read().split()]
assert pts.dtype == np.int64 and pts.tolist() == src, (pts[:5], src[:5])
num, den = open("tb.txt").read().strip().split("/")
assert tb.tolist() == [int(num), int(den)], tb
print(f"npz: depth {d.shape} equals the npy sequence; pts and time_base {tb.tolist()} match")
EOF
# only the npz when only it is asked; its frames are the decoded frames (--max-frames)
run -o out5 --video-npz --max-frames 7 clip.mp4 2> log5.txt || fail "npz-only run: $(cat log5.txt)"
[ "$(ls -A out5)" = clip.npz ] || fail "npz-only run wrote: $(ls -A out5)"
"$PY" -c "import numpy as np; z = np.load('out5/clip.npz'); assert z['depth'].shape == (7, 120, 160) and len(z['pts']) == 7, z['depth'].shape"
rc=0; run -o out5 --video-npz --max-frames 7 clip.mp4 2> log5.txt || rc=$?
[ "$rc" != 0 ] && grep -q "out5/clip.npz exists" log5.txt || fail "existing npz overwritten (rc $rc): $(cat log5.txt)"

# ---- frame 12 of the video == the image path on the same frame ----
ffmpeg -nostdin -v error -i clip.mp4 -vf "select=eq(n\,12)" -frames:v 1 frame12.png
run -o img -f npy frame12.png 2> /dev/null || fail "image run failed"
"$PY" - <<'EOF'
import numpy as np
a = np.load("img/frame12.npy"); b = np.load("out/clip/000012.npy"); c = np.load("out/clip/000030.npy")
assert a.shape == b.shape == (120, 160), (a.shape, b.shape)
d = np.abs(a - b).max() / np.abs(a).max()
assert d <= 1e-5, d
assert np.abs(c - a).max() / np.abs(a).max() > 1e-3  # a different frame differs
print(f"frame 12: video vs image path max rel diff {d:.2e}")
EOF

# ---- Ctrl-C: partial file, clearly named, readable; exit 130 ----
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=25:duration=20 -c:v libx264 \
  -pix_fmt yuv420p long.mkv
# started directly (not through the function) so that $! is fathom itself
"$FATHOM_BIN" run -m "$model" --input-size 70 --batch 2 --progress ndjson -o out2 long.mkv \
  --video out2/long_depth.mkv --video-npz 2> log2.txt &
pid=$!
for _ in $(seq 600); do  # wait (up to 60 s) until 10 frames are finished
  [ "$(grep -c '"item"' log2.txt || true)" -ge 10 ] && break
  sleep 0.1
done
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
grep -v '"item"' log2.txt || true
[ "$rc" = 130 ] || fail "interrupted run exited $rc, want 130"
[ ! -e out2/long_depth.mkv ] || fail "an interrupted run left a complete-looking file"
# the partial name carries the writer's process id: concurrent runs never share it
[ -f "out2/long_depth.partial-$pid.mkv" ] || fail "no partial file after Ctrl-C: $(ls -A out2)"
[ "$(ls -A out2)" = "long_depth.partial-$pid.mkv" ] || fail "an interrupted --video-npz left: $(ls -A out2)"
grep -q "partial" log2.txt || fail "the partial file is not reported"
pf=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "out2/long_depth.partial-$pid.mkv")
[ "$pf" -ge 10 ] && [ "$pf" -lt 500 ] || fail "partial file has $pf frames"

# ---- no video stream ----
ffmpeg -nostdin -v error -f lavfi -i sine=duration=1 -c:a flac audio.mkv
rc=0; run -o out3 --video out3/a.mkv audio.mkv 2> log3.txt || rc=$?
[ "$rc" = 1 ] || fail "audio-only input exited $rc, want 1 (a failed item)"
grep -q "audio.mkv: no video stream" log3.txt || fail "no-video error does not name the input: $(cat log3.txt)"
[ ! -e out3/a.mkv ] && ! ls -A out3 2> /dev/null | grep -q partial || fail "output left for an audio-only input"

# ---- truncated input: the frames there are, and a report ----
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 -c:v libx264 \
  -pix_fmt yuv420p full.mkv
head -c $(( $(stat -c %s full.mkv) / 2 )) full.mkv > cut.mkv
run -o out4 cut.mkv 2> log4.txt || fail "truncated input failed the run: $(cat log4.txt)"
grep -q "ended early" log4.txt || fail "truncation not reported: $(cat log4.txt)"
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 out4/cut_depth.mkv)
[ "$n" -gt 5 ] && [ "$n" -lt 50 ] || fail "truncated input gave $n frames"
echo "PASS"
