#!/usr/bin/env bash
# bench_scaleout.sh - real engines on this machine, same job three ways (docs/scale-out.md):
#   A. one process, one engine x 2 threads                    (fathom run --threads 2)
#   B. one process, two engines x 1 thread, automatic chunks  (--device cpu,cpu --threads 1)
#   C. mpirun -np 2 --mpi: 2 ranks x 1 engine x 1 thread (rank 0 computes too)
# for a video (raw npz output) and for an image set (IMAGES png files).
# Prints wall seconds and user CPU seconds (best of REPS) and the load average; results go to
# bench/RESULTS.md by hand.
# Env: FATHOM_BIN (build/fathom), MODEL (tiny golden model), SIZE (input size, 518), FRAMES (96),
#      IMAGES (48), REPS (2).
set -eu
BIN=${FATHOM_BIN:-build/fathom}
MODEL=${MODEL:-$(dirname "$0")/../../shared/golden/tiny-hf/model}
SIZE=${SIZE:-518}
FRAMES=${FRAMES:-96}
REPS=${REPS:-2}
IMAGES=${IMAGES:-48}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x120:rate=24" -frames:v "$FRAMES" \
  -g 24 -pix_fmt yuv420p "$T/clip.mp4"
COMMON=(--model "$MODEL" --input-size "$SIZE" --progress none --video-npz --overwrite)
mkdir -p "$T/img"
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=160x120:rate=24" -frames:v "$IMAGES" "$T/img/f%03d.png"
best() { # "wall user" seconds of the fastest of REPS runs of "$@"
  local b=""
  for _ in $(seq 1 "$REPS"); do
    local r
    /usr/bin/time -o "$T/time" -f "%e %U" "$@" >/dev/null 2>&1 || true
    r=$(tail -1 "$T/time")
    if [ -z "$b" ] || python3 -c "import sys; sys.exit(not float('${r%% *}') < float('${b%% *}'))"; then b=$r; fi
  done
  echo "$b"
}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -c ^processor /proc/cpuinfo) cores; $(date -u +'%F %H:%M UTC')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
MPI=(mpirun --oversubscribe -np 2)
for job in video images; do
  if [ $job = video ]; then in=("$T/clip.mp4"); else in=("$T/img"); fi
  a=$(best "$BIN" run "${COMMON[@]}" --threads 2 -o "$T/a" "${in[@]}")
  b=$(best "$BIN" run "${COMMON[@]}" --threads 1 --device cpu,cpu -o "$T/b" "${in[@]}")
  c=$(best "${MPI[@]}" "$BIN" run --mpi "${COMMON[@]}" --threads 1 -o "$T/c" "${in[@]}")
  echo "$job: A 1 engine x 2 threads:              wall/user ${a} s"
  echo "$job: B 2 engines x 1 thread (one process): wall/user ${b} s"
  echo "$job: C mpirun 2 ranks x 1 thread:          wall/user ${c} s"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "frames=$FRAMES images=$IMAGES size=$SIZE"
