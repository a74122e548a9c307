#!/usr/bin/env bash
# GPU training checks for a lent NVIDIA machine (issues 12-14), one call:
#   1. train the shipped violin model (tiny_instrument) on the GPU for TRAIN_SECONDS, from the
#      packed corpus examples (make them here first: python scripts/train_shipped_model.py
#      --pack outputs/violin_train.npz; carry outputs/violin_train.npz);
#   2. the solo_instrument training step at batch 32 on the GPU, beside the PyTorch port on CUDA
#      (carry outputs/peers/train_step_torch.py, a copy of ../shared/peers/train_step_torch.py).
# Usage: bash scripts/gpu_train.sh [OUTPUT_DIR]
set -uo pipefail
out="${1:-${OUT:-outputs/gpu_train}}"
mkdir -p "$out"
shim="$(mktemp -d)"
echo "import numpy; numpy.row_stack = getattr(numpy, 'row_stack', numpy.vstack)" \
  >"$shim/sitecustomize.py"
export PYTHONPATH="$PWD:$shim" PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
secs="${TRAIN_SECONDS:-240}"
timeout $((secs + 150)) "$PY" scripts/train_shipped_model.py --work "$out" \
  --data outputs/violin_train.npz --device gpu --batch_size "${BATCH:-16}" --num_steps 100000 \
  --steps_per_save 1000 --max_seconds "$secs" 2>&1 | tr '\r' '\n' | grep -v "^$" \
  | awk 'NR % 50 == 1 || /budget|Error|error|Traceback|File/' | tee "$out/train.log" | tail -30
# checkpoints and metrics.jsonl are in $out/train (two levels: what the device returns)
timeout "${BENCH_TIMEOUT:-150}" "$PY" -m benchmarks.bench_model_gpu --batch 32 \
  --torch-peer outputs/peers/train_step_torch.py 2>&1 | tee "$out/bench_model.log" | tail -8
