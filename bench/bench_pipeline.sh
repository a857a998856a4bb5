#!/usr/bin/env bash
# bench_pipeline.sh - end-to-end `fathom run` throughput vs engine-only `fathom bench` on a
# folder of 1920x1080 JPEGs (goal: pipeline >= 90 % of the engine), and peak RSS of
# `fathom run` against the number of inputs (goal: flat).
#
#   bench/bench_pipeline.sh [FATHOM_BIN] [MODEL] [N_IMAGES]
#   defaults: build/fathom, ../shared/golden/vits-pth/model.pth (ViT-S shapes), 12
# Environment: BATCH (default 1), THREADS (engine threads, default: all cores),
#   WORKERS (decode/write pools, default 2), INPUT_SIZE (default 518),
#   RSS_MODEL (default ../shared/golden/tiny-hf/model), RSS_COUNTS (default "50 500").
# Prints one line per measurement; paste them into bench/RESULTS.md with the machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/fathom}
model=${2:-$here/../shared/golden/vits-pth/model.pth}
n=${3:-12}
batch=${BATCH:-1}
threads=${THREADS:-$(nproc)}
workers=${WORKERS:-2}
size=${INPUT_SIZE:-518}
rss_model=${RSS_MODEL:-$here/../shared/golden/tiny-hf/model}
rss_counts=${RSS_COUNTS:-50 500}
[ -x "$bin" ] || { echo "bench_pipeline: no fathom binary at $bin (build first)" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "bench_pipeline: needs the ffmpeg CLI" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
# distinct frames of a moving test pattern, JPEG quality ~ camera files
ffmpeg -loglevel error -f lavfi -i "testsrc2=size=1920x1080:rate=10" -frames:v "$n" -q:v 3 \
    "$work/in/img%04d.jpg"

# peak RSS (KiB) and wall seconds of a command, via getrusage of the child
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.monotonic() - t
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "%.3f" % wall, rc)
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model  batch $batch  threads $threads  workers $workers  input-size $size  images $n x 1920x1080 JPEG"

# engine only: the same network shape (1080x1920 -> the official resize), same batch
eng=$("$bin" bench --model "$model" --height 1080 --width 1920 --input-size "$size" \
      --batch "$batch" --threads "$threads" --iters 3 --warmup 1 | sed -n 's/^throughput: *\([0-9.]*\).*/\1/p')
echo "engine (fathom bench):  $eng img/s"

# end to end: decode + preprocess + infer + resize + write npy
read -r rss wall rc < <(measure "$bin" run --model "$model" --batch "$batch" --threads "$threads" \
    --workers "$workers" --input-size "$size" --progress none -o "$work/out" \
    --report "$work/report.json" "$work/in")
[ "$rc" -eq 0 ] || { echo "bench_pipeline: fathom run exited $rc" >&2; exit 1; }
python3 - "$work/report.json" "$eng" "$rss" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["totals"]; s = r["stages"]
eng, rss, wall = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
# the run's own clock starts after the model is loaded; the engine number excludes loading too
ips = t["done"] / t["elapsed_s"]
print("pipeline (fathom run):  %.3f img/s over %d images (%.1f s run, %.1f s with model load)"
      % (ips, t["done"], t["elapsed_s"], wall))
print("ratio pipeline/engine:  %.1f %%" % (100 * ips / eng))
print("stage busy s: decode %.1f  infer %.1f  write %.1f  (infer duty %.1f %%)"
      % (s["decode"]["busy_s"], s["infer"]["busy_s"], s["write"]["busy_s"],
         100 * s["infer"]["busy_s"] / t["elapsed_s"]))
print("peak RSS: %.1f MiB" % (rss / 1024))
PY

# peak RSS vs input count: the same 1080p JPEGs linked many times, small network so it is quick
for count in $rss_counts; do
    rm -rf "$work/many" "$work/out2"
    mkdir "$work/many"
    files=("$work"/in/*.jpg)
    for i in $(seq 1 "$count"); do ln -s "${files[$(( (i - 1) % n ))]}" "$work/many/$i.jpg"; done
    read -r rss wall rc < <(measure "$bin" run --model "$rss_model" --input-size 140 \
        --threads "$threads" --workers "$workers" --progress none -o "$work/out2" "$work/many")
    echo "peak RSS with $count inputs: $(( rss / 1024 )) MiB ($wall s, exit $rc)"
done
