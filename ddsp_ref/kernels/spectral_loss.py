"""Fused stages of the multi-scale spectral loss on raw arrays: launcher and array-code spec.

``ddsp_ref.losses.SpectralLoss`` computes its magnitude and log-magnitude terms here (value
and, when asked, the audio's gradient) instead of taping a dozen elementwise ops per scale.
Per FFT size the work is: windowed frames -> rfft -> one fused pass over both spectra (the
loss sums and the spectra's cotangents) -> irfft -> window and overlap-add.

Selection per call, as for the other kernel families: ``DDSP_REF_KERNELS=reference`` forces the
array code below; numpy float32 / float64 arrays use the numba CPU kernels of
``spectral_loss_cpu.py``; cupy arrays (and numba missing) use the array code, which is a few
elementwise passes that a GPU runs quickly.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import array_namespace, as_strided, fft_module
from .selection import use_reference

__all__ = [
    "periodic_hann",
    "windowed_frames",
    "magnitude_terms",
    "window_overlap_add",
    "stft_frames",
    "fft_length",
]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _cpu() -> ModuleType | None:
    try:
        from . import spectral_loss_cpu as module
    except ImportError:  # numba missing
        return None
    return module


def _use_cpu_kernel(xp: ModuleType, dtype: Any) -> bool:
    return (
        xp is np
        and not use_reference()
        and np.dtype(dtype) in _KERNEL_DTYPES
        and _cpu() is not None
    )


def fft_length(frame_size: int) -> int:
    """tf.signal.stft's default fft_length: the smallest power of 2 >= frame_size."""
    return 1 << max(int(frame_size) - 1, 0).bit_length()


def periodic_hann(xp: ModuleType, length: int, dtype: Any) -> Any:
    """tf.signal.hann_window(length, periodic=True): ``0.5 - 0.5 cos(2 pi i / length)``."""
    if length == 1:
        return xp.ones(1, dtype=dtype)
    i = xp.arange(length, dtype=np.float64)
    return (0.5 - 0.5 * xp.cos(2.0 * np.pi * i / length)).astype(dtype)


# -- array-code spec -----------------------------------------------------------------------------
def _windowed_frames_ref(x, window, hop, n_frames, first_frame=0):
    xp = array_namespace(x)
    rows, length = x.shape
    frame_size = window.shape[0]
    start = first_frame * hop
    needed = start + (n_frames - 1) * hop + frame_size
    if needed > length:
        x = xp.pad(x, [(0, 0), (0, needed - length)])
    x = xp.ascontiguousarray(x[:, start:needed])
    step = x.strides[-1]
    view = as_strided(xp, x, (rows, n_frames, frame_size), (x.strides[0], hop * step, step))
    return view * window


def _magnitude_terms_ref(
    mt, ma, lt, la, xt, xa, w_mag, w_log, l2, log_eps, bin_scale, want_a, want_t
):
    xp = array_namespace(mt, ma)
    d = mt - ma
    dl = xp.where(mt > 0, lt, log_eps) - xp.where(ma > 0, la, log_eps)
    if l2:
        sum_mag, sum_log = xp.sum(d.astype(np.float64) ** 2), xp.sum(dl.astype(np.float64) ** 2)
        s_mag, s_log = 2 * d, 2 * dl
    else:
        sum_mag = xp.sum(xp.abs(d), dtype=np.float64)
        sum_log = xp.sum(xp.abs(dl), dtype=np.float64)
        s_mag, s_log = xp.sign(d), xp.sign(dl)
    grads = []
    # The target enters the differences with +1, the audio with -1.
    for want, z, m, sign in ((want_a, xa, ma, -1.0), (want_t, xt, mt, 1.0)):
        if not want:
            grads.append(None)
            continue
        safe = xp.where(m > 0, m, 1)
        factor = sign * (w_mag * s_mag + w_log * s_log / safe) * bin_scale / safe
        grads.append(xp.where(m > 0, z * factor, 0).astype(z.dtype))
    return float(sum_mag), float(sum_log), grads[0], grads[1]


