#!/usr/bin/env bash
# test_cpu_precision_cli.sh - `--precision bf16` and `--weights int8|q4` on the CPU, real binary:
# golden parity at each format's bound (tests/cpu/test_cpu_bf16_golden.c: bf16 max 3e-2 / rms
# 5e-3, int8 max 1e-1 / rms 1.5e-2, q4 max 0.8 / rms 0.15 of max|ref|), `bench` naming the
# format and kernel, FATHOM_CPU_KERNEL=portable reaching the engine, and bad values / CUDA +
# int8 or q4 refused (exit 2) before any output is written.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "FAIL: python3 with numpy missing (a test dependency: scripts/install-deps.sh)"; exit 1; }

CASE="$FATHOM_GOLDEN/tiny-hf"
MODEL="$CASE/model"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; sed 's/^/     | /' "$T/err" 2>/dev/null | head -5; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run()   { "$FATHOM_BIN" run "$@" 2>"$T/err"; RC=$?; }
bench() { "$FATHOM_BIN" bench "$@" >"$T/out" 2>"$T/err"; RC=$?; }
QUICK=(--model "$MODEL" --input-size 28 --iters 1 --warmup 0 --threads 1)
cat >"$T/compare.py" <<'PYEOF'
import sys, numpy as np
out, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
mt, rt = float(sys.argv[3]), float(sys.argv[4])
assert out.dtype == np.float32 and out.shape == ref.shape, (out.dtype, out.shape, ref.shape)
m = np.abs(ref).max(); d = out.astype(np.float64) - ref
mx, rms = np.abs(d).max() / m, np.sqrt((d * d).mean()) / m
print("  %s: max|d|/max|ref| = %.3g, rms/max|ref| = %.3g" % (sys.argv[1].split("/")[-1], mx, rms))
sys.exit(0 if mx <= mt and rms <= rt else 1)
PYEOF
golden() { "$PY" "$T/compare.py" "$1" "$CASE/depth.npy" "$2" "$3"; }

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
run --model "$MODEL" --device cuda --weights q4 -o "$T/cu4" "$CASE/input.png"
check "run --device cuda --weights q4 exits 2" test "$RC" -eq 2
check "run cuda q4: says it is CPU only" grep -q "q4: the CPU engine only" "$T/err"
bench "${QUICK[@]}" --weights int8
check "bench --weights int8 exits 0" test "$RC" -eq 0
check "bench reports int8 weights" grep -q "precision int8 weights" "$T/out"
check "bench names the int8 kernel" grep -Eq "kernels: *cpu int8 weights, gemm (amx|avx512vnni|portable)" "$T/out"
check "bench reports GFLOP/s" grep -q "GFLOP/s achieved" "$T/out"
FATHOM_CPU_KERNEL=portable bench "${QUICK[@]}" --precision bf16
check "FATHOM_CPU_KERNEL=portable reaches the engine" grep -q "kernels: *cpu bf16, gemm portable" "$T/out"
bench "${QUICK[@]}"
check "default bench stays fp32" grep -q "kernels: *cpu fp32, gemm openblas sgemm" "$T/out"

run --model "$MODEL" --weights int4 -o "$T/bad" "$CASE/input.png"
check "run --weights int4 exits 2" test "$RC" -eq 2
check "run --weights int4: message names the flag and value" grep -q -- "--weights: 'int4'" "$T/err"
check "run --weights int4: nothing written" test ! -e "$T/bad/input.npy"
bench "${QUICK[@]}" --weights q3
check "bench --weights q3 exits 2" test "$RC" -eq 2
run --model "$MODEL" --device cuda --weights int8 -o "$T/cu" "$CASE/input.png"
check "run --device cuda --weights int8 exits 2" test "$RC" -eq 2
check "run cuda int8: says it is CPU only" grep -q "CPU engine only" "$T/err"
check "run cuda int8: nothing written" test ! -e "$T/cu/input.npy"

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
