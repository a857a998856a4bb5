#!/usr/bin/env python3
"""Export the official Depth Anything V2 model to ONNX (helper of bench/compare_cpu_runtimes.sh).

Runs on Debian's torch (python3-torch; the official dpt.py also imports torchvision and cv2) with
the official repository at --repo (imported from there, never copied). Fixed shapes: ONNX Runtime
and OpenVINO then plan for exactly the benchmarked input, as a deployment would.

  da2_onnx_export.py --repo DIR --encoder vits --weights W.pth --batch 1 --size 518 --out M.onnx
"""
import argparse
import sys

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
from da2_torch import CONFIGS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--encoder", default="vits", choices=sorted(CONFIGS))
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=518)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.repo)
    from depth_anything_v2.dpt import DepthAnythingV2

    model = DepthAnythingV2(**CONFIGS[a.encoder])
    model.load_state_dict(torch.load(a.weights, map_location="cpu"))
    model.eval()
    x = torch.randn(a.batch, 3, a.size, a.size)
    with torch.no_grad():
        torch.onnx.export(model, x, a.out, input_names=["pixel_values"], output_names=["depth"],
                          opset_version=17, do_constant_folding=True)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
