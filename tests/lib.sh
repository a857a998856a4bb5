# lib.sh - the shared start of the shell tests (tests/<area>/test_*.sh drive the real binary).
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# Checks FATHOM_BIN and FATHOM_GOLDEN, sets CASE/MODEL (the tiny golden case and its HF
# folder), makes the scratch folder $T (removed at exit; a test that needs more cleanup sets
# its own trap and removes $T there too) and defines:
#   ok / bad NAME, check NAME CMD...  count failures in $fails (bad shows the head of $T/err)
#   run ARGS... / bench ARGS...       fathom run / bench: stderr in $T/err (bench: stdout in
#                                     $T/out), the exit code in $RC
#   img FILE WxH                      a test-pattern image through the ffmpeg CLI
#   need_ffmpeg, need_model           SKIP (exit 77) without the ffmpeg CLI / the tiny model
#   need_numpy [fail]                 $PY = a python3 with numpy; SKIP without one, or FAIL
#                                     with "fail" (tests whose checks are numpy comparisons)
#   golden OUT.npy MAXTOL RMSTOL      OUT against $CASE/depth.npy (fractions of max|ref|)
#   finish                            the summary line; its status is the test's
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
CASE="$FATHOM_GOLDEN/tiny-hf"
MODEL="$CASE/model"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
RC=0
PY=""

ok()    { echo "ok   $1"; }
bad()   { echo "FAIL $1"; [ -s "$T/err" ] && sed 's/^/     | /' "$T/err" | head -5; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run()   { "$FATHOM_BIN" run "$@" 2>"$T/err"; RC=$?; }
bench() { "$FATHOM_BIN" bench "$@" >"$T/out" 2>"$T/err"; RC=$?; }
img()   { ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=$2" -frames:v 1 "$1"; }

need_ffmpeg() {
  command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
}
need_model() {
  [ -f "$MODEL/model.safetensors" ] || { echo "SKIP: $MODEL missing (../shared/golden)"; exit 77; }
}
need_numpy() {
  local p
  for p in /usr/bin/python3 python3; do
    if "$p" -c 'import numpy' 2>/dev/null; then PY=$p; return 0; fi
  done
  if [ "${1:-}" = fail ]; then
    echo "FAIL: python3 with numpy missing (a test dependency: scripts/install-deps.sh)"
    exit 1
  fi
  echo "SKIP: python3 with numpy missing (scripts/install-deps.sh)"
  exit 77
}

golden() {
  [ -f "$T/compare.py" ] || cat >"$T/compare.py" <<'PYEOF'
import sys, numpy as np
out, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
mt, rt = float(sys.argv[3]), float(sys.argv[4])
assert out.dtype == np.float32 and out.shape == ref.shape, (out.dtype, out.shape, ref.shape)
m = np.abs(ref).max(); d = out.astype(np.float64) - ref
mx, rms = np.abs(d).max() / m, np.sqrt((d * d).mean()) / m
print("  %s: max|d|/max|ref| = %.3g, rms/max|ref| = %.3g" % (sys.argv[1].split("/")[-1], mx, rms))
sys.exit(0 if mx <= mt and rms <= rt else 1)
PYEOF
  "${PY:-python3}" "$T/compare.py" "$1" "$CASE/depth.npy" "$2" "$3"
}

finish() {
  if [ "$fails" -eq 0 ]; then echo "all passed"; else echo "$fails failure(s)"; fi
  [ "$fails" -eq 0 ]
}
