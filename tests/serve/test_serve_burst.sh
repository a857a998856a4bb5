#!/usr/bin/env bash
# test_serve_burst.sh - 30 bursts of 50 WebSocket clients that read a frame or three and close
# (ws_burst_stress.py): the server must survive them and stop cleanly. test_serve_cli.sh checks
# the requirements and runs it.
SERVE_PY=ws_burst_stress.py exec bash "$(dirname "$0")/test_serve_cli.sh" 30
