#!/usr/bin/env bash
# test_serve_viewer.sh - the viewer page in headless Chromium (Debian's chromium, driven over the
# DevTools protocol with python3-websockets): the depth image updates, a control changes the
# live settings, and a screenshot is saved ($FATHOM_BUILD/serve_viewer.png).
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}" "${FATHOM_SRC:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "SKIP: chromium not installed (apt-get install chromium)"; exit 77; }
/usr/bin/python3 -c 'import websockets' 2>/dev/null || { echo "SKIP: python3-websockets missing"; exit 77; }
exec /usr/bin/python3 "$FATHOM_SRC/tests/serve/viewer_cdp.py" "$CHROME"
