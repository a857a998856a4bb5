#!/usr/bin/env bash
# test_run_cli.sh - `fathom run` end to end with the real binary on real files made by ffmpeg:
# golden parity, folders (-r, hidden, nested, odd sizes, corrupt), lists, stdin, URLs, naming
# clashes, resume/overwrite, exit codes 0/1/2/130, report totals, unwritable output, Ctrl-C.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
: "${FATHOM_SRC:?}"
need_ffmpeg
need_numpy

SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"
  rm -rf "$T"
}
trap cleanup EXIT
# run fathom, keep exit code in RC and stderr in $T/err
FAST=(--model "$MODEL" --input-size 28 --threads 1)

# ---- 1. golden parity: the user path is the real engine ----
run --model "$MODEL" -o "$T/golden" "$FATHOM_GOLDEN/tiny-hf/input.png"
check "golden run exits 0" test "$RC" -eq 0
check "golden depth.npy parity (golden README tolerance)" "$PY" - "$T/golden/input.npy" \
  "$FATHOM_GOLDEN/tiny-hf/depth.npy" <<'PYEOF'
import sys, numpy as np
out, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
assert out.dtype == np.float32 and out.shape == ref.shape, (out.dtype, out.shape, ref.shape)
m = np.abs(ref).max(); d = out.astype(np.float64) - ref
print("  max|d|/max|ref| = %.3g, rms/max|ref| = %.3g" % (np.abs(d).max() / m, np.sqrt((d * d).mean()) / m))
assert np.abs(d).max() <= 1e-4 * m and np.sqrt((d * d).mean()) <= 1e-5 * m
PYEOF

# ---- 2. folder walk: -r, hidden skipped, nested mirrored, odd sizes, corrupt, clash ----
IN="$T/in"
mkdir -p "$IN/sub/deeper" "$IN/.hidden_dir" "$IN/empty"
img "$IN/a.png" 64x48
img "$IN/a.jpg" 33x17          # same stem as a.png: clash rule
img "$IN/sub/b.png" 17x31
img "$IN/sub/deeper/c.jpg" 1x1  # smallest possible image
img "$IN/.hidden.png" 20x20
img "$IN/.hidden_dir/h.png" 20x20
echo "not an image" >"$IN/sub/broken.png"
echo "notes" >"$IN/readme.md"   # not an image extension: ignored
run "${FAST[@]}" -r -o "$T/o2" --report "$T/r2.json" -f npy,png16,color "$IN"
check "folder with a corrupt file exits 1" test "$RC" -eq 1
check "corrupt file named in the error" grep -q "sub/broken.png" "$T/err"
check "no outputs for hidden files" test ! -e "$T/o2/.hidden.npy" -a ! -e "$T/o2/.hidden_dir"
check "nested tree mirrored" test -f "$T/o2/sub/deeper/c.npy" -a -f "$T/o2/sub/b.png" -a -f "$T/o2/sub/b.color.png"
check "clash: a.jpg -> a.*, a.png -> a.png.*" test -f "$T/o2/a.npy" -a -f "$T/o2/a.png.npy" -a -f "$T/o2/a.png.png"
check "no temporary files left" test -z "$(find "$T/o2" -name '*tmp*')"
check "outputs read back: shapes = input sizes" "$PY" - "$T/o2" <<'PYEOF'
import sys, numpy as np
o = sys.argv[1]
want = {"a.npy": (17, 33), "a.png.npy": (48, 64), "sub/b.npy": (31, 17), "sub/deeper/c.npy": (1, 1)}
for k, s in want.items():
    a = np.load(o + "/" + k)
    assert a.shape == s and a.dtype == np.float32 and np.isfinite(a).all(), (k, a.shape)
PYEOF
check "report totals add up" "$PY" - "$T/r2.json" <<'PYEOF'
import sys, json
r = json.load(open(sys.argv[1])); t = r["totals"]; items = r["items"]
assert t["taken"] == 5 == len(items), t
assert t["done"] == 4 and t["failed"] == 1 and t["skipped"] == 0
assert t["done"] + t["failed"] + t["skipped"] == t["finished"] == t["taken"]
states = sorted(i["state"] for i in items)
assert states == ["done"] * 4 + ["failed"], states
f = [i for i in items if i["state"] == "failed"][0]
assert f["source"].endswith("sub/broken.png") and f["error"], f
for i in items:
    if i["state"] == "done":
        assert len(i["outputs"]) == 3, i
for s in ("source", "decode", "infer", "write"):
    assert r["stages"][s]["busy_s"] >= 0
