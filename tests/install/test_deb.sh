#!/usr/bin/env bash
# test_deb.sh - cpack -G DEB makes a .deb holding the library (with its SONAME symlinks and a
# shlibs file), header, config header, fathom.pc, CMake package and docs, whose Depends come
# from dpkg-shlibdeps (CUDA builds: libfathom-cuda.so in a fathom-cuda .deb depending on it);
# a program built against the unpacked package runs a golden case.
set -euo pipefail
: "${FATHOM_BUILD:?}" "${FATHOM_SRC:?}" "${FATHOM_GOLDEN:?}"
grep -q 'BUILD_SHARED_LIBS:BOOL=ON' "$FATHOM_BUILD/CMakeCache.txt" || { echo "static build: SKIP"; exit 77; }
command -v dpkg-deb >/dev/null || { echo "no dpkg-deb: SKIP"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

(cd "$FATHOM_BUILD" && cpack -G DEB -B "$T/out") >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log"; exit 1; }
deb=$(ls "$T"/out/fathom_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||' >"$T/files"
for f in usr/include/fathom.h usr/include/fathom_config.h usr/share/doc/fathom/README.md; do
    grep -qx "$f" "$T/files" || { echo "FAIL: $f not in the .deb"; cat "$T/files"; exit 1; }
done
for re in 'usr/lib.*/libfathom\.so\.[0-9]+\.[0-9]+\.[0-9]+' 'usr/lib.*/pkgconfig/fathom\.pc' \
          'usr/lib.*/cmake/fathom/fathomConfig\.cmake'; do
    grep -Eqx "$re" "$T/files" || { echo "FAIL: nothing like $re in the .deb"; cat "$T/files"; exit 1; }
done
if grep -q 'FATHOM_BUILD_CLI:BOOL=ON' "$FATHOM_BUILD/CMakeCache.txt"; then
    grep -qx usr/bin/fathom "$T/files" || { echo "FAIL: CLI not in the .deb"; exit 1; }
fi
dpkg-deb -f "$deb" Depends | grep -q 'libavcodec' || { echo "FAIL: Depends lacks the libraries"; dpkg-deb -f "$deb" Depends; exit 1; }
dpkg-deb -I "$deb" shlibs | grep -q '^libfathom 0.1' || { echo "FAIL: no shlibs entry"; exit 1; }

# CUDA builds: the module in its own package, depending on this one
if [ -f "$FATHOM_BUILD/libfathom-cuda.so" ]; then
    cdeb=$(ls "$T"/out/fathom-cuda_*.deb 2>/dev/null || true)
    [ -n "$cdeb" ] || { echo "FAIL: CUDA build without a fathom-cuda .deb"; ls "$T/out"; exit 1; }
    dpkg-deb -c "$cdeb" | grep -Eq 'usr/lib.*/libfathom-cuda\.so$' || { echo "FAIL: module not in $cdeb"; exit 1; }
    dpkg-deb -f "$cdeb" Depends | grep -q '^fathom (= ' || { echo "FAIL: fathom-cuda does not depend on fathom"; exit 1; }
    grep -q 'libfathom-cuda' "$T/files" && { echo "FAIL: the module is in the fathom package too"; exit 1; }
fi

# a user's program against the unpacked package (fathom.pc is relocatable)
dpkg-deb -x "$deb" "$T/root"
pcdir=$(dirname "$(find "$T/root" -name fathom.pc)")
cc -std=c11 -Wall -Werror -o "$T/prog" "$FATHOM_SRC/tests/install/consumer/depth_once.c" \
    $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs fathom) -Wl,-rpath,"$(dirname "$pcdir")"
G=$FATHOM_GOLDEN/tiny-hf
"$T/prog" "$G/model" "$G/input.png" 518 "$T/d.npy"
/usr/bin/python3 - "$T/d.npy" "$G/depth.npy" <<'PY'
import sys, numpy as np
d, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
e = np.abs(d - ref); m = np.abs(ref).max()
assert d.shape == ref.shape and e.max() <= 1e-4 * m, e.max()
PY
echo "$(basename "$deb"): $(wc -l <"$T/files") entries, Depends from shlibdeps, program against it: OK"
