#!/usr/bin/env bash
# test_video_faults.sh - videos under faults, through the real binary with the golden tiny model
# (issues 10 and 11): videos inside folders, --resume on finished and interrupted videos,
# --video paths and data safety, truncated faststart MP4, several videos where some fail,
# stalled inputs (--timeout, first Ctrl-C), a huge declared frame size, concurrent runs on one
# output, report names, MPEG-TS with a backwards timestamp jump, a full disk under frame
# sequences (when tmpfs can be mounted), very narrow frames.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg > /dev/null || { echo "SKIP: ffmpeg CLI not installed"; exit 77; }
[ -d "$FATHOM_GOLDEN/tiny-hf/model" ] || { echo "SKIP: $FATHOM_GOLDEN/tiny-hf missing (../shared)"; exit 77; }
model="$FATHOM_GOLDEN/tiny-hf/model"
tmp=$(mktemp -d)
mnt=""
cleanup() {
  [ -n "$mnt" ] && umount "$mnt" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
run() { "$FATHOM_BIN" run -m "$model" --input-size 70 --batch 2 --progress none "$@"; }
frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
ff() { ffmpeg -nostdin -v error -y "$@"; }

ff -f lavfi -i testsrc2=size=64x48:rate=25:duration=0.4 -c:v libx264 -pix_fmt yuv420p clip.mp4

# ---- videos inside a folder are processed, each as its own video, relative folder kept ----
mkdir -p dir/sub
cp clip.mp4 dir/one.mp4
cp clip.mp4 dir/sub/two.mkv
ff -f lavfi -i testsrc2=size=64x48:rate=1 -frames:v 1 dir/img.png
run -o out -r dir 2> log.txt || fail "folder run: $(cat log.txt)"
[ -f out/img.npy ] || fail "the folder's image was not processed"
[ -f out/one_depth.mkv ] && [ "$(frames out/one_depth.mkv)" = 10 ] || fail "dir/one.mp4 not processed: $(cat log.txt)"
[ -f out/sub/two_depth.mkv ] || fail "dir/sub/two.mkv not processed into out/sub/: $(ls -R out)"
grep -q "dir/one.mp4: 10 frames" log.txt && grep -q "dir/sub/two.mkv: 10 frames" log.txt ||
  fail "videos of the folder not reported: $(cat log.txt)"
grep -q "2 not images (2 of them videos, each run next" log.txt ||
  fail "the image walk's summary does not say its 'not images' are the videos run next: $(cat log.txt)"
run -o out2 dir 2> log.txt || fail "folder run without -r: $(cat log.txt)"
[ -f out2/one_depth.mkv ] && [ ! -e out2/sub ] || fail "without -r the sub-folder's video was taken"
# the output folder is never walked: its depth videos are not taken as inputs by the next run
run -o dir/out -r dir 2> log.txt || fail "run into a sub-folder: $(cat log.txt)"
run -o dir/out -r --resume dir 2> log.txt || fail "re-run into a sub-folder: $(cat log.txt)"
! ls -R dir/out | grep -q "_depth_depth" || fail "earlier outputs taken as inputs: $(ls -R dir/out)"
rc=0; run -o dir dir 2> log.txt || rc=$?
[ "$rc" = 2 ] && grep -q "output folder" log.txt || fail "-o DIR DIR/ not refused (rc $rc): $(cat log.txt)"

# ---- --resume: a finished video is skipped (exit 0), an interrupted sequence continues ----
rc=0; run -o out -r --resume dir 2> log.txt || rc=$?
[ "$rc" = 0 ] && grep -q "one.mp4: skipped" log.txt || fail "--resume on finished videos: rc $rc: $(cat log.txt)"
rc=0; run -o out -r dir 2> log.txt || rc=$?
[ "$rc" = 1 ] && grep -q "out/one_depth.mkv exists" log.txt || fail "existing depth video: rc $rc: $(cat log.txt)"
run -o seq -f npy,png16 clip.mp4 2> log.txt || fail "sequence run: $(cat log.txt)"
[ -f seq/clip/.fathom-complete ] || fail "no completion marker in seq/clip/"
cp -a seq ref
# an interrupted run: the marker not yet written, the last frames missing (as after Ctrl-C)
rm seq/clip/.fathom-complete seq/clip/00000[6-9].*
stat -c '%i %Y' seq/clip/000003.npy > before.txt
run -o seq -f npy,png16 --resume clip.mp4 2> log.txt || fail "resumed run: $(cat log.txt)"
grep -q "frames 0..5 of seq/clip/ exist; continuing" log.txt || fail "resume point not reported: $(cat log.txt)"
grep -q "4 written (frames before 6 by an earlier run)" log.txt || fail "resumed run did not make just frames 6..9: $(cat log.txt)"
[ "$(stat -c '%i %Y' seq/clip/000003.npy)" = "$(cat before.txt)" ] || fail "a finished frame was rewritten"
"$PY" - <<'EOF'
import numpy as np
for i in range(10):
    a, b = np.load(f"seq/clip/{i:06d}.npy"), np.load(f"ref/clip/{i:06d}.npy")
    # batches group other frames on resume: float sums differ in the last bits
    assert a.shape == (48, 64) and np.abs(a - b).max() <= 1e-5 * np.abs(b).max(), i
print("resume: frames 6..9 equal an uninterrupted run's (rel 1e-5)")
EOF
[ "$(ls seq/clip/*.png | wc -l)" = 10 ] || fail "png16 sequence incomplete after resume"
rc=0; run -o seq -f npy,png16 --resume clip.mp4 2> log.txt || rc=$?
[ "$rc" = 0 ] && grep -q "skipped" log.txt || fail "finished sequence not skipped: rc $rc $(cat log.txt)"
# a partial depth video cannot be continued: made again from frame 0, and said so
cp clip.mp4 p.mp4
: > "out/p_depth.partial-999999.mkv"
run -o out --resume p.mp4 2> log.txt || fail "resume after a partial video: $(cat log.txt)"
grep -q "made again from frame 0" log.txt || fail "restart of a partial video not explained: $(cat log.txt)"
[ "$(frames out/p_depth.mkv)" = 10 ] || fail "restarted depth video incomplete"

# ---- --video FILE: relative to the current folder (as every path), never an input ----
mkdir -p cwd && (cd cwd && run -o o --video d.mkv ../clip.mp4 2> ../log.txt) || fail "--video d.mkv: $(cat log.txt)"
[ -f cwd/d.mkv ] && [ ! -e cwd/o/d.mkv ] || fail "--video relative path not under the current folder"
grep -q "depth video: d.mkv" log.txt || fail "the depth video's path is not reported: $(cat log.txt)"
sum=$(md5sum < clip.mp4)
ln -s clip.mp4 link.mkv
for v in clip.mp4 ./cwd/../clip.mp4 link.mkv; do
  rc=0; run -o o --overwrite --video-codec h264 --video "$v" clip.mp4 2> log.txt || rc=$?
  [ "$rc" != 0 ] && grep -q "would replace the input" log.txt || fail "--video $v replaced the input (rc $rc): $(cat log.txt)"
  [ "$(md5sum < clip.mp4)" = "$sum" ] || fail "input changed by --video $v"
done
# an output of a video may not be another input of the run either
cp clip.mp4 x_depth.mkv
cp clip.mp4 x.mp4
rc=0; run -o . --overwrite x.mp4 x_depth.mkv 2> log.txt || rc=$?
[ "$(md5sum < x_depth.mkv)" = "$sum" ] || fail "an input was replaced by another video's output"
grep -q "would replace the input" log.txt || fail "output = input not reported: $(cat log.txt)"
rc=0; run -o o --video one.mkv clip.mp4 p.mp4 2> log.txt || rc=$?
[ "$rc" = 2 ] && grep -q "names one depth video" log.txt || fail "--video with two videos: rc $rc $(cat log.txt)"

# ---- several videos: one that fails does not stop the others ----
ff -f lavfi -i sine=duration=0.5 -c:a flac audio.mkv
mkdir -p other && cp clip.mp4 other/clip.mkv
rm -rf many && mkdir many && : > many/p_depth.mkv
rc=0; run -o many audio.mkv clip.mp4 other/clip.mkv p.mp4 2> log.txt || rc=$?
[ "$rc" = 1 ] || fail "several videos with failures exited $rc, want 1: $(cat log.txt)"
grep -q "audio.mkv: no video stream" log.txt || fail "audio-only failure not reported"
grep -q "other/clip.mkv: output many/clip_depth.mkv is also the output of an earlier video" log.txt ||
  fail "same-stem clash not reported: $(cat log.txt)"
grep -q "p.mp4: output many/p_depth.mkv exists" log.txt || fail "existing output not reported"
[ "$(frames many/clip_depth.mkv)" = 10 ] || fail "the good video after a failed one was not made"
# a same-name clash is refused even with --overwrite: the first video's depth is kept
ff -f lavfi -i testsrc2=size=64x48:rate=25:duration=0.2 -c:v libx264 -pix_fmt yuv420p other/clip.mkv
rm -rf many2
rc=0; run -o many2 --overwrite clip.mp4 other/clip.mkv 2> log.txt || rc=$?
[ "$rc" = 1 ] && [ "$(frames many2/clip_depth.mkv)" = 10 ] || fail "--overwrite let a same-name video replace another's depth (rc $rc): $(cat log.txt)"

# ---- report names keep the whole file name: take.1.mp4 and take.2.mp4 ----
cp clip.mp4 take.1.mp4 && cp clip.mp4 take.2.mp4
run -o rep --report rep.json take.1.mp4 take.2.mp4 2> log.txt || fail "two takes: $(cat log.txt)"
[ -f rep.take.1.mp4.json ] && [ -f rep.take.2.mp4.json ] || fail "report names clash: $(ls rep*)"
# (the "run" object records the whole command line, which names both takes: items only)
"$PY" -c "import json; a=json.load(open('rep.take.1.mp4.json')); b=json.load(open('rep.take.2.mp4.json')); a.pop('run', None); b.pop('run', None); assert 'take.1.mp4' in json.dumps(a) and 'take.2.mp4' in json.dumps(b) and 'take.2.mp4' not in json.dumps(a)"

# ---- a faststart MP4 cut in half: the frames there are, and the note ----
ff -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 -c:v libx264 -g 5 -pix_fmt yuv420p -movflags +faststart fs.mp4
head -c $(( $(stat -c %s fs.mp4) / 2 )) fs.mp4 > fscut.mp4
run -o cut fscut.mp4 2> log.txt || true
grep -Eq "fscut.mp4: [1-9][0-9]* frames .*input ended early: [0-9]+ of the 50 frames it declares" log.txt ||
  fail "truncated faststart MP4 not reported: $(cat log.txt)"

# ---- stalled inputs: --timeout applies, the first Ctrl-C stops, a FIFO never blocks ----
mkfifo fifo.mp4
rc=0; timeout -k 5 20 "$FATHOM_BIN" run -m "$model" --progress none -o st fifo.mp4 2> log.txt || rc=$?
[ "$rc" = 1 ] && grep -q "fifo.mp4: not a regular file" log.txt || fail "FIFO input: rc $rc $(cat log.txt)"
port=$("$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$PY" - "$port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
conns = []
while True:  # headers and a few bytes, then silence
    c, _ = s.accept(); c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 9999999\r\n\r\n" + b"\0" * 64)
    conns.append(c)
EOF
srv=$!
sleep 0.5
t0=$(date +%s)
rc=0; timeout -k 5 60 "$FATHOM_BIN" run -m "$model" --progress none --timeout 2 -o st "http://127.0.0.1:$port/v.mp4" 2> log.txt || rc=$?
t1=$(date +%s)
[ "$rc" = 1 ] && grep -q "no data for 2 s" log.txt || fail "stalled HTTP video: rc $rc after $((t1 - t0)) s: $(cat log.txt)"
[ $((t1 - t0)) -lt 30 ] || fail "stalled HTTP video took $((t1 - t0)) s with --timeout 2"
"$FATHOM_BIN" run -m "$model" --progress none -o st "http://127.0.0.1:$port/v.mp4" 2> log.txt &
pid=$!
sleep 3
kill -INT "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2> /dev/null; then
  kill -KILL "$pid"; wait "$pid" || true
  fail "the first Ctrl-C did not stop a run blocked on a stalled input within 10 s"
fi
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "first Ctrl-C on a stalled input: rc $rc: $(cat log.txt)"
kill "$srv" 2> /dev/null || true
rc=0; timeout -k 5 60 "$FATHOM_BIN" run -m "$model" --progress none --timeout 1 -o st "udp://127.0.0.1:$port" 2> log.txt || rc=$?
[ "$rc" = 1 ] && grep -q "no data for 1 s" log.txt || fail "udp:// with no sender: rc $rc $(cat log.txt)"

# ---- a video declaring 8000x8000 in a few KB: refused before any frame buffer ----
{ printf 'YUV4MPEG2 W8000 H8000 F25:1 Ip A1:1 C420jpeg\nFRAME\n'; head -c 47000 /dev/zero; } > huge.y4m
rc=0; /usr/bin/time -f "%M" -o rss.txt "$FATHOM_BIN" run -m "$model" --progress none -o hg huge.y4m 2> log.txt || rc=$?
rss=$(tail -1 rss.txt)
[ "$rc" = 1 ] && grep -q "8000x8000 video frames are over the pixel limit" log.txt || fail "huge declared frame: rc $rc $(cat log.txt)"
[ "$rss" -lt 1000000 ] || fail "huge declared frame reached $rss KB RSS"  # ASan builds included
ls hg 2> /dev/null | grep -q . && fail "output left for a refused video: $(ls hg)"

# ---- two runs on the same output: distinct partial files, the last rename decides ----
ff -f lavfi -i testsrc2=size=64x48:rate=25:duration=3 -c:v libx264 -pix_fmt yuv420p long.mp4
"$FATHOM_BIN" run -m "$model" --input-size 70 --batch 1 --progress none -o cc --overwrite long.mp4 2> cc1.txt &
p1=$!
for _ in $(seq 200); do ls cc 2> /dev/null | grep -q partial && break; sleep 0.05; done
"$FATHOM_BIN" run -m "$model" --input-size 70 --batch 1 --progress none -o cc --overwrite long.mp4 2> cc2.txt &
p2=$!
r1=0; wait "$p1" || r1=$?
r2=0; wait "$p2" || r2=$?
[ "$r1" = 0 ] && [ "$r2" = 0 ] || fail "concurrent runs: $r1 $r2: $(cat cc1.txt cc2.txt)"
[ "$(frames cc/long_depth.mkv)" = 75 ] || fail "concurrent runs left $(frames cc/long_depth.mkv) frames"
[ "$(ls -A cc)" = long_depth.mkv ] || fail "concurrent runs left: $(ls -A cc)"

# ---- MPEG-TS with a backwards timestamp jump: frames stay distinct, monotonic, spaced ----
ff -f lavfi -i testsrc2=size=64x48:rate=25:duration=1 -c:v libx264 -pix_fmt yuv420p -bf 0 -f mpegts a.ts
ff -f lavfi -i testsrc2=size=64x48:rate=25:duration=1 -c:v libx264 -pix_fmt yuv420p -bf 0 -output_ts_offset 0.6 -f mpegts b.ts
cat a.ts b.ts > jump.ts
run -o ts --video ts/j.mkv jump.ts 2> log.txt || fail "jump.ts: $(cat log.txt)"
ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 ts/j.mkv > ts.txt
"$PY" - <<'EOF'
t = [float(x.strip(",")) for x in open("ts.txt").read().split()]
assert len(t) == 50, len(t)
d = [b - a for a, b in zip(t, t[1:])]
assert min(d) >= 0.035, ("frames collapse", min(d), t)
print(f"jump.ts: 50 frames, steps {min(d):.3f}..{max(d):.3f} s")
EOF

# ---- narrow frames: swscale's vector writers ran past a 40-pixel-wide frame's buffer ----
for w in 40 24 4; do
  ff -f lavfi -i testsrc2=size=${w}x30:rate=10 -frames:v 4 -c:v libx264 -pix_fmt yuv420p narrow$w.mp4
  run -o narrow narrow$w.mp4 2> log.txt || fail "${w}-pixel-wide video: $(cat log.txt)"
  n=$(frames narrow/narrow${w}_depth.mkv)
  [ "$n" = 4 ] || fail "${w}-pixel-wide video: $n of 4 frames"
done

# ---- full disk under a frame sequence: frames written are frames on disk, the failing frame named ----
mkdir -p small
if mount -t tmpfs -o size=400k tmpfs small 2> /dev/null; then
  mnt=$tmp/small
  rc=0; run -o small -f png16,npy long.mp4 2> log.txt || rc=$?
  [ "$rc" != 0 ] || fail "full disk: exit 0"
  n=$(ls small/long/*.npy 2> /dev/null | wc -l)
  w=$(grep -o "[0-9]* written" log.txt | grep -o "[0-9]*")
  [ "$w" = "$n" ] || fail "full disk: summary says $w written, $n frames on disk: $(cat log.txt)"
  grep -Eq "frame [0-9]+ not written: .*No space left" log.txt || fail "full disk: failing frame not named: $(cat log.txt)"
  umount small && mnt=""
else
  echo "note: cannot mount a tmpfs here (not root): full-disk case not run"
fi
echo "PASS"
