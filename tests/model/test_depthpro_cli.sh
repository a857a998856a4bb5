#!/usr/bin/env bash
# test_depthpro_cli.sh - Depth Pro through the real binary, as a user runs it: `fathom info`
# on the official .pth and the HF folder; `fathom run` equal to the official depth (estimated
# focal length) and to the official depth with a given focal length (--focal-px); the EXIF
# 35 mm focal length (JPEG, PNG, WebP, TIFF) overriding the estimate, and absurd EXIF values
# (0, negative: ignored with a note; huge: used with a note, as the official code does);
# a folder with a 1x1 image, a very wide image and a broken file at batch 2 (the broken one
# fails with a message naming it, the others are written); focal length in the report;
# `fathom bench` on Depth Pro.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import numpy, PIL' 2>/dev/null || { echo "FAIL: /usr/bin/python3 needs numpy and PIL (scripts/install-deps.sh)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
G=$FATHOM_GOLDEN/../golden-depthpro/tiny

for m in "$G/model.pth" "$G/hf"; do
    "$FATHOM_BIN" info "$m" >"$T/info"
    for want in "Depth Pro" "405,096" "1536 x 1536" "focal length" "metric depth"; do
        grep -q "$want" "$T/info" || { echo "FAIL: fathom info $m lacks '$want'"; cat "$T/info"; exit 1; }
    done
done

"$FATHOM_BIN" run -m "$G/model.pth" -o "$T/est" -f npy,npz,exr,png16 --report "$T/est.json" "$G/input.png"
"$FATHOM_BIN" run -m "$G/hf" -o "$T/fpx" --focal-px 95.43423027243584 --report "$T/fpx.json" "$G/input.png"

# JPEGs with EXIF FocalLengthIn35mmFilm (tag 0xA405 in the Exif IFD): 24 mm, 0, -5, huge, none;
# the same tag in a PNG eXIf chunk, a WebP EXIF chunk and a TIFF's Exif IFD (Pillow writes them)
$PY - "$G/input.png" "$T/exif" <<'PY'
import sys, os
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
im = Image.open(src).convert("RGB")
for name, v in [("f24", 24), ("f0", 0), ("fneg", -5), ("fhuge", 65535), ("none", None)]:
    ex = Image.Exif()
    if v is not None:
        ex[0x8769] = {0xA405: v}
    im.save(f"{out}/{name}.jpg", quality=95, exif=ex.tobytes())
    if name in ("f24", "fneg"):
        im.save(f"{out}/{name}_png.png", exif=ex.tobytes())
        im.save(f"{out}/{name}_tif.tiff", exif=ex.tobytes())
    if name in ("f24", "f0"):
        im.save(f"{out}/{name}_webp.webp", lossless=True, exif=ex.tobytes())
PY
"$FATHOM_BIN" run -m "$G/model.pth" -o "$T/exif_out" --report "$T/exif.json" "$T/exif" 2>"$T/exif.err"
for bad in "f0.jpg: EXIF FocalLengthIn35mmFilm 0 ignored" "fneg_png.png: EXIF FocalLengthIn35mmFilm -5 ignored" \
           "f0_webp.webp: EXIF FocalLengthIn35mmFilm 0 ignored" "fneg_tif.tiff: EXIF FocalLengthIn35mmFilm -5 ignored" "fhuge.jpg: EXIF FocalLengthIn35mmFilm 65535 mm is implausible"; do
    grep -q "$bad" "$T/exif.err" || { echo "FAIL: no note '$bad'"; cat "$T/exif.err"; exit 1; }
done
"$FATHOM_BIN" run -m "$G/model.pth" -o "$T/exif_given" --focal-px 95.43423027243584 "$T/exif/none.jpg"

# edge inputs at batch 2: 1x1, very wide, broken
mkdir "$T/edge"
$PY -c "
from PIL import Image
Image.new('RGB', (1, 1), (200, 30, 90)).save('$T/edge/one.png')
Image.linear_gradient('L').resize((4000, 3)).convert('RGB').save('$T/edge/wide.png')
"
head -c 300 "$G/input.png" >"$T/edge/broken.png"
if "$FATHOM_BIN" run -m "$G/hf" -o "$T/edge_out" --batch 2 --report "$T/edge.json" "$T/edge" 2>"$T/edge.err"; then
    rc=0; else rc=$?; fi
grep -q "broken.png" "$T/edge.err" "$T/edge.json" || { echo "FAIL: broken.png not named (rc $rc)"; cat "$T/edge.err"; exit 1; }

$PY - "$T" "$G" <<'PY'
import sys, json, numpy as np
t, g = sys.argv[1], sys.argv[2]
def close(out, ref, what):
    m = np.abs(ref).max(); e = np.abs(out - ref)
    assert out.shape == ref.shape, (what, out.shape, ref.shape)
    # golden-depthpro README tolerances: max 1e-4, rms 1e-5 of max|ref|
    assert e.max() <= 1e-4 * m and np.sqrt((e ** 2).mean()) <= 1e-5 * m, (what, e.max() / m)
def items(p):
    return {i["source"].split("/")[-1]: i for i in json.load(open(p))["items"]}
