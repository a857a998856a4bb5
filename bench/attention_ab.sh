#!/usr/bin/env bash
# attention_ab.sh - the CPU attention kernels (rounds 7 and 8): whole-net A/B of this tree's fathom
# against a base binary in interleaved rounds, and the attention op alone (test_backend_ops).
#
#   bench/attention_ab.sh      (BASE_BIN: main's fathom, optional; MODEL: a ViT-S checkpoint;
#                               ROUNDS=3 ITERS=3 THREADS=2)
#
# Per configuration (fp32; bf16 and int8 on the best kernel; bf16 forced to avx512bf16, the Zen 4 path)
# the median over rounds of `fathom bench`'s latency and CPU time per image (CPU time is the
# steadier figure on a loaded machine), base and branch run back to back in each round; then
# the ViT-S attention op (L 1370, 6 heads) per variant. Prints the CPU model and load average.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
NEW_BIN="${NEW_BIN:-$root/build/fathom}" BASE_BIN="${BASE_BIN:-}" OPS_BIN="${OPS_BIN:-$root/build/test_backend_ops}"
MODEL="${MODEL:-$root/../shared/golden/vits-pth/model.pth}" ROUNDS="${ROUNDS:-3}" ITERS="${ITERS:-3}" THREADS="${THREADS:-2}"
[ -x "$NEW_BIN" ] || { echo "no fathom binary at $NEW_BIN (build it, or set NEW_BIN)" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "no ViT-S checkpoint at $MODEL (set MODEL)" >&2; exit 2; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "goal: attention faster than main's in every precision (whole net: fp32 >= OpenVINO f32, bf16 >= 1.1x and int8 >= 1.5x OpenVINO bf16: bench/compare_cpu_runtimes.sh)"
# "<latency ms> <cpu ms>" of one bench: bin, then env assignments and options
one() {
    local bin="$1" kern="$2"
    shift 2
    FATHOM_CPU_KERNEL="$kern" "$bin" bench -q -m "$MODEL" --threads "$THREADS" --iters "$ITERS" --warmup 1 "$@" 2>&1 |
        awk '/^latency:/ {l = $2} /^cpu time:/ {c = $3} END {print l, c}'
}
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-18s %22s %22s %7s\n' config "branch ms (cpu ms)" "base ms (cpu ms)" "cpu b/a"
for cfg in "fp32::--precision fp32" "bf16::--precision bf16" "int8::--weights int8" "bf16-avx512bf16:avx512bf16:--precision bf16"; do
    name="${cfg%%:*}" rest="${cfg#*:}" kern="${rest%%:*}" opts="${rest#*:}"
    : >"$tmp/n" && : >"$tmp/b"
    for _ in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        one "$NEW_BIN" "$kern" $opts >>"$tmp/n"
        # shellcheck disable=SC2086
        [ -z "$BASE_BIN" ] || one "$BASE_BIN" "$kern" $opts >>"$tmp/b"
    done
    nl=$(cut -d' ' -f1 "$tmp/n" | med) nc=$(cut -d' ' -f2 "$tmp/n" | med)
    if [ -n "$BASE_BIN" ]; then
        bl=$(cut -d' ' -f1 "$tmp/b" | med) bc=$(cut -d' ' -f2 "$tmp/b" | med)
        printf '%-18s %10s (%9s) %10s (%9s) %7.3f\n' "$name" "$nl" "$nc" "$bl" "$bc" "$(awk -v a="$bc" -v b="$nc" 'BEGIN {print a / b}')"
    else
        printf '%-18s %10s (%9s) %22s\n' "$name" "$nl" "$nc" "-"
    fi
done
if [ -x "$OPS_BIN" ]; then
    echo "attention op, ViT-S 518 (1 x 1370 tokens, 6 heads), 2 threads, best of runs:"
    for v in cpu-avx512 cpu-bf16-avx512bf16 cpu-bf16-amx cpu-int8-amx; do
        "$OPS_BIN" --perf -o attention -b "$v" 2>/dev/null | awk -v v="$v" '$2 == "1,1370,384,6" && $3 == v {printf "  %-20s %9s ms %8s GFLOP/s\n", v, $4, $6; exit}'
    done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
