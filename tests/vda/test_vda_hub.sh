#!/usr/bin/env bash
# test_vda_hub.sh - the Video Depth Anything hub names (video-small ... video-metric-large) through
# the real binary, no network (--offline): a name resolves to the .pth in fathom's cache and in
# the Hugging Face cache layout, and runs like the file's path; a name that is not cached fails
# with the file and the folder to put it in.
set -euo pipefail
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg"; exit 77; }
C=$FATHOM_GOLDEN/../golden-vda/tiny-offline
[ -f "$C/model.pth" ] || { echo "SKIP: no golden-vda"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export XDG_CACHE_HOME=$T/cache HF_HUB_CACHE=$T/hf
unset HF_HOME HUGGINGFACE_HUB_CACHE FATHOM_HF_ENDPOINT HF_ENDPOINT

# fathom's cache: <cache>/fathom/Video-Depth-Anything-Small/video_depth_anything_vits.pth (the tiny
# model's config.json beside it gives its head counts, as for the file by path)
D=$XDG_CACHE_HOME/fathom/Video-Depth-Anything-Small
mkdir -p "$D" && cp "$C/model.pth" "$D/video_depth_anything_vits.pth" && cp "$C/config.json" "$D/"
"$FATHOM_BIN" info video-small --offline > "$T/info" 2>&1 || { cat "$T/info"; fail "info video-small"; }
grep -q "$D/video_depth_anything_vits.pth" "$T/info" || { cat "$T/info"; fail "info does not show the cached file"; }
grep -q "video model" "$T/info" || fail "info video-small: not a video model"
ffmpeg -loglevel error -f lavfi -i "testsrc2=size=64x48:rate=10:duration=0.3" -c:v ffv1 "$T/c.mkv"
"$FATHOM_BIN" run -m video-small --offline --input-size 28 -f npy -o "$T/byname" "$T/c.mkv" 2>/dev/null || fail "run -m video-small"
"$FATHOM_BIN" run -m "$D/video_depth_anything_vits.pth" --input-size 28 -f npy -o "$T/bypath" "$T/c.mkv" 2>/dev/null || fail "run by path"
[ "$(ls "$T/byname/c" | grep -c npy)" = 3 ] || fail "video-small: not 3 frames"
for f in "$T"/bypath/c/*.npy; do cmp -s "$f" "$T/byname/c/$(basename "$f")" || fail "by name != by path"; done
echo "video-small from fathom's cache: runs as the file: OK"

# the Hugging Face cache layout, used in place
S=$HF_HUB_CACHE/models--depth-anything--Metric-Video-Depth-Anything-Base/snapshots/0123abc
mkdir -p "$S" "$HF_HUB_CACHE/models--depth-anything--Metric-Video-Depth-Anything-Base/refs"
echo 0123abc > "$HF_HUB_CACHE/models--depth-anything--Metric-Video-Depth-Anything-Base/refs/main"
cp "$C/model.pth" "$S/metric_video_depth_anything_vitb.pth" && cp "$C/config.json" "$S/"
"$FATHOM_BIN" info video-metric-base --offline > "$T/info2" 2>&1 || { cat "$T/info2"; fail "info video-metric-base"; }
grep -q "$S/metric_video_depth_anything_vitb.pth" "$T/info2" || { cat "$T/info2"; fail "HF cache file not used"; }
grep -qi "metric" "$T/info2" || { cat "$T/info2"; fail "video-metric-base is not metric"; }
echo "video-metric-base from the Hugging Face cache, metric: OK"

# not cached, downloads off: says which file goes where
for n in video-base:video_depth_anything_vitb.pth:Video-Depth-Anything-Base \
         video-large:video_depth_anything_vitl.pth:Video-Depth-Anything-Large \
         video-metric-small:metric_video_depth_anything_vits.pth:Metric-Video-Depth-Anything-Small \
         video-metric-large:metric_video_depth_anything_vitl.pth:Metric-Video-Depth-Anything-Large; do
    IFS=: read -r name file repo <<<"$n"
    if "$FATHOM_BIN" info "$name" --offline 2>"$T/err"; then fail "$name resolved with nothing cached"; fi
    grep -q "place $file from depth-anything/$repo" "$T/err" && grep -q "$XDG_CACHE_HOME/fathom/$repo/" "$T/err" ||
        { cat "$T/err"; fail "$name: the message does not say where to put $file"; }
done
echo "uncached video-* names: the message names the file and the folder: OK"
echo OK