def _window_overlap_add_ref(frames, window, hop, length):
    xp = array_namespace(frames)
    rows, n_frames, _ = frames.shape
    frame_size = window.shape[0]
    frames = frames[:, :, :frame_size] * window
    n_pieces = -(-frame_size // hop)
    out = xp.zeros((rows, (n_frames + n_pieces) * hop), dtype=frames.dtype)
    for j in range(n_pieces):
        piece = frames[:, :, j * hop : (j + 1) * hop]
        if piece.shape[-1] < hop:
            piece = xp.pad(piece, [(0, 0), (0, 0), (0, hop - piece.shape[-1])])
        out[:, j * hop : j * hop + n_frames * hop] += piece.reshape(rows, n_frames * hop)
    if out.shape[1] < length:  # samples beyond every frame (hop > frame_size) get nothing
        out = xp.pad(out, [(0, 0), (0, length - out.shape[1])])
    return out[:, :length]


# -- launchers ---------------------------------------------------------------------------------
def windowed_frames(x: Any, window: Any, hop: int, n_frames: int, first_frame: int = 0) -> Any:
    """Windowed frames with zero padding past the end.

    Args:
        x: ``[rows, n_samples]`` float array.
        window: ``[frame_size]`` window, same dtype.
        hop: samples between frame starts.
        n_frames: frames to cut (``ceil(n_samples / hop)`` for tf's ``pad_end=True``).
        first_frame: index of the first frame to cut (for cutting a long signal in chunks).

    Returns:
        ``[rows, n_frames, frame_size]``: ``x[r, (first_frame + f)*hop + i] * window[i]``.
    """
    xp = array_namespace(x)
    if _use_cpu_kernel(xp, x.dtype):
        return _cpu().windowed_frames(np.ascontiguousarray(x), window, hop, n_frames, first_frame)
    return _windowed_frames_ref(x, window, hop, n_frames, first_frame)


def magnitude_terms(xt, xa, w_mag, w_log, l2, eps, bin_scale, want_a, want_t):
    """Loss sums of two spectra and, when asked, the spectra's cotangents.

    Args:
        xt, xa: ``[rows, n_bins]`` complex spectra of the target and the audio.
        w_mag, w_log: weights of the magnitude and log-magnitude terms (0 to skip one).
        l2: squared differences instead of absolute differences.
        eps: the safe_log floor (exact zeros of a magnitude read as ``eps``).
        bin_scale: ``[n_bins]`` real factor per bin applied to the cotangents (the 1/N of the
            mean and the rfft adjoint's weighting).
        want_a, want_t: whether to return the cotangent of ``xa`` / ``xt``.

    Returns:
        ``(sum_mag, sum_log, grad_a, grad_t)``: Python floats ``sum |Mt - Ma|`` and ``sum
        |log Mt - log Ma|`` (squares for l2), and complex ``[rows, n_bins]`` arrays with
        ``grad = dLoss/dM * z / |z| * bin_scale`` (0 where ``z == 0``) or None, for the loss
        ``(w_mag sum_mag + w_log sum_log) / N``.
    """
    xp = array_namespace(xt, xa)
    mt, ma = xp.abs(xt), xp.abs(xa)
    real_dtype = ma.dtype
    with np.errstate(divide="ignore"):  # log(0) = -inf is replaced by log(eps) downstream
        lt, la = xp.log(mt), xp.log(ma)
    log_eps = float(np.log(real_dtype.type(eps)))
    bin_scale = xp.asarray(bin_scale, dtype=real_dtype)
    kernel = _cpu() if _use_cpu_kernel(xp, real_dtype) and xt.dtype == xa.dtype else None
    if kernel is None:
        return _magnitude_terms_ref(
            mt, ma, lt, la, xt, xa, w_mag, w_log, l2, log_eps, bin_scale, want_a, want_t
        )
    z_a, z_t = np.ascontiguousarray(xa), np.ascontiguousarray(xt)
    sum_mag, sum_log, grad_a = kernel.magnitude_terms(
        ma, mt, la, lt, z_a, w_mag, w_log, l2, log_eps, bin_scale, want_a
    )
    grad_t = None
    if want_t:
        grad_t = kernel.magnitude_terms(
            mt, ma, lt, la, z_t, w_mag, w_log, l2, log_eps, bin_scale, True
        )[2]
    return float(sum_mag), float(sum_log), grad_a, grad_t


def window_overlap_add(frames: Any, window: Any, hop: int, length: int) -> Any:
    """Adjoint of :func:`windowed_frames` (extra columns past ``len(window)`` are ignored).

    Args:
        frames: ``[rows, n_frames, >= frame_size]`` float array.
        window: ``[frame_size]`` window.
        hop: samples between frame starts.
        length: samples of the output (the un-padded signal length).

    Returns:
        ``[rows, length]``: ``sum_f frames[r, f, t - f*hop] * window[t - f*hop]``.
    """
    xp = array_namespace(frames)
    if _use_cpu_kernel(xp, frames.dtype):
        return _cpu().window_overlap_add(np.ascontiguousarray(frames), window, hop, length)
    return _window_overlap_add_ref(frames, window, hop, length)


def stft_frames(x: Any, frame_size: int, hop: int) -> Any:
    """tf.signal.stft(x, frame_size, hop, pad_end=True) of ``[rows, n_samples]`` real audio.

    Returns ``[rows, ceil(n_samples / hop), fft_length(frame_size) // 2 + 1]`` complex.
    """
    xp = array_namespace(x)
    window = periodic_hann(xp, frame_size, x.dtype)
    n_frames = -(-x.shape[-1] // hop)
    frames = windowed_frames(x, window, hop, n_frames)
    return fft_module(xp).rfft(frames, n=fft_length(frame_size), axis=-1)
