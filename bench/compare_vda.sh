#!/usr/bin/env bash
# compare_vda.sh - fathom vs the official Video Depth Anything code, offline mode, CPU, same
# random ViT-S weights (the official class's own initialization, saved as the official .pth),
# same frames, same input size, same thread count. Interleaved rounds (official and fathom
# alternate, the order flipping each round) so both sides see the same load; each run reports
# its wall time, CPU time, peak RSS and the load average sampled while it ran. Then: the ratio
# of the median times (goal <= 0.5), how far fathom's depth is from the official one, and from
# fathom's --report the end-to-end rate (decode -> VDA -> npy + FFV1 gray16) against the
# engine-only rate (goal >= 90 %).
#
#   VDA_OFFICIAL=/path/to/Video-Depth-Anything bench/compare_vda.sh [BUILD_DIR]
# VDA_OFFICIAL: a checkout of github.com/DepthAnything/Video-Depth-Anything (the spec's commit
# is 4f5ae23); nothing of it is copied here. It runs with Debian's python3-torch and
# python3-torchvision; einops, easydict and tqdm get pure-Python stand-ins when missing (data movement
# and an identity iterator: no numerical change), as the golden generator does.
# Env: FRAMES (default 32), SIZE (640x480), INPUT_SIZE (518), THREADS (2), ROUNDS (1).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
: "${VDA_OFFICIAL:?set VDA_OFFICIAL to a checkout of DepthAnything/Video-Depth-Anything}"
FRAMES=${FRAMES:-32} SIZE=${SIZE:-640x480} INPUT_SIZE=${INPUT_SIZE:-518} THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
W=${SIZE%x*} H=${SIZE#*x}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(date -u '+%F %H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "vits, $FRAMES frames of ${W}x${H}, input size $INPUT_SIZE, $THREADS threads, fp32, offline, $ROUNDS round(s)"

# the official model class, with stand-ins for missing pure-Python packages
cat > "$T/vda_official.py" <<'PY'
import sys, types
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
from video_depth_anything.video_depth import VideoDepthAnything  # noqa: F401,E402
PY
# weights and frames, once
/usr/bin/python3 - "$VDA_OFFICIAL" "$T" "$FRAMES" "$W" "$H" <<'PY'
import sys
off, t, n, w, h = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
sys.path.insert(0, off); sys.path.insert(0, t)
import numpy as np, torch
from vda_official import VideoDepthAnything
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
PY
ffmpeg -loglevel error -f rawvideo -pix_fmt rgb24 -s "${W}x${H}" -r 30 -i "$T/frames.rgb" -c:v ffv1 -pix_fmt bgr0 "$T/v.mkv"

# one official run as its own process; it times the inference only (not torch's import and
# the model load)
cat > "$T/official_run.py" <<'PY'
import sys, time
off, t, n, w, h, isz, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
sys.path.insert(0, off); sys.path.insert(0, t)
import numpy as np, torch
from vda_official import VideoDepthAnything
torch.set_num_threads(threads)
model = VideoDepthAnything(encoder="vits", features=64, out_channels=[48, 96, 192, 384]).eval()
model.load_state_dict(torch.load(f"{t}/video_depth_anything_vits.pth", map_location="cpu"))
frames = np.fromfile(f"{t}/frames.rgb", np.uint8).reshape(n, h, w, 3)
t0, c0 = time.time(), time.process_time()
depth, _ = model.infer_video_depth(frames, 30, input_size=isz, device="cpu", fp32=True)
open(f"{t}/official.time", "w").write(f"{time.time() - t0} {time.process_time() - c0}\n")
np.save(f"{t}/official.npy", depth.astype(np.float32))
PY

# runs a command as a child: wall and CPU time, peak RSS, the load average sampled every 2 s
# while it ran; one JSON line per run into runs.jsonl
cat > "$T/measure.py" <<'PY'
import json, resource, subprocess, sys, threading, time
side, t, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
loads, done = [], threading.Event()
def sample():
    while not done.wait(2.0):
        loads.append(float(open("/proc/loadavg").read().split()[0]))
th = threading.Thread(target=sample, daemon=True); th.start()
t0 = time.time()
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{t}/{side}.err", "w")).returncode
wall = time.time() - t0
done.set(); th.join()
if rc != 0:
    sys.exit(f"{side} exited {rc}:\n" + open(f"{t}/{side}.err").read()[-3000:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
rec = {"side": side, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss / 1024,
       "load": sum(loads) / len(loads) if loads else float(open("/proc/loadavg").read().split()[0])}
if side == "official":
    rec["wall"], rec["cpu"] = map(float, open(f"{t}/official.time").read().split())
open(f"{t}/runs.jsonl", "a").write(json.dumps(rec) + "\n")
print(f"  {side:8s} {rec['wall']:8.1f} s  CPU {rec['cpu']:8.1f} s  peak RSS {rec['rss']:6.0f} MiB  load {rec['load']:5.1f}")
PY
official() {
    /usr/bin/python3 "$T/measure.py" official "$T" /usr/bin/python3 "$T/official_run.py" \
        "$VDA_OFFICIAL" "$T" "$FRAMES" "$W" "$H" "$INPUT_SIZE" "$THREADS"
}
fathom() {
    rm -rf "$T/out" "$T/depth.mkv"
    /usr/bin/python3 "$T/measure.py" fathom "$T" "$BUILD/fathom" run -m "$T/video_depth_anything_vits.pth" \
        --input-size "$INPUT_SIZE" --threads "$THREADS" -f npy --video "$T/depth.mkv" \
        --report "$T/report.json" -o "$T/out" "$T/v.mkv"
}
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r:"
    if [ $((r % 2)) = 1 ]; then official; fathom; else fathom; official; fi
done

/usr/bin/python3 - "$T" "$FRAMES" <<'PY'
import glob, json, statistics as st, sys, numpy as np
t, n = sys.argv[1], int(sys.argv[2])
runs = [json.loads(l) for l in open(f"{t}/runs.jsonl")]
med = {s: {k: st.median(r[k] for r in runs if r["side"] == s) for k in ("wall", "cpu", "rss", "load")}
       for s in ("official", "fathom")}
o, f = med["official"], med["fathom"]
print(f"official (inference only): {o['wall']:8.1f} s  {n / o['wall']:6.3f} frames/s  peak RSS {o['rss']:6.0f} MiB  load {o['load']:.1f}")
print(f"fathom (whole fathom run): {f['wall']:8.1f} s  {n / f['wall']:6.3f} frames/s  peak RSS {f['rss']:6.0f} MiB  load {f['load']:.1f}")
print(f"fathom time / official time: {f['wall'] / o['wall']:.2f} (goal <= 0.5); CPU time ratio {f['cpu'] / o['cpu']:.2f}")
# end to end vs engine only, from the last fathom run's report: the inference stage's busy
# time is the engine-only time; elapsed is decode -> VDA -> npy + FFV1 gray16 writes
r = json.load(open(f"{t}/report.json"))
eng, wall = r["stages"]["infer"]["busy_s"], r["totals"]["elapsed_s"]
print(f"engine only: {n / eng:6.3f} frames/s, end to end: {n / wall:6.3f} frames/s "
      f"({100 * eng / wall:.1f} % of the engine rate, goal >= 90 %)")
ref = np.load(f"{t}/official.npy")
out = np.stack([np.load(f) for f in sorted(glob.glob(f"{t}/out/v/*.npy"))])
m = np.abs(ref).max()
print(f"depth vs official: max|d| {np.abs(out - ref).max() / m:.2e} of max, rms {np.sqrt(((out - ref) ** 2).mean()) / m:.2e}")
PY
