#!/usr/bin/env bash
# test_cli_models.sh - one model interface in every command, through the real binary and the
# fake hub on loopback (tests/tools/http_server.py): names, vits/vitb/vitl aliases and Hugging
# Face repo ids in run, info and bench; HF_ENDPOINT; HF_HUB_OFFLINE; a model already in the
# Hugging Face cache (HF_HOME, HF_HUB_CACHE; models--ORG--NAME/snapshots/REV) used without
# any download.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}" "${FATHOM_SRC:?}"
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
[ -f "$MODEL/model.safetensors" ] || { echo "SKIP: $FATHOM_GOLDEN/tiny-hf missing (../shared)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
T=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

python3 "$FATHOM_SRC/tests/tools/http_server.py" --root "$FATHOM_GOLDEN" --hub-dir "$MODEL" \
  --lifetime 300 >"$T/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(head -1 "$T/port")
[ -n "$port" ] || { echo "FAIL: test server did not start"; exit 1; }
base="http://127.0.0.1:$port"
dead="http://127.0.0.1:1"
hits() { # requests the fake hub saw for repo $1, file $2
  python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "$base/_hits/depth-anything/$1/resolve/main/$2"
}
# only the variables a test sets: nothing from the user's own caches or mirrors
unset FATHOM_HF_ENDPOINT FATHOM_OFFLINE HF_ENDPOINT HF_HUB_OFFLINE HF_HOME HF_HUB_CACHE HUGGINGFACE_HUB_CACHE
export HOME="$T/home" XDG_CACHE_HOME="$T/cache"
mkdir -p "$HOME"
IN="$FATHOM_GOLDEN/tiny-hf/input.png"

# ---- 1. `fathom info small` downloads through HF_ENDPOINT ----
HF_ENDPOINT="$base" "$FATHOM_BIN" info small >"$T/out" 2>"$T/err"; RC=$?
check "info small via HF_ENDPOINT: exit 0" test "$RC" -eq 0
check "info small: describes the model" grep -q "^architecture:" "$T/out"
check "fake hub counted the download" test "$(hits Depth-Anything-V2-Small-hf config.json)" -ge 1
check "info small: downloaded into fathom's cache" cmp -s "$XDG_CACHE_HOME/fathom/Depth-Anything-V2-Small-hf/model.safetensors" "$MODEL/model.safetensors"

# ---- 2. aliases and repo ids in every command, from the cache (hub unreachable) ----
for name in vits VITS depth-anything/Depth-Anything-V2-Small-hf Depth-Anything-V2-Small-hf; do
  HF_ENDPOINT="$dead" "$FATHOM_BIN" info -m "$name" >"$T/out" 2>"$T/err"; RC=$?
  check "info -m $name: exit 0" test "$RC" -eq 0
done
HF_ENDPOINT="$dead" "$FATHOM_BIN" bench -m vits --device cpu --input-size 28 --threads 1 --iters 1 --warmup 0 >"$T/out" 2>"$T/err"; RC=$?
check "bench -m vits: exit 0" test "$RC" -eq 0 -a -n "$(grep '^latency:' "$T/out")"
HF_ENDPOINT="$dead" "$FATHOM_BIN" run -m depth-anything/Depth-Anything-V2-Small-hf --device cpu \
  --input-size 28 --threads 1 -o "$T/o2" "$IN" 2>"$T/err"; RC=$?
check "run -m <repo id>: exit 0" test "$RC" -eq 0 -a -s "$T/o2/input.npy"
"$FATHOM_BIN" info -m vitq 2>"$T/err"; RC=$?
check "unknown name: exit 2" test "$RC" -eq 2
check "unknown name: lists names, aliases and repo ids" grep -q "^fathom info: model: 'vitq' is neither.*vits, vitb, vitl.*depth-anything/Depth-Anything-V2-Small-hf" "$T/err"

# ---- 3. HF_HUB_OFFLINE: no request at all for a model that is not cached ----
before=$(hits Depth-Anything-V2-Base-hf config.json)
HF_HUB_OFFLINE=1 HF_ENDPOINT="$base" "$FATHOM_BIN" info vitb 2>"$T/err"; RC=$?
check "HF_HUB_OFFLINE=1, not cached: exit 2" test "$RC" -eq 2
check "HF_HUB_OFFLINE=1: says downloads are off" grep -q "downloads are off" "$T/err"
check "HF_HUB_OFFLINE=1: the hub was not asked" test "$(hits Depth-Anything-V2-Base-hf config.json)" = "$before"

# ---- 4. the Hugging Face cache is used in place, before any download ----
make_hf_cache() { # $1: hub cache root, $2: repo name, $3: revision
  local d="$1/models--depth-anything--$2"
  mkdir -p "$d/blobs" "$d/snapshots/$3" "$d/refs"
  cp "$MODEL/config.json" "$d/blobs/cfgblob"
  cp "$MODEL/model.safetensors" "$d/blobs/stblob"
  ln -s ../../blobs/cfgblob "$d/snapshots/$3/config.json"
  ln -s ../../blobs/stblob "$d/snapshots/$3/model.safetensors"
  printf '%s' "$3" >"$d/refs/main"
}
make_hf_cache "$T/hfhome/hub" Depth-Anything-V2-Base-hf 0123abcd
before=$(hits Depth-Anything-V2-Base-hf model.safetensors)
HF_HOME="$T/hfhome" HF_ENDPOINT="$base" "$FATHOM_BIN" run -m base --device cpu --input-size 28 \
  --threads 1 -o "$T/o4" "$IN" 2>"$T/err"; RC=$?
check "HF_HOME cache: run -m base exit 0" test "$RC" -eq 0 -a -s "$T/o4/input.npy"
check "HF_HOME cache: nothing downloaded" test "$(hits Depth-Anything-V2-Base-hf model.safetensors)" = "$before" -a ! -e "$XDG_CACHE_HOME/fathom/Depth-Anything-V2-Base-hf"
cmp -s "$T/o4/input.npy" "$T/o2/input.npy" || bad "HF cache model gives other numbers than the same weights"
make_hf_cache "$T/hubcache" Depth-Anything-V2-Large-hf feedbeef
rm "$T/hubcache/models--depth-anything--Depth-Anything-V2-Large-hf/refs/main" # no ref: any snapshot
HF_HUB_CACHE="$T/hubcache" HF_ENDPOINT="$dead" "$FATHOM_BIN" info vitl >"$T/out" 2>"$T/err"; RC=$?
check "HF_HUB_CACHE, no refs/main: info vitl exit 0" test "$RC" -eq 0
check "info shows the snapshot it uses" grep -q "snapshots/feedbeef" "$T/out"
# the default location: ~/.cache/huggingface/hub (XDG_CACHE_HOME unset)
make_hf_cache "$HOME/.cache/huggingface/hub" Depth-Anything-V2-Metric-Indoor-Small-hf 42
(unset XDG_CACHE_HOME; HF_ENDPOINT="$dead" "$FATHOM_BIN" info metric-indoor-small >"$T/out" 2>"$T/err"); RC=$?
check "~/.cache/huggingface/hub: exit 0" test "$RC" -eq 0 -a -n "$(grep 'snapshots/42' "$T/out")"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
