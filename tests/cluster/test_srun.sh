#!/usr/bin/env bash
# test_srun.sh - `srun -n 3 fathom run --mpi` under a real one-node Slurm started here
# (Debian's slurmctld + slurmd + munge, as root, everything in a temporary folder, SLURM_CONF
# pointing at it, random ports): Open MPI's direct launch through Slurm's PMIx plugin, no
# mpirun. A video in automatic chunks over the 3 ranks equals a single pass; an image set
# gives every output exactly once and one merged report. The daemons are stopped on exit.
set -u
: "${FATHOM_BIN:?}" "${FATHOM_GOLDEN:?}"
for b in munged slurmctld slurmd srun sinfo ffmpeg; do
  command -v "$b" >/dev/null || { echo "SKIP: $b missing (scripts/install-deps.sh)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: starting slurmctld/slurmd needs root"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 with numpy missing"; exit 77; }
if "$FATHOM_BIN" run --mpi -o /nonexistent/x /nonexistent.png 2>&1 | grep -q "built without MPI"; then
  echo "SKIP: fathom built without MPI (FATHOM_MPI)"; exit 77
fi
MODEL="$FATHOM_GOLDEN/tiny-hf/model"
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; rm -rf "$T"; }
trap cleanup EXIT
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

# ---- a one-node Slurm ----
S="$T/slurm"
mkdir -p "$S/state" "$S/spool" "$S/log"
head -c 1024 /dev/urandom >"$S/munge.key" && chmod 400 "$S/munge.key"
munged --force --socket="$S/munge.sock" --key-file="$S/munge.key" --log-file="$S/log/munged.log" \
  --pid-file="$S/munged.pid" --seed-file="$S/munged.seed" || { echo "SKIP: munged does not start"; exit 77; }
PIDS+=("$(cat "$S/munged.pid")")
port=$((20000 + RANDOM % 20000))
host=$(hostname)
cat >"$S/slurm.conf" <<CONF
ClusterName=fathomtest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$host CPUs=8 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$S/slurm.conf"
slurmctld -D >"$S/log/ctld.out" 2>&1 &
PIDS+=($!)
sleep 1
slurmd -D >"$S/log/d.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 1 60); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && { up=1; break; }
  sleep 0.5
done
[ $up -eq 1 ] || { echo "SKIP: the one-node Slurm did not come up"; tail -5 "$S"/log/*; exit 77; }
echo "  one-node Slurm up (port $port)"
export OMPI_MCA_btl=self,vader OMP_NUM_THREADS=1
FAST=(--model "$MODEL" --input-size 28 --threads 1 --batch 1 --progress none)
npz_same() { "$PY" -c "import sys, numpy as np; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); \
sys.exit(not all(np.array_equal(a[k], b[k]) for k in a.files))" "$1" "$2"; }

# ---- a video over the ranks, automatic chunks ----
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=48x32:rate=25 -t 8 -g 12 -pix_fmt yuv420p "$T/long.mp4"
"$FATHOM_BIN" run "${FAST[@]}" --video-npz -o "$T/single" "$T/long.mp4" 2>/dev/null
timeout 300 srun -n 3 "$FATHOM_BIN" run --mpi "${FAST[@]}" --video-npz --report "$T/vrep.json" \
  -o "$T/srun" "$T/long.mp4" 2>"$T/err"
rc=$?
check "srun -n 3 --mpi, a video: exit 0" test $rc -eq 0
[ $rc -eq 0 ] || tail -5 "$T/err"
check "srun: the ranks are one MPI job (6 chunks = min(3 x 3 ranks, 200 / 32))" \
  "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(len(r['chunks']) != 6 or r['totals']['ran'] != 6)" "$T/vrep.json"
check "srun: merged npz equals the single pass" npz_same "$T/single/long.npz" "$T/srun/long.npz"

# ---- an image set over the ranks ----
mkdir -p "$T/in"
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=32x24:rate=25 -frames:v 12 "$T/in/f%02d.png"
"$FATHOM_BIN" run "${FAST[@]}" -o "$T/isingle" "$T/in" 2>/dev/null
timeout 300 srun -n 3 "$FATHOM_BIN" run --mpi "${FAST[@]}" --report "$T/irep.json" -o "$T/isrun" "$T/in" 2>"$T/err"
check "srun -n 3 --mpi, images: exit 0" test $? -eq 0
check "srun: every image once, same names and bytes as a single run; one report of 12" \
  bash -c "[ \$(find '$T/isrun' -name '*.npy' | wc -l) -eq 12 ] && diff <(cd '$T/isingle' && find . -name '*.npy' | sort) <(cd '$T/isrun' && find . -name '*.npy' | sort) >/dev/null && \
  for f in \$(cd '$T/isingle' && find . -name '*.npy'); do cmp -s '$T/isingle/'\$f '$T/isrun/'\$f || exit 1; done && \
  $PY -c \"import json; r = json.load(open('$T/irep.json')); assert r['totals']['finished'] == 12 and len(r['items']) == 12\""

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
