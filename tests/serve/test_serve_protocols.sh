#!/usr/bin/env bash
# test_serve_protocols.sh - `fathom serve` sources and output streams over RTMP, SRT and HTTP on
# loopback against real ffmpeg peers. See serve_protocols.py for the checks; test_serve_cli.sh
# checks the requirements and runs it.
SERVE_PY=serve_protocols.py exec bash "$(dirname "$0")/test_serve_cli.sh" "$@"
