#!/usr/bin/env bash
# test_metric_cli.sh - relative vs metric through the real binary: the metric head from
# config.json matches the golden depth; --max-depth scales it exactly (sigmoid * max_depth and
# the bilinear resize are linear in max_depth); --metric turns an official .pth into a metric
# model whose output stays within (0, max_depth).
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || { echo "FAIL: /usr/bin/python3 has no numpy (scripts/install-deps.sh)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
G=$FATHOM_GOLDEN/tiny-hf-metric
[ -f "$G/model/model.safetensors" ] || { echo "SKIP: $G missing (../shared/golden or tests/data/golden)"; exit 77; }
[ -f "$FATHOM_GOLDEN/vits-pth/model.pth" ] || { echo "SKIP: vits-pth not in this copy of the golden data ($FATHOM_GOLDEN; the full set is ../shared/golden)"; exit 77; }

"$FATHOM_BIN" run --model "$G/model" -o "$T/cfg" "$G/input.png"
"$FATHOM_BIN" run --model "$G/model" --max-depth 10 -o "$T/half" "$G/input.png"
"$FATHOM_BIN" run --model "$FATHOM_GOLDEN/vits-pth/model.pth" --input-size 140 -o "$T/rel" "$FATHOM_GOLDEN/vits-pth/input.png"
"$FATHOM_BIN" run --model "$FATHOM_GOLDEN/vits-pth/model.pth" --input-size 140 --metric --max-depth 80 \
    -o "$T/met" "$FATHOM_GOLDEN/vits-pth/input.png"
if "$FATHOM_BIN" run --model "$G/model" --max-depth 0 -o "$T/bad" "$G/input.png" 2>"$T/err"; then
    echo "FAIL: --max-depth 0 accepted"; exit 1
elif [ $? -ne 2 ] || ! grep -q -- '--max-depth' "$T/err"; then
    echo "FAIL: --max-depth 0: want exit 2 naming the flag"; cat "$T/err"; exit 1
fi

$PY - "$T" "$G" <<'PY'
import sys, numpy as np
t, g = sys.argv[1], sys.argv[2]
ref = np.load(g + "/depth.npy"); cfg = np.load(t + "/cfg/input.npy"); half = np.load(t + "/half/input.npy")
m = np.abs(ref).max()
# golden README tolerances for float32 engines: max 1e-4, rms 1e-5 of max|ref|
e = np.abs(cfg - ref); assert e.max() <= 1e-4 * m and np.sqrt((e**2).mean()) <= 1e-5 * m, e.max()
e = np.abs(half - ref / 2); assert e.max() <= 1e-4 * m, ("max-depth 10 is not half of 20", e.max())
rel = np.load(t + "/rel/input.npy"); met = np.load(t + "/met/input.npy")
assert met.shape == rel.shape == (150, 200)
assert met.min() > 0 and met.max() < 80, (met.min(), met.max())
assert np.abs(met - rel).max() > 1.0, "--metric changed nothing"
print("metric from config, --max-depth scaling and --metric on a .pth: OK")
PY
