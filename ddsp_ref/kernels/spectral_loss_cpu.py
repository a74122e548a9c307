"""The multi-scale spectral loss stages as numba CPU kernels (parallel over frames or rows).

Imported by the launcher (``spectral_loss.py``) on first use only, since it imports numba. The
array-code versions in the launcher are the executable spec; these kernels do the same
arithmetic in one pass each. Every output element is written by exactly one loop iteration,
so the parallel loops are race-free; the loss sums are prange reductions in float64.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["windowed_frames", "magnitude_terms", "window_overlap_add"]

# Output samples per parallel task of the overlap-add: amortises scheduling, still splits a
# single long row over the cores.
_BLOCK = 8192


@numba.njit(parallel=True, cache=True, nogil=True)
def _windowed_frames_kernel(x, window, hop, out):  # pragma: no cover - compiled
    rows, length = x.shape
    _, n_frames, frame_size = out.shape
    for task in numba.prange(rows * n_frames):
        r = task // n_frames
        f = task % n_frames
        start = f * hop
        valid = max(0, min(frame_size, length - start))
        for i in range(valid):
            out[r, f, i] = x[r, start + i] * window[i]
        for i in range(valid, frame_size):
            out[r, f, i] = 0.0


@numba.njit(inline="always")
def _safe_log(m, eps):  # pragma: no cover - compiled
    return math.log(m) if m > 0 else math.log(eps)


@numba.njit(parallel=True, cache=True, nogil=True)
def _terms_kernel(xt, xa, w_mag, w_log, l2, eps, bin_scale, grad_a, grad_t, want_a, want_t):
    # pragma: no cover - compiled
    rows, n_bins = xt.shape
    sum_mag = 0.0
    sum_log = 0.0
    for r in numba.prange(rows):
        row_mag = 0.0
        row_log = 0.0
        for k in range(n_bins):
            zt = xt[r, k]
            za = xa[r, k]
            mt = math.hypot(zt.real, zt.imag)
            ma = math.hypot(za.real, za.imag)
            d = mt - ma
            dl = _safe_log(mt, eps) - _safe_log(ma, eps)
            if l2:
                row_mag += d * d
                row_log += dl * dl
                s_mag = 2.0 * d
                s_log = 2.0 * dl
            else:
                row_mag += abs(d)
                row_log += abs(dl)
                s_mag = (d > 0) - (d < 0)
                s_log = (dl > 0) - (dl < 0)
            # dLoss/dM of the audio is -(w_mag s_mag + w_log s_log / M) / N, of the target the
            # opposite; dLoss/dz = dLoss/dM * z / |z| (0 at z = 0). bin_scale holds 1/N and
            # the rfft adjoint's per-bin factor.
            if want_a:
                if ma > 0:
                    f = -(w_mag * s_mag + w_log * s_log / ma) * bin_scale[k] / ma
                    grad_a[r, k] = za * f
                else:
                    grad_a[r, k] = 0
            if want_t:
                if mt > 0:
                    f = (w_mag * s_mag + w_log * s_log / mt) * bin_scale[k] / mt
                    grad_t[r, k] = zt * f
                else:
                    grad_t[r, k] = 0
        sum_mag += row_mag
        sum_log += row_log
    return sum_mag, sum_log


@numba.njit(parallel=True, cache=True, nogil=True)
def _window_overlap_add_kernel(frames, window, hop, out):  # pragma: no cover - compiled
    rows, n_frames, _ = frames.shape
    frame_size = window.shape[0]
    length = out.shape[1]
    n_tasks = (length + _BLOCK - 1) // _BLOCK
    for task in numba.prange(rows * n_tasks):
        r = task // n_tasks
        first = (task % n_tasks) * _BLOCK
        for t in range(first, min(length, first + _BLOCK)):
            # Frames f with f * hop <= t < f * hop + frame_size.
            f_hi = min(n_frames - 1, t // hop)
            f_lo = max(0, (t - frame_size) // hop + 1)
            acc = 0.0
            for f in range(f_lo, f_hi + 1):
                i = t - f * hop
                acc += frames[r, f, i] * window[i]
            out[r, t] = acc


def windowed_frames(x: np.ndarray, window: np.ndarray, hop: int, n_frames: int) -> np.ndarray:
    """``[rows, T]`` -> ``[rows, n_frames, len(window)]``, ``x[r, f*hop + i] * window[i]``."""
    out = np.empty((x.shape[0], n_frames, window.shape[0]), dtype=x.dtype)
    _windowed_frames_kernel(x, window, hop, out)
    return out


def magnitude_terms(xt, xa, w_mag, w_log, l2, eps, bin_scale, want_a, want_t):
    """Sums of the magnitude and log-magnitude differences, and the spectra's cotangents."""
    grad_a = np.empty_like(xa) if want_a else np.empty((1, 1), dtype=xa.dtype)
    grad_t = np.empty_like(xt) if want_t else np.empty((1, 1), dtype=xt.dtype)
    real = xa.real.dtype.type
    sum_mag, sum_log = _terms_kernel(
        xt, xa, real(w_mag), real(w_log), bool(l2), real(eps), bin_scale, grad_a, grad_t,
        bool(want_a), bool(want_t),
    )
    return sum_mag, sum_log, (grad_a if want_a else None), (grad_t if want_t else None)


def window_overlap_add(frames: np.ndarray, window: np.ndarray, hop: int, length: int):
    """``out[r, t] = sum_f frames[r, f, t - f*hop] * window[t - f*hop]`` for ``t < length``."""
    out = np.empty((frames.shape[0], length), dtype=frames.dtype)
    _window_overlap_add_kernel(frames, window, hop, out)
    return out
