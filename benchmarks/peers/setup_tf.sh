#!/usr/bin/env bash
# Build the peer environment: TensorFlow DDSP 3.7.0 (CPU) and PyTorch (CPU), for benchmarks only.
#
# Usage: bash benchmarks/peers/setup_tf.sh [VENV_DIR]      (default /tmp/peers/tf-venv)
#
# Afterwards run peer scripts with:  source VENV_DIR/peers_env.sh && python ...
# The project never depends on this environment; nothing here touches the project's venv.
set -euo pipefail

VENV="${1:-/tmp/peers/tf-venv}"
PY="${PYTHON:-python3.11}"   # TF 2.20 ships wheels for CPython 3.9-3.13
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

mkdir -p "$(dirname "$VENV")"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install --upgrade pip wheel >/dev/null

# The versions ddsp 3.7.0 is measured with. tfp 0.25 is the release that pairs with TF 2.18+.
$PIP install "tensorflow-cpu==2.20.0" "tensorflow-probability==0.25.0" librosa gin-config
# tf-keras 2.20 (legacy Keras 2, selected by TF_USE_LEGACY_KERAS=1) declares a dependency on the
# `tensorflow` package, which would install the CUDA build over tensorflow-cpu's files (same
# `tensorflow/` folder): --no-deps keeps the CPU build that tensorflow-cpu already provides.
$PIP install --no-deps "tf-keras==2.20.*"
# --no-deps: ddsp's own requirements pin old TF / crepe / tfds / apache-beam that we do not need.
$PIP install --no-deps "ddsp==3.7.0"
# PyTorch CPU port (torch_bench.py); the wheel is available locally.
$PIP install "torch==${TORCH_VERSION}" || echo "WARNING: torch not installed; torch_bench.py unavailable"

# ddsp imports `crepe` at module level (losses / spectral_ops); its weights cannot be downloaded
# here and nothing timed uses it, so an empty importable module stands in for it.
STUBS="$VENV/stubs"
mkdir -p "$STUBS/crepe"
cat > "$STUBS/crepe/__init__.py" <<'PYEOF'
"""Empty stand-in for the crepe package (pitch model weights are not available offline)."""
PYEOF

cat > "$VENV/peers_env.sh" <<SHEOF
# Source this file to use the peer environment.
export TF_USE_LEGACY_KERAS=1
export PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python
export TF_CPP_MIN_LOG_LEVEL=2
export PYTHONPATH="$STUBS\${PYTHONPATH:+:\$PYTHONPATH}"
source "$VENV/bin/activate"
SHEOF

# Smoke test: TF DDSP imports and synthesizes.
(
  source "$VENV/peers_env.sh"
  python - <<'PYEOF'
import ddsp
import numpy as np
import tensorflow as tf

h = ddsp.synths.Harmonic(n_samples=640, sample_rate=16000)
audio = h(tf.ones([1, 10, 1]), tf.zeros([1, 10, 4]), 440.0 * tf.ones([1, 10, 1]))
print("TF", tf.__version__, "ddsp", ddsp.__version__, "audio", audio.shape,
      "rms", float(np.sqrt(np.mean(audio.numpy() ** 2))))
PYEOF
)
echo "peer environment ready: source $VENV/peers_env.sh"
