#!/usr/bin/env bash
# compare_vda.sh - fathom vs the official Video Depth Anything code, offline mode, CPU, same
# random ViT-S weights (the official class's own initialization, saved as the official .pth),
# same frames, same input size, same thread count. Prints frames/s both sides, the ratio, the
# peak RSS both sides, and how far fathom's depth is from the official one; then, from fathom's
# --report, the end-to-end rate (decode -> VDA -> npy + FFV1 gray16) against the engine-only rate.
#
#   VDA_OFFICIAL=/path/to/Video-Depth-Anything bench/compare_vda.sh [BUILD_DIR]
# VDA_OFFICIAL: a checkout of github.com/DepthAnything/Video-Depth-Anything (the spec's commit
# is 4f5ae23); nothing of it is copied here. It runs with Debian's python3-torch and
# python3-torchvision; einops, easydict and tqdm get pure-Python stand-ins when missing (data movement
# and an identity iterator: no numerical change), as the golden generator does.
# Env: FRAMES (default 32), SIZE (640x480), INPUT_SIZE (518), THREADS (2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
: "${VDA_OFFICIAL:?set VDA_OFFICIAL to a checkout of DepthAnything/Video-Depth-Anything}"
FRAMES=${FRAMES:-32} SIZE=${SIZE:-640x480} INPUT_SIZE=${INPUT_SIZE:-518} THREADS=${THREADS:-2}
W=${SIZE%x*} H=${SIZE#*x}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u '+%F %H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "vits, $FRAMES frames of ${W}x${H}, input size $INPUT_SIZE, $THREADS threads, fp32, offline"

# official side: weights, frames, timing (one process, so its RSS is its own)
/usr/bin/python3 - "$VDA_OFFICIAL" "$T" "$FRAMES" "$W" "$H" "$INPUT_SIZE" "$THREADS" <<'PY'
import sys, types, time, resource
off, t, n, w, h, isz, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
sys.path.insert(0, off)
import numpy as np, torch
try:
    import einops  # noqa: F401
except ImportError:  # einops.rearrange for the patterns motion_module.py uses
    import re
    def rearrange(x, pattern, **kw):
        src, dst = [s.strip() for s in pattern.split("->")]
        def groups(s):
            return [g.split() if g.startswith("(") else [g] for g in re.findall(r"\([^)]*\)|\S+", s.replace("(", " (").replace(")", ") "))]
        sg = [[a.strip("()") for a in g] for g in groups(src)]
        dims = {}
        for g, size in zip(sg, x.shape):
            known = 1; unknown = None
            for a in g:
                if a in kw: dims[a] = kw[a]; known *= kw[a]
                else: unknown = a
            if unknown is not None: dims[unknown] = size // known
        flat = [a for g in sg for a in g]
        x = x.reshape([dims[a] for a in flat])
        dg = [[a.strip("()") for a in g] for g in groups(dst)]
        order = [a for g in dg for a in g]
        x = x.permute([flat.index(a) for a in order])
        return x.reshape([int(np.prod([dims[a] for a in g])) for g in dg])
    m = types.ModuleType("einops"); m.rearrange = rearrange; m.repeat = None; sys.modules["einops"] = m
try:
    import easydict  # noqa: F401
except ImportError:
    class EasyDict(dict):
        def __init__(self, d=None, **kw):
            super().__init__(d or {}, **kw)
            for k, v in self.items(): super().__setitem__(k, EasyDict(v) if isinstance(v, dict) else v)
        def __getattr__(self, k):
            try: return self[k]
            except KeyError: raise AttributeError(k)
        def __setattr__(self, k, v): self[k] = v
    m = types.ModuleType("easydict"); m.EasyDict = EasyDict; sys.modules["easydict"] = m
try:
    import tqdm  # noqa: F401
except ImportError:
    m = types.ModuleType("tqdm"); m.tqdm = lambda it, **k: it; sys.modules["tqdm"] = m
from video_depth_anything.video_depth import VideoDepthAnything
torch.set_num_threads(threads)
torch.manual_seed(0)
model = VideoDepthAnything(encoder="vits", features=64, out_channels=[48, 96, 192, 384]).eval()
with torch.no_grad():  # proj_out is zero-initialized for training: give it weights, so the modules count
    for p in model.head.motion_modules.parameters():
        if p.abs().sum() == 0: p.normal_(0, 0.02)
torch.save(model.state_dict(), f"{t}/video_depth_anything_vits.pth")
yy, xx = np.mgrid[0:h, 0:w]
frames = np.stack([np.stack([(xx * 255 // w + 3 * i) % 256, (yy * 255 // h) % 256,
                             (128 + 100 * np.sin((xx + yy + 7 * i) / 17.0))], -1).astype(np.uint8) for i in range(n)])
frames.tofile(f"{t}/frames.rgb")
t0 = time.time()
depth, _ = model.infer_video_depth(frames, 30, input_size=isz, device="cpu", fp32=True)
dt = time.time() - t0
np.save(f"{t}/official.npy", depth.astype(np.float32))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"official: {dt:8.1f} s  {n / dt:6.3f} frames/s  peak RSS {rss:7.0f} MiB (loaded)")
open(f"{t}/official.txt", "w").write(f"{dt}\n")
PY
ffmpeg -loglevel error -f rawvideo -pix_fmt rgb24 -s "${W}x${H}" -r 30 -i "$T/frames.rgb" -c:v ffv1 -pix_fmt bgr0 "$T/v.mkv"
/usr/bin/python3 - "$BUILD/fathom" "$T" "$INPUT_SIZE" "$THREADS" "$FRAMES" <<'PY'
import glob, resource, subprocess, sys, time, numpy as np
b, t, isz, threads, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
t0 = time.time()
rc = subprocess.run([b, "run", "-m", f"{t}/video_depth_anything_vits.pth", "--input-size", isz, "--threads", threads,
                     "-f", "npy", "--video", f"{t}/depth.mkv", "--report", f"{t}/report.json", "-o", f"{t}/out",
                     f"{t}/v.mkv"], stderr=open(f"{t}/fathom.err", "w")).returncode
if rc != 0:
    sys.exit(f"fathom exited {rc}:\n" + open(f"{t}/fathom.err").read()[-3000:])
dt = time.time() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
off = float(open(f"{t}/official.txt").read())
print(f"fathom:   {dt:8.1f} s  {n / dt:6.3f} frames/s  peak RSS {rss:7.0f} MiB (model load, decode, npy and FFV1 writes included)")
print(f"fathom time / official time: {dt / off:.2f}")
# end to end vs engine only, from the same run's report: the inference stage's busy time is the
# engine-only time (windows + finish); elapsed is decode -> VDA -> npy + FFV1 gray16 writes
import json
r = json.load(open(f"{t}/report.json"))
eng, wall = r["stages"]["infer"]["busy_s"], r["totals"]["elapsed_s"]
print(f"engine only: {n / eng:6.3f} frames/s, end to end: {n / wall:6.3f} frames/s "
      f"({100 * eng / wall:.1f} % of the engine rate)")
ref = np.load(f"{t}/official.npy")
out = np.stack([np.load(f) for f in sorted(glob.glob(f"{t}/out/v/*.npy"))])
m = np.abs(ref).max()
print(f"depth vs official: max|d| {np.abs(out - ref).max() / m:.2e} of max, rms {np.sqrt(((out - ref) ** 2).mean()) / m:.2e}")
PY
