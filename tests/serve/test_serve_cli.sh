#!/usr/bin/env bash
# test_serve_cli.sh - `fathom serve` end to end with the real binary: ffmpeg streams MPEG-TS over
# UDP on loopback, Python websockets (Debian) is the client. See serve_e2e.py for the checks.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}" "${FATHOM_SRC:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
/usr/bin/python3 -c 'import websockets, numpy' 2>/dev/null ||
  { echo "SKIP: python3-websockets / python3-numpy missing (scripts/install-deps.sh)"; exit 77; }
exec /usr/bin/python3 "$FATHOM_SRC/tests/serve/${SERVE_PY:-serve_e2e.py}" "$@"
