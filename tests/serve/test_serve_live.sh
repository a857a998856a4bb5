#!/usr/bin/env bash
# test_serve_live.sh - `fathom serve` sinks and models changed live with the real binary:
# recording, output stream, model switch, VDA streaming. See serve_live.py for the checks.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}" "${FATHOM_SRC:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
/usr/bin/python3 -c 'import websockets, numpy' 2>/dev/null ||
  { echo "SKIP: python3-websockets / python3-numpy missing (scripts/install-deps.sh)"; exit 77; }
exec /usr/bin/python3 "$FATHOM_SRC/tests/serve/serve_live.py" "$@"
