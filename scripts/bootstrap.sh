#!/usr/bin/env bash
# One command from a fresh clone: install the Debian packages, build build/fathom, and install
# it on PATH (PREFIX, default /usr/local: /usr/local/bin/fathom).
# Usage: scripts/bootstrap.sh [--no-install]   (PREFIX=/opt/fathom scripts/bootstrap.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build build -j"$(nproc)"
echo "bootstrap: built $(pwd)/build/fathom"
[ "${1:-}" = "--no-install" ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && [ ! -w "$prefix" ] && sudo="sudo"
if grep -q "install(" CMakeLists.txt; then
  $sudo cmake --install build        # the packaging rules: CLI, library, header, docs
else
  $sudo install -D -m 0755 build/fathom "$prefix/bin/fathom"  # no install rules yet: the CLI
fi
case ":$PATH:" in
  *":$prefix/bin:"*) echo "bootstrap: installed $(command -v fathom || echo "$prefix/bin/fathom")" ;;
  *) echo "bootstrap: installed $prefix/bin/fathom; add $prefix/bin to PATH" ;;
esac