fl = np.load(g + "/focallength_px.npy")
est = np.load(t + "/est/input.npy")
close(est, np.load(g + "/depth.npy"), "estimated focal")
assert np.array_equal(np.load(t + "/est/input.npz")["depth"], est), "npz depth is not the raw metres"
close(np.load(t + "/fpx/input.npy"), np.load(g + "/depth_fpx.npy"), "--focal-px")
i = items(t + "/est.json")["input.png"]
assert abs(i["focal_px"] - fl[0]) <= 1e-4 * fl[0] and i["focal_source"] == "estimated", i
fov = float(np.load(g + "/fov_deg.npy")[0])
assert abs(i["fov_deg"] - fov) <= 1e-4 * fov, (i["fov_deg"], fov)
# the focal length and FOV travel with the depth: npz arrays, PNG text, EXR attributes
z = np.load(t + "/est/input.npz")
assert z["focallength_px"].dtype == np.float64 and z["focallength_px"][0] == i["focal_px"], z["focallength_px"]
assert z["fov_deg"].dtype == np.float32 and abs(z["fov_deg"][0] - fov) <= 1e-4 * fov, z["fov_deg"]
from PIL import Image
txt = Image.open(t + "/est/input.png").text
assert float(txt["focal_px"]) == i["focal_px"] and abs(float(txt["fov_deg"]) - fov) <= 1e-4 * fov, txt
import struct
exr = open(t + "/est/input.exr", "rb").read()
for name, want in ((b"focal_px", i["focal_px"]), (b"fov_deg", fov)):
    k = exr.index(name + b"\0double\0") + len(name) + 8
    assert struct.unpack("<i", exr[k:k + 4])[0] == 8
    v = struct.unpack("<d", exr[k + 4:k + 12])[0]
    assert abs(v - want) <= 1e-4 * abs(want), (name, v, want)
i = items(t + "/fpx.json")["input.png"]
assert abs(i["focal_px"] - fl[1]) <= 1e-9 * fl[1] and i["focal_source"] == "given", i

ex = items(t + "/exif.json")
for f in ("f24.jpg", "f24_png.png", "f24_webp.webp", "f24_tif.tiff"):
    assert ex[f]["focal_source"] == "exif" and abs(ex[f]["focal_px"] - fl[1]) <= 1e-9 * fl[1], (f, ex[f])
# lossless containers keep the golden pixels: the same depth as --focal-px on input.png
for f in ("f24_png", "f24_webp", "f24_tif"):
    assert np.array_equal(np.load(t + "/exif_out/" + f + ".npy"), np.load(t + "/fpx/input.npy")), f
assert np.array_equal(np.load(t + "/exif_out/f24.npy"), np.load(t + "/exif_given/none.npy")), "EXIF 24 mm != --focal-px"
none = np.load(t + "/exif_out/none.npy")
for bad in ("fneg_png.png", "fneg_tif.tiff", "f0_webp.webp"):  # ignored, as the official code does
    assert ex[bad]["focal_source"] == "estimated", ex[bad]
    assert np.array_equal(np.load(t + "/exif_out/" + bad.split(".")[0] + ".npy"), est), bad
for bad in ("f0", "fneg"):
    assert ex[bad + ".jpg"]["focal_source"] == "estimated", ex[bad + ".jpg"]
    assert np.array_equal(np.load(t + "/exif_out/" + bad + ".npy"), none), bad
huge = np.load(t + "/exif_out/fhuge.npy")
assert ex["fhuge.jpg"]["focal_source"] == "exif" and np.isfinite(huge).all() and huge.max() <= 1e4, huge.max()

ed = items(t + "/edge.json")
assert ed["broken.png"]["state"] == "failed" and "broken.png" in ed["broken.png"]["error"], ed["broken.png"]
one = np.load(t + "/edge_out/one.npy"); wide = np.load(t + "/edge_out/wide.npy")
assert one.shape == (1, 1) and wide.shape == (3, 4000), (one.shape, wide.shape)
for a in (one, wide):
    assert np.isfinite(a).all() and a.min() > 0 and a.max() <= 1e4
print("Depth Pro CLI: info, parity (estimated and given focal), EXIF override, absurd EXIF, edge inputs: OK")
PY

# fathom bench takes Depth Pro: the fixed 1536^2 network whatever the image size, fp32 on the CPU
"$FATHOM_BIN" bench -m "$G/hf" --height 100 --width 140 --iters 1 --warmup 0 --threads 2 >"$T/bench"
for want in "model depth-pro" "image 100x140 -> network 1536x1536" "precision fp32" "images/s" "GFLOP/s achieved" "peak RSS"; do
    grep -q "$want" "$T/bench" || { echo "FAIL: fathom bench on Depth Pro lacks '$want'"; cat "$T/bench"; exit 1; }
done
rc=0
"$FATHOM_BIN" bench -m "$G/hf" --precision bf16 --iters 1 --warmup 0 >/dev/null 2>"$T/bench.err" || rc=$?
[ "$rc" != 0 ] && grep -q "fp32 only" "$T/bench.err" ||
    { echo "FAIL: bench --precision bf16 on Depth Pro (CPU): rc $rc"; cat "$T/bench.err"; exit 1; }
# quantized weights are refused, never silently run in fp32
for wf in int8 q4; do
    rc=0
    "$FATHOM_BIN" run -m "$G/hf" --weights $wf "$G/input.png" -o "$T/q_$wf" >/dev/null 2>"$T/q.err" || rc=$?
    [ "$rc" != 0 ] && grep -q "float weights only" "$T/q.err" ||
        { echo "FAIL: run --weights $wf on Depth Pro: rc $rc"; cat "$T/q.err"; exit 1; }
done
echo "Depth Pro bench: OK"
