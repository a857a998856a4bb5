#!/usr/bin/env bash
# test_vda_badweights.sh - damaged Video Depth Anything checkpoints, made with Debian's torch
# from the golden tiny model.pth in the official state_dict format: each is refused by
# `fathom info` with exit status 2 and a message naming the first bad tensor (in the file's
# own head.* spelling); a float16 copy loads and says so.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
$PY -c 'import torch' 2>/dev/null || { echo "SKIP: /usr/bin/python3 has no torch (python3-torch)"; exit 77; }
M=$FATHOM_GOLDEN/../golden-vda/tiny-offline/model.pth
[ -f "$M" ] || { echo "SKIP: no golden-vda"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cp "$(dirname "$M")/config.json" "$T/config.json"
$PY - "$M" "$T" <<'PY'
import sys, torch
sd = torch.load(sys.argv[1], map_location="cpu"); t = sys.argv[2]
mm = "head.motion_modules.1.temporal_transformer."
def save(name, d): torch.save(d, f"{t}/{name}.pth")
d = dict(sd); del d[mm + "proj_out.bias"]; save("missing", d)
d = dict(sd); d[mm + "transformer_blocks.0.ff.net.2.weight"] = torch.zeros(96, 96); save("shape", d)
d = dict(sd); d[mm + "transformer_blocks.0.attention_blocks.2.to_q.weight"] = torch.zeros(96, 96); save("extra", d)
d = dict(sd); del d["head.scratch.output_conv1.weight"]; save("missing_head", d)
d = dict(sd); d[mm + "norm.weight"] = d[mm + "norm.weight"].long(); save("dtype", d)
save("half", {k: v.half() for k, v in sd.items()})
PY
expect() { # file needle...
    local f=$1; shift
    if "$FATHOM_BIN" info "$T/$f.pth" >"$T/out" 2>"$T/err"; then echo "FAIL: $f accepted"; exit 1; fi
    for n in "$@"; do
        grep -qF -- "$n" "$T/err" || { echo "FAIL: $f: message lacks '$n':"; cat "$T/err"; exit 1; }
    done
    echo "$f: $(cat "$T/err")"
}
expect missing "missing tensor" "head.motion_modules.1.temporal_transformer.proj_out.bias"
expect shape "head.motion_modules.1.temporal_transformer.transformer_blocks.0.ff.net.2.weight" "(96, 96)" "(96, 384)"
expect extra "unexpected tensor" "attention_blocks.2.to_q.weight"
expect missing_head "missing tensor 'head.scratch.output_conv1.weight'"
expect dtype "head.motion_modules.1.temporal_transformer.norm.weight" "dtype"
"$FATHOM_BIN" info "$T/half.pth" | tee "$T/out"
grep -q "f16" "$T/out" && grep -q "Video Depth Anything" "$T/out" || { echo "FAIL: float16 checkpoint"; exit 1; }
echo OK
