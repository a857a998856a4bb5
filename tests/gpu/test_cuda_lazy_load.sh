#!/usr/bin/env bash
# test_cuda_lazy_load.sh - the CUDA libraries are mapped only when a CUDA device is asked for.
#
# The dynamic linker's own trace (LD_DEBUG=libs) lists every library a process loads, at
# start-up and through dlopen. `fathom version` and a CPU run must load neither cudart nor
# cuBLAS(Lt) nor the module libfathom-cuda.so. In a CUDA build (the module sits next to the
# binary), `--device cuda` must load the module and cudart (positive control: the trace does
# see them), and a copy of the binary without a module beside it must refuse `--device cuda`
# with exit 2 and a message naming the module and FATHOM_BACKEND_PATH, then load it from
# FATHOM_BACKEND_PATH.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
IMG="$FATHOM_GOLDEN/tiny-hf/input.png"
# trace NAME CMD...: run CMD with the loader trace in $T/NAME.trace, its stderr in $T/NAME.err
trace() {
  local name=$1; shift
  LD_DEBUG=libs LD_DEBUG_OUTPUT="$T/$name.trace" "$@" >"$T/$name.out" 2>"$T/$name.err"
  RC=$?
  cat "$T/$name.trace".* >"$T/$name.trace" 2>/dev/null || : >"$T/$name.trace"
}
loaded() { grep -Eq "(calling init|find library=).*$2" "$T/$1.trace"; }
none_cuda() { ! grep -Eq "libcudart|libcublas|libfathom-cuda" "$T/$1.trace"; }

trace version "$FATHOM_BIN" version
check "fathom version exits 0" test "$RC" -eq 0
check "the trace works (libc seen)" loaded version "libc\.so"
check "fathom version maps no CUDA library" none_cuda version
trace cpu "$FATHOM_BIN" run --model "$MODEL" --device cpu --input-size 28 -o "$T/o_cpu" "$IMG"
check "run --device cpu exits 0" test "$RC" -eq 0
check "run --device cpu maps no CUDA library" none_cuda cpu

BIN_DIR=$(dirname "$FATHOM_BIN")
if [ -e "$BIN_DIR/libfathom-cuda.so" ]; then
  echo "CUDA build: module at $BIN_DIR/libfathom-cuda.so"
  trace cuda "$FATHOM_BIN" run --model "$MODEL" --device cuda --input-size 28 -o "$T/o_cuda" "$IMG"
  check "run --device cuda loads the module" loaded cuda "libfathom-cuda"
  check "run --device cuda loads cudart" loaded cuda "libcudart"
  check "run --device cuda: ran, or exited 2 naming a device cause" \
    bash -c "[ $RC -eq 0 ] || { [ $RC -eq 2 ] && grep -Eq 'no NVIDIA driver|no CUDA device|cuda:0' '$T/cuda.err'; }"
  # a copy of the binary with no module beside it (and none installed on this machine)
  mkdir -p "$T/bin"
  cp "$FATHOM_BIN" "$T/bin/fathom"
  trace nomod env FATHOM_BACKEND_PATH="$T/none" "$T/bin/fathom" run --model "$MODEL" \
    --device cuda --input-size 28 -o "$T/o_nomod" "$IMG"
  check "no module: --device cuda exits 2" test "$RC" -eq 2
  check "no module: message names the module" grep -q "libfathom-cuda.so" "$T/nomod.err"
  check "no module: message names FATHOM_BACKEND_PATH" grep -q "FATHOM_BACKEND_PATH" "$T/nomod.err"
  check "no module: nothing written" test ! -e "$T/o_nomod/input.npy"
  trace envmod env FATHOM_BACKEND_PATH="$T/none:$BIN_DIR" "$T/bin/fathom" run --model "$MODEL" \
    --device cuda --input-size 28 -o "$T/o_envmod" "$IMG"
  check "FATHOM_BACKEND_PATH: module found there" loaded envmod "$BIN_DIR/libfathom-cuda"
else
  echo "CPU-only build: no module next to $FATHOM_BIN"
  trace cuda "$FATHOM_BIN" run --model "$MODEL" --device cuda --input-size 28 -o "$T/o_cuda" "$IMG"
  check "run --device cuda exits 2" test "$RC" -eq 2
  check "run --device cuda says why" grep -q "built without CUDA" "$T/cuda.err"
  check "run --device cuda maps no CUDA runtime" bash -c "! grep -Eq 'libcudart|libcublas' '$T/cuda.trace'"
fi

finish
