#!/usr/bin/env bash
# test_faults.sh - hostile inputs and leftovers through the real binary (issue 11): JPEGs cut
# short or declaring huge sizes, the default pixel limit, FIFOs and folders named *.jpg,
# GIF/AVIF in folders, float TIFF, unsupported URL schemes in lists, report escaping and
# metadata, concurrent reports, --report naming a folder, stale temporaries of dead runs,
# EXR read by FFmpeg. Tiny model, CPU.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_ffmpeg
need_numpy
need_model
trap 'mountpoint -q "$T/fullrep" 2>/dev/null && umount "$T/fullrep"; rm -rf "$T"' EXIT
# every run is bounded: a hang is a failure, not a stuck test
run() { timeout -s KILL 120 "$FATHOM_BIN" run "$@" 2>"$T/err"; RC=$?; }
FAST=(--model "$MODEL" --input-size 28 --threads 1 --progress none)

# ---- JPEG cut in half but still ending in FF D9; a 1 KB JPEG declaring 26000 x 26000 ----
mkdir -p "$T/jpg"
img "$T/base.jpg" 320x240
"$PY" - "$T/base.jpg" "$T/jpg" <<'PYEOF'
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2] + "/cut.jpg", "wb").write(d[: len(d) // 2] + b"\xff\xd9")
i = d.index(b"\xff\xc0")            # SOF0: length(2) precision(1) height(2) width(2)
big = bytearray(d[:1024]) + b"\xff\xd9"
big[i + 5:i + 9] = (26000).to_bytes(2, "big") * 2
open(sys.argv[2] + "/huge.jpg", "wb").write(bytes(big))
PYEOF
run "${FAST[@]}" -o "$T/oj" "$T/jpg/cut.jpg"
check "JPEG cut short ending in FF D9: item fails (exit 1)" test "$RC" -eq 1 -a ! -e "$T/oj/cut.npy"
grep -q "corrupt JPEG" "$T/err" || bad "... says corrupt JPEG"
run "${FAST[@]}" -o "$T/oj" "$T/jpg/huge.jpg"
check "1 KB JPEG declaring 26000x26000: refused by the default pixel limit" test "$RC" -eq 1 -a ! -e "$T/oj/huge.npy"
grep -q "over the limit" "$T/err" || bad "... names the limit"
# the flag raises (or removes) the limit: a 600x400 image under --max-pixels 100000 fails,
# with 0 it passes
img "$T/mid.png" 600x400
run "${FAST[@]}" --max-pixels 100000 -o "$T/om" "$T/mid.png"
check "--max-pixels 100000 refuses 600x400" test "$RC" -eq 1
run "${FAST[@]}" --max-pixels 0 -o "$T/om" "$T/mid.png"
check "--max-pixels 0: no limit" test "$RC" -eq 0 -a -f "$T/om/mid.npy"

# ---- FIFOs: never opened for reading (no hang), a per-item error or a counted skip ----
mkdir -p "$T/ff"
mkfifo "$T/ff/pipe.jpg"
img "$T/ff/good.png" 20x20
run "${FAST[@]}" -o "$T/of" "$T/ff/pipe.jpg" "$T/ff/good.png"
check "FIFO named on the command line: per-item error, no hang (exit 1)" test "$RC" -eq 1 -a -f "$T/of/good.npy"
grep -q "pipe.jpg: not a regular file" "$T/err" || bad "... names the FIFO"
echo "$T/ff/pipe.jpg" >"$T/fifo.txt"
run "${FAST[@]}" -o "$T/of2" "$T/fifo.txt"
check "FIFO in a list: per-item error, no hang (exit 1)" test "$RC" -eq 1
mkdir -p "$T/ff/dir.jpg"
echo notes >"$T/ff/notes.md"
run "${FAST[@]}" --report "$T/rff.json" -o "$T/of3" "$T/ff"
check "folder with a FIFO and a folder named *.jpg: exit 0, good one done" test "$RC" -eq 0 -a -f "$T/of3/good.npy"
grep -q "not taken from input folders: 1 not images, 1 special files .*1 sub-folders" "$T/err" || bad "... summary counts what was not taken and why"
"$PY" -c "
import json,sys; t=json.load(open(sys.argv[1]))['totals']['ignored']
assert t == {'not_image': 1, 'special': 1, 'folder': 1}, t" "$T/rff.json" || bad "... report counts them"

# ---- GIF and AVIF in a folder are walked (they decode when named) ----
mkdir -p "$T/ga"
img "$T/ga/g.gif" 32x24
if ffmpeg -loglevel error -y -f lavfi -i testsrc=size=32x24 -frames:v 1 -c:v libaom-av1 -still-picture 1 "$T/ga/a.avif" 2>/dev/null; then
  run "${FAST[@]}" -o "$T/oga" "$T/ga"
  check "folder of GIF/AVIF: both done" test "$RC" -eq 0 -a -f "$T/oga/g.npy" -a -f "$T/oga/a.npy"
else
  run "${FAST[@]}" -o "$T/oga" "$T/ga"
  check "folder of GIF: done (no AV1 encoder here for the AVIF case)" test "$RC" -eq 0 -a -f "$T/oga/g.npy"
fi

# ---- float32 TIFF: unsupported, not corrupt ----
"$PY" - "$T/f32.tif" <<'PYEOF'
import struct, sys
w, h = 64, 48
data = struct.pack("<%df" % (w * h), *[(i % 97) / 97.0 for i in range(w * h)])
tags = [(256, 4, w), (257, 4, h), (258, 3, 32), (259, 3, 1), (262, 3, 1), (273, 4, 0),
        (277, 3, 1), (278, 4, h), (279, 4, len(data)), (339, 3, 3)]   # 339 SampleFormat 3: float
off = 8 + 2 + 12 * len(tags) + 4
ifd = struct.pack("<H", len(tags))
for t, typ, v in tags:
    v = off if t == 273 else v
    ifd += struct.pack("<HHI", t, typ, 1) + (struct.pack("<HH", v, 0) if typ == 3 else struct.pack("<I", v))
open(sys.argv[1], "wb").write(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + data)
PYEOF
run "${FAST[@]}" -o "$T/ot" "$T/f32.tif"
check "float32 TIFF: exit 1" test "$RC" -eq 1
grep -q "unsupported TIFF: floating-point" "$T/err" || bad "... called unsupported, not corrupt"

# ---- ftp:// in a list: unsupported scheme, not "No such file" ----
printf 'ftp://example.invalid/a.jpg\n%s\n' "$T/ff/good.png" >"$T/ftp.txt"
run "${FAST[@]}" -o "$T/oftp" "$T/ftp.txt"
check "ftp:// in a list: exit 1, the rest done" test "$RC" -eq 1 -a -f "$T/oftp/good.npy"
grep -q "unsupported URL scheme 'ftp://'" "$T/err" || bad "... says unsupported scheme"

# ---- report: run metadata, names with a newline and non-UTF-8 bytes stay valid JSON ----
mkdir -p "$T/odd"
"$PY" - "$T/odd" "$T/base.jpg" <<'PYEOF'
import sys, os, shutil
d = os.fsencode(sys.argv[1])
shutil.copy(sys.argv[2], d + b"/new\nline.jpg")
shutil.copy(sys.argv[2], d + b"/bad\xff\xfebyte.jpg")
PYEOF
run "${FAST[@]}" -f npy,exr --report "$T/rodd.json" -o "$T/oodd" "$T/odd"
check "odd names: exit 0" test "$RC" -eq 0
check "odd names: one entry each, bytes recoverable, run metadata" "$PY" - "$T/rodd.json" "$MODEL" <<'PYEOF'
import sys, json, os, hashlib
r = json.load(open(sys.argv[1]))
srcs = sorted(os.fsencode(i["source"]).split(b"/")[-1] for i in r["items"])
assert srcs == [b"bad\xff\xfebyte.jpg", b"new\nline.jpg"], srcs
for i in r["items"]:
    assert i["state"] == "done" and len(i["outputs"]) == 2, i
    assert all("\n" not in o for o in i["outputs"]), i["outputs"]
run = r["run"]
assert run["command"].startswith("fathom run ") and "--report" in run["command"], run
m = run["model"]
want = hashlib.sha256(open(sys.argv[2] + "/model.safetensors", "rb").read()).hexdigest()
assert m["sha256"] == want and m["path"] == sys.argv[2] and m["arch"], m
assert run["devices"] == [{"device": "cpu", "precision": "fp32", "weights": "default"}], run["devices"]
assert run["formats"] == ["npy", "exr"], run["formats"]
PYEOF

# ---- EXR opens in FFmpeg (a Y channel) with the depth values ----
EXR=$(ls "$T/oodd"/new*.exr | head -1)
ffmpeg -v error -i "$EXR" -f rawvideo -pix_fmt grayf32le "$T/exr.raw"
check "EXR decodes in ffmpeg" test "$?" -eq 0 -a -s "$T/exr.raw"
check "... same values as the npy" "$PY" - "$T/exr.raw" "${EXR%.exr}.npy" <<'PYEOF'
import sys, numpy as np
a = np.load(sys.argv[2]); b = np.fromfile(sys.argv[1], dtype="<f4").reshape(a.shape)
assert np.array_equal(a, b)
PYEOF

# ---- --report naming a folder: refused before -o is created; two runs, one report ----
mkdir -p "$T/repdir"
run "${FAST[@]}" --report "$T/repdir" -o "$T/onew" "$T/ff/good.png"
check "--report naming a folder: exit 2 before any output" test "$RC" -eq 2 -a ! -e "$T/onew"
grep -q "is a folder" "$T/err" || bad "... says it is a folder"
for i in 1 2 3 4 5 6 7 8 9 10; do cp "$T/mid.png" "$T/many_$i.png" 2>/dev/null || true; done
mkdir -p "$T/conc" && mv "$T"/many_*.png "$T/conc/"
timeout 120 "$FATHOM_BIN" run "${FAST[@]}" --report "$T/shared.json" -o "$T/oc1" "$T/conc" 2>"$T/e1" & P1=$!
timeout 120 "$FATHOM_BIN" run "${FAST[@]}" --report "$T/shared.json" -o "$T/oc2" "$T/conc" 2>"$T/e2" & P2=$!
wait "$P1"; R1=$?; wait "$P2"; R2=$?
check "two runs with one --report: both exit 0" test "$R1" -eq 0 -a "$R2" -eq 0
check "... the report is valid JSON, no temporaries left" "$PY" -c "
import json, sys, glob; r = json.load(open(sys.argv[1])); assert r['totals']['done'] == 10, r['totals']
assert not glob.glob(sys.argv[2] + '/.shared.json*'), glob.glob(sys.argv[2] + '/.shared.json*')" "$T/shared.json" "$T"

# ---- a report that cannot be written on a full disk is said (exit 2), outputs kept ----
mkdir -p "$T/fullrep"
if mount -t tmpfs -o size=8k tmpfs "$T/fullrep" 2>/dev/null; then
  head -c 6000 /dev/urandom >"$T/fullrep/filler" 2>/dev/null
  run "${FAST[@]}" --report "$T/fullrep/r.json" -o "$T/ofr" "$T/ff/good.png" "$T/mid.png"
  check "report on a full disk: exit 2, outputs kept" test "$RC" -eq 2 -a -f "$T/ofr/good.npy" -a -f "$T/ofr/mid.npy"
  grep -q "r.json: cannot write the report (outputs are kept): No space left" "$T/err" || bad "... says so, naming the report"
  umount "$T/fullrep"
else
  echo "skip full-disk report: cannot mount a tmpfs here"
fi

# ---- stale temporaries of dead processes are removed by the next run in OUTDIR ----
mkdir -p "$T/ost/sub"
sh -c 'exit 0' & DEAD=$!; wait "$DEAD"   # a pid that is gone
echo junk >"$T/ost/.a.npy.fathom-tmp-$DEAD-0"
echo junk >"$T/ost/sub/.b.png.fathom-tmp-$DEAD-3"
echo live >"$T/ost/.c.npy.fathom-tmp-$$-0"  # this shell is alive: kept
run "${FAST[@]}" -o "$T/ost" "$T/ff/good.png"
check "stale temporaries: run exit 0" test "$RC" -eq 0
check "... dead ones removed, live one kept" test ! -e "$T/ost/.a.npy.fathom-tmp-$DEAD-0" -a ! -e "$T/ost/sub/.b.png.fathom-tmp-$DEAD-3" -a -e "$T/ost/.c.npy.fathom-tmp-$$-0"
grep -q "removed 2 temporary files left by runs that died" "$T/err" || bad "... said on stderr with the count"

finish
