#!/usr/bin/env bash
# vda_memory.sh - peak RSS of `fathom run` with a Video Depth Anything model on a 1-minute and a
# 10-minute video, offline and --streaming: memory must not grow with the video's length (goal:
# the two lengths within a few MiB in each mode).
#
#   bench/vda_memory.sh [BUILD_DIR] [MODEL.pth] [WxH] [FPS]
# Defaults: build, the golden tiny VDA model (../shared/golden-vda/tiny-offline/model.pth),
# 96x72 frames at 5 fps (1 min = 300 frames, 10 min = 3000). The output is the default FFV1
# gray16 depth video, so the video-wide range (float spill on disk) is part of the run.
# Env: ISZ (network input size, 112), THREADS (2). Peak RSS is the child's ru_maxrss.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-$ROOT/../shared/golden-vda/tiny-offline/model.pth}
SIZE=${3:-96x72}
FPS=${4:-5}
ISZ=${ISZ:-112}
THREADS=${THREADS:-2}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for min in 1 10; do
    ffmpeg -loglevel error -f lavfi -i "testsrc2=size=$SIZE:rate=$FPS:duration=$((min * 60))" \
        -c:v ffv1 "$T/v$min.mkv"
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u '+%F %H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $(basename "$MODEL"), frames $SIZE at $FPS fps, --input-size $ISZ, --threads $THREADS"
/usr/bin/python3 - "$BUILD/fathom" "$MODEL" "$T" "$ISZ" "$THREADS" "$FPS" <<'PY'
import os, resource, subprocess, sys, time
b, m, t, isz, threads, fps = sys.argv[1:7]
def run(mode, minutes):
    """One fathom run as its own child (a fresh fork per run, so ru_maxrss is that run's)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        t0 = time.time()
        cmd = [b, "run", "-m", m, "--input-size", isz, "--threads", threads, "-o", f"{t}/o{mode}{minutes}",
               f"{t}/v{minutes}.mkv"] + (["--streaming"] if mode == "streaming" else [])
        p = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        if p.returncode:
            os.write(w, f"ERR {p.returncode} {p.stderr[-2000:]}".encode()); os._exit(1)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        os.write(w, f"{rss} {time.time() - t0}".encode()); os._exit(0)
    os.close(w)
    out = os.fdopen(r).read(); os.waitpid(pid, 0)
    if out.startswith("ERR"): sys.exit(f"fathom run {mode} {minutes} min failed: {out}")
    return [float(x) for x in out.split()]
print(f"{'mode':9s} | {'1 min':>10s} | {'10 min':>10s} | {'10 - 1':>8s} | time 1 / 10 min (loaded if load > 1)")
worst = 0.0
for mode in ("offline", "streaming"):
    (r1, t1), (r10, t10) = run(mode, 1), run(mode, 10)
    worst = max(worst, abs(r10 - r1))
    print(f"{mode:9s} | {r1:6.1f} MiB | {r10:6.1f} MiB | {r10 - r1:+5.1f} MiB | {t1:.0f} / {t10:.0f} s "
          f"({60 * int(fps)} / {600 * int(fps)} frames)")
print(f"largest growth 1 -> 10 min: {worst:.1f} MiB (goal: within a few MiB: {'met' if worst <= 4 else 'NOT met'})")
print(f"load after: {open('/proc/loadavg').read().split()[0]}")
PY