PYEOF
# an output folder inside the input folder is never walked (no depth of depth maps)
cp -r "$IN" "$T/self"
run "${FAST[@]}" -r -f png16 -o "$T/self/out" "$T/self"
run "${FAST[@]}" -r -f png16 --resume -o "$T/self/out" "$T/self"
check "output folder inside the input: skipped by the walk" test ! -e "$T/self/out/out"
# without -r only the top level is taken
run "${FAST[@]}" -o "$T/o2b" "$IN"
check "no -r: top level only, exit 0" test "$RC" -eq 0 -a -f "$T/o2b/a.npy" -a ! -e "$T/o2b/sub"

# ---- 3. resume / existing-output policy ----
sum_before=$(cd "$T/o2" && find . -type f | sort | xargs md5sum)
run "${FAST[@]}" -r -o "$T/o2" -f npy,png16,color "$IN"
check "default: existing outputs fail items (exit 1)" test "$RC" -eq 1
check "... naming --overwrite/--resume" grep -q "exists (use --overwrite or --resume)" "$T/err"
run "${FAST[@]}" -r -o "$T/o2" -f npy,png16,color --resume --report "$T/r3.json" "$IN"
check "--resume: corrupt still fails (exit 1)" test "$RC" -eq 1
check "--resume: finished items skipped" "$PY" -c "
import json; t = json.load(open('$T/r3.json'))['totals']
assert t['skipped'] == 4 and t['done'] == 0 and t['failed'] == 1, t"
sum_after=$(cd "$T/o2" && find . -type f | sort | xargs md5sum)
check "--resume and refusals left files untouched" test "$sum_before" = "$sum_after"
rm "$IN/sub/broken.png"
run "${FAST[@]}" -r -o "$T/o2" -f npy,png16,color --resume "$IN"
check "--resume with all done exits 0" test "$RC" -eq 0
touch -d '2001-01-01' "$T/o2/a.npy"
run "${FAST[@]}" -r -o "$T/o2" -f npy,png16,color --overwrite "$IN"
check "--overwrite exits 0 and rewrites" test "$RC" -eq 0 -a "$T/o2/a.npy" -nt "$IN/a.png"
run "${FAST[@]}" -o "$T/o2" --overwrite --resume "$IN"
check "--overwrite with --resume is a usage error (2)" test "$RC" -eq 2

# ---- 4. lists: a .txt file (relative paths, comments, blank lines) and stdin ----
printf '# a comment\n\nin/a.png\n  in/sub/b.png  \n%s\nin/missing.png\n' "$IN/a.jpg" >"$T/list.txt"
run "${FAST[@]}" -o "$T/o4" --report "$T/r4.json" "$T/list.txt"
check "list with a missing entry exits 1" test "$RC" -eq 1
check "list: relative entries mirror their folders" test -f "$T/o4/in/a.npy" -a -f "$T/o4/in/sub/b.npy"
check "list: absolute entry -> stem" test -f "$T/o4/a.npy"
check "list: missing entry reported by name" grep -q "in/missing.png" "$T/err"
# hostile list lines: a 10 000-byte path and binary junk are item errors, not crashes
{ head -c 10000 /dev/zero | tr '\0' 'x'; echo; printf 'bin\001\377ary\n'; echo "$IN/a.png"; } >"$T/hostile.txt"
run "${FAST[@]}" -o "$T/o4h" "$T/hostile.txt"
check "hostile list: exit 1, good entry done" test "$RC" -eq 1 -a -f "$T/o4h/a.npy"
(cd "$T" && printf 'in/a.png\nin/sub/b.png\n' | "$FATHOM_BIN" run "${FAST[@]}" -o o5 - 2>"$T/err")
RC=$?
check "stdin list exits 0" test "$RC" -eq 0 -a -f "$T/o5/in/a.npy" -a -f "$T/o5/in/sub/b.npy"

# ---- 5. exit code 2: setup errors name the path ----
run "${FAST[@]}" -o "$T/o6" "$T/does-not-exist.png"
check "missing input on the command line: 2" test "$RC" -eq 2
check "... naming it" grep -q "does-not-exist.png" "$T/err"
run --model "$T/no-model" -o "$T/o6" "$IN/a.png"
check "missing model: 2 naming it" test "$RC" -eq 2
grep -q "no-model" "$T/err" || bad "missing model path named"
run "${FAST[@]}" --batch zero -o "$T/o6" "$IN/a.png"
check "bad flag value: 2" test "$RC" -eq 2
run "${FAST[@]}" --format npy,jpeg -o "$T/o6" "$IN/a.png"
check "unknown format: 2" test "$RC" -eq 2
run "${FAST[@]}" --device tpu -o "$T/o6" "$IN/a.png"
check "unknown device: 2" test "$RC" -eq 2
run "${FAST[@]}" --device cpu,cpu -o "$T/o6d" "$IN/a.png" "$IN/a.jpg" "$IN/sub/b.png"
check "two CPU inference threads: exit 0, all written" test "$RC" -eq 0 -a -f "$T/o6d/a.npy" -a -f "$T/o6d/a.jpg.npy" -a -f "$T/o6d/b.npy"
echo file >"$T/plainfile"
run "${FAST[@]}" -o "$T/plainfile/out" "$IN/a.png"
check "output folder not creatable: 2" test "$RC" -eq 2
check "... naming it" grep -q "plainfile" "$T/err"
if [ "$(id -u)" -ne 0 ]; then
  mkdir "$T/ro" && chmod 555 "$T/ro"
  run "${FAST[@]}" -o "$T/ro" "$IN/a.png"
  check "read-only output folder: 2" test "$RC" -eq 2
