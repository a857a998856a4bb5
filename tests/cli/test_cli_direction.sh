#!/usr/bin/env bash
# test_cli_direction.sh - near = bright/warm by default for relative (disparity) AND metric
# (meters) models, and --invert flips both, through the real binary: png16 codes read back with
# ffmpeg are compared with the raw npy of the same run (the nearest pixel must get the top code).
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
for c in tiny-hf tiny-hf-metric; do
  [ -f "$FATHOM_GOLDEN/$c/model/model.safetensors" ] || { echo "SKIP: $FATHOM_GOLDEN/$c missing (../shared)"; exit 77; }
done
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
for c in tiny-hf tiny-hf-metric; do
  for inv in "" --invert; do
    o="$T/$c$inv"
    "$FATHOM_BIN" run -q --device cpu --threads 1 -m "$FATHOM_GOLDEN/$c/model" $inv -f npy,png16,color \
      -o "$o" "$FATHOM_GOLDEN/$c/input.png" || { echo "FAIL $c $inv: run"; fails=$((fails + 1)); continue; }
    ffmpeg -loglevel error -y -i "$o/input.png" -f rawvideo -pix_fmt gray16le "$o/png16.raw"
    ffmpeg -loglevel error -y -i "$o/input.color.png" -f rawvideo -pix_fmt rgb24 "$o/color.raw"
    if /usr/bin/python3 - "$o" "$c" "$inv" <<'PYEOF'
import sys, numpy as np
o, case, inv = sys.argv[1], sys.argv[2], sys.argv[3] == "--invert"
d = np.load(o + "/input.npy").astype(np.float64)
q = np.fromfile(o + "/png16.raw", dtype="<u2").reshape(d.shape).astype(np.float64)
rgb = np.fromfile(o + "/color.raw", dtype=np.uint8).reshape(d.shape + (3,)).astype(np.float64)
metric = case.endswith("metric")
near = d.argmin() if metric else d.argmax()     # meters: small = near; disparity: large = near
far = d.argmax() if metric else d.argmin()
top, bottom = (0, 65535) if inv else (65535, 0)
assert q.flat[near] == top and q.flat[far] == bottom, (case, inv, q.flat[near], q.flat[far])
# codes follow nearness monotonically: correlation with -meters / disparity is +1 (or -1 inverted)
near_score = -d if metric else d
r = np.corrcoef(near_score.ravel(), q.ravel())[0, 1]
assert (r < -0.999) if inv else (r > 0.999), r
# spectral_r: near is warm (red > blue) unless inverted
rn, bn = rgb.reshape(-1, 3)[near][0], rgb.reshape(-1, 3)[near][2]
assert (bn > rn) if inv else (rn > bn), (case, inv, rgb.reshape(-1, 3)[near])
PYEOF
    then echo "ok   $c ${inv:-default}: near = $([ -n "$inv" ] && echo dark/cool || echo bright/warm)"
    else echo "FAIL $c ${inv:-default}"; fails=$((fails + 1)); fi
  done
done
echo "$fails failure(s)"
[ "$fails" -eq 0 ]
