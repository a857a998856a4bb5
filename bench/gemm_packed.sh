#!/bin/sh
# bench/gemm_packed.sh - the packed (bf16 / int8 / q4) GEMMs of a ViT-S 518 encoder on AMX:
# GFLOP/s and % of AMX peak per shape, best of ROUNDS interleaved rounds, optionally against
# a baseline build (BASE=path/to/its test_backend_ops) in the same minutes.
#   bench/gemm_packed.sh [BUILD_DIR]     (default build; THREADS 2, ROUNDS 3, VARIANTS amx)
# Peak: PEAK_BF16 GFLOP/s per core (default 3169: one 16x16x32 tdpbf16ps per 5.17 ns, measured
# on the round-8 Sapphire Rapids host); int8 counts twice that (tdpbssd does 2x the MACs).
set -eu
BUILD=${1:-build}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-amx}
PEAK_BF16=${PEAK_BF16:-3169}
NEW=$BUILD/test_backend_ops
[ -x "$NEW" ] || { echo "no $NEW: build the test_backend_ops target first" >&2; exit 2; }
[ -z "${BASE:-}" ] || [ -x "$BASE" ] || { echo "BASE=$BASE is not an executable" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for side in new base; do
        bin=$NEW
        [ "$side" = base ] && { [ -n "${BASE:-}" ] || continue; bin=$BASE; }
        TBO_THREADS=$THREADS "$bin" --perf -o linear -b "$VARIANTS" 2>/dev/null |
            grep -E '^(ln_)?linear(_residual)? 13(69|70),' | sed "s/^/$side /" >>"$out/runs"
    done
    r=$((r + 1))
done
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); load: $(cut -d' ' -f1-3 /proc/loadavg); $THREADS threads"
echo "goal: >= 60 % of AMX peak (bf16 $PEAK_BF16 GFLOP/s a core, int8 twice) on qkv / fc1 / fc2 / proj"
awk -v th="$THREADS" -v pk="$PEAK_BF16" '
function shape(s) {
    if (s ~ /^linear 1370,1152,384/) return "qkv";
    if (s ~ /^ln_linear 1370,1152,384/) return "norm1+qkv";
    if (s ~ /^linear 1370,1536,384/) return "fc1+gelu";
    if (s ~ /^ln_linear 1370,1536,384/) return "norm2+fc1";
    if (s ~ /^linear_residual 1370,384,1536/) return "fc2+res";
    if (s ~ /^linear_residual 1370,384,384/) return "proj+res";
    if (s ~ /^linear 1369,384,588/) return "patch";
    return "";
}
{
    side = $1; sh = shape($2 " " $3); if (sh == "") next;
    key = sh SUBSEP $4; ms = $5 + 0; gf = $7 + 0;
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if (!((side, key) in best) || ms < best[side, key]) { best[side, key] = ms; gfl[side, key] = gf }
}
END {
    printf "%-10s %-14s %9s %9s %7s", "shape", "variant", "ms", "GFLOP/s", "%peak";
    if (("base", order[1]) in best) printf " %9s %7s", "base ms", "ratio";
    printf "\n";
    for (i = 1; i <= n; i++) {
        split(order[i], p, SUBSEP); k = order[i];
        peak = pk * th * (p[2] ~ /int8/ ? 2 : 1);
        printf "%-10s %-14s %9.3f %9.0f %6.0f%%", p[1], p[2], best["new", k], gfl["new", k], 100 * gfl["new", k] / peak;
        if (("base", k) in best) printf " %9.3f %7.2f", best["base", k], best["base", k] / best["new", k];
        printf "\n";
    }
}' "$out/runs"
