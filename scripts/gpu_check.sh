#!/usr/bin/env bash
# Every GPU check of ddsp_ref in one call, for a lent NVIDIA machine (issue 14):
#   1. the test suite's cupy-parametrised tests and the numba CUDA kernel tests, on the real GPU
#      (golden cases included: cupy against the numbers recorded from ddsp);
#   2. GPU throughput: Harmonic forward / forward + backward at batch 32 (fused CUDA kernels vs
#      composed cupy ops vs a straightforward PyTorch CUDA port), SpectralLoss value + gradient,
#      and the full DSP training step (Harmonic + FilteredNoise + Reverb + SpectralLoss).
# Usage (from the repository root): bash scripts/gpu_check.sh [OUTPUT_DIR]
# Needs python3 with numpy, scipy, numba, numba-cuda, cupy, pytest, hypothesis (torch optional).
# soundfile and gin are not needed: the data and gin tests are not part of this run.
set -uo pipefail
out="${1:-${OUT:-outputs/gpu_check}}"
mkdir -p "$out"
# numba-cuda releases that still call numpy.row_stack (removed in NumPy 2.4) get an alias.
shim="$(mktemp -d)"
echo "import numpy; numpy.row_stack = getattr(numpy, 'row_stack', numpy.vstack)" \
  >"$shim/sitecustomize.py"
export PYTHONPATH="$PWD:$shim" PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
PY="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
workers=$("$PY" -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
timeout "${TEST_TIMEOUT:-200}" "$PY" -m pytest -q -p no:cacheprovider $workers \
  tests/autodiff tests/kernels tests/core tests/spectral_ops tests/losses tests/test_synths.py \
  tests/test_effects.py tests/test_processors.py tests/test_streaming.py tests/test_backend.py \
  tests/training/test_nn.py tests/training/test_optimizers.py tests/training/test_conv.py \
  -k "cupy or cuda or gpu or golden" 2>&1 | tee "$out/tests.log" | tail -25
[ "${BENCH:-1}" = "0" ] && exit 0
for bench in "bench_gpu --repeats 5" "bench_spectral_loss --device gpu --batch 32 --repeats 2" \
  "bench_training_step --device gpu --batch 32 --repeats 5"; do
  timeout "${BENCH_TIMEOUT:-60}" "$PY" -m benchmarks.$bench 2>&1 | tee -a "$out/bench.log" | tail -12
done
