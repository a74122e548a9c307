"""The multi-scale spectral loss stages as numba CPU kernels (serial, GIL released).

Imported by the launcher (``spectral_loss.py``) on first use only, since it imports numba. The
array-code versions in the launcher are the executable spec; these kernels do the same
arithmetic in fewer passes over cache-sized chunks, and the launcher runs chunks on several
threads (``nogil``). The inner loops run over contiguous memory without calls into libm so that
LLVM vectorises them: magnitudes and logarithms come in precomputed (numpy's SIMD ``abs`` and
``log`` beat scalar libm calls). Loss sums accumulate in float64.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["windowed_frames", "magnitude_terms", "window_overlap_add"]


@numba.njit(cache=True, nogil=True)
def _windowed_frames_kernel(x, window, hop, first_frame, out):  # pragma: no cover - compiled
    rows, length = x.shape
    _, n_frames, frame_size = out.shape
    for r in range(rows):
        for f in range(n_frames):
            start = (first_frame + f) * hop
            valid = max(0, min(frame_size, length - start))
            for i in range(valid):
                out[r, f, i] = x[r, start + i] * window[i]
            for i in range(valid, frame_size):
                out[r, f, i] = 0.0


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _terms_kernel(
    m_self, m_other, l_self, l_other, z_self, w_mag, w_log, l2, log_eps, bin_scale, want, out
):  # pragma: no cover - compiled
    # Loss sums over d = m_other - m_self and dl = log m_other - log m_self (either argument
    # order: L1 and L2 are symmetric), safe_log reading an exact zero as log(eps). With
    # ``want``, also the cotangent of z_self: -(w_mag s(d) + w_log s(dl) / m) * scale / m * z,
    # 0 at m = 0, s = the sign function (L1) or 2x (L2). z_self and out are complex arrays
    # viewed as [rows, 2 * n_bins] reals. "reassoc" lets LLVM vectorise the sums.
    rows, n_bins = m_self.shape
    one = m_self.dtype.type(1.0)
    sum_mag = 0.0
    sum_log = 0.0
    factor = np.empty(n_bins, dtype=m_self.dtype)
    for r in range(rows):
        for k in range(n_bins):
            m = m_self[r, k]
            m_o = m_other[r, k]
            d = m_o - m
            dl = (l_other[r, k] if m_o > 0 else log_eps) - (l_self[r, k] if m > 0 else log_eps)
            if l2:
                sum_mag += d * d
                sum_log += dl * dl
                s_mag = 2 * d
                s_log = 2 * dl
            else:
                sum_mag += abs(d)
                sum_log += abs(dl)
                s_mag = (d > 0) * one - (d < 0) * one
                s_log = (dl > 0) * one - (dl < 0) * one
            inv = one / m if m > 0 else 0 * one
            factor[k] = -(w_mag * s_mag + w_log * s_log * inv) * bin_scale[k] * inv
        if want:
            for j in range(2 * n_bins):
                out[r, j] = z_self[r, j] * factor[j >> 1]
    return sum_mag, sum_log


@numba.njit(cache=True, nogil=True)
def _window_overlap_add_kernel(frames, window, hop, out):  # pragma: no cover - compiled
    rows, n_frames, _ = frames.shape
    frame_size = window.shape[0]
    length = out.shape[1]
    n_segments = (length + hop - 1) // hop  # hop-sized output segments
    n_pieces = (frame_size + hop - 1) // hop  # hop-sized pieces of a frame
    # A local accumulator (and 1-D frame views) lets LLVM vectorise the inner loop.
    acc = np.empty(hop, dtype=out.dtype)
    for r in range(rows):
        for k in range(n_segments):
            base = k * hop
            width = min(hop, length - base)
            acc[:] = 0
            # Segment k holds piece j of frame k - j.
            for j in range(max(0, k - n_frames + 1), min(n_pieces - 1, k) + 1):
                offset = j * hop
                w = min(width, frame_size - offset)
                frame = frames[r, k - j]
                for s in range(w):
                    acc[s] += frame[offset + s] * window[offset + s]
            for s in range(width):
                out[r, base + s] = acc[s]


def windowed_frames(
    x: np.ndarray, window: np.ndarray, hop: int, n_frames: int, first_frame: int = 0
) -> np.ndarray:
    """``[rows, T]`` -> ``[rows, n_frames, len(window)]``: ``x[r, (first_frame + f)*hop + i]
    * window[i]``, zero past the end."""
    out = np.empty((x.shape[0], n_frames, window.shape[0]), dtype=x.dtype)
    _windowed_frames_kernel(x, window, hop, first_frame, out)
    return out


def magnitude_terms(
    m_self, m_other, l_self, l_other, z_self, w_mag, w_log, l2, log_eps, bin_scale, want
):
    """``(sum_mag, sum_log, grad)``: loss sums and (with ``want``) the cotangent of z_self."""
    real = m_self.dtype.type
    rows = z_self.shape[0]
    out = np.empty_like(z_self) if want else np.empty((1, 1), dtype=z_self.dtype)
    sums = _terms_kernel(
        m_self,
        m_other,
        l_self,
        l_other,
        z_self.view(m_self.dtype).reshape(rows, -1),
        real(w_mag),
        real(w_log),
        bool(l2),
        real(log_eps),
        bin_scale,
        bool(want),
        out.view(m_self.dtype).reshape(out.shape[0], -1),
    )
    return sums[0], sums[1], (out if want else None)


def window_overlap_add(frames: np.ndarray, window: np.ndarray, hop: int, length: int):
    """``out[r, t] = sum_f frames[r, f, t - f*hop] * window[t - f*hop]`` for ``t < length``."""
    out = np.empty((frames.shape[0], length), dtype=frames.dtype)
    _window_overlap_add_kernel(frames, window, hop, out)
    return out
