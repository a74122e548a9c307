"""The spectral-loss stages as numba CUDA kernels: framing, the fused elementwise pass, overlap-add.

Imported through ``kernels.selection`` on first use only (it imports numba.cuda). The stages have
the interface of ``spectral_loss_reference.py``; the FFTs are cupy's. The elementwise pass reads
both spectra once and writes the per-bin loss terms and both cotangents in one kernel (instead of
a dozen cupy elementwise passes); the loss sums are then one float64 reduction each. Arrays are
cupy arrays, or numpy arrays under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, tests).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import cuda

from ..backend import array_namespace

# The chunking and the FFTs are the reference's: a GPU wants all frames in one launch, and cupy's
# FFTs are what the array code already calls.
from .spectral_loss_reference import frames_per_chunk, irfft, map_chunks, rfft  # noqa: F401

__all__ = [
    "frames_per_chunk",
    "map_chunks",
    "rfft",
    "irfft",
    "windowed_frames",
    "magnitude_terms",
    "window_overlap_add",
]

_THREADS = 256


@cuda.jit
def _frames_kernel(x, window, hop, first_frame, out):  # pragma: no cover - compiled
    i = cuda.grid(1)
    rows, n_frames, frame_size = out.shape
    if i >= rows * n_frames * frame_size:
        return
    r = i // (n_frames * frame_size)
    f = (i // frame_size) % n_frames
    k = i % frame_size
    t = (first_frame + f) * hop + k
    out[r, f, k] = x[r, t] * window[k] if t < x.shape[1] else 0.0


@cuda.jit(device=True)
def _sign(x):  # pragma: no cover - compiled
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


@cuda.jit(device=True)
def _store_cotangent(z, g, r, k, m, dloss_dm):  # pragma: no cover - compiled
    # The unit phasor z / |z| times the real dL/d|z| (0 where |z| = 0): never 1 / |z|^2, which
    # overflows float32 for quiet audio.
    inv = 1.0 / m if m > 0 else 0.0
    g[r, 2 * k] = (z[r, 2 * k] * inv) * dloss_dm
    g[r, 2 * k + 1] = (z[r, 2 * k + 1] * inv) * dloss_dm


@cuda.jit
def _terms_kernel(zt, za, weights, l2, log_eps, bin_scale, wants, c_mag, c_log, ga, gt):  # noqa
    # One thread per (row, bin). zt, za, ga, gt: complex arrays viewed as [rows, 2 * n_bins]
    # reals (re, im interleaved); wants = (want_t, want_a); an unwanted cotangent is a [1, 1]
    # placeholder never written.
    i = cuda.grid(1)
    rows, n_bins = c_mag.shape
    if i >= rows * n_bins:
        return
    r = i // n_bins
    k = i % n_bins
    mt = math.hypot(zt[r, 2 * k], zt[r, 2 * k + 1])
    ma = math.hypot(za[r, 2 * k], za[r, 2 * k + 1])
    d = mt - ma
    dl = (math.log(mt) if mt > 0 else log_eps) - (math.log(ma) if ma > 0 else log_eps)
    if l2:
        c_mag[r, k] = d * d
        c_log[r, k] = dl * dl
        s_mag = 2.0 * d
        s_log = 2.0 * dl
    else:
        c_mag[r, k] = abs(d)
        c_log[r, k] = abs(dl)
        s_mag = _sign(d)
        s_log = _sign(dl)
    # The target enters the differences with +1, the audio with -1.
    if wants[0]:
        inv_t = 1.0 / mt if mt > 0 else 0.0
        dloss_dm = (weights[0] * s_mag + weights[1] * s_log * inv_t) * bin_scale[k]
        _store_cotangent(zt, gt, r, k, mt, dloss_dm)
    if wants[1]:
        inv_a = 1.0 / ma if ma > 0 else 0.0
        dloss_dm = -(weights[0] * s_mag + weights[1] * s_log * inv_a) * bin_scale[k]
        _store_cotangent(za, ga, r, k, ma, dloss_dm)


@cuda.jit
def _overlap_add_kernel(frames, window, hop, out):  # pragma: no cover - compiled
    # One thread per output sample: a gather over the frames that cover it (no atomics).
    i = cuda.grid(1)
    rows, length = out.shape
    n_frames = frames.shape[1]
    frame_size = window.shape[0]
    if i >= rows * length:
        return
    r = i // length
    t = i % length
    f_hi = min(t // hop, n_frames - 1)
    f_lo = 0 if t < frame_size else (t - frame_size) // hop + 1
    acc = 0.0
    for f in range(f_hi, f_lo - 1, -1):  # latest frame first, like the other implementations
        acc += frames[r, f, t - f * hop] * window[t - f * hop]
    out[r, t] = acc


def _launch(kernel: Any, n_threads: int, xp: Any, *args: Any) -> None:
    if n_threads == 0:
        return
    blocks = -(-n_threads // _THREADS)
    if numba.config.ENABLE_CUDASIM or xp.__name__ != "cupy":
        kernel[blocks, _THREADS](*args)
    else:  # queue behind the work cupy has already put on its current stream
        stream = cuda.external_stream(xp.cuda.get_current_stream().ptr)
        kernel[blocks, _THREADS, stream](*args)


def windowed_frames(x: Any, window: Any, hop: int, n_frames: int, first_frame: int = 0) -> Any:
    """See ``spectral_loss_reference.windowed_frames``; ``x`` C-contiguous."""
    xp = array_namespace(x)
    out = xp.empty((x.shape[0], n_frames, window.shape[0]), dtype=x.dtype)
    _launch(_frames_kernel, out.size, xp, x, window, hop, first_frame, out)
    return out


def magnitude_terms(xt, xa, w_mag, w_log, l2, log_eps, bin_scale, want_a, want_t):
    """See ``spectral_loss_reference.magnitude_terms``: one kernel, then two float64 sums."""
    xp = array_namespace(xt, xa)
    rows, n_bins = xa.shape
    real = xa.real.dtype
    zt, za = xp.ascontiguousarray(xt), xp.ascontiguousarray(xa)
    c_mag = xp.empty((rows, n_bins), dtype=np.float64)
    c_log = xp.empty((rows, n_bins), dtype=np.float64)
    grads = [xp.empty_like(za) if want else xp.zeros((1, 1), dtype=za.dtype)
             for want in (want_a, want_t)]  # fmt: skip
    weights = xp.asarray([w_mag, w_log], dtype=np.float64)
    bin_scale = xp.asarray(bin_scale, dtype=np.float64)
    views = [a.view(real).reshape(a.shape[0], -1) for a in (zt, za, grads[0], grads[1])]
    wants = xp.asarray([bool(want_t), bool(want_a)], dtype=np.int32)
    _launch(_terms_kernel, rows * n_bins, xp, views[0], views[1], weights, bool(l2),
            float(log_eps), bin_scale, wants, c_mag, c_log, views[2], views[3])  # fmt: skip
    sum_mag, sum_log = float(xp.sum(c_mag)), float(xp.sum(c_log))
    return sum_mag, sum_log, grads[0] if want_a else None, grads[1] if want_t else None


def window_overlap_add(frames: Any, window: Any, hop: int, length: int) -> Any:
    """See ``spectral_loss_reference.window_overlap_add``."""
    xp = array_namespace(frames)
    frames = xp.ascontiguousarray(frames)
    out = xp.empty((frames.shape[0], length), dtype=frames.dtype)
    _launch(_overlap_add_kernel, out.size, xp, frames, window, hop, out)
    return out
