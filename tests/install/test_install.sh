#!/usr/bin/env bash
# test_install.sh - install the build into a temporary prefix (library, header, config header,
# fathom.pc, CMake package, CLI, docs), then build a user's program against the installed copy
# twice, through pkg-config and through find_package(fathom), run both on a golden case and
# compare their depth with the official one. Needs a full build (cmake --build).
set -euo pipefail
: "${FATHOM_BUILD:?}" "${FATHOM_SRC:?}" "${FATHOM_GOLDEN:?}"
PY=/usr/bin/python3
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
P=$T/prefix

cmake --install "$FATHOM_BUILD" --prefix "$P" >"$T/install.log" || { cat "$T/install.log"; exit 1; }
pc=$(find "$P" -name fathom.pc)
[ -n "$pc" ] || { echo "FAIL: no fathom.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in "$P/include/fathom.h" "$P/include/fathom_config.h" "$libdir/cmake/fathom/fathomConfig.cmake" \
         "$P/share/doc/fathom/README.md"; do
    [ -f "$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
if grep -q 'FATHOM_BUILD_CLI:BOOL=ON' "$FATHOM_BUILD/CMakeCache.txt"; then
    [ -x "$P/bin/fathom" ] || { echo "FAIL: CLI not installed"; exit 1; }
fi
shared=0; grep -q 'BUILD_SHARED_LIBS:BOOL=ON' "$FATHOM_BUILD/CMakeCache.txt" && shared=1

# 1. pkg-config (a static libfathom's .pc names its dependencies in Libs and Requires)
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs fathom)
case "$flags" in *"$P"*) ;; *) echo "FAIL: pkg-config flags do not point into the prefix: $flags"; exit 1;; esac
cc -std=c11 -Wall -Werror -o "$T/pc_prog" "$FATHOM_SRC/tests/install/consumer/depth_once.c" \
    $flags -Wl,-rpath,"$libdir"

# 2. find_package(fathom) -> fathom::fathom
cmake -S "$FATHOM_SRC/tests/install/consumer" -B "$T/cm" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_BUILD_RPATH="$libdir" >"$T/cm.log" 2>&1 || { cat "$T/cm.log"; exit 1; }
cmake --build "$T/cm" >>"$T/cm.log" 2>&1 || { cat "$T/cm.log"; exit 1; }

if [ $shared -eq 1 ]; then   # both must use the installed library, not the build tree's
    for p in "$T/pc_prog" "$T/cm/depth_once"; do
        ldd "$p" >"$T/ldd"   # not piped into grep -q: its early exit would SIGPIPE ldd (pipefail)
        grep -q "=> $libdir/libfathom.so" "$T/ldd" || { echo "FAIL: $p does not load $libdir/libfathom.so"; cat "$T/ldd"; exit 1; }
    done
fi

G=$FATHOM_GOLDEN/tiny-hf
"$T/pc_prog" "$G/model" "$G/input.png" 518 "$T/pc.npy"
"$T/cm/depth_once" "$G/model" "$G/input.png" 518 "$T/cm.npy"
if "$T/pc_prog" "$T/no-such-model" "$G/input.png" 518 "$T/x.npy" 2>"$T/err"; then
    echo "FAIL: a missing model was accepted"; exit 1
fi
grep -q "no-such-model" "$T/err" || { echo "FAIL: the error does not name the model"; cat "$T/err"; exit 1; }

$PY - "$T" "$G" <<'PY'
import sys, numpy as np
t, g = sys.argv[1], sys.argv[2]
ref = np.load(g + "/depth.npy"); m = np.abs(ref).max()
for name in ("pc", "cm"):
    d = np.load(f"{t}/{name}.npy")
    assert d.shape == ref.shape and d.dtype == np.float32, (name, d.shape, d.dtype)
    e = np.abs(d - ref)   # golden README tolerances for float32 engines
    assert e.max() <= 1e-4 * m and np.sqrt((e ** 2).mean()) <= 1e-5 * m, (name, e.max())
print("installed libfathom through pkg-config and find_package: golden depth OK")
PY
