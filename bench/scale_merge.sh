#!/usr/bin/env bash
# scale_merge.sh - the chunk merge's cost per frame (docs/scale-out.md, scaling model `m`):
# a 640x360 clip is run once in 6 chunks on 2 CPU engines (tiny model at --input-size 28), then
# merged alone REPS times (`--resume` of the finished run: no chunk runs, only the merge) for
# three outputs: raw --video-npz, the 16-bit FFV1 depth video, the 8-bit H.264 preview.
# Prints per frame: the merge thread's wall time (report merge_s; inflated by load) and the
# process's CPU time (user + sys: what the merge costs, whatever the load), and the encoder
# threads FFmpeg picks on this machine (cores + 1, at most 16; FFV1 gets a slice per thread).
# With BIN_B set, each measurement alternates A and B (same loaded minutes).
# Usage: bench/scale_merge.sh    Env: FATHOM_BIN (build/fathom), BIN_B, MODEL, FRAMES (300),
#        SIZE (640x360), REPS (2).
set -eu
A=${FATHOM_BIN:-build/fathom}
B=${BIN_B:-}
MODEL=${MODEL:-$(dirname "$0")/../../shared/golden/tiny-hf/model}
FRAMES=${FRAMES:-300}
SIZE=${SIZE:-640x360}
REPS=${REPS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=$SIZE:rate=30" -frames:v "$FRAMES" -g 30 \
  -pix_fmt yuv420p "$T/clip.mp4"
C=(--model "$MODEL" --input-size 28 --progress none --threads 1 --device cpu,cpu --chunks 6)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +'%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "merge alone, $FRAMES frames $SIZE, 6 chunks; encoder threads here: $(( $(nproc) + 1 > 16 ? 16 : $(nproc) + 1 ))"
echo "goal: m < c / N (the merge hides behind N engines of c ms/frame; docs/scale-out.md)"
printf '%-4s %-6s %14s %14s\n' bin output "wall ms/frame" "cpu ms/frame"
for k in npz ffv1 h264; do
  case $k in npz) x=(--video-npz); out=clip.npz ;; ffv1) x=(); out=clip_depth.mkv ;;
    h264) x=(--video-codec h264); out=clip_depth.mkv ;; esac
  bins=(A); [ -n "$B" ] && bins+=(B)
  for b in "${bins[@]}"; do
    bin=$A; [ "$b" = B ] && bin=$B
    "$bin" run "${C[@]}" "${x[@]}" -o "$T/$b$k" "$T/clip.mp4" >/dev/null 2>&1
  done
  for _ in $(seq 1 "$REPS"); do
    for b in "${bins[@]}"; do
      bin=$A; [ "$b" = B ] && bin=$B
      rm -f "$T/$b$k/$out"
      /usr/bin/time -o "$T/time" -f "%U %S" "$bin" run "${C[@]}" "${x[@]}" --resume \
        --report "$T/rep.json" -o "$T/$b$k" "$T/clip.mp4" >/dev/null 2>&1
      python3 - "$T/rep.json" "$T/time" "$b" "$k" "$FRAMES" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
n = int(sys.argv[5])
assert t["ran"] == 0 and t["frames_merged"] == n, t
print(f"{sys.argv[3]:<4s} {sys.argv[4]:<6s} {1000 * t['merge_s'] / n:14.1f} {1000 * (u + s) / n:14.1f}")
PY
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
