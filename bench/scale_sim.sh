#!/usr/bin/env bash
# scale_sim.sh - coordination overhead of `mpirun -np N fathom run --mpi` with the simulated
# engine (CMake -DFATHOM_SIM_ENGINE=ON; FATHOM_SIM_FRAME_MS: every forward sleeps that long per
# image instead of computing, src/cluster/sim_engine.h), so 16 ranks fit on a 2-core machine.
# The simulated device sleeps to absolute deadlines with the next input queued (the host's work
# between two forwards overlaps the previous one; a chunk or job starts a new timeline), so a
# loaded host's wake-up latency is not added once per frame: what is left is coordination.
# Job size: a fixed share per rank (weak scaling: FRAMES_PER_RANK frames and IMAGES_PER_RANK
# images x N, so every N runs the same ~19 s of engine time per rank: a long video's chunks are
# long, as on a real cluster, not 40-frame slivers of a 77 s clip), or a fixed job for every N
# with FRAMES=1920 IMAGES=960 (strong scaling; round 5's figures; docs/scale-out.md).
# Jobs: one long video (automatic chunks: 3 per rank) and an image set (positions handed out
# one at a time, --batch 1: the unit of compute is one image, like one frame of the video;
# BATCH4=1 adds an image row at --batch 4 per N, outside the goal: its tail is up to one
# 4-image forward per rank, docs/scale-out.md).
# Efficiency at N ranks = simulated work / (N x job time), work = images x FRAME_MS: the ideal
# one-engine time, which a real single rank can only exceed (it also decodes and writes). Two
# elapsed times: the job's (report; both start when every rank is ready, a barrier after the
# model load: video plan -> merged, images rank 0's hand-out start -> every rank done and the
# reports merged) and the wall time of mpirun (adds launching N processes, MPI_Init and
# loading the model N times on the shared cores).
# Usage (one command; builds nothing): bench/scale_sim.sh   (after cmake -B build-sim
#   -DFATHOM_SIM_ENGINE=ON -DFATHOM_CUDA=OFF && cmake --build build-sim --target fathom)
# Env: FATHOM_BIN (build-sim/fathom), MODEL (tiny golden model), FRAME_MS (80),
#      FRAMES_PER_RANK (240), IMAGES_PER_RANK (120), or FRAMES and IMAGES (a fixed job),
#      RANKS ("2 4 8 16"), JOBS ("video images"), BATCH4 (0).
set -eu
BIN=${FATHOM_BIN:-build-sim/fathom}
MODEL=${MODEL:-$(dirname "$0")/../../shared/golden/tiny-hf/model}
MS=${FRAME_MS:-80}
FPR=${FRAMES_PER_RANK:-240}
IPR=${IMAGES_PER_RANK:-120}
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
frames() { echo "${FRAMES:-$((FPR * $1))}"; }
images() { echo "${IMAGES:-$((IPR * $1))}"; }
for n in $RANKS; do # the jobs of each N (a fixed job: the same files)
  [ -e "$T/long$(frames "$n").mp4" ] ||
    ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=48x32:rate=25" -frames:v "$(frames "$n")" \
      -g 25 -pix_fmt yuv420p "$T/long$(frames "$n").mp4"
  [ -d "$T/img$(images "$n")" ] || { mkdir -p "$T/img$(images "$n")" && ffmpeg -loglevel error -y \
    -f lavfi -i "testsrc2=size=48x32:rate=25" -frames:v "$(images "$n")" "$T/img$(images "$n")/f%05d.png"; }
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -c ^processor /proc/cpuinfo) cores; $(date -u +'%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${FRAMES:-}${IMAGES:-}" ]; then size="a fixed job: video $(frames 1) frames, images $(images 1)"
else size="per rank: video $FPR frames, images $IPR (x N)"; fi
echo "simulated engine ${MS} ms/frame; $size; goal: efficiency >= 0.95 at every N"
echo "device model: sleeps to absolute deadlines, next input queued (src/cluster/sim_engine.c)"
echo "eff = work / (N x job time), work = frames x ${MS} ms (the ideal one-engine time). Video time"
echo "split: busy = chunk run time / (N x job time), what coordination leaves (1 - busy: gaps, tail,"
echo "merge); chunk+ = chunk run over its ideal (hand-out round trip, open and seek, the pipeline's"
echo "start and drain; a host a frame behind the device); gap = a worker idle between its chunks (s:"
echo "the hand-out and the open it waited for); ahead = chunks opened while the one before ran (of"
echo "those after a rank's first); spread = first to last rank done (s); merge = merge after the last"
echo "chunk (s); wall = mpirun incl. launch and model load (s)"
printf '%-9s %3s %6s %4s %6s %8s %8s %6s %7s %6s %5s %6s %6s %5s\n' job N eff goal busy job_s wall_s chunks chunk+ gap ahead spread merge load
fails=0
JOBS=${JOBS:-"video images"}
[ "${BATCH4:-0}" = 1 ] && JOBS="$JOBS images/b4"
for n in $RANKS; do
  for job in $JOBS; do
    rm -rf "$T/o"
    case $job in
      video) in=("$T/long$(frames "$n").mp4"); extra=(--video-npz); work=$(frames "$n") ;;
      images) in=("$T/img$(images "$n")"); extra=(--batch 1); work=$(images "$n") ;;
      *) in=("$T/img$(images "$n")"); extra=(--batch 4); work=$(images "$n") ;;
    esac
    t0=$(date +%s.%N)
    mpirun --oversubscribe -np "$n" "$BIN" run --mpi "${COMMON[@]}" "${extra[@]}" \
      --report "$T/rep.json" -o "$T/o" "${in[@]}" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
    t1=$(date +%s.%N)
    python3 - "$T/rep.json" "$job" "$n" "$t0" "$t1" "$work" "$MS" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY' || fails=$((fails + 1))
