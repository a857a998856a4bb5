# test_cli_download.sh - the real binary fetches the default model from a fake hub (loopback
# tests/tools/http_server.py serving the golden tiny-hf files), reuses the cache without network,
# reads an image URL, and explains what to do when the hub cannot be reached.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "${FATHOM_BIN:-}" ] || fail "FATHOM_BIN not set"
command -v python3 >/dev/null || { echo "SKIP: python3 not available"; exit 77; }
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
[ -f "$MODEL/model.safetensors" ] || fail "golden tiny-hf model missing"

tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

python3 "$FATHOM_SRC/tests/tools/http_server.py" --root "$FATHOM_GOLDEN" --hub-dir "$MODEL" \
  --lifetime 300 >"$tmp/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(head -1 "$tmp/port")
[ -n "$port" ] || fail "test server did not start"
base="http://127.0.0.1:$port"
dead="http://127.0.0.1:1" # nothing listens on port 1

export XDG_CACHE_HOME="$tmp/cache"
folder="$XDG_CACHE_HOME/fathom/Depth-Anything-V2-Small-hf"

# 1. no --model: "small" is downloaded into the cache, the URL input is fetched and processed
FATHOM_HF_ENDPOINT="$base" "$FATHOM_BIN" run --progress none -o "$tmp/out1" "$base/tiny-hf/input.png" \
  2>"$tmp/err1" || { cat "$tmp/err1"; fail "first run (download) failed"; }
cmp "$folder/config.json" "$MODEL/config.json" || fail "cached config.json differs"
cmp "$folder/model.safetensors" "$MODEL/model.safetensors" || fail "cached model differs"
[ ! -e "$folder/model.safetensors.incomplete" ] || fail ".incomplete left behind"
[ -s "$tmp/out1/input.npy" ] || fail "no output for the URL input"

# 2. cached: works with the hub unreachable and with --offline
FATHOM_HF_ENDPOINT="$dead" "$FATHOM_BIN" run --progress none --model small -o "$tmp/out2" \
  "$FATHOM_GOLDEN/tiny-hf/input.png" 2>"$tmp/err2" || { cat "$tmp/err2"; fail "cached run needed the network"; }
"$FATHOM_BIN" run --progress none --offline -o "$tmp/out3" "$FATHOM_GOLDEN/tiny-hf/input.png" \
  2>"$tmp/err3" || { cat "$tmp/err3"; fail "--offline run with a cached model failed"; }
cmp "$tmp/out2/input.npy" "$tmp/out3/input.npy" || fail "same model, same input, different output"

# 3. not cached and the hub unreachable: exit 2, the message names the URL, the files and the folder
export XDG_CACHE_HOME="$tmp/cache-empty"
FATHOM_HF_ENDPOINT="$dead" "$FATHOM_BIN" run --progress none --model base -o "$tmp/out4" \
  "$FATHOM_GOLDEN/tiny-hf/input.png" 2>"$tmp/err4"
rc=$?
[ $rc -eq 2 ] || fail "unreachable hub: exit $rc, want 2"
grep -q "$dead/depth-anything/Depth-Anything-V2-Base-hf/resolve/main/config.json" "$tmp/err4" \
  || { cat "$tmp/err4"; fail "message does not name the URL"; }
grep -q "config.json and model.safetensors" "$tmp/err4" || fail "message does not name the files"
grep -q "$XDG_CACHE_HOME/fathom/Depth-Anything-V2-Base-hf/" "$tmp/err4" || fail "message does not name the folder"

# 4. --offline with nothing cached: refused without touching the hub
hits_before=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" \
  "$base/_hits/depth-anything/Depth-Anything-V2-Large-hf/resolve/main/config.json")
FATHOM_HF_ENDPOINT="$base" "$FATHOM_BIN" run --progress none --offline --model large -o "$tmp/out5" \
  "$FATHOM_GOLDEN/tiny-hf/input.png" 2>"$tmp/err5"
rc=$?
[ $rc -eq 2 ] || fail "--offline without cache: exit $rc, want 2"
hits_after=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" \
  "$base/_hits/depth-anything/Depth-Anything-V2-Large-hf/resolve/main/config.json")
[ "$hits_before" = "$hits_after" ] || fail "--offline contacted the hub"

# 5. a missing image URL fails its item (exit 1) with "HTTP 404"
XDG_CACHE_HOME="$tmp/cache" "$FATHOM_BIN" run --progress none --offline -o "$tmp/out6" "$base/nope.png" \
  2>"$tmp/err6"
rc=$?
[ $rc -eq 1 ] || { cat "$tmp/err6"; fail "404 input: exit $rc, want 1"; }
grep -q "$base/nope.png: HTTP 404" "$tmp/err6" || { cat "$tmp/err6"; fail "404 not reported"; }
echo "OK"
