#!/usr/bin/env bash
# gpu_compare.sh - fathom (CUDA backend) vs Hugging Face transformers
# DepthAnythingForDepthEstimation on one GPU: V2 Small and Large at 518 x 518, batch 1 and 32.
#
# Runs on the GPU machine from the repository root. Needs nvcc + cmake + the Debian deps of
# scripts/install-deps.sh for fathom, and python3 with torch (CUDA) and transformers for the
# HF side. Nothing is downloaded: both sides use the same random weights, written once by
# gpu_compare_hf.py --save as a Hugging Face folder (speed does not depend on weight values).
#
# Environment: BUILD (build-gpu), ENCODERS ("small large"), BATCHES ("1 32"), SIZE (518),
# ITERS (20), WARMUP (5), PYTHON (python3), PEAK_TFLOPS (dense fp16/bf16 peak for MFU; default
# from the GPU name: H100/H200 989.4), HF_MODES ("eager sdpa compile"), WEIGHTS_DIR (/tmp).
# Output: one line per run: impl, encoder, batch, images/s, ms per image, MFU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BUILD="${BUILD:-$root/build-gpu}" ENCODERS="${ENCODERS:-small large}" BATCHES="${BATCHES:-1 32}"
SIZE="${SIZE:-518}" ITERS="${ITERS:-20}" WARMUP="${WARMUP:-5}" PYTHON="${PYTHON:-python3}"
HF_MODES="${HF_MODES:-eager sdpa compile}" WEIGHTS_DIR="${WEIGHTS_DIR:-${TMPDIR:-/tmp}}"

command -v nvcc >/dev/null || { echo "gpu_compare: nvcc not found" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"

cmake -S "$root" -B "$BUILD" -DFATHOM_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fathom >/dev/null
FATHOM="$BUILD/fathom"

have_hf=1
"$PYTHON" -c 'import torch, transformers; assert torch.cuda.is_available()' 2>/dev/null || {
    echo "gpu_compare: no torch with CUDA + transformers for $PYTHON: HF side skipped" >&2; have_hf=0; }

gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo unknown)"
peak="${PEAK_TFLOPS:-}"
if [ -z "$peak" ]; then
    case "$gpu_name" in *H100*|*H200*) peak=989.4 ;; *A100*) peak=312 ;; *) peak=0 ;; esac
fi

for enc in $ENCODERS; do
    case "$enc" in small) gflop=115 ;; large) gflop=1304 ;; *) echo "unknown encoder $enc" >&2; exit 2 ;; esac
    wdir="$WEIGHTS_DIR/fathom-gpu-bench-$enc"
    if [ ! -f "$wdir/model.safetensors" ]; then
        [ "$have_hf" = 1 ] || { echo "gpu_compare: need transformers to write $wdir" >&2; exit 2; }
        "$PYTHON" "$here/gpu_compare_hf.py" --encoder "$enc" --save "$wdir"
    fi
    for b in $BATCHES; do
        out="$("$FATHOM" bench --model "$wdir" --device cuda --input-size "$SIZE" \
               --height "$SIZE" --width "$SIZE" --batch "$b" --iters "$ITERS" --warmup "$WARMUP")"
        ips="$(printf '%s\n' "$out" | sed -n 's/^throughput: *\([0-9.]*\).*/\1/p')"
        lat="$(printf '%s\n' "$out" | sed -n 's/^latency: *\([0-9.]*\) ms per image.*/\1/p')"
        mfu="$(awk -v i="$ips" -v g="$gflop" -v p="$peak" 'BEGIN{ if (p > 0) printf "%.4f", i * g * 1e9 / (p * 1e12); else print "n/a" }')"
        printf '{"impl": "fathom-cuda", "encoder": "%s", "batch": %s, "images_per_s": %s, "latency_ms_image": %s, "mfu": %s}\n' \
            "$enc" "$b" "${ips:-null}" "${lat:-null}" "$mfu"
        if [ "$have_hf" = 1 ]; then
            for mode in $HF_MODES; do
                case "$mode" in
                    eager) flags=(--attn eager) ;;
                    sdpa) flags=(--attn sdpa) ;;
                    compile) flags=(--attn sdpa --compile) ;;
                    *) echo "unknown HF mode $mode" >&2; exit 2 ;;
                esac
                "$PYTHON" "$here/gpu_compare_hf.py" --encoder "$enc" --size "$SIZE" --batch "$b" \
                    --iters "$ITERS" --warmup "$WARMUP" --peak-tflops "$peak" "${flags[@]}" ||
                    echo "{\"impl\": \"hf-$mode\", \"encoder\": \"$enc\", \"batch\": $b, \"error\": true}"
            done
        fi
    done
done
