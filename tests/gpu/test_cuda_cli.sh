#!/usr/bin/env bash
# test_cuda_cli.sh - `fathom run` / `fathom bench` device and precision flags, real binary.
#
# Everywhere: --precision with a bad value exits 2 naming the flag; the CPU engine refuses
# fp16 (exit 2) and accepts fp32 and bf16 (bf16 at the bound of tests/cpu/test_cpu_bf16_golden.c). Then, decided by `bench --device auto`:
#  * no usable CUDA device (or a build without CUDA): --device cuda exits 2 naming the cause
#    (no driver / no device / built without CUDA) for run and bench; --device auto falls back
#    to the CPU, says so, and produces the golden result.
#  * a CUDA device: run and bench on cuda; three copies of the golden image one by one (the
#    first pass runs uncaptured, the second captures and launches the CUDA graph, the third
#    replays it) must each match the golden PyTorch depth: fp32 at the CPU golden tolerance,
#    bf16 at the sanity bound of tests/gpu/test_cuda_engine.c (max 1e-1, rms 2e-2 of max|ref|).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_numpy fail

QUICK=(--model "$MODEL" --input-size 28 --iters 1 --warmup 0 --threads 1)

# ---- everywhere: --precision parsing and the CPU engine's fp32-only rule ----
run --model "$MODEL" --precision fp8 -o "$T/o0" "$CASE/input.png"
check "run --precision fp8 exits 2" test "$RC" -eq 2
check "run --precision fp8: message names the flag" grep -q -- "--precision" "$T/err"
bench "${QUICK[@]}" --precision half
check "bench --precision half exits 2" test "$RC" -eq 2
check "bench --precision half: message names the flag" grep -q -- "--precision" "$T/err"
run --model "$MODEL" --device cpu --precision fp16 -o "$T/o1" "$CASE/input.png"
check "run --device cpu --precision fp16 exits 2" test "$RC" -eq 2
check "run: CPU refusal says why" grep -q "fp32 or bf16" "$T/err"
check "run: refused before any output" test ! -e "$T/o1/input.npy"
bench "${QUICK[@]}" --device cpu --precision fp16
check "bench --device cpu --precision fp16 exits 2" test "$RC" -eq 2
check "bench: CPU refusal says why" grep -q "fp32 or bf16" "$T/err"
# cpuspeed: the CPU computes bf16 GEMMs (bound from tests/cpu/test_cpu_bf16_golden.c)
run --model "$MODEL" --device cpu --precision bf16 -o "$T/o5" "$CASE/input.png"
check "run --device cpu --precision bf16 exits 0" test "$RC" -eq 0
check "run cpu bf16: golden parity at the bf16 bound" golden "$T/o5/input.npy" 3e-2 5e-3
bench "${QUICK[@]}" --device cpu --precision bf16
check "bench reports device cpu, precision bf16" grep -q "device cpu, precision bf16" "$T/out"
check "bench reports the bf16 kernel" grep -q "kernels: *cpu bf16, gemm" "$T/out"
run --model "$MODEL" --device cpu --precision fp32 -o "$T/o2" "$CASE/input.png"
check "run --device cpu --precision fp32 exits 0" test "$RC" -eq 0
check "run cpu fp32: golden parity" golden "$T/o2/input.npy" 1e-4 1e-5
bench "${QUICK[@]}" --device cpu --precision fp32
check "bench --device cpu --precision fp32 exits 0" test "$RC" -eq 0
check "bench reports device cpu, precision fp32" grep -q "device cpu, precision fp32" "$T/out"

# ---- is there a usable CUDA device? (--device auto decides the same way) ----
bench "${QUICK[@]}" --device auto
check "bench --device auto exits 0" test "$RC" -eq 0
if grep -q "using the CPU" "$T/err"; then
  echo "no usable CUDA device: $(head -1 "$T/err")"
  CAUSE="no NVIDIA driver found|no CUDA device found|built without CUDA|could not be loaded"
  check "bench auto fell back to the CPU and ran there" grep -q "device cpu" "$T/out"
  bench "${QUICK[@]}" --device cuda
  check "bench --device cuda without a device exits 2" test "$RC" -eq 2
  check "bench --device cuda names the cause" grep -Eq "$CAUSE" "$T/err"
  run --model "$MODEL" --device cuda -o "$T/o3" "$CASE/input.png"
  check "run --device cuda without a device exits 2" test "$RC" -eq 2
  check "run --device cuda names the cause" grep -Eq "$CAUSE" "$T/err"
  check "run --device cuda wrote nothing" test ! -e "$T/o3/input.npy"
  run --model "$MODEL" --device auto -o "$T/o4" "$CASE/input.png"
  check "run --device auto exits 0" test "$RC" -eq 0
  check "run --device auto says it uses the CPU" grep -q "using the CPU" "$T/err"
  check "run --device auto (cpu): golden parity" golden "$T/o4/input.npy" 1e-4 1e-5
else
  echo "a CUDA device is present"
  check "bench auto picked cuda" grep -q "device cuda" "$T/out"
  mkdir -p "$T/in"
  for n in a b c; do cp "$CASE/input.png" "$T/in/$n.png"; done
  for prec in fp32 bf16; do
    if [ "$prec" = fp32 ]; then MT=1e-4 RT=1e-5; else MT=1e-1 RT=2e-2; fi
    run --model "$MODEL" --device cuda --precision "$prec" --batch 1 -o "$T/c_$prec" "$T/in"
    check "run --device cuda --precision $prec exits 0" test "$RC" -eq 0
    for n in a b c; do  # a: uncaptured; b: captured + launched; c: replayed
      check "run cuda $prec $n.png: golden parity" golden "$T/c_$prec/$n.npy" "$MT" "$RT"
    done
    bench "${QUICK[@]}" --device cuda --precision "$prec" --iters 3
    check "bench --device cuda --precision $prec exits 0" test "$RC" -eq 0
    check "bench reports device cuda, precision $prec" grep -q "device cuda, precision $prec" "$T/out"
  done
  run --model "$MODEL" --device cuda:99 -o "$T/c_bad" "$CASE/input.png"
  check "run --device cuda:99 exits 2" test "$RC" -eq 2
  check "run --device cuda:99 names the ordinal" grep -q "cuda:99" "$T/err"
fi

finish
