#!/usr/bin/env bash
# quant_load.sh - loading quantized weights: from the fp32 checkpoint, quantized at load
# (`-m MODEL --weights F`), against a `fathom quantize` file (`-m FILE`), interleaved rounds.
#
#   bench/quant_load.sh            (VITS / VITL: fp32 checkpoints; FORMATS="q4 int8", ROUNDS=3)
#
# Per model and format: the file's size against the checkpoint's; the wall time of
# `fathom bench` with one tiny pass (load + engine + pass; the pass is ~the same both ways),
# median of ROUNDS, each round running both ways back to back; peak RSS; RSS after load.
# Prints the CPU model and the load average with each line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
FATHOM_BIN="${FATHOM_BIN:-$root/build/fathom}" THREADS="${THREADS:-2}" ROUNDS="${ROUNDS:-3}"
FORMATS="${FORMATS:-q4 int8}" WORK="${WORK:-${TMPDIR:-/tmp}/fathom-quant-load}"
VITS="${VITS:-/tmp/fathom-cpu-runtimes/vits.pth}" VITL="${VITL:-/tmp/cpuq4/vitl.pth}"
[ -x "$FATHOM_BIN" ] || { echo "no fathom binary at $FATHOM_BIN (build it, or set FATHOM_BIN)" >&2; exit 2; }
mkdir -p "$WORK"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
# "<wall s> <peak MiB> <rss after load MiB>" of one bench
one() {
    local out
    out=$(/usr/bin/time -f "wallpeak %e %M" "$FATHOM_BIN" bench "$@" --input-size 28 --iters 1 --warmup 0 \
          --threads "$THREADS" 2>&1) || { echo "fathom bench $* failed: $out" >&2; exit 1; }
    awk '/^wallpeak/ {w = $2; p = $3 / 1024} /^resident:/ {r = $2} END {printf "%s %.1f %s\n", w, p, r}' <<<"$out"
}
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '%-5s %-5s %10s %10s %9s %9s %7s %9s %9s %9s %9s %5s\n' model fmt "ckpt MiB" "file MiB" "load s" "file s" \
    speedup "peak MiB" "f.peak" "rss MiB" "f.rss" load
for enc in vits vitl; do
    var=$(tr a-z A-Z <<<"$enc"); w="${!var}"
    [ -f "$w" ] || { echo "$enc: $w missing (set $var to an fp32 checkpoint)"; continue; }
    for f in $FORMATS; do
        q="$WORK/$enc-$f.safetensors"
        "$FATHOM_BIN" quantize -q -m "$w" --weights "$f" --threads "$THREADS" -o "$q"
        : >"$WORK/a" && : >"$WORK/b"
        for _ in $(seq "$ROUNDS"); do
            one -m "$w" --weights "$f" >>"$WORK/a"
            one -m "$q" >>"$WORK/b"
        done
        ta=$(cut -d' ' -f1 "$WORK/a" | med) tb=$(cut -d' ' -f1 "$WORK/b" | med)
        printf '%-5s %-5s %10.1f %10.1f %9s %9s %6.2fx %9s %9s %9s %9s %5s\n' "$enc" "$f" \
            "$(stat -c %s "$w" | awk '{print $1 / 1048576}')" "$(stat -c %s "$q" | awk '{print $1 / 1048576}')" "$ta" "$tb" \
            "$(awk -v a="$ta" -v b="$tb" 'BEGIN {print a / b}')" "$(tail -1 "$WORK/a" | cut -d' ' -f2)" \
            "$(tail -1 "$WORK/b" | cut -d' ' -f2)" "$(tail -1 "$WORK/a" | cut -d' ' -f3)" \
            "$(tail -1 "$WORK/b" | cut -d' ' -f3)" "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
