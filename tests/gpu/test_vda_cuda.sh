#!/usr/bin/env bash
# test_vda_cuda.sh - Video Depth Anything on the CUDA backend through the real binary, against
# every ../shared/golden-vda case (the official PyTorch outputs): the case's frames in a
# lossless video, `fathom run --device cuda -f npy`, offline and (where the case has it)
# --streaming. fp32: the golden README tolerance (max|d| <= 1e-4, rms <= 1e-5 of max|ref|);
# bf16 and fp16: finite everywhere and the sanity bound of tests/gpu/test_cuda_engine.c (max
# 1e-1, rms 2e-2 of max|ref|; GEMM inputs are rounded to 16 bits, a wrong layout is O(1)).
# SKIP (77) without a CUDA build or device: the CPU path has its own tests (tests/vda/).
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "FAIL: /usr/bin/python3 has no numpy (scripts/install-deps.sh)"; exit 1; }
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
GV=$FATHOM_GOLDEN/../golden-vda
[ -d "$GV" ] || { echo "SKIP: no golden-vda"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

mkvideo() { # frames.npy out.mkv
    local size
    size=$($PY -c "import numpy as np; a=np.load('$1'); print(f'{a.shape[2]}x{a.shape[1]}')")
    $PY -c "import sys, numpy as np; sys.stdout.buffer.write(np.ascontiguousarray(np.load('$1')).tobytes())" |
        ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgb24 -s "$size" -r 10 -i - -c:v ffv1 -pix_fmt bgr0 "$2"
}

C=$GV/tiny-offline
mkvideo "$C/frames.npy" "$T/probe.mkv"
if ! "$FATHOM_BIN" run -m "$C/model.pth" --input-size 28 --device cuda --max-frames 1 -f npy \
        -o "$T/probe" "$T/probe.mkv" 2>"$T/err"; then
    if grep -Eq "no NVIDIA driver found|no CUDA device found|built without CUDA|could not be loaded" "$T/err"; then
        echo "SKIP: no usable CUDA device: $(head -1 "$T/err")"; exit 77
    fi
    cat "$T/err"; echo "FAIL: VDA on --device cuda"; exit 1
fi

for case in "$GV"/*/; do
    [ -f "$case/case.json" ] || continue
    c=$(basename "$case")
    isz=$($PY -c "import json; print(json.load(open('$case/case.json'))['input_size'])")
    mkvideo "$case/frames.npy" "$T/$c.mkv"
    for prec in fp32 bf16 fp16; do
        modes="off"
        [ -f "$case/depth_stream.npy" ] && modes="off str"
        for mode in $modes; do
            extra=(); ref=depth.npy
            [ "$mode" = str ] && extra=(--streaming) && ref=depth_stream.npy
            out=$T/$c-$prec-$mode
            "$FATHOM_BIN" run -m "$case/model.pth" --input-size "$isz" --device cuda --precision "$prec" \
                "${extra[@]}" -f npy -o "$out" "$T/$c.mkv" 2>"$T/err" || { cat "$T/err"; echo "FAIL: $c $prec $mode"; exit 1; }
            $PY - "$out/$c" "$case/$ref" "$prec" "$c $prec $mode" <<'PY'
import glob, sys, numpy as np
d, ref, prec, name = sys.argv[1:5]
ref = np.load(ref)
out = np.stack([np.load(f) for f in sorted(glob.glob(d + "/*.npy"))])
assert out.shape == ref.shape, (name, out.shape, ref.shape)
assert np.isfinite(out).all(), f"{name}: non-finite depth"
m = np.abs(ref).max(); e = np.abs(out - ref)
mx, rms = e.max() / m, np.sqrt((e ** 2).mean()) / m
lim = (1e-4, 1e-5) if prec == "fp32" else (1e-1, 2e-2)
assert mx <= lim[0] and rms <= lim[1], f"{name}: max {mx:.2e} rms {rms:.2e} of max|ref| (limits {lim})"
print(f"{name}: max|d| {mx:.2e}, rms {rms:.2e} of max|ref|: OK")
PY
        done
    done
done
echo OK
