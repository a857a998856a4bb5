#!/usr/bin/env bash
# compare_cpu_runtimes.sh - fathom vs ONNX Runtime vs OpenVINO on the CPU, same weights, same
# machine, interleaved rounds (issue 13).
#
# Requirements:
#   DA2_REPO=/path/to/Depth-Anything-V2    official checkout, fetched at bench time into a temp
#                                          dir (never committed); its code makes the weights and
#                                          the ONNX export
#   apt-get install python3-torch python3-torchvision python3-opencv   (Debian torch, export)
#   a Release build of fathom (FATHOM_BIN, default build/fathom)
# The script makes a venv (VENV, default $TMPDIR/fathom-cpu-runtimes-venv) and installs
# onnxruntime, openvino and numpy from PyPI into it when missing.
#
# Every model has the official class's random weights (da2_torch.py --make-weights); fathom
# reads that .pth, ONNX Runtime and OpenVINO its ONNX export (fixed shape per batch).
# Environment: ENCODERS ("vits"), BATCHES ("1 4"), THREADS (2), SIZE (518), ROUNDS (3),
# ITERS (10), WARMUP (2), FATHOM_PRECISIONS ("fp32 bf16 int8 q4": int8, q4 are --weights),
# OV_PRECISIONS ("f32 bf16").
# Each round runs every runtime once, in turn, as a fresh process; each line records the
# 1-minute load average before it ran. Ends with min-max per runtime and the error checks:
# OpenVINO bf16 vs ONNX Runtime fp32 on one random input, fathom bf16, int8 and q4 vs fathom fp32
# on a test image (each reduced precision against its own runtime's fp32).
# fathom q4 is also bf16 activations on 4-bit weights (docs/precision.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
: "${DA2_REPO:?set DA2_REPO to a checkout of DepthAnything/Depth-Anything-V2}"
FATHOM_BIN="${FATHOM_BIN:-$root/build/fathom}"
ENCODERS="${ENCODERS:-vits}" BATCHES="${BATCHES:-1 4}" THREADS="${THREADS:-2}" SIZE="${SIZE:-518}"
ROUNDS="${ROUNDS:-3}" ITERS="${ITERS:-10}" WARMUP="${WARMUP:-2}"
FATHOM_PRECISIONS="${FATHOM_PRECISIONS:-fp32 bf16 int8 q4}" OV_PRECISIONS="${OV_PRECISIONS:-f32 bf16}"
SYSPY=/usr/bin/python3
WORK="${WORK:-${TMPDIR:-/tmp}/fathom-cpu-runtimes}"
VENV="${VENV:-${TMPDIR:-/tmp}/fathom-cpu-runtimes-venv}"
IMAGE="${IMAGE:-$root/../shared/golden/tiny-hf/input.png}"

[ -x "$FATHOM_BIN" ] || { echo "no fathom binary at $FATHOM_BIN (build it, or set FATHOM_BIN)" >&2; exit 2; }
[ -d "$DA2_REPO/depth_anything_v2" ] || { echo "$DA2_REPO has no depth_anything_v2/" >&2; exit 2; }
"$SYSPY" -c 'import torch, torchvision, cv2' 2>/dev/null ||
    { echo "needs python3-torch, python3-torchvision and python3-opencv (apt-get install ...)" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import onnxruntime, openvino, numpy' 2>/dev/null; then
    "$SYSPY" -m venv "$VENV"
    "$VENV/bin/pip" install -q onnxruntime openvino numpy
fi
mkdir -p "$WORK"
load() { cut -d' ' -f1 /proc/loadavg; }
fargs() { case "$1" in int8|q4) echo "--weights $1" ;; *) echo "--precision $1" ;; esac; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "flags:   $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512f|avx512_bf16|avx512_vnni|amx_bf16|amx_int8)$' | tr '\n' ' ')"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$VENV/bin/python" -c 'import onnxruntime as o, openvino as v; print("onnxruntime", o.__version__, "openvino", v.__version__)')"

