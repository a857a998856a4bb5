#!/usr/bin/env bash
# bench_governor.sh - the governor on the CPU engine: `fathom run --device cpu` over a folder
# for DURATION seconds (default 30) unthrottled and at --target-util 30, 50 and 80; prints the
# inference duty cycle (infer busy / wall, from --report) and the throughput relative to the
# unthrottled runs just before and after it (interleaved, so a machine whose load drifts
# during the benchmark skews the ratio less). Goal: duty within 5 points of each target,
# throughput ratio close to it.
#
#   bench/bench_governor.sh [FATHOM_BIN] [MODEL] [DURATION]
#   defaults: build/fathom, ../shared/golden/tiny-hf/model (random weights, 64-dim ViT), 30
# Extra `fathom run` flags can be passed in FATHOM_RUN_FLAGS (default: one engine thread,
# batch 1, small queues so the drain after SIGINT is short, and a 70-pixel network input so
# one item takes a fraction of a second even on a loaded 2-core machine). Items that short
# measure how fast an idle CPU wakes up as much as the governor: for throughput figures on
# an idle machine use real work, e.g. ../shared/golden/vits-pth/model.pth with
# FATHOM_RUN_FLAGS="--threads 2 --batch 1 --workers 1 --queue 2 --input-size 266"
# (bench/RESULTS.md has both).
# Each run is stopped with SIGINT after DURATION seconds; items already taken are finished
# (still governed) and the report covers the whole run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/fathom}
model=${2:-$here/../shared/golden/tiny-hf/model}
duration=${3:-30}
flags=${FATHOM_RUN_FLAGS:---threads 1 --batch 1 --workers 1 --queue 2 --input-size 70}
img=$here/../shared/golden/tiny-hf/input.png
[ -x "$bin" ] || { echo "bench_governor: no fathom binary at $bin (build first)" >&2; exit 2; }
[ -f "$img" ] || { echo "bench_governor: no golden image at $img" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
# enough distinct inputs that no run finishes before it is stopped
for i in $(seq -w 1 5000); do ln -s "$img" "$work/in/img$i.png"; done

run() { # name, extra flags...
    local name=$1; shift
    rm -rf "$work/out"
    set +e
    # one SIGINT to fathom alone (`timeout` would also signal its process group: a second
    # SIGINT makes fathom exit at once without a report)
    "$bin" run -m "$model" --device cpu --progress none $flags \
        --report "$work/$name.json" -o "$work/out" "$@" "$work/in" 2>"$work/$name.err" &
    local pid=$!
    sleep "$duration"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    local rc=$?
    set -e
    if [ ! -s "$work/$name.json" ]; then
        echo "bench_governor: run '$name' wrote no report (exit $rc):" >&2
        cat "$work/$name.err" >&2
        exit 1
    fi
}

run free0
run t30 --target-util 30
run free1
run t50 --target-util 50
run free2
run t80 --target-util 80
run free3

python3 - "$work" "$duration" "$(nproc)" <<'PY'
import json, sys
work, duration, cores = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    r = json.load(open(f"{work}/{name}.json"))
    t = r["totals"]
    busy = r["stages"]["infer"]["busy_s"]
    return {"items": t["finished"], "wall": t["elapsed_s"], "busy": busy,
            "rate": t["finished"] / t["elapsed_s"], "duty": 100 * busy / t["elapsed_s"]}
print(f"CPU cores {cores}, {duration} s per run (+ the drain of items already taken)")
print("| run | items | wall s | infer duty % | items/s | throughput ratio % |")
print("| --- | --- | --- | --- | --- | --- |")
free = [load(f"free{i}") for i in range(4)]
for i, t in enumerate([30, 50, 80]):
    if i == 0:
        print(f"| unthrottled | {free[0]['items']} | {free[0]['wall']:.1f} | {free[0]['duty']:.1f} | "
              f"{free[0]['rate']:.2f} | 100 |")
    m = load(f"t{t}")
    base = (free[i]["rate"] + free[i + 1]["rate"]) / 2
    print(f"| --target-util {t} | {m['items']} | {m['wall']:.1f} | {m['duty']:.1f} | "
          f"{m['rate']:.2f} | {100 * m['rate'] / base:.1f} |")
    f = free[i + 1]
    print(f"| unthrottled | {f['items']} | {f['wall']:.1f} | {f['duty']:.1f} | {f['rate']:.2f} | "
          f"{100 * f['rate'] / free[0]['rate']:.1f} (vs first) |")
PY
