#!/usr/bin/env bash
# Install every Debian 12 package fathom's build, tests and benchmarks need.
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev libomp-14-dev   # libFuzzer targets (clang + OpenMP)
  libopenblas-openmp-dev              # CPU GEMM, sharing OpenMP threads with our kernels
  libzip-dev libcjson-dev             # .pth (zip) / .npz, config.json / reports
  libcmocka-dev                       # unit tests
  libjpeg62-turbo-dev libspng-dev libpng-dev libwebp-dev libexif-dev
  libopenexr-dev                      # EXR output (OpenEXRCore C API)
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libcurl4-openssl-dev libssl-dev     # URLs, model download, SHA-256
  libavdevice-dev libmicrohttpd-dev libwslay-dev libyaml-dev  # fathom serve: cameras, HTTP, WebSocket, config
  python3-websockets chromium         # fathom serve tests: WebSocket client, headless viewer test
  ffmpeg                              # test fixtures (ffmpeg/ffprobe CLI) only
  python3 python3-numpy               # tests read outputs back with numpy
  python3-pil                         # Depth Pro test: JPEGs with EXIF focal lengths
  python3-torch                       # tests/vda: damaged official-format VDA checkpoints
  python3-dev python3-pytest python3-setuptools python3-wheel python3-pip  # Python package + its tests
  openmpi-bin libopenmpi-dev          # fathom run --mpi (optional in CMake: FATHOM_MPI)
  slurmctld slurmd slurm-client munge # tests/cluster/test_srun.sh: a one-node Slurm for `srun ... --mpi`
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#pkgs[@]} packages present"
