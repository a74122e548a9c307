"""Scalar maths of the oscillator kernels, written once as plain Python.

The numba CPU kernels compile these functions with ``numba.njit`` and the CUDA kernels with
``cuda.jit(device=True)`` (see oscillator_cpu_math.py and oscillator_cuda.py); this module itself
imports no numba, so the pure-array reference and the tests can call them too.
"""

from __future__ import annotations

import math

__all__ = ["TWO_PI", "wrap", "n_below"]

TWO_PI = 2.0 * math.pi


def wrap(phase):  # pragma: no cover - compiled
    """``phase`` [rad] reduced to [0, 2*pi)."""
    return phase - TWO_PI * math.floor(phase / TWO_PI)


def n_below(freq, nyquist, n):  # pragma: no cover - compiled
    """Number of harmonics k in 1..n with ``k * freq < nyquist`` (ddsp silences ``>=``).

    ``nyquist`` is ``inf`` where no mask applies; a non-positive (or NaN) ``freq`` keeps every
    harmonic. The estimate ``nyquist / freq`` is corrected by exact products both ways, so
    the count agrees with the ``k * f >= nyquist`` comparison of the composed path.
    """
    if not freq > 0.0 or nyquist == math.inf:
        return n
    m = int(min(nyquist / freq, n + 1.0))
    while m > 0 and m * freq >= nyquist:
        m -= 1
    while m < n and (m + 1) * freq < nyquist:
        m += 1
    return min(m, n)
