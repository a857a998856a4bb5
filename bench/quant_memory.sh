#!/usr/bin/env bash
# quant_memory.sh - weight memory and error of the CPU's reduced formats (fp32, bf16, int8, q4)
# on full-size random weights (issue 13: "q4 cuts ViT-L weight memory >= 6x").
#
#   bench/quant_memory.sh                 (ENCODERS="vits vitb vitl" by default)
#
# Weights: $WORK/<enc>.pth, made once with the official class's random initialisation
# (bench/da2_torch.py --make-weights, needs DA2_REPO and Debian's python3-torch) unless
# already there (VITS / VITB / VITL may name existing files instead).
# Memory, per format: `fathom bench` at a tiny input (the pass does not matter): its RSS after
# load (the process as it then is: packed weights, fp32 leftovers, libraries) and the same
# less the RSS of the same process on the tiny golden model (libraries, scratch: ~48 MiB),
# i.e. the weights' own share; the ratio is fp32's over the format's. Peak RSS too (the fp32
# weights and the packed copy coexist while the engine is made).
# Error, per format: `fathom run` on IMAGE at 518 against the fp32 run, max and rms of
# |d| / max|ref| and / (max - min) of the fp32 output (ViT-B/L random weights: --metric, as
# their relative head is all zeros). Prints one line per (model, format), with load and CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
FATHOM_BIN="${FATHOM_BIN:-$root/build/fathom}" THREADS="${THREADS:-2}"
ENCODERS="${ENCODERS:-vits vitb vitl}" FORMATS="${FORMATS:-fp32 bf16 int8 q4}"
WORK="${WORK:-${TMPDIR:-/tmp}/fathom-quant-memory}"
IMAGE="${IMAGE:-$root/../shared/golden/tiny-hf/input.png}"
TINY="${TINY:-$root/../shared/golden/tiny-hf/model}"
SYSPY=/usr/bin/python3
[ -x "$FATHOM_BIN" ] || { echo "no fathom binary at $FATHOM_BIN (build it, or set FATHOM_BIN)" >&2; exit 2; }
mkdir -p "$WORK"
fargs() { case "$1" in int8|q4) echo "--weights $1" ;; *) echo "--precision $1" ;; esac; }
# "<rss after load MiB> <peak rss MiB>"
rss() {
    local out
    out=$(/usr/bin/time -f "peak %M" "$FATHOM_BIN" bench -m "$1" $(fargs "$2") --input-size 28 \
          --iters 1 --warmup 0 --threads "$THREADS" 2>&1)
    echo "$(sed -n 's/^resident: *\([0-9.]*\) MiB.*/\1/p' <<<"$out") $(awk '/^peak/ {printf "%.1f", $2 / 1024}' <<<"$out")"
}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
read -r base _ <<<"$(rss "$TINY" fp32)"
echo "baseline: $base MiB RSS (the same process on the tiny model: libraries, scratch)"
printf '%-5s %-5s %9s %9s %7s %9s %21s %21s %6s\n' model fmt "rss MiB" "wts MiB" "fp32/x" "peak MiB" \
    "err max/rms (max|r|)" "err max/rms (range)" load
for enc in $ENCODERS; do
    var=$(tr a-z A-Z <<<"$enc"); w="${!var:-$WORK/$enc.pth}"
    if [ ! -f "$w" ]; then
        : "${DA2_REPO:?$w missing: set DA2_REPO (official checkout) to make it, or $var to a weight file}"
        "$SYSPY" "$here/da2_torch.py" --repo "$DA2_REPO" --encoder "$enc" --make-weights "$w" >/dev/null
    fi
    extra=""; [ "$enc" != vits ] && extra="--metric"
    ref_w=""
    for f in $FORMATS; do
        read -r r peak <<<"$(rss "$w" "$f")"
        wt=$(awk -v r="$r" -v b="$base" 'BEGIN {printf "%.1f", r - b}')
        [ "$f" = fp32 ] && ref_w=$wt
        ratio=$(awk -v a="$ref_w" -v b="$wt" 'BEGIN {printf "%.2f", a / b}')
        "$FATHOM_BIN" run -m "$w" $extra $(fargs "$f") --threads "$THREADS" --input-size 518 --overwrite \
            -o "$WORK/run-$enc-$f" "$IMAGE" >/dev/null 2>&1
        err=$("$SYSPY" - "$WORK/run-$enc-fp32" "$WORK/run-$enc-$f" <<'PY'
import sys, glob, numpy as np
a = np.load(glob.glob(sys.argv[1] + "/*.npy")[0]).astype(np.float64)
b = np.load(glob.glob(sys.argv[2] + "/*.npy")[0]).astype(np.float64)
d = np.abs(a - b); m = np.abs(a).max(); r = a.max() - a.min()
print("%.1e/%.1e %.1e/%.1e" % (d.max() / m, np.sqrt((d * d).mean()) / m, d.max() / r, np.sqrt((d * d).mean()) / r))
PY
)
        printf '%-5s %-5s %9s %9s %7s %9s %21s %21s %6s\n' "$enc" "$f" "$r" "$wt" "$ratio" "$peak" \
            ${err% *} ${err#* } "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
