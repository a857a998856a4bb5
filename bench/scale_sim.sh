#!/usr/bin/env bash
# scale_sim.sh - coordination overhead of `mpirun -np N fathom run --mpi` with the simulated
# engine (CMake -DFATHOM_SIM_ENGINE=ON; FATHOM_SIM_FRAME_MS: every forward sleeps that long per
# image instead of computing, src/cluster/sim_engine.h), so 16 ranks fit on a 2-core machine.
# Jobs: one long video (automatic chunks: 3 per rank) and an image set (batches handed out).
# Efficiency at N ranks = simulated work / (N x elapsed), work = images x FRAME_MS: the ideal
# one-engine time, which a real single rank can only exceed (it also decodes and writes). Two
# elapsed times: the job's own (report: plan -> merged / the slowest rank's run) and the wall
# time of mpirun (adds launching N processes, MPI_Init and loading the model N times).
# Env: FATHOM_BIN (build-sim/fathom), MODEL (tiny golden model), FRAME_MS (80), FRAMES (1920),
#      IMAGES (960), RANKS ("2 4 8 16").
set -eu
BIN=${FATHOM_BIN:-build-sim/fathom}
MODEL=${MODEL:-$(dirname "$0")/../../shared/golden/tiny-hf/model}
MS=${FRAME_MS:-80}
FRAMES=${FRAMES:-1920}
IMAGES=${IMAGES:-960}
RANKS=${RANKS:-"2 4 8 16"}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 FATHOM_SIM_FRAME_MS=$MS
COMMON=(--model "$MODEL" --input-size 28 --threads 1 --progress none --overwrite)
# a simulated build sleeps: one image at 1000 ms must take >= 1 s
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32 -frames:v 1 "$T/one.png"
t0=$(date +%s.%N)
FATHOM_SIM_FRAME_MS=1000 "$BIN" run "${COMMON[@]}" -o "$T/probe" "$T/one.png" 2>/dev/null
python3 -c "import sys; sys.exit(float('$(date +%s.%N)') - $t0 < 1.0)" ||
  { echo "$BIN is not a FATHOM_SIM_ENGINE build (cmake -DFATHOM_SIM_ENGINE=ON)"; exit 2; }
ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=48x32:rate=25" -frames:v "$FRAMES" -g 25 \
  -pix_fmt yuv420p "$T/long.mp4"
mkdir -p "$T/img"
ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=48x32:rate=25" -frames:v "$IMAGES" "$T/img/f%05d.png"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -c ^processor /proc/cpuinfo) cores; $(date -u +'%F %H:%M UTC')"
echo "simulated frame cost ${MS} ms; video ${FRAMES} frames (work $(python3 -c "print($FRAMES * $MS / 1000)") s), images ${IMAGES} (work $(python3 -c "print($IMAGES * $MS / 1000)") s)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %3s %9s %9s %7s %9s %9s %7s %s\n' job N job_s eff_job wall_s eff_wall merge_s chunks load
for n in $RANKS; do
  for job in video images; do
    rm -rf "$T/o"
    if [ $job = video ]; then in=("$T/long.mp4"); extra=(--video-npz); work=$FRAMES
    else in=("$T/img"); extra=(--batch 4); work=$IMAGES; fi
    t0=$(date +%s.%N)
    mpirun --oversubscribe -np "$n" "$BIN" run --mpi "${COMMON[@]}" "${extra[@]}" \
      --report "$T/rep.json" -o "$T/o" "${in[@]}" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
    t1=$(date +%s.%N)
    python3 - "$T/rep.json" "$job" "$n" "$t0" "$t1" "$work" "$MS" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); job, n = sys.argv[2], int(sys.argv[3])
t0, t1, work, ms, load = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
t = r["totals"]
el = t["elapsed_s"]
done = t.get("frames_merged", t.get("finished"))
assert done == work, (done, work)
ideal = work * ms / 1000
print(f"{job:<6s} {n:3d} {el:9.2f} {ideal / (n * el):9.3f} {t1 - t0:7.2f} {ideal / (n * (t1 - t0)):9.3f} "
      f"{t.get('merge_s', 0):9.2f} {len(r.get('chunks', [])):7d} {load}")
PY
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
