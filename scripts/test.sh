#!/usr/bin/env bash
# The whole test suite: the Release build's tests, the same tests under ASan+UBSan, the
# pipeline tests under TSan, and every libFuzzer target for a short run.
# Usage: scripts/test.sh [--quick]   (--quick: Release tests only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${FATHOM_FUZZ_SECONDS:-20}
failed=0
step() { printf '\n=== %s ===\n' "$*"; }

step "Release build + tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" || failed=1
[ "${1:-}" = "--quick" ] && exit $failed

step "Python package: pip wheel ./python (offline, Debian setuptools) + pytest"
pywork=$(mktemp -d); root=$PWD
if FATHOM_CUDA=OFF CMAKE_BUILD_PARALLEL_LEVEL=$jobs /usr/bin/python3 -m pip wheel --no-build-isolation --no-deps --no-index -w "$pywork/wheel" ./python \
     >"$pywork/build.log" 2>&1 \
   && /usr/bin/python3 -m zipfile -e "$pywork"/wheel/fathom-*.whl "$pywork/site"; then
  (cd "$pywork" && PYTHONPATH="$pywork/site" FATHOM_BIN="$root/build/fathom" \
     FATHOM_GOLDEN="${FATHOM_GOLDEN:-$root/../shared/golden}" \
     /usr/bin/python3 -m pytest -p no:cacheprovider -q "$root/python/tests") || failed=1
else
  tail -40 "$pywork/build.log"; failed=1
fi
rm -rf "$pywork" python/build python/fathom.egg-info

step "ASan+UBSan build + tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_SANITIZE=address -DFATHOM_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE nosan || failed=1

step "TSan build + pipeline tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_SANITIZE=thread -DFATHOM_CUDA=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L tsan || failed=1

step "libFuzzer targets (${fuzz_seconds}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_FUZZ=ON -DFATHOM_CUDA=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"
for fz in build-fuzz/fuzz_*; do
  [ -x "$fz" ] || continue
  name=$(basename "$fz")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  if "$fz" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -max_len=65536 "$work" >"$work.log" 2>&1; then
    echo "fuzz $name: $(grep -Eo '#[0-9]+' "$work.log" | tail -1) runs, no crash  PASS"
  else
    echo "fuzz $name: FAILED"; tail -40 "$work.log"; failed=1
  fi
  rm -rf "$work" "$work.log"
done

echo
if [ $failed -eq 0 ]; then echo "test.sh: all suites passed"; else echo "test.sh: FAILURES above"; fi
exit $failed
