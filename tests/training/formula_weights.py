"""Deterministic weights that a golden recorder (in the TensorFlow peer) and the tests both
compute, for cases too large to store their weights (the ResNet, DDSP-INV's encoder).

Plain numpy, importable from the recorders (run as scripts from this folder) and the tests.
"""

from __future__ import annotations

import numpy as np


def formula_weights(name: str, shape: tuple) -> np.ndarray:
    """float32 weights of ``shape`` for the variable ``name``: a sine over the flat index,
    phase-shifted by the name; kernels scaled by ``1 / sqrt(fan_in)``, ``scale`` vectors
    around 1, every other vector around 0."""
    n = int(np.prod(shape))
    wave = np.sin(0.7 * np.arange(n) + 0.1 * sum(map(ord, name))).reshape(shape)
    if name.endswith("kernel"):
        return (wave / np.sqrt(np.prod(shape[:-1]))).astype(np.float32)
    return ((1.0 if name.endswith("scale") else 0.0) + 0.1 * wave).astype(np.float32)
