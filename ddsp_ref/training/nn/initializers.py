"""keras' default initialisers (glorot_uniform, orthogonal, zeros / ones) on a numpy Generator."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_rng", "glorot_uniform", "orthogonal", "child_seed"]


def make_rng(seed: Any) -> np.random.Generator:
    """A Generator from an int seed, None (fresh entropy) or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def child_seed(rng: np.random.Generator) -> int:
    """A seed for a child layer drawn from its parent's generator (reproducible per seed)."""
    return int(rng.integers(2**63 - 1))


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """keras GlorotUniform for a 2-D kernel ``[fan_in, fan_out]``: U(-l, l) with
    ``l = sqrt(6 / (fan_in + fan_out))`` (variance ``2 / (fan_in + fan_out)``), float32."""
    fan_in, fan_out = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int], gain: float = 1.0) -> np.ndarray:
    """keras Orthogonal on the whole 2-D matrix ``[rows, cols]``, float32.

    QR of a standard-normal ``[max, min]`` matrix, with the signs of R's diagonal folded into Q
    so the result is uniformly (Haar) distributed; transposed when ``rows < cols``. So the
    smaller dimension is orthonormal: for a recurrent kernel ``[units, G * units]`` the rows
    are orthonormal (``W @ W.T = I``), not each ``[units, units]`` gate block.
    """
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # sign(0) never happens for a Gaussian matrix (probability 0)
    if rows < cols:
        q = q.T
    return (gain * q).astype(np.float32)
