#!/usr/bin/env bash
# test_serve_limits.sh - the streaming-client limit with the real binary (serve_limits.py);
# test_serve_cli.sh checks the requirements and runs it.
SERVE_PY=serve_limits.py exec bash "$(dirname "$0")/test_serve_cli.sh" "$@"
