#!/usr/bin/env bash
# test_serve_live.sh - `fathom serve` sinks and models changed live with the real binary:
# recording, output stream, model switch, VDA streaming. See serve_live.py for the checks;
# test_serve_cli.sh checks the requirements and runs it.
SERVE_PY=serve_live.py exec bash "$(dirname "$0")/test_serve_cli.sh" "$@"
