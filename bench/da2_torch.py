#!/usr/bin/env python3
"""Time the official Depth Anything V2 PyTorch model (helper of bench/compare_pytorch.sh).

Needs Debian's python3-torch, python3-torchvision and python3-opencv (the official dpt.py
imports both) and the official repository checked out at --repo (its code is imported from
there, never copied).

  da2_torch.py --repo DIR --make-weights OUT.pth        random ViT-S weights via torch.save
  da2_torch.py --repo DIR --weights W.pth --threads 2 --height 518 --width 518 --batch 1
"""
import argparse
import statistics
import sys
import time

import torch

CONFIGS = {
    "vits": dict(encoder="vits", features=64, out_channels=[48, 96, 192, 384]),
    "vitb": dict(encoder="vitb", features=128, out_channels=[96, 192, 384, 768]),
    "vitl": dict(encoder="vitl", features=256, out_channels=[256, 512, 1024, 1024]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--encoder", default="vits", choices=sorted(CONFIGS))
    ap.add_argument("--make-weights")
    ap.add_argument("--weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--height", type=int, default=518)
    ap.add_argument("--width", type=int, default=518)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()

    sys.path.insert(0, a.repo)
    from depth_anything_v2.dpt import DepthAnythingV2

    torch.manual_seed(0)
    model = DepthAnythingV2(**CONFIGS[a.encoder])
    if a.make_weights:
        # the official class's own random initialisation, saved like the released checkpoints
        torch.save(model.state_dict(), a.make_weights)
        print(f"wrote {a.make_weights}")
        return
    model.load_state_dict(torch.load(a.weights, map_location="cpu"))
    model.eval()
    torch.set_num_threads(a.threads)
    x = torch.randn(a.batch, 3, a.height, a.width)
    times = []
    cpu0 = 0.0
    with torch.inference_mode():
        for i in range(a.warmup + a.iters):
            if i == a.warmup:
                cpu0 = time.process_time()
            t0 = time.perf_counter()
            model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    cpu = (time.process_time() - cpu0) / a.iters
    print(f"pytorch {torch.__version__}: threads {torch.get_num_threads()}, batch {a.batch}, "
          f"{a.height}x{a.width}: {med * 1e3 / a.batch:.2f} ms per image "
          f"(median of {a.iters}; best {min(times) * 1e3 / a.batch:.2f}); "
          f"cpu time {cpu * 1e3 / a.batch:.2f} ms per image")


if __name__ == "__main__":
    main()
