#!/usr/bin/env bash
# test_shard.sh - `fathom run --shard K/N` and `fathom report merge` with the real binary:
# N shards run at once into one OUTDIR give exactly the single run's outputs (same names, same
# bytes), disjoint shares, and a merged report equal to the single run's items; bad --shard and
# bad reports (truncated, the same shard twice, output = input) fail clearly.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg CLI missing"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import json' 2>/dev/null || { echo "SKIP: /usr/bin/python3 missing"; exit 77; }
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
img() { ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=$2" -frames:v 1 "$1"; }
# --batch 1: a batch's composition (timing-dependent) changes GEMM blocking in the last bits;
# with one item per batch every output is bit-exact whatever the shard
FAST=(--model "$MODEL" --input-size 28 --threads 1 --batch 1 --progress none)

IN="$T/in"
mkdir -p "$IN/sub"
for i in 1 2 3 4 5 6 7; do img "$IN/f$i.png" "$((16 + 3 * i))x$((12 + 2 * i))"; done
img "$IN/f2.jpg" 20x14          # clash with f2.png: the name depends on every earlier input
img "$IN/sub/f1.png" 18x18
echo "not an image" >"$IN/sub/broken.png"
printf '%s\n' "$IN/f3.png" "$IN/missing.png" "$IN/sub/f1.png" >"$T/list.txt"  # dup + failed line

# ---- 1. single run: the reference ----
"$FATHOM_BIN" run "${FAST[@]}" -r -o "$T/single" --report "$T/single.json" "$IN" "$T/list.txt" 2>"$T/err"
check "single run exits 1 (one corrupt, one missing)" test $? -eq 1

# ---- 2. three shards at once into one OUTDIR ----
pids=()
for k in 1 2 3; do
  "$FATHOM_BIN" run "${FAST[@]}" -r --shard "$k/3" -o "$T/sharded" --report "$T/s$k.json" \
    "$IN" "$T/list.txt" 2>"$T/err$k" &
  pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs $?"; done
echo "  shard exit codes:$rcs"
check "some shard reports the failure (exit 1), none a setup error" \
  bash -c "[[ '$rcs' == *1* && '$rcs' != *2* ]]"
check "sharded outputs = single-run outputs (names)" \
  diff <(cd "$T/single" && find . -type f ! -name .fathom-manifest | sort) \
       <(cd "$T/sharded" && find . -type f ! -name .fathom-manifest | sort)
same_bytes=1
while IFS= read -r f; do cmp -s "$T/single/$f" "$T/sharded/$f" || { same_bytes=0; echo "  differs: $f"; }; done \
  < <(cd "$T/single" && find . -type f -name '*.npy')
check "sharded outputs byte-identical to the single run" test "$same_bytes" -eq 1

check "shares are disjoint, balanced, and cover the run" "$PY" - "$T" <<'PYEOF'
import json, sys
T = sys.argv[1]
single = json.load(open(f"{T}/single.json"))
shards = [json.load(open(f"{T}/s{k}.json")) for k in (1, 2, 3)]
idx = [sorted(i["index"] for i in s["items"]) for s in shards]
allidx = sorted(i for x in idx for i in x)
assert allidx == sorted(i["index"] for i in single["items"]), (idx, len(single["items"]))
assert all(i % 3 == k for k, x in enumerate(idx) for i in x), idx
assert max(map(len, idx)) - min(map(len, idx)) <= 1, idx
PYEOF

# ---- 3. report merge ----
"$FATHOM_BIN" report merge "$T/s2.json" "$T/s3.json" "$T/s1.json" -o "$T/merged.json" 2>"$T/err"
check "report merge exits 0" test $? -eq 0
check "merged report: every input once, as in the single run; totals add up" "$PY" - "$T" <<'PYEOF'
import json, sys, os
T = sys.argv[1]
s = json.load(open(f"{T}/single.json")); m = json.load(open(f"{T}/merged.json"))
key = lambda i: (i["index"], i["source"], i["state"], i.get("duplicate_of"),
                 [os.path.relpath(o, f"{T}/single" if "/single/" in o else f"{T}/sharded") for o in i["outputs"]])
a, b = [key(i) for i in s["items"]], [key(i) for i in m["items"]]
a.sort()
assert a == b, (a, b)
for k in ("taken", "done", "skipped", "failed", "finished"):
    assert m["totals"][k] == s["totals"][k], (k, m["totals"][k], s["totals"][k])
assert m["totals"]["shards"] == 3 and len(m["run"]["merged_from"]) == 3
assert m["totals"]["failed"] == 2 and m["totals"]["skipped"] == 2  # broken+missing; 2 dups
assert m["stages"]["infer"]["items"] == s["stages"]["infer"]["items"]
PYEOF

# ---- 4. errors ----
for bad_shard in 0/3 4/3 3 a/b 1/0 "1/3x"; do
  "$FATHOM_BIN" run "${FAST[@]}" --shard "$bad_shard" -o "$T/x" "$IN/f1.png" 2>"$T/err"
  rc=$?
  check "--shard $bad_shard: exit 2 with a message naming --shard" \
    bash -c "[ $rc -eq 2 ] && grep -q -- '--shard' '$T/err'"
done
head -c 200 "$T/s1.json" >"$T/trunc.json"
"$FATHOM_BIN" report merge "$T/trunc.json" "$T/s2.json" -o "$T/m2.json" 2>"$T/err"
rc=$?
check "truncated report rejected (exit 2, names it, nothing written)" \
  bash -c "[ $rc -eq 2 ] && grep -q 'trunc.json' '$T/err' && grep -q 'not complete JSON' '$T/err' && [ ! -e '$T/m2.json' ]"
"$FATHOM_BIN" report merge "$T/s1.json" "$T/s1.json" -o "$T/m3.json" 2>"$T/err"
rc=$?
check "the same shard twice rejected (item in both)" \
  bash -c "[ $rc -eq 2 ] && grep -q 'in both' '$T/err' && [ ! -e '$T/m3.json' ]"
cp "$T/s1.json" "$T/keep.json"
"$FATHOM_BIN" report merge "$T/s1.json" "$T/s2.json" -o "$T/s1.json" 2>"$T/err"
rc=$?
check "output = an input rejected, input kept" \
  bash -c "[ $rc -eq 2 ] && cmp -s '$T/s1.json' '$T/keep.json'"

# ---- 5. videos are shared out by their position among the videos ----
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=32x24:rate=5 -frames:v 3 -pix_fmt yuv420p "$T/v1.mp4"
cp "$T/v1.mp4" "$T/v2.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --shard 2/2 -f npy -o "$T/vid" "$T/v1.mp4" "$T/v2.mp4" 2>"$T/err"
rc=$?
check "video shard 2/2 runs only the second video" \
  bash -c "[ $rc -eq 0 ] && ls '$T/vid' | grep -q v2 && ! ls '$T/vid' | grep -q v1"

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
