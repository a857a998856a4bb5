#!/usr/bin/env bash
# vda_memory.sh - peak RSS of `fathom run` with a Video Depth Anything model on a 1-minute and a
# 10-minute video, offline and --streaming: memory must not grow with the video's length.
#
#   bench/vda_memory.sh [BUILD_DIR] [MODEL.pth] [WxH] [FPS]
# Defaults: build, the golden tiny VDA model (../shared/golden-vda/tiny-offline/model.pth),
# 96x72 frames at 5 fps (1 min = 300 frames, 10 min = 3000). The output is the default FFV1
# gray16 depth video, so the video-wide range (float spill on disk) is part of the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-$ROOT/../shared/golden-vda/tiny-offline/model.pth}
SIZE=${3:-96x72}
FPS=${4:-5}
ISZ=${ISZ:-112}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for min in 1 10; do
    ffmpeg -loglevel error -f lavfi -i "testsrc2=size=$SIZE:rate=$FPS:duration=$((min * 60))" \
        -c:v ffv1 "$T/v$min.mkv"
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $MODEL, frames $SIZE at $FPS fps, --input-size $ISZ"
for mode in offline streaming; do
    for min in 1 10; do
        flag=""; [ $mode = streaming ] && flag="--streaming"
        /usr/bin/python3 - "$BUILD/fathom" "$MODEL" "$T/v$min.mkv" "$T/o$mode$min" "$ISZ" $flag <<'PY'
import resource, subprocess, sys, time
b, m, v, o, isz = sys.argv[1:6]
t = time.time()
subprocess.run([b, "run", "-m", m, "--input-size", isz, "--threads", "2", "-o", o, v] + sys.argv[6:],
               check=True, stderr=subprocess.DEVNULL)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{'streaming' if sys.argv[6:] else 'offline':9s} {v.split('/')[-1]:8s} peak RSS {rss:7.1f} MiB  {time.time() - t:6.1f} s (loaded)")
PY
    done
done
