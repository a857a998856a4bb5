#!/usr/bin/env bash
# test_exports.sh - the shared libfathom exports exactly the functions include/fathom.h
# declares: nothing internal leaves it (-fvisibility=hidden), nothing public is missing, and
# its SONAME carries the version. Skips (77) in a static build.
set -euo pipefail
: "${FATHOM_BUILD:?}" "${FATHOM_SRC:?}"
lib=$(ls "$FATHOM_BUILD"/libfathom.so.*.*.* 2>/dev/null | head -1 || true)
if [ -z "$lib" ]; then
    grep -q 'BUILD_SHARED_LIBS:BOOL=OFF' "$FATHOM_BUILD/CMakeCache.txt" && { echo "static build: SKIP"; exit 77; }
    echo "FAIL: no libfathom.so.X.Y.Z in $FATHOM_BUILD (build the libfathom target)"; exit 1
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sort -u >"$T/exported"
# functions declared in the header: comments removed, "name(" at the start of a declarator
/usr/bin/python3 - "$FATHOM_SRC/include/fathom.h" >"$T/declared" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
src = re.sub(r"//[^\n]*", " ", src)
src = re.sub(r"^\s*#[^\n]*", " ", src, flags=re.M)
names = set()
for m in re.finditer(r"\b(fathom_\w+)\s*\(", src):  # "(*fathom_x_fn)" is not matched
    start = max(src.rfind(c, 0, m.start()) for c in ";{}")
    if not re.search(r"\b(static|typedef)\b", src[start + 1:m.start()]):  # inline helpers
        names.add(m.group(1))
print("\n".join(sorted(names)))
PY
[ -s "$T/declared" ] || { echo "FAIL: no declarations found in fathom.h"; exit 1; }
extra=$(comm -23 "$T/exported" "$T/declared")
missing=$(comm -13 "$T/exported" "$T/declared")
if [ -n "$extra" ]; then echo "FAIL: exported but not declared in fathom.h:"; echo "$extra"; exit 1; fi
if [ -n "$missing" ]; then echo "FAIL: declared in fathom.h but not exported:"; echo "$missing"; exit 1; fi

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$soname" in libfathom.so.[0-9]*) ;; *) echo "FAIL: SONAME '$soname'"; exit 1;; esac
echo "$(wc -l <"$T/exported") symbols exported, all declared in fathom.h; SONAME $soname: OK"
