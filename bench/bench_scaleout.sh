#!/usr/bin/env bash
# bench_scaleout.sh - real engines on this machine, same job three ways (docs/scale-out.md):
#   A. one process, one engine x 2 threads             (fathom run --threads 2)
#   B. one process, --chunks 2 on two engines x 1 thread (--device cpu,cpu --threads 1)
#   C. mpirun -np 3 --mpi: rank 0 coordinates, 2 worker ranks x 1 engine x 1 thread
# Prints wall seconds (best of REPS) and the load average; results go to bench/RESULTS.md by hand.
# Env: FATHOM_BIN (build/fathom), MODEL (tiny golden model), SIZE (input size, 518), FRAMES (96).
set -eu
BIN=${FATHOM_BIN:-build/fathom}
MODEL=${MODEL:-$(dirname "$0")/../../shared/golden/tiny-hf/model}
SIZE=${SIZE:-518}
FRAMES=${FRAMES:-96}
REPS=${REPS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x120:rate=24" -frames:v "$FRAMES" \
  -g 24 -pix_fmt yuv420p "$T/clip.mp4"
COMMON=(--model "$MODEL" --input-size "$SIZE" --progress none --video-npz --overwrite)
best() { # best wall seconds of REPS runs of "$@"
  local b=""
  for _ in $(seq 1 "$REPS"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    b=$(python3 -c "import sys; a, c = float(sys.argv[1]), sys.argv[2]; print(min(a, float(c)) if c else a)" "$(python3 -c "print($t1 - $t0)")" "$b")
  done
  echo "$b"
}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(date -u +'%F %H:%M UTC')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
a=$(best "$BIN" run "${COMMON[@]}" --threads 2 -o "$T/a" "$T/clip.mp4")
b=$(best "$BIN" run "${COMMON[@]}" --threads 1 --device cpu,cpu --chunks 2 --overlap 4 -o "$T/b" "$T/clip.mp4")
c=$(best mpirun --oversubscribe -np 3 "$BIN" run --mpi "${COMMON[@]}" --threads 1 --chunks 4 --overlap 4 -o "$T/c" "$T/clip.mp4")
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "frames=$FRAMES size=$SIZE"
echo "A 1 engine x 2 threads:            ${a}s"
echo "B --chunks 2, 2 engines x 1 thread: ${b}s"
echo "C mpirun 2 worker ranks x 1 thread: ${c}s"
