#!/usr/bin/env bash
# compare_depthpro.sh - fathom vs the official Depth Pro PyTorch code on the same full-size
# random weights: CPU, fp32, THREADS threads, one W x H image (every image becomes one 1536^2
# forward pass). Prints seconds per image of both sides, the ratio fathom / PyTorch, and each
# side's peak RSS (GNU time).
#
# Requirements (nothing of the official code is copied into this repository):
#   apt-get install python3-torch python3-torchvision time      # Debian 12: torch 1.13
#   DEPTH_PRO_SRC=/path/to/ml-depth-pro    a checkout of apple/ml-depth-pro (commit 9efe5c1)
#   a Release build of fathom (FATHOM_BIN, default build/fathom)
# The official code needs timm >= 0.9 and imports pillow_heif: this script makes a venv on top
# of the system packages (VENV, default /tmp/fathom-dp-venv) and installs timm 1.0.31 and
# pillow_heif 0.15.0 from PyPI there, once.
# Weights: WEIGHTS (default /tmp/fathom-dp-random.pt) is made with the official class and
# torch.manual_seed(0) when missing (3.8 GB); any depth_pro.pt works. Speed does not depend on
# the values.
# Environment: THREADS (2), W, H (640 x 480), ITERS (1: the official run is minutes long).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
: "${DEPTH_PRO_SRC:?set DEPTH_PRO_SRC to a checkout of apple/ml-depth-pro}"
FATHOM_BIN="${FATHOM_BIN:-$root/build/fathom}"
THREADS="${THREADS:-2}" W="${W:-640}" H="${H:-480}" ITERS="${ITERS:-1}"
VENV="${VENV:-/tmp/fathom-dp-venv}"
WEIGHTS="${WEIGHTS:-/tmp/fathom-dp-random.pt}"
export DEPTH_PRO_SRC THREADS

[ -x "$FATHOM_BIN" ] || { echo "no fathom binary at $FATHOM_BIN" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null ||
    { echo "needs python3-torch and python3-torchvision" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q --no-deps timm==1.0.31 pillow_heif==0.15.0
fi
PY="$VENV/bin/python"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

[ -f "$WEIGHTS" ] || "$PY" "$here/depthpro_torch.py" make "$WEIGHTS"
"$PY" -c "
import numpy as np; from PIL import Image
r = np.random.default_rng(0)
Image.fromarray(r.integers(0, 256, ($H, $W, 3), dtype=np.uint8)).save('$T/img.png')"

echo "== official (PyTorch $("$PY" -c 'import torch; print(torch.__version__)'), $THREADS threads, fp32)"
/usr/bin/time -v -o "$T/torch.time" "$PY" "$here/depthpro_torch.py" run "$WEIGHTS" "$T/img.png" "$ITERS" | tee "$T/torch.out"
echo "== fathom ($THREADS threads, fp32)"
best=""
for i in $(seq "$ITERS"); do
    rm -rf "$T/out"
    /usr/bin/time -v -o "$T/fathom.time" "$FATHOM_BIN" run -m "$WEIGHTS" --threads "$THREADS" --workers 1 \
        -o "$T/out" --report "$T/r.json" "$T/img.png" >/dev/null
    s=$("$PY" -c "import json; print(json.load(open('$T/r.json'))['items'][0]['seconds']['infer'])")
    best=$("$PY" -c "print(min(float('$s'), float('${best:-inf}')))")
done
ts=$(awk '/seconds_per_image/ {print $2}' "$T/torch.out")
rss() { awk -F': ' '/Maximum resident/ {printf "%.2f", $2 / 1048576}' "$1"; }
echo "fathom  seconds/image $best   peak RSS $(rss "$T/fathom.time") GiB"
echo "pytorch seconds/image $ts   peak RSS $(rss "$T/torch.time") GiB"
"$PY" -c "print('ratio fathom / pytorch: time %.3f, peak RSS %.3f' % ($best / $ts, $(rss "$T/fathom.time") / $(rss "$T/torch.time")))"
uptime
