#!/usr/bin/env bash
# compare_pytorch.sh - fathom vs the official PyTorch Depth Anything V2 on the same weights.
#
# Requirements (nothing is installed by this script):
#   apt-get install python3-torch python3-torchvision python3-opencv   # Debian 12: torch 1.13
#   DA2_REPO=/path/to/Depth-Anything-V2                # official checkout (its code is imported,
#                                                      # never copied into this repository)
#   a Release build of fathom (FATHOM_BIN, default build/fathom)
# Real checkpoints cannot be downloaded everywhere, so by default both sides use random ViT-S
# weights made with the official class and torch.save (WEIGHTS, created when missing); any
# official .pth works too. Speed does not depend on the weight values.
#
# Environment: THREADS (2), SIZE (518: an SIZE x SIZE image), BATCH (1), ITERS (5),
# WARMUP (1), ENCODER (vits), PYTHON (/usr/bin/python3: Debian's packages are for the system
# interpreter, not a pyenv/venv one).
# Prints both per-image latencies, the ratio fathom / PyTorch, and OpenBLAS sgemm GFLOP/s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
: "${DA2_REPO:?set DA2_REPO to a checkout of DepthAnything/Depth-Anything-V2}"
FATHOM_BIN="${FATHOM_BIN:-$root/build/fathom}"
THREADS="${THREADS:-2}" SIZE="${SIZE:-518}" BATCH="${BATCH:-1}"
ITERS="${ITERS:-5}" WARMUP="${WARMUP:-1}" ENCODER="${ENCODER:-vits}"
PYTHON="${PYTHON:-/usr/bin/python3}"
WEIGHTS="${WEIGHTS:-${TMPDIR:-/tmp}/fathom-bench-$ENCODER.pth}"

[ -x "$FATHOM_BIN" ] || { echo "no fathom binary at $FATHOM_BIN (build it, or set FATHOM_BIN)" >&2; exit 2; }
[ -d "$DA2_REPO/depth_anything_v2" ] || { echo "$DA2_REPO has no depth_anything_v2/" >&2; exit 2; }
"$PYTHON" -c 'import torch, torchvision, cv2' 2>/dev/null ||
    { echo "needs python3-torch, python3-torchvision and python3-opencv (apt-get install python3-torch python3-torchvision python3-opencv)" >&2; exit 2; }

if [ ! -f "$WEIGHTS" ]; then
    "$PYTHON" "$here/da2_torch.py" --repo "$DA2_REPO" --encoder "$ENCODER" --make-weights "$WEIGHTS"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

out="$(OMP_NUM_THREADS="$THREADS" "$FATHOM_BIN" bench --model "$WEIGHTS" --device cpu \
        --input-size "$SIZE" --batch "$BATCH" --threads "$THREADS" --iters "$ITERS" --warmup "$WARMUP")"
echo "$out" | sed 's/^/fathom:  /'
f_ms="$(echo "$out" | sed -n 's/^latency: *\([0-9.]*\) ms per image.*/\1/p')"
f_cpu="$(echo "$out" | sed -n 's/^cpu time: *\([0-9.]*\) ms per image.*/\1/p')"

pt="$(OMP_NUM_THREADS="$THREADS" "$PYTHON" "$here/da2_torch.py" --repo "$DA2_REPO" --encoder "$ENCODER" \
        --weights "$WEIGHTS" --threads "$THREADS" --height "$SIZE" --width "$SIZE" \
        --batch "$BATCH" --iters "$ITERS" --warmup "$WARMUP")"
echo "$pt" | sed 's/^/pytorch: /'
p_ms="$(echo "$pt" | sed -n 's/.*: \([0-9.]*\) ms per image (.*/\1/p')"
p_cpu="$(echo "$pt" | sed -n 's/.*cpu time \([0-9.]*\) ms per image.*/\1/p')"

"$PYTHON" "$here/sgemm_gflops.py" "$THREADS" | sed 's/^/openblas: /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# wall time is what users see; CPU time (all threads) is steadier when other work shares the cores
awk -v f="$f_ms" -v p="$p_ms" -v fc="$f_cpu" -v pc="$p_cpu" 'BEGIN {
    printf "ratio fathom/pytorch: %.3f wall (fathom %.1f ms, pytorch %.1f ms per image)\n", f / p, f, p
    printf "ratio fathom/pytorch: %.3f cpu time (fathom %.1f ms, pytorch %.1f ms per image)\n", fc / pc, fc, pc }'
