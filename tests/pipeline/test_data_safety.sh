#!/usr/bin/env bash
# test_data_safety.sh - an output never lands on an input, whatever the spelling (issue 10, 11):
# -o equal to the input folder (plain, symlink, ".."), an input inside OUTDIR named on the
# command line or in a list, symlinks and hard links at output paths, user files at output
# paths under --overwrite/--resume, the report path; the manifest: --resume over a growing
# folder, clash across formats, the same input named twice. Real binary, tiny model, CPU.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_ffmpeg
need_numpy
need_model
sums() { (cd "$1" && find . -type f ! -name .fathom-manifest | sort | xargs md5sum); }
FAST=(--model "$MODEL" --input-size 28 --threads 1 --progress none)

# ---- 1. -o equal to the input folder: refused up front, every spelling ----
mkdir -p "$T/dir/sub"
img "$T/dir/rgb8.png" 32x24
img "$T/dir/photo.jpg" 40x30
ln -s "$T/dir" "$T/link"
before=$(sums "$T/dir")
for o in "$T/dir" "$T/dir/" "$T/link" "$T/dir/sub/.." "$T/dir/./"; do
  for mode in "" --overwrite --resume; do
    run "${FAST[@]}" -f png16 $mode -o "$o" "$T/dir/"
    check "-o $o $mode == input folder: exit 2" test "$RC" -eq 2
    grep -q "is the input folder" "$T/err" || bad "... message names the cause ($o $mode)"
  done
done
run "${FAST[@]}" -r -f png16 --overwrite -o "$T/dir" "$T/link"
check "-o folder == input given through a symlink, -r: exit 2" test "$RC" -eq 2
check "inputs untouched, nothing written" test "$before" = "$(sums "$T/dir")" -a ! -e "$T/dir/.fathom-manifest"
# a sub-folder of the input folder is fine: the walk skips it, re-runs do not read outputs
run "${FAST[@]}" -f png16 -o "$T/dir/depth" "$T/dir"
check "-o inside the input folder: exit 0" test "$RC" -eq 0 -a -f "$T/dir/depth/rgb8.png" -a -f "$T/dir/depth/photo.png"
run "${FAST[@]}" -r -f png16 --resume -o "$T/dir/depth" "$T/dir"
check "... re-run -r --resume: exit 0, no depth of depth maps" test "$RC" -eq 0 -a ! -e "$T/dir/depth/depth" -a ! -e "$T/dir/depth/rgb8.png.png"

# ---- 2. an input inside OUTDIR named on the command line / in a list ----
mkdir -p "$T/o2"
img "$T/o2/x.png" 30x20
xs=$(md5sum <"$T/o2/x.png")
for mode in "" --overwrite --resume; do
  run "${FAST[@]}" -f png16 $mode -o "$T/o2" "$T/o2/x.png"
  check "input OUTDIR/x.png -> output OUTDIR/x.png ($mode): exit 1" test "$RC" -eq 1
  grep -q "is an input of this run" "$T/err" || bad "... says it is an input ($mode)"
done
check "... the input is intact" test "$xs" = "$(md5sum <"$T/o2/x.png")"
echo "$T/o2/../o2/x.png" >"$T/list.txt"
run "${FAST[@]}" -f png16 --overwrite -o "$T/o2" "$T/list.txt"
check "list entry spelled with '..' == output: exit 1, intact" test "$RC" -eq 1 -a "$xs" = "$(md5sum <"$T/o2/x.png")"
# another input's output would land on it: a.jpg -> OUTDIR/a.png, which is input #2
mkdir -p "$T/in3"
img "$T/in3/a.jpg" 16x16
img "$T/o2/a.png" 24x24
as=$(md5sum <"$T/o2/a.png")
run "${FAST[@]}" -f png16 --overwrite -o "$T/o2" "$T/in3/a.jpg" "$T/o2/a.png"
check "output of one input == another input: intact" test "$as" = "$(md5sum <"$T/o2/a.png")"
check "... exit 1 naming it" test "$RC" -eq 1
grep -q "a.png is an input of this run" "$T/err" || bad "... message names the output"

