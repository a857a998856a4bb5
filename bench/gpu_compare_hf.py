#!/usr/bin/env python3
"""gpu_compare_hf.py - the Hugging Face side of bench/gpu_compare.sh (runs on the GPU machine).

  --save DIR     write a DepthAnythingForDepthEstimation with random weights (seeded, from a
                 config matching the released V2 Small / Large) as a Hugging Face folder
                 (config.json + model.safetensors) that fathom loads too. Nothing is downloaded.
  (default)      time the model in fp16 with --attn eager|sdpa and optionally torch.compile,
                 and print one JSON line: images/s, latency per batch and per image, MFU.
"""
import argparse
import json
import sys
import time

import torch
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

# GFLOP per image at 518 x 518 (multiply-add = 2 FLOP), as in the issue.
GFLOP = {"small": 115.0, "large": 1304.0}
ARCH = {  # spec/depth-anything-v2.md 3.6 and the released -hf configs
    "small": dict(hidden=384, layers=12, heads=6, out=[3, 6, 9, 12], neck=[48, 96, 192, 384], fusion=64),
    "large": dict(hidden=1024, layers=24, heads=16, out=[5, 12, 18, 24], neck=[256, 512, 1024, 1024], fusion=256),
}


def make_config(encoder):
    a = ARCH[encoder]
    backbone = Dinov2Config(hidden_size=a["hidden"], num_hidden_layers=a["layers"],
                            num_attention_heads=a["heads"], mlp_ratio=4, image_size=518,
                            patch_size=14, layerscale_value=1.0, out_indices=a["out"],
                            apply_layernorm=True, reshape_hidden_states=False)
    return DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=a["hidden"],
                               neck_hidden_sizes=a["neck"], fusion_hidden_size=a["fusion"],
                               reassemble_factors=[4, 2, 1, 0.5], head_hidden_size=32,
                               depth_estimation_type="relative", patch_size=14)


def peak_flops():
    name = torch.cuda.get_device_name(0)
    for key, tf in (("H200", 989.4), ("H100", 989.4), ("A100", 312.0), ("L40S", 362.0)):
        if key in name:
            return name, tf * 1e12
    return name, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", choices=sorted(ARCH), default="small")
    ap.add_argument("--save")
    ap.add_argument("--size", type=int, default=518)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="sdpa")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=0.0)
    args = ap.parse_args()

    torch.manual_seed(0)
    if args.save:
        model = DepthAnythingForDepthEstimation(make_config(args.encoder)).eval()
        model.save_pretrained(args.save, safe_serialization=True)
        print(f"saved random {args.encoder} weights to {args.save}")
        return 0

    if not torch.cuda.is_available():
        print("no CUDA device for torch", file=sys.stderr)
        return 2
    cfg = make_config(args.encoder)
    cfg._attn_implementation = args.attn
    cfg.backbone_config._attn_implementation = args.attn
    model = DepthAnythingForDepthEstimation(cfg).eval().half().cuda()
    if args.compile:
        model = torch.compile(model)
    x = torch.randn(args.batch, 3, args.size, args.size, device="cuda", dtype=torch.float16)
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(pixel_values=x)
        torch.cuda.synchronize()
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(pixel_values=x)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    name, peak = peak_flops()
    if args.peak_tflops:
        peak = args.peak_tflops * 1e12
    ips = args.batch / med
    gflop = GFLOP[args.encoder] * (args.size / 518.0) ** 2  # approximate away from 518
    out = {
        "impl": f"hf-{args.attn}{'-compile' if args.compile else ''}",
        "encoder": args.encoder, "size": args.size, "batch": args.batch, "device": name,
        "images_per_s": round(ips, 2), "latency_ms_batch": round(med * 1e3, 3),
        "latency_ms_image": round(med * 1e3 / args.batch, 3),
        "mfu": round(ips * gflop * 1e9 / peak, 4) if peak else None,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
