#!/usr/bin/env bash
# GPU check for the `mlp` learner (issue 16), for a machine with an NVIDIA GPU: one prepared run
# that should finish in about 5 minutes of device time.
#   1. builds automl and the mlp benchmark with `--features cuda` (the CUDA compiler comes from
#      PyPI's nvidia-cuda-nvcc wheel when nvcc is not installed; CUDA_COMPUTE_CAP from nvidia-smi;
#      cargo needs the crates: run it where they can be fetched, or with a vendored copy);
#   2. trains the same network (3 x 256, the same data and seed) on the CPU and on cuda:0, on a
#      200k-row synthetic table and two suite sets, and prints seconds per epoch, the speed-up and
#      both test scores (`cargo bench --bench mlp -- --devices cpu,cuda:0 --no-torch`);
#   3. runs a short `automl run --devices cpu,cuda:0` and prints its leaderboard, whose device
#      column says which trials ran on the GPU.
# Usage: bash benches/gpu-check.sh [EPOCHS]   (default 3; set CARGO_TARGET_DIR to reuse a build)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="${1:-3}"
if ! command -v nvidia-smi >/dev/null; then
  echo "error: no nvidia-smi here: this check needs an NVIDIA GPU" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader
if ! command -v nvcc >/dev/null; then
  # As .ci/check-cuda: nvcc 13.4 (the newest cudarc 0.19 knows) and CCCL headers from PyPI.
  venv="${AUTOML_NVCC_VENV:-$HOME/.cache/automl-nvcc-venv}"
  nvcc_bin="$(ls "$venv"/lib/python3*/site-packages/nvidia/*/bin/nvcc 2>/dev/null | head -1 || true)"
  if [ -z "$nvcc_bin" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "nvidia-cuda-nvcc==13.4.*" "nvidia-cuda-runtime==13.4.*" \
      "nvidia-cuda-crt==13.4.*" "nvidia-nvvm==13.4.*" "nvidia-cuda-cccl==13.3.*"
    nvcc_bin="$(ls "$venv"/lib/python3*/site-packages/nvidia/*/bin/nvcc | head -1)"
  fi
  root="$(dirname "$(dirname "$nvcc_bin")")"
  export PATH="$root/bin:$PATH" CUDA_ROOT="$root" CUDA_PATH="$root"
  export NVCC_PREPEND_FLAGS="-I$root/include ${NVCC_PREPEND_FLAGS:-}"
  export LD_LIBRARY_PATH="$root/lib:${LD_LIBRARY_PATH:-}"
fi
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}"
echo "nvcc: $(command -v nvcc); CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP"
time cargo build --release --features cuda
threads="$(nproc)"
time cargo bench --features cuda --bench mlp -- --devices cpu,cuda:0 --epochs "$epochs" --threads "$threads" --no-torch
bin="${CARGO_TARGET_DIR:-target}/release/automl"
work="$(mktemp -d)"
"$bin" run datasets/breast_cancer/train.csv --target diagnosis --devices cpu,cuda:0 \
  --learners mlp,gbdt --time-budget 60 --seed 1 --workspace "$work/ws" -q
"$bin" leaderboard 1 --workspace "$work/ws" --top 10
# A device that is not there is an error, not a CPU fallback.
if "$bin" run datasets/iris/train.csv --target species --devices cuda:7 --max-trials 1 \
  --workspace "$work/ws2" -q 2>"$work/err"; then
  echo "error: --devices cuda:7 did not fail" >&2
  exit 1
fi
cat "$work/err"
echo "gpu-check: done"
