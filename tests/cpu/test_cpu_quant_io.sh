#!/usr/bin/env bash
# test_cpu_quant_io.sh - `fathom quantize` and loading its files (src/model/quant_io*.c), real
# binary: for q4, int8 and bf16 (tiny golden model) and q4 (vits-pth), `run -m FILE` writes
# bit for bit the depth of quantizing at load; the file's format is detected (no flag) and a
# different one is refused; on CUDA it runs there (or, without a device, exits naming CUDA);
# `fathom info`, `bench`'s header and the run report agree on the file's format; the file carries the documented metadata; hostile files
# (truncated, a wrong dtype, a wrong shape, bad or missing metadata, an unknown version) are
# refused with a message naming the tensor or key, and nothing is written.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_model
need_numpy fail

IN="$CASE/input.png"
same() { cmp -s "$1" "$2"; }
for fmt in "--weights q4" "--weights int8" "--precision bf16"; do
  tag=${fmt##* }
  # shellcheck disable=SC2086
  "$FATHOM_BIN" quantize -m "$MODEL" $fmt -o "$T/$tag.safetensors" 2>"$T/err"
  check "quantize $tag: exits 0" test $? -eq 0
  # shellcheck disable=SC2086
  run -m "$MODEL" $fmt --threads 1 -o "$T/at-load-$tag" "$IN"
  run -m "$T/$tag.safetensors" --threads 1 -o "$T/file-$tag" "$IN"
  check "run -m $tag file (format detected): exits 0" test "$RC" -eq 0
  check "$tag: file depth == quantize-at-load depth, bit for bit" same "$T/at-load-$tag/input.npy" "$T/file-$tag/input.npy"
  # what runs, named alike by info, bench's header and the run report
  want=$([ "$tag" = bf16 ] && echo "precision bf16" || echo "precision $tag weights")
  "$FATHOM_BIN" info -m "$T/$tag.safetensors" >"$T/out" 2>"$T/err"
  check "info $tag file: dtype $tag" grep -Eq "^dtype: +$tag\$" "$T/out"
  bench -m "$T/$tag.safetensors" --input-size 28 --iters 1 --warmup 0 --threads 1
  check "bench $tag file: the header says '$want'" grep -q "$want," "$T/out"
  run -m "$T/$tag.safetensors" --threads 1 --report "$T/r-$tag.json" -o "$T/rep-$tag" "$IN"
  check "run $tag file: the report's device names the format" "$PY" -c "import json, sys
d = json.load(open('$T/r-$tag.json'))['run']['devices'][0]
sys.exit(not ((d['precision'], d['weights']) == ('bf16', 'default') if '$tag' == 'bf16' else d['weights'] == '$tag'))"
done
run -m "$T/q4.safetensors" --weights q4 --threads 1 -o "$T/file-q4b" "$IN"
check "q4 file with --weights q4: the same depth" same "$T/at-load-q4/input.npy" "$T/file-q4b/input.npy"
run -m "$T/q4.safetensors" --weights int8 --threads 1 -o "$T/wrong" "$IN"
check "q4 file with --weights int8: refused" test "$RC" -ne 0
check "q4 file with --weights int8: says the file is q4" grep -q "holds quantized weights (--weights q4)" "$T/err"
check "q4 file with --weights int8: nothing written" test ! -e "$T/wrong/input.npy"
run -m "$T/q4.safetensors" --device cuda --threads 1 -o "$T/cu" "$IN"
if [ "$RC" -eq 0 ]; then # a device: the file's q4 GEMMs on it, its convs dequantized, near the CPU's depth
  # the q4 golden bounds (max 0.8, rms 0.15 of max|ref|): attention and rounding differ
  check "q4 file on cuda: within the q4 bounds of the CPU q4 depth" "$PY" -c "import sys, numpy as np
a, b = np.load('$T/cu/input.npy').astype(np.float64), np.load('$T/file-q4/input.npy')
m = np.abs(b).max(); d = a - b
sys.exit(not (np.abs(d).max() <= 0.8 * m and np.sqrt((d * d).mean()) <= 0.15 * m))"
else
  echo "SKIP q4 file on cuda: no CUDA device or module"
  check "q4 file on cuda without a device: exits 2 naming CUDA" grep -qi "cuda" "$T/err"
fi

# the real ViT-S checkpoint (.pth): q4 round trip
VITS="$FATHOM_GOLDEN/vits-pth"
if [ -f "$VITS/model.pth" ]; then
  "$FATHOM_BIN" quantize -m "$VITS/model.pth" --weights q4 --threads 2 -o "$T/vits-q4.safetensors" 2>"$T/err"
  check "quantize vits q4: exits 0" test $? -eq 0
  run -m "$VITS/model.pth" --weights q4 --threads 2 -o "$T/vits-load" "$VITS/input.png"
  run -m "$T/vits-q4.safetensors" --threads 2 -o "$T/vits-file" "$VITS/input.png"
  check "vits q4: file depth == quantize-at-load depth" same "$T/vits-load/input.npy" "$T/vits-file/input.npy"
  rm -f "$T/vits-q4.safetensors"
fi

# the file as documented (docs/models.md): metadata, names, dtypes, shapes
"$PY" - "$T/q4.safetensors" "$MODEL/model.safetensors" >"$T/err" 2>&1 <<'PYEOF'
import sys, json, struct, hashlib
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); md = h.pop("__metadata__")
assert md["format"] == "fathom-quant" and md["fathom_quant_version"] == "1" and md["weights"] == "q4", md
assert md["layout"] == "fathom-cpu-1" and json.loads(md["config"])["backbone_config"]["out_indices"]
assert md["source_sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
packed = json.loads(md["packed"]); assert packed
for e in packed:
    q, s = h[e["name"] + ":q4"], h[e["name"] + ":q4_scale"]
    assert e["name"] not in h and q["dtype"] == "U8" and s["dtype"] == "BF16"
    assert q["shape"] == [e["Np"], e["Kp"] // 2] and s["shape"] == [e["Np"], e["Kp"] // 32], e
end = max(v["data_offsets"][1] for v in h.values())
assert len(b) == 8 + n + end and all(v["dtype"] in ("F32", "U8", "BF16") for v in h.values())
print("%d tensors, %d packed" % (len(h), len(packed)))
PYEOF
check "q4 file: documented metadata, names, dtypes and shapes" test $? -eq 0

# hostile files: FILE EDIT -> a copy of the q4 file with its header edited (python on h, md)
hostile() {
  "$PY" - "$T/q4.safetensors" "$T/bad.safetensors" "$1" <<'PYEOF'
import sys, json, struct
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); md = h["__metadata__"]
packed = json.loads(md["packed"]); first = packed[0]["name"]
exec(sys.argv[3])
md["packed"] = json.dumps(packed)
t = json.dumps(h).encode(); t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
PYEOF
}
bad_file() { # NAME EDIT MESSAGE-REGEX
  hostile "$2"
  rm -rf "$T/out-bad"
  run -m "$T/bad.safetensors" --threads 1 -o "$T/out-bad" "$IN"
  if [ "$RC" -ne 0 ] && grep -Eq "$3" "$T/err" && [ ! -e "$T/out-bad/input.npy" ]; then ok "$1: refused ($(tail -c 150 "$T/err" | tr -d '\n'))"
  else bad "$1: refused with /$3/ (exit $RC)"; fi
}
bad_file "wrong dtype" 'h[first + ":q4"]["dtype"] = "I8"' "tensor '.*:q4': dtype I8, expected U8"
bad_file "wrong scale dtype" 'h[first + ":q4_scale"]["dtype"] = "F16"' "tensor '.*:q4_scale': dtype F16, expected BF16"
bad_file "wrong shape" 'h[first + ":q4"]["shape"] = [h[first + ":q4"]["shape"][0] // 2, h[first + ":q4"]["shape"][1] * 2]' \
  "tensor '.*:q4': shape"
bad_file "fp32 shape off" 'packed[0]["shape"][0] += 1' "tensor '[^:']*': shape of .* values for a"
bad_file "padding off" 'packed[0]["Kp"] = packed[0]["K"] - 1' "tensor '[^:']*': bad N, K, Np or Kp"
bad_file "packed array missing" 'del h[first + ":q4_scale"]' "tensor '.*:q4_scale' is missing"
bad_file "unknown version" 'md["fathom_quant_version"] = "2"' "fathom_quant_version \"2\""
bad_file "other layout" 'md["layout"] = "fathom-cpu-0"' "layout \"fathom-cpu-0\""
bad_file "no config" 'del md["config"]' "metadata 'config'"
bad_file "bad packed list" 'md["packed"] = "{"; packed = "{"' "metadata 'packed'"
bad_file "kind not the file's" 'packed[0]["kind"] = "int8"' "packed as \"int8\" in a q4 file"
bad_file "unknown weights" 'md["weights"] = "q3"' "weights \"q3\""
head -c $(($(stat -c %s "$T/q4.safetensors") - 1000)) "$T/q4.safetensors" >"$T/trunc.safetensors"
run -m "$T/trunc.safetensors" --threads 1 -o "$T/out-trunc" "$IN"
check "truncated file: refused" test "$RC" -ne 0
check "truncated file: the message names a tensor" grep -q "tensor '" "$T/err"
check "truncated file: nothing written" test ! -e "$T/out-trunc/input.npy"

"$FATHOM_BIN" quantize -m "$MODEL" -o "$T/none.safetensors" 2>"$T/err"
check "quantize without a format: exit 2" test $? -eq 2
check "quantize without a format: nothing written" test ! -e "$T/none.safetensors"
"$FATHOM_BIN" quantize -m "$FATHOM_GOLDEN/../golden-vda/tiny-offline/model.pth" --weights q4 -o "$T/vda.safetensors" 2>"$T/err"
check "quantize a VDA model: refused, saying so" grep -q "Depth Anything V2 image models only" "$T/err"
finish
