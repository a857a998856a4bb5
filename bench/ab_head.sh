#!/usr/bin/env bash
# ab_head.sh - interleaved A/B of two fathom binaries on the same model, `fathom bench` per
# precision, so both sides see the same load (issue 13's head work was measured with it).
#   bench/ab_head.sh                       A = $A (default /tmp/fathom-main: main's build)
#                                          B = $B (default build/fathom)
# Environment: MODEL (default $TMPDIR/fathom-cpu-runtimes/vits.pth, the random ViT-S weights
# bench/compare_cpu_runtimes.sh makes), PRECISIONS ("fp32 bf16"; int8 and q4 are --weights),
# ROUNDS (3), ITERS (4), WARMUP (1), BATCH (1), THREADS (2), SIZE (518).
# Prints per round and precision A's and B's CPU ms per image (all threads, steadier than
# latency under load) and median latency, B's CPU change, with the CPU model and load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
A="${A:-/tmp/fathom-main}" B="${B:-$root/build/fathom}"
MODEL="${MODEL:-${TMPDIR:-/tmp}/fathom-cpu-runtimes/vits.pth}"
PRECISIONS="${PRECISIONS:-fp32 bf16}" ROUNDS="${ROUNDS:-3}" ITERS="${ITERS:-4}" WARMUP="${WARMUP:-1}"
BATCH="${BATCH:-1}" THREADS="${THREADS:-2}" SIZE="${SIZE:-518}"
for bin in "$A" "$B"; do
    [ -x "$bin" ] || { echo "no fathom binary at $bin (build it, or set A / B)" >&2; exit 2; }
done
[ -f "$MODEL" ] || { echo "no model at $MODEL (run bench/compare_cpu_runtimes.sh once, or set MODEL)" >&2; exit 2; }

# "cpu latency" of one bench run
run() {
    local bin="$1" p="$2" flag=(--precision "$p")
    case "$p" in int8 | q4) flag=(--weights "$p") ;; esac
    OMP_NUM_THREADS="$THREADS" "$bin" bench --model "$MODEL" --device cpu "${flag[@]}" --batch "$BATCH" \
        --threads "$THREADS" --input-size "$SIZE" --iters "$ITERS" --warmup "$WARMUP" 2>&1 |
        awk '/^latency:/ {l = $2} /^cpu time:/ {c = $3} END {if (c == "") exit 1; printf "%.0f %.0f", c, l}'
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%FT%TZ)"
echo "A = $A  B = $B  model $MODEL, batch $BATCH, $THREADS threads, $SIZE"
printf '%-6s %5s %18s %18s %8s %6s\n' engine round "A cpu/lat ms" "B cpu/lat ms" "B cpu" load
for r in $(seq 1 "$ROUNDS"); do
    for p in $PRECISIONS; do
        read -r ac al <<<"$(run "$A" "$p")"
        read -r bc bl <<<"$(run "$B" "$p")"
        printf '%-6s %5s %18s %18s %+7.1f%% %6s\n' "$p" "$r" "$ac / $al" "$bc / $bl" \
            "$(echo "100 * ($bc - $ac) / $ac" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