results="$WORK/results.txt"
: > "$results"
for enc in $ENCODERS; do
    w="$WORK/$enc.pth"
    [ -f "$w" ] || "$SYSPY" "$here/da2_torch.py" --repo "$DA2_REPO" --encoder "$enc" --make-weights "$w" >/dev/null
    for b in $BATCHES; do
        onnx="$WORK/$enc-b$b-$SIZE.onnx"
        [ -f "$onnx" ] || "$SYSPY" "$here/da2_onnx_export.py" --repo "$DA2_REPO" --encoder "$enc" \
            --weights "$w" --batch "$b" --size "$SIZE" --out "$onnx" >/dev/null 2>&1
        for r in $(seq "$ROUNDS"); do
            for p in $FATHOM_PRECISIONS; do
                l="$(load)"
                ms="$(OMP_NUM_THREADS="$THREADS" "$FATHOM_BIN" bench --model "$w" --device cpu \
                        $(fargs "$p") --input-size "$SIZE" --batch "$b" --threads "$THREADS" \
                        --iters "$ITERS" --warmup "$WARMUP" |
                      sed -n 's/^latency: *\([0-9.]*\) ms per image.*/\1/p')"
                echo "$enc b$b round $r fathom-$p $ms load $l" | tee -a "$results"
            done
            l="$(load)"
            ms="$("$VENV/bin/python" "$here/cpu_runtimes.py" time --onnx "$onnx" --runtime ort \
                    --threads "$THREADS" --batch "$b" --size "$SIZE" --iters "$ITERS" --warmup "$WARMUP" |
                  sed -n 's/.*: \([0-9.]*\) ms per image.*/\1/p')"
            echo "$enc b$b round $r onnxruntime-f32 $ms load $l" | tee -a "$results"
            for p in $OV_PRECISIONS; do
                l="$(load)"
                ms="$("$VENV/bin/python" "$here/cpu_runtimes.py" time --onnx "$onnx" --runtime ov \
                        --precision "$p" --threads "$THREADS" --batch "$b" --size "$SIZE" \
                        --iters "$ITERS" --warmup "$WARMUP" |
                      sed -n 's/.*: \([0-9.]*\) ms per image.*/\1/p')"
                echo "$enc b$b round $r openvino-$p $ms load $l" | tee -a "$results"
            done
        done
    done
    onnx="$WORK/$enc-b1-$SIZE.onnx"
    if [ -f "$onnx" ]; then
        "$VENV/bin/python" "$here/cpu_runtimes.py" error --onnx "$onnx" --threads "$THREADS" \
            --batch 1 --size "$SIZE" | sed "s/^/$enc error: /"
    fi
    for p in fp32 $FATHOM_PRECISIONS; do
        rm -rf "$WORK/run-$enc-$p" # fathom never replaces outputs it has no record of writing
        "$FATHOM_BIN" run --model "$w" --device cpu $(fargs "$p") --threads "$THREADS" \
            --input-size "$SIZE" --overwrite -o "$WORK/run-$enc-$p" "$IMAGE" >/dev/null 2>&1
    done
    stem="$(basename "${IMAGE%.*}")"
    for p in $FATHOM_PRECISIONS; do
        [ "$p" = fp32 ] && continue
        "$VENV/bin/python" - "$WORK/run-$enc-fp32/$stem.npy" "$WORK/run-$enc-$p/$stem.npy" "$p" <<'PY' | sed "s/^/$enc error: /"
import sys, numpy as np
ref, out = np.load(sys.argv[1]), np.load(sys.argv[2])
d, m = np.abs(out - ref), np.abs(ref).max()
print(f"fathom {sys.argv[3]} vs fathom fp32: max|d|/max|ref| {d.max() / m:.3g}, rms/max|ref| {np.sqrt((d * d).mean()) / m:.3g}")
PY
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "summary (ms per image, min-max over rounds; load = 1-min average range):"
awk '{ k = $1 " " $2 " " $5; v = $6 + 0; l = $8 + 0
       if (!(k in lo) || v < lo[k]) lo[k] = v; if (v > hi[k]) hi[k] = v
       if (!(k in llo) || l < llo[k]) llo[k] = l; if (l > lhi[k]) lhi[k] = l; order[k] = NR }
     END { for (k in order) printf "  %-32s %8.1f - %8.1f   load %.2f-%.2f\n", k, lo[k], hi[k], llo[k], lhi[k] }' \
    "$results" | sort
