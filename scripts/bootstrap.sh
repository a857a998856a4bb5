#!/usr/bin/env bash
# One command from a fresh clone: install the Debian packages, then build build/fathom.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "bootstrap: built $(pwd)/build/fathom"