import json, sys
r = json.load(open(sys.argv[1])); job, n = sys.argv[2], int(sys.argv[3])
t0, t1, work, ms, load = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
t = r["totals"]
el = t["elapsed_s"]
done = t.get("frames_merged", t.get("finished"))
assert done == work, (done, work)
eff = work * ms / 1000 / (n * el)
ch = r.get("chunks", [])
over = gap = spread = busy = ahead = "-"
if ch and all("start_s" in c for c in ch):  # the timeline: where the video's time goes
    over = "%+.1f%%" % (100 * (sum(c["end_s"] - c["start_s"] for c in ch) /
                               sum(c["count"] * ms / 1000 for c in ch) - 1))
    by = {}
    for c in sorted(ch, key=lambda c: c["start_s"]):
        by.setdefault(c["ran_on"], []).append(c)
    g = [b["start_s"] - a["end_s"] for cs in by.values() for a, b in zip(cs, cs[1:])]
    gap = "%.3f" % (sum(g) / len(g)) if g else "0"
    later = [b for cs in by.values() for b in cs[1:]]
    if later and all("opened_ahead" in c for c in later):
        ahead = "%d/%d" % (sum(c["opened_ahead"] for c in later), len(later))
    ends = [cs[-1]["end_s"] for cs in by.values()]
    spread = "%.2f" % (max(ends) - min(ends))
    busy = "%.3f" % (sum(c["end_s"] - c["start_s"] for c in ch) / (n * el))
merge = "%.2f" % t["merge_tail_s"] if "merge_tail_s" in t else "-"
ok = eff >= 0.95 or job == "images/b4"  # outside the goal: the batch's own tail
goal = "ok" if eff >= 0.95 else "MISS" if not ok else "n/a"
print(f"{job:<9s} {n:3d} {eff:6.3f} {goal:>4s} {busy:>6s} {el:8.2f} {t1 - t0:8.2f} "
      f"{len(ch) or '-':>6} {over:>7s} {gap:>6s} {ahead:>5s} {spread:>6s} {merge:>6s} {load:>5s}")
sys.exit(0 if ok else 1)
PY
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $([ $fails -eq 0 ] && echo 'goal met at every N' || echo "goal missed $fails times")"
