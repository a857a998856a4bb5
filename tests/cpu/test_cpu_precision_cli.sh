#!/usr/bin/env bash
# test_cpu_precision_cli.sh - `--precision bf16` and `--weights int8|q4` on the CPU, real binary:
# golden parity at each format's bound (tests/cpu/test_cpu_bf16_golden.c: bf16 max 3e-2 / rms
# 5e-3, int8 max 1e-1 / rms 1.5e-2, q4 max 0.8 / rms 0.15 of max|ref|), `bench` naming the
# format and kernel, FATHOM_CPU_KERNEL=portable reaching the engine, and bad values refused
# (exit 2) before any output is written. `--device cuda --weights int8|q4`: with a device, the
# device GEMMs (q8_gemm.cu, q4_gemm.cu) at the same golden bounds; without one, exit 2 naming
# CUDA, nothing written, and the parity check printed as SKIP.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_numpy fail

QUICK=(--model "$MODEL" --input-size 28 --iters 1 --warmup 0 --threads 1)

run --model "$MODEL" --weights int8 --threads 2 -o "$T/q8" "$CASE/input.png"
check "run --weights int8 exits 0" test "$RC" -eq 0
check "run int8: golden parity at the int8 bound" golden "$T/q8/input.npy" 1e-1 1.5e-2
run --model "$MODEL" --precision bf16 --threads 2 -o "$T/bf" "$CASE/input.png"
check "run --precision bf16 exits 0" test "$RC" -eq 0
check "run bf16: golden parity at the bf16 bound" golden "$T/bf/input.npy" 3e-2 5e-3
check "bf16 and int8 outputs differ (two formats really ran)" \
  "$PY" -c "import sys, numpy as np; sys.exit(np.array_equal(np.load('$T/q8/input.npy'), np.load('$T/bf/input.npy')))"

run --model "$MODEL" --weights q4 --threads 2 -o "$T/q4" "$CASE/input.png"
check "run --weights q4 exits 0" test "$RC" -eq 0
check "run q4: golden parity at the q4 bound" golden "$T/q4/input.npy" 0.8 0.15
bench "${QUICK[@]}" --weights q4
check "bench reports q4 weights" grep -q "precision q4 weights" "$T/out"
check "bench names the q4 kernel" grep -Eq "kernels: *cpu q4 weights, gemm (amx|avx512bf16|portable)" "$T/out"
# cuda: golden parity at the format's bound on a device, else a clear refusal
cuda_format() { # $1 int8|q4, $2 max bound, $3 rms bound
  run --model "$MODEL" --device cuda --weights "$1" -o "$T/cu-$1" "$CASE/input.png"
  if [ "$RC" -eq 0 ]; then
    check "run cuda $1: golden parity at the $1 bound" golden "$T/cu-$1/input.npy" "$2" "$3"
    bench --model "$MODEL" --input-size 28 --iters 1 --warmup 0 --device cuda --weights "$1"
    check "bench cuda $1: the kernels line names the $1 GEMMs" grep -q "linear on $1 weights" "$T/out"
  else
    echo "SKIP run cuda $1 golden parity: no CUDA device or module"
    check "run cuda $1 without a device: exits 2" test "$RC" -eq 2
    check "run cuda $1 without a device: the message names CUDA" grep -qi "cuda" "$T/err"
    check "run cuda $1 without a device: nothing written" test ! -e "$T/cu-$1/input.npy"
  fi
}
cuda_format q4 0.8 0.15
bench "${QUICK[@]}" --weights int8
check "bench --weights int8 exits 0" test "$RC" -eq 0
check "bench reports int8 weights" grep -q "precision int8 weights" "$T/out"
check "bench names the int8 kernel" grep -Eq "kernels: *cpu int8 weights, gemm (amx|avx512vnni|portable)" "$T/out"
check "bench reports GFLOP/s" grep -q "GFLOP/s achieved" "$T/out"
FATHOM_CPU_KERNEL=portable bench "${QUICK[@]}" --precision bf16
check "FATHOM_CPU_KERNEL=portable reaches the engine" grep -q "kernels: *cpu bf16, gemm portable" "$T/out"
bench "${QUICK[@]}"
check "default bench stays fp32" grep -Eq "kernels: *cpu fp32, gemm (openblas|avx512) sgemm" "$T/out"
FATHOM_CPU_KERNEL=portable bench "${QUICK[@]}"
check "FATHOM_CPU_KERNEL=portable: fp32 on OpenBLAS" grep -q "kernels: *cpu fp32, gemm openblas sgemm" "$T/out"

run --model "$MODEL" --weights int4 -o "$T/bad" "$CASE/input.png"
check "run --weights int4 exits 2" test "$RC" -eq 2
check "run --weights int4: message names the flag and value" grep -q -- "--weights: 'int4'" "$T/err"
check "run --weights int4: nothing written" test ! -e "$T/bad/input.npy"
bench "${QUICK[@]}" --weights q3
check "bench --weights q3 exits 2" test "$RC" -eq 2
cuda_format int8 1e-1 1.5e-2

finish
