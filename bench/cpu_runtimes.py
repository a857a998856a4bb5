#!/usr/bin/env python3
"""Time an ONNX model in ONNX Runtime or OpenVINO (helper of bench/compare_cpu_runtimes.sh).

Runs in the venv the script makes (onnxruntime, openvino and numpy from PyPI).

  cpu_runtimes.py time --onnx M.onnx --runtime ort|ov --precision f32|bf16 --threads 2 \
                       --batch 1 --size 518 --iters 10 --warmup 2           -> "<runtime> <precision>: X ms per image ..."
  cpu_runtimes.py error --onnx M.onnx --batch 1 --size 518      -> OpenVINO bf16 vs ONNX Runtime fp32
"""
import argparse
import statistics
import time

import numpy as np


def session(path, runtime, precision, threads):
    """A callable x -> depth for one runtime and precision."""
    if runtime == "ort":
        import onnxruntime as ort
        if precision != "f32":
            raise SystemExit("onnxruntime: only f32 here (its CPU provider has no bf16 GEMM path)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        return lambda x: s.run(None, {name: x})[0], "onnxruntime " + ort.__version__
    import openvino as ov
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision,
           "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    c = core.compile_model(core.read_model(path), "CPU", cfg)
    req = c.create_infer_request()
    return lambda x: req.infer({0: x})[c.output(0)].copy(), "openvino " + ov.__version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["time", "error"])
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--runtime", choices=["ort", "ov"], default="ort")
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="the batch the model was exported with")
    ap.add_argument("--size", type=int, default=518, help="the image side it was exported with")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    b = a.batch
    x = np.random.default_rng(0).standard_normal((b, 3, a.size, a.size)).astype(np.float32)
    if a.mode == "error":
        ref = session(a.onnx, "ort", "f32", a.threads)[0](x)
        for prec in ("f32", "bf16"):
            out = session(a.onnx, "ov", prec, a.threads)[0](x)
            d = np.abs(out - ref)
            m = np.abs(ref).max()
            print(f"openvino {prec} vs onnxruntime f32: max|d|/max|ref| {d.max() / m:.3g}, "
                  f"rms/max|ref| {np.sqrt((d * d).mean()) / m:.3g}")
        return
    run, name = session(a.onnx, a.runtime, a.precision, a.threads)
    times = []
    cpu0 = 0.0
    for i in range(a.warmup + a.iters):
        if i == a.warmup:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        run(x)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / a.iters
    print(f"{name} {a.precision}: {statistics.median(times) * 1e3 / b:.2f} ms per image "
          f"(median of {a.iters}; best {min(times) * 1e3 / b:.2f}); cpu time {cpu * 1e3 / b:.2f} ms per image")


if __name__ == "__main__":
    main()
