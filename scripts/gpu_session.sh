#!/usr/bin/env bash
# One call on a lent GPU machine (issues 12-14): the GPU tests (scripts/gpu_check.sh without its
# DSP benchmarks), then scripts/gpu_train.sh (the violin model trained on the GPU for
# TRAIN_SECONDS, and the solo_instrument b32 step against the PyTorch port on CUDA).
# Carry outputs/violin_train.npz and outputs/peers/train_step_torch.py (see gpu_train.sh).
set -uo pipefail
out="${1:-${OUT:-outputs/gpu_session}}"
mkdir -p "$out/check"
BENCH=0 TEST_TIMEOUT="${TEST_TIMEOUT:-150}" bash scripts/gpu_check.sh "$out/check"
bash scripts/gpu_train.sh "$out"