fi

# disk full (a 64 KiB tmpfs, when this user may mount one): exit 2 naming the file, input
# stops, files already written stay complete, no temporary files left
mkdir -p "$T/full" "$T/fullin"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
  img "$T/fullin/big.png" 160x120
  for i in $(seq 1 12); do cp "$T/fullin/big.png" "$T/fullin/b$i.png"; done
  run "${FAST[@]}" --workers 1 -o "$T/full/out" "$T/fullin"
  check "disk full: exit 2" test "$RC" -eq 2
  check "... naming the cause" grep -q "No space left on device" "$T/err"
  check "disk full: written files complete, no temporary files" "$PY" - "$T/full/out" <<'PYEOF'
import sys, os, numpy as np
names = [n for n in os.listdir(sys.argv[1]) if n != ".fathom-manifest"]  # docs/pipeline.md
assert all(n.endswith(".npy") and not n.startswith(".") for n in names), names
for n in names:
    assert np.load(os.path.join(sys.argv[1], n)).shape == (120, 160)
PYEOF
  umount "$T/full"
else
  echo "skip disk-full check: cannot mount a tmpfs here"
fi

# ---- 6. URLs through the loopback server ----
"$PY" "$FATHOM_SRC/tests/tools/http_server.py" --root "$IN" --lifetime 300 >"$T/port" 2>/dev/null &
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$T/port")
if [ -n "$PORT" ]; then
  printf 'http://127.0.0.1:%s/a.png?x=1\nhttp://127.0.0.1:%s/fail/404\n' "$PORT" "$PORT" >"$T/urls.txt"
  run "${FAST[@]}" -o "$T/o7" "http://127.0.0.1:$PORT/sub/b.png" "$T/urls.txt"
  check "URLs: one 404 -> exit 1" test "$RC" -eq 1
  check "URLs: outputs named by the URL path stem" test -f "$T/o7/b.npy" -a -f "$T/o7/a.npy"
  check "URLs: 404 named" grep -q "404" "$T/err"
else
  bad "loopback HTTP server did not start"
fi

# ---- 7. NDJSON progress events and the governor flags ----
run "${FAST[@]}" --progress ndjson --target-util 50 --batch-max 2 -o "$T/o9" "$IN/a.png" "$IN/a.jpg"
check "ndjson + governor run exits 0" test "$RC" -eq 0
check "ndjson: item events and a summary, one JSON object per line" "$PY" - "$T/err" <<'PYEOF'
import sys, json
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
items = [e for e in ev if e["event"] == "item"]
assert len(items) == 2 and all(e["state"] == "done" and e["outputs"] for e in items), items
s = ev[-1]
assert s["event"] == "summary" and s["done"] == 2 and s["failed"] == 0 and s["fatal"] is None, s
PYEOF

# ---- 8. Ctrl-C: exit 130, in-flight items finished, report written, no partial files ----
mkdir -p "$T/many"
img "$T/many/base.png" 320x240
for i in $(seq -w 1 60); do cp "$T/many/base.png" "$T/many/im$i.png"; done
"$FATHOM_BIN" run --model "$MODEL" --input-size 266 --threads 1 --workers 1 --queue 1 --batch 1 \
  -o "$T/o8" --report "$T/r8.json" "$T/many" 2>"$T/err" &
PID=$!
for _ in $(seq 600); do [ -n "$(ls "$T/o8" 2>/dev/null | grep npy)" ] && break; sleep 0.1; done
kill -INT "$PID"
wait "$PID"
RC=$?
check "SIGINT: exit 130" test "$RC" -eq 130
check "SIGINT: report written, cancelled, totals add up" "$PY" - "$T/r8.json" "$T/o8" <<'PYEOF'
import sys, json, os, numpy as np
r = json.load(open(sys.argv[1])); t = r["totals"]
assert t["cancelled"] is True, t
assert t["finished"] == t["taken"] == t["done"] + t["failed"] + t["skipped"], t
assert 0 < t["done"] < 61, t
files = [f for f in os.listdir(sys.argv[2]) if f != ".fathom-manifest"]
assert len(files) == t["done"], (len(files), t)
for f in files:   # every final name holds a complete file
    assert f.endswith(".npy"), f
    assert np.load(os.path.join(sys.argv[2], f)).shape == (240, 320)
PYEOF

finish
