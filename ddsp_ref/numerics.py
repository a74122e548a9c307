"""Numeric constants and tables shared by every layer: TF's windows, FFT sizes, rfft adjoint.

Pure array code (numpy or cupy through ``xp``), no autodiff and no numba: the kernels, the
autodiff ops and the DSP layers all build their windows and FFT sizes here, so that a
convention (TF's odd-length "periodic" window, the half-spectrum weighting of the rfft adjoint)
is written once.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["hann_window", "next_power_of_2", "half_spectrum_weights"]


def hann_window(xp: ModuleType, length: int, dtype: Any = np.float64, periodic: bool = True) -> Any:
    """``tf.signal.hann_window(length, periodic)``: ``0.5 - 0.5 cos(2 pi n / d)``, ``[length]``.

    TF's denominator is ``d = length`` only for a periodic window of even length; odd lengths
    (and ``periodic=False``) get the symmetric window, ``d = length - 1``. Length 1 gives
    ``[1]``. Computed in float64, then cast to ``dtype``.
    """
    length = int(length)
    if length < 1:
        raise ValueError(f"hann_window: length must be a positive integer, got {length}")
    if length == 1:
        return xp.ones(1, dtype=dtype)
    denominator = length if periodic and length % 2 == 0 else length - 1
    n = np.arange(length, dtype=np.float64)
    return xp.asarray(0.5 - 0.5 * np.cos(2.0 * np.pi * n / denominator), dtype=dtype)


def next_power_of_2(n: int) -> int:
    """The smallest power of 2 that is >= ``n`` (1 for ``n <= 1``): tf.signal.stft's default
    ``fft_length`` and ddsp's ``get_fft_size`` rounding."""
    return 1 << max(int(n) - 1, 0).bit_length()


def half_spectrum_weights(xp: ModuleType, n_bins: int, n: int, interior: float, dtype: Any) -> Any:
    """Per-bin weights ``[n_bins]`` of a half spectrum of an ``n``-point real FFT: 1 at DC and,
    for even ``n``, at Nyquist; ``interior`` in between.

    The rfft / irfft adjoints use them: ``irfft`` counts every interior bin twice (its
    conjugate twin is implied), so the adjoint of ``rfft`` is ``n * irfft(g * w)`` with
    ``interior = 1/2``, and the adjoint of ``irfft`` is ``rfft(g) * w / n`` with
    ``interior = 2``.
    """
    w = np.full(int(n_bins), float(interior))
    w[0] = 1.0
    if n % 2 == 0 and n_bins > 1:
        w[-1] = 1.0
    return xp.asarray(w, dtype=dtype)
