#!/usr/bin/env bash
# test_cpu_share_cli.sh - `fathom run` with packed weights (--weights q4, --precision bf16)
# and several engines of one model: two CPU engines (--device cpu,cpu) and a chunked video
# (--chunks 2) share the model's one packed set, give the fp32 copy back (the report's
# model.memory), and write bit for bit the depth of a one-engine run. fp32 releases nothing.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_model
need_ffmpeg
need_numpy fail

for i in 1 2 3; do
  ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x120" -vf "hue=h=$((i * 50))" -frames:v 1 "$T/in$i.png"
done
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x120:rate=10" -frames:v 8 -c:v ffv1 "$T/v.mkv"

# the same NPY/NPZ arrays under two folders (npz archives differ in their zip timestamps)
same() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, pathlib, numpy as np
a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def outs(d):  # the outputs, not a chunked run's working folder (.fathom-chunks)
    return sorted(p.relative_to(d) for p in d.rglob("*.np[yz]") if not p.relative_to(d).parts[0].startswith("."))
fa, fb = outs(a), outs(b)
assert fa and fa == fb, (fa, fb)
for f in fa:
    x, y = np.load(a / f), np.load(b / f)
    if f.suffix == ".npz":
        assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files), f
    else:
        assert np.array_equal(x, y), f
PYEOF
}
# the report's fp32 bytes released, as a fraction of the fp32 weights (stdout)
released() {
  "$PY" -c "import json, sys; m = json.load(open(sys.argv[1]))['run']['model']['memory']; \
print(m['fp32_released_bytes'] / m['fp32_weight_bytes']); assert m['rss_after_load_bytes'] > 0" "$1"
}

for fmt in "--weights q4" "--precision bf16"; do
  tag=${fmt##* }
  # shellcheck disable=SC2086
  run --model "$MODEL" $fmt --threads 1 -o "$T/$tag-1" --report "$T/$tag-1.json" "$T"/in*.png
  check "$tag, one engine: exits 0" test "$RC" -eq 0
  # shellcheck disable=SC2086
  run --model "$MODEL" $fmt --threads 1 --device cpu,cpu -o "$T/$tag-2" --report "$T/$tag-2.json" "$T"/in*.png
  check "$tag, two engines: exits 0" test "$RC" -eq 0
  check "$tag, two engines: the same depth as one" same "$T/$tag-1" "$T/$tag-2"
  r=$(released "$T/$tag-2.json")
  echo "     $tag: fp32 released $r of the weights (tiny model: pos-embed and norms stay)"
  check "$tag, two engines: the fp32 copy went back" "$PY" -c "import sys; sys.exit(not $r > 0.5)"
  # shellcheck disable=SC2086
  run --model "$MODEL" $fmt --threads 1 -f npz -o "$T/$tag-v1" "$T/v.mkv"
  check "$tag, video, one engine: exits 0" test "$RC" -eq 0
  # shellcheck disable=SC2086
  run --model "$MODEL" $fmt --threads 1 --device cpu,cpu --chunks 2 -f npz -o "$T/$tag-v2" "$T/v.mkv"
  check "$tag, video in 2 chunks on 2 engines: exits 0" test "$RC" -eq 0
  check "$tag, video in 2 chunks: the same depth as one engine" same "$T/$tag-v1" "$T/$tag-v2"
done

run --model "$MODEL" --threads 1 --device cpu,cpu -o "$T/fp32" --report "$T/fp32.json" "$T"/in*.png
check "fp32, two engines: exits 0" test "$RC" -eq 0
check "fp32: nothing released" test "$(released "$T/fp32.json")" = 0.0

finish
