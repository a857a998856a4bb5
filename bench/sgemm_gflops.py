#!/usr/bin/env python3
"""OpenBLAS sgemm GFLOP/s (the OpenMP build fathom links), through ctypes: the ceiling the
whole-model GFLOP/s of `fathom bench` is compared against. Usage: sgemm_gflops.py [threads]"""
import ctypes
import os
import sys
import time

import numpy as np

LIB = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    blas = ctypes.CDLL(LIB)
    blas.openblas_set_num_threads(threads)
    f = ctypes.c_float
    p = ctypes.c_void_p
    blas.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [f, p, ctypes.c_int, p, ctypes.c_int, f,
                                                       p, ctypes.c_int]
    # shapes of the ViT-S 518x518 forward pass: qkv, fc1, fc2 (M = 1370 tokens)
    for (M, N, K) in [(1370, 1152, 384), (1370, 1536, 384), (1370, 384, 1536), (2048, 2048, 2048)]:
        A = np.random.rand(M, K).astype(np.float32)
        B = np.random.rand(N, K).astype(np.float32)
        C = np.zeros((M, N), np.float32)
        args = (101, 111, 112, M, N, K, 1.0, A.ctypes.data, K, B.ctypes.data, K, 0.0,
                C.ctypes.data, N)
        blas.cblas_sgemm(*args)
        reps, best = 10, 1e9
        for _ in range(reps):
            t0 = time.perf_counter()
            blas.cblas_sgemm(*args)
            best = min(best, time.perf_counter() - t0)
        print(f"sgemm {M}x{N}x{K} ({threads} threads): {2.0 * M * N * K / best / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