# ---- 3. symlinks and hard links at output paths ----
mkdir -p "$T/in4" "$T/o4"
img "$T/in4/b.png" 20x20
img "$T/in4/c.png" 20x20
bs=$(md5sum <"$T/in4/b.png"); cs=$(md5sum <"$T/in4/c.png")
run "${FAST[@]}" -f png16 -o "$T/o4" "$T/in4"
check "first run: exit 0" test "$RC" -eq 0
# outputs recorded as fathom's are then swapped for links to the inputs
rm "$T/o4/b.png" "$T/o4/c.png"
ln "$T/in4/b.png" "$T/o4/b.png"
ln -s "$T/in4/c.png" "$T/o4/c.png"
run "${FAST[@]}" -f png16 --overwrite -o "$T/o4" "$T/in4"
check "hard link / symlink to an input at an output path: exit 1" test "$RC" -eq 1
check "... inputs intact" test "$bs" = "$(md5sum <"$T/in4/b.png")" -a "$cs" = "$(md5sum <"$T/in4/c.png")"
test "$(grep -c "is an input of this run" "$T/err")" -eq 2 || bad "... both named as inputs"

# ---- 4. a user's file at an output path is never replaced, whatever the flags ----
mkdir -p "$T/in5" "$T/o5"
img "$T/in5/d.png" 20x20
echo "my notes" >"$T/o5/d.npy"
for mode in "" --overwrite --resume; do
  run "${FAST[@]}" $mode -o "$T/o5" "$T/in5"
  check "user file at output path ($mode): exit 1, kept" test "$RC" -eq 1 -a "$(cat "$T/o5/d.npy")" = "my notes"
done
grep -q "not written by fathom" "$T/err" || bad "... message says it is not fathom's"

# ---- 5. the report path is an input ----
run "${FAST[@]}" --report "$T/in5/d.png" -o "$T/o5b" "$T/in5/d.png"
check "--report equal to an input: exit 2, input intact, no OUTDIR" test "$RC" -eq 2 -a ! -e "$T/o5b"
"$PY" -c "import sys; d=open(sys.argv[1],'rb').read(8); assert d[:4]==b'\x89PNG', d" "$T/in5/d.png" || bad "... report did not replace the input"

# ---- 6. --resume over a growing folder (the manifest knows which input made what) ----
mkdir -p "$T/grow" "$T/og"
img "$T/grow/a.png" 64x48
run "${FAST[@]}" -o "$T/og" "$T/grow"
check "growing: first run exit 0" test "$RC" -eq 0 -a -f "$T/og/a.npy"
a_sum=$(md5sum <"$T/og/a.npy")
img "$T/grow/a.jpg" 33x17
run "${FAST[@]}" --resume --report "$T/rg.json" -o "$T/og" "$T/grow"
check "growing: resume exit 0" test "$RC" -eq 0
check "growing: a.png keeps a.npy (untouched), a.jpg gets its own depth" "$PY" - "$T/og" "$T/rg.json" <<'PYEOF'
import sys, json, numpy as np
o = sys.argv[1]
assert np.load(o + "/a.npy").shape == (48, 64)
assert np.load(o + "/a.jpg.npy").shape == (17, 33)
t = json.load(open(sys.argv[2]))["totals"]
assert t["done"] == 1 and t["skipped"] == 1, t
PYEOF
check "growing: a.npy unchanged" test "$a_sum" = "$(md5sum <"$T/og/a.npy")"
run "${FAST[@]}" --resume -o "$T/og" "$T/grow"
check "growing: third run skips both (exit 0)" test "$RC" -eq 0

