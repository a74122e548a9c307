"""The spectral-loss stages as numba CPU kernels (serial, GIL released) on a thread pool.

Imported through ``kernels.selection`` on first use only, since it imports numba. The stages
have the interface of ``spectral_loss_reference.py`` (the executable spec) and do the same
arithmetic in fewer passes. The inner loops run over contiguous memory without calls into libm
so that LLVM vectorises them: magnitudes and logarithms come in precomputed (numpy's SIMD
``abs`` and ``log`` beat scalar libm calls). Loss sums accumulate in float64.

Parallelism: the launcher cuts the frames into chunks of about ``CHUNK`` samples so that every
intermediate of a chunk stays in the CPU caches (about twice as fast as whole-signal arrays),
and :func:`map_chunks` runs the chunks on one thread pool. scipy's FFT, numpy's ufuncs and these
``nogil`` kernels all release the GIL, so the chunks really run in parallel. numba's own
``parallel=True`` loops cannot replace the pool: the FFTs between the kernels are scipy calls,
and a parallel region per chunk-sized kernel costs more to start than it saves.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Sequence

import numba
import numpy as np
import scipy.fft

__all__ = [
    "CHUNK",
    "frames_per_chunk",
    "map_chunks",
    "rfft",
    "irfft",
    "windowed_frames",
    "magnitude_terms",
    "window_overlap_add",
]

# Frame samples (all rows together) per chunk: 512 KB of float32 frames.
CHUNK = 1 << 17
_MAX_WORKERS = 8


def frames_per_chunk(rows: int, frame_size: int, n_frames: int) -> int:
    """Frames per chunk so that ``rows * frames * frame_size`` is about :data:`CHUNK`."""
    return max(1, CHUNK // (rows * frame_size))


# -- the thread pool ------------------------------------------------------------------------------
# One pool for the process, made on first use with one worker per usable core (at most 8). A
# forked child inherits the reference but not the threads, so the child drops it (at-fork hook)
# and makes its own on first use.
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _drop_pool() -> None:
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_pool)


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(_MAX_WORKERS, cores or 1)


def map_chunks(fn: Callable, chunks: Sequence) -> list:
    """``[fn(*chunk) for chunk in chunks]`` in order, on the pool when there are >= 2 chunks
    and >= 2 cores."""
    global _pool
    if len(chunks) < 2 or _workers() < 2:
        return [fn(*chunk) for chunk in chunks]
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                _workers(), thread_name_prefix="ddsp_ref_spectral_loss"
            )
        pool = _pool
    return list(pool.map(lambda chunk: fn(*chunk), chunks))


def rfft(x: np.ndarray, n: int) -> np.ndarray:
    """scipy's real FFT on one thread: the chunks themselves already run in parallel."""
    return scipy.fft.rfft(x, n=n, axis=-1, workers=1)


def irfft(x: np.ndarray, n: int) -> np.ndarray:
    return scipy.fft.irfft(x, n=n, axis=-1, workers=1)


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


@numba.njit(cache=True, nogil=True)
def _scale_phasors(z, inverse, factor, out):  # pragma: no cover - compiled
    # (z / m) first, then the factor: compiled without "reassoc", so LLVM may not regroup the
    # product into z * (inverse * factor), whose middle term overflows for tiny m.
    for j in range(z.shape[0]):
        out[j] = (z[j] * inverse[j >> 1]) * factor[j >> 1]


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _terms_kernel(
    m_self, m_other, l_self, l_other, z_self, w_mag, w_log, l2, log_eps, bin_scale, want, out
):  # pragma: no cover - compiled
    # Loss sums over d = m_other - m_self and dl = log m_other - log m_self (either argument
    # order: L1 and L2 are symmetric), safe_log reading an exact zero as log(eps). With
    # ``want``, also the cotangent of z_self: (z / m) * -(w_mag s(d) + w_log s(dl) / m) * scale,
    # 0 at m = 0, s = the sign function (L1) or 2x (L2): the unit phasor z / m times a real
    # factor, never 1 / m^2 (which overflows float32 for quiet audio). z_self and out are
    # complex arrays viewed as [rows, 2 * n_bins] reals. "reassoc" lets LLVM vectorise the sums.
    rows, n_bins = m_self.shape
    one = m_self.dtype.type(1.0)
    sum_mag = 0.0
    sum_log = 0.0
    factor = np.empty(n_bins, dtype=m_self.dtype)
    inverse = np.empty(n_bins, dtype=m_self.dtype)
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
            inverse[k] = inv
            factor[k] = -(w_mag * s_mag + w_log * s_log * inv) * bin_scale[k]
        if want:
            _scale_phasors(z_self[r], inverse, factor, out[r])
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


def magnitude_terms(xt, xa, w_mag, w_log, l2, log_eps, bin_scale, want_a, want_t):
    """``spectral_loss_reference.magnitude_terms`` with the fused kernel (same arguments)."""
    mt, ma = np.abs(xt), np.abs(xa)  # numpy's SIMD abs / log beat scalar libm calls in numba
    with np.errstate(divide="ignore"):  # log(0) = -inf is replaced by log(eps) in the kernel
        lt, la = np.log(mt), np.log(ma)
    bin_scale = np.asarray(bin_scale, dtype=ma.dtype)
    z_a, z_t = np.ascontiguousarray(xa), np.ascontiguousarray(xt)
    terms = (w_mag, w_log, l2, log_eps, bin_scale)
    sum_mag, sum_log, grad_a = _one_side(ma, mt, la, lt, z_a, *terms, want_a)
    grad_t = _one_side(mt, ma, lt, la, z_t, *terms, True)[2] if want_t else None
    return float(sum_mag), float(sum_log), grad_a, grad_t


def _one_side(m_self, m_other, l_self, l_other, z_self, w_mag, w_log, l2, log_eps, bin_scale, want):
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