# ---- 7. clash across formats: x.jpg and x.color.jpg with png16,color ----
mkdir -p "$T/fmt"
img "$T/fmt/x.jpg" 40x20
img "$T/fmt/x.color.jpg" 20x40
run "${FAST[@]}" -f png16,color,png8 --report "$T/rf.json" -o "$T/of" "$T/fmt"
check "format clash: exit 0" test "$RC" -eq 0
check "format clash: 6 distinct files, each the size of its input" "$PY" - "$T/of" "$T/rf.json" <<'PYEOF'
import sys, json, os, subprocess
o = sys.argv[1]
r = json.load(open(sys.argv[2]))
outs = [p for i in r["items"] for p in i["outputs"]]
assert len(outs) == 6 == len(set(outs)), outs
files = sorted(f for f in os.listdir(o) if not f.startswith("."))
assert len(files) == 6, files
for i in r["items"]:
    for p in i["outputs"]:
        wh = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "stream=width,height", "-of", "csv=p=0", p],
                            capture_output=True, text=True).stdout.strip()
        assert wh == "%d,%d" % (i["width"], i["height"]), (p, wh, i)
PYEOF
check "one scheme: a format's suffix does not depend on the others" test -f "$T/of/x.color.png"
run "${FAST[@]}" -f color -o "$T/of1" "$T/fmt/x.jpg"
check "... -f color alone -> x.color.png" test "$RC" -eq 0 -a -f "$T/of1/x.color.png" -a ! -e "$T/of1/x.png"

# ---- 8. the same input named twice: computed once, reported as a duplicate ----
run "${FAST[@]}" --report "$T/rd.json" -o "$T/od" "$T/fmt/x.jpg" "$T/fmt/../fmt/x.jpg" "$T/fmt/x.jpg"
check "duplicates: exit 0, one output" test "$RC" -eq 0 -a -f "$T/od/x.npy" -a ! -e "$T/od/x.jpg.npy"
check "duplicates: report says so" "$PY" - "$T/rd.json" <<'PYEOF'
import sys, json
r = json.load(open(sys.argv[1])); t = r["totals"]
assert t["done"] == 1 and t["skipped"] == 2, t
d = sorted((i for i in r["items"] if i["state"] == "skipped"), key=lambda i: i["index"])
assert [i.get("duplicate_of") for i in d] == [0, 0], d
PYEOF

# ---- 9. --video FILE naming an input (as given, or relative under OUTDIR), even --overwrite ----
mkdir -p "$T/vid"
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=5 -frames:v 5 -pix_fmt yuv420p "$T/vid/clip.mkv"
vs=$(md5sum <"$T/vid/clip.mkv")
run "${FAST[@]}" --overwrite --video "$T/vid/clip.mkv" -o "$T/ov" "$T/vid/clip.mkv"
check "--video FILE == the input video: exit 2, input intact" test "$RC" -eq 2 -a "$vs" = "$(md5sum <"$T/vid/clip.mkv")"
grep -q "is an input of this run" "$T/err" || bad "... says it is an input"
run "${FAST[@]}" --overwrite --video clip.mkv -o "$T/vid" "$T/vid/clip.mkv"
check "--video relative, under OUTDIR == the input: exit 2, intact" test "$RC" -eq 2 -a "$vs" = "$(md5sum <"$T/vid/clip.mkv")"

# ---- 10. a folder of symlinks to one image: each symlink is an input of its own ----
mkdir -p "$T/sl"
for i in 1 2 3; do ln -s "$T/fmt/x.jpg" "$T/sl/s$i.jpg"; done
run "${FAST[@]}" -o "$T/osl" "$T/sl" "$T/sl/"
check "symlinked files: 3 outputs; the folder named twice: duplicates" test "$RC" -eq 0 -a -f "$T/osl/s1.npy" -a -f "$T/osl/s2.npy" -a -f "$T/osl/s3.npy" -a ! -e "$T/osl/s1.jpg.npy"

finish
