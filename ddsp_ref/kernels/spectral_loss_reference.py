"""The spectral-loss stages in pure array code (numpy or cupy): the executable spec and fallback.

One FFT size of the loss runs, per chunk of frames: :func:`windowed_frames` -> :func:`rfft` ->
:func:`magnitude_terms` (loss sums and the spectra's cotangents) -> :func:`irfft` ->
:func:`window_overlap_add`. The launcher (``spectral_loss.py``) drives these stages through
whichever module it selected (this one, ``spectral_loss_cpu`` or ``spectral_loss_cuda``); they
all share this interface, and :func:`frames_per_chunk` / :func:`map_chunks` say how the frames
are split and run (here: all frames at once, one thread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import array_namespace, as_strided, fft_module

__all__ = [
    "frames_per_chunk",
    "map_chunks",
    "rfft",
    "irfft",
    "windowed_frames",
    "magnitude_terms",
    "window_overlap_add",
]


def frames_per_chunk(rows: int, frame_size: int, n_frames: int) -> int:
    """Frames (of every row) per chunk: all of them."""
    return n_frames


def map_chunks(fn: Callable, chunks: Sequence) -> list:
    """``[fn(*chunk) for chunk in chunks]``, in order."""
    return [fn(*chunk) for chunk in chunks]


def rfft(x: Any, n: int) -> Any:
    """Real FFT of the last axis, length ``n`` (zero padded)."""
    return fft_module(array_namespace(x)).rfft(x, n=n, axis=-1)


def irfft(x: Any, n: int) -> Any:
    """Inverse real FFT of the last axis to ``n`` samples."""
    return fft_module(array_namespace(x)).irfft(x, n=n, axis=-1)


def windowed_frames(x: Any, window: Any, hop: int, n_frames: int, first_frame: int = 0) -> Any:
    """``out[r, f, i] = x[r, (first_frame + f) * hop + i] * window[i]``, zero past the end.

    Args:
        x: ``[rows, n_samples]`` float array.
        window: ``[frame_size]`` window, same dtype.

    Returns:
        ``[rows, n_frames, frame_size]``.
    """
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


def magnitude_terms(xt, xa, w_mag, w_log, l2, log_eps, bin_scale, want_a, want_t):
    """Loss sums of two spectra and, when asked, the spectra's cotangents.

    Args:
        xt, xa: ``[rows, n_bins]`` complex spectra of the target and the audio.
        w_mag, w_log: weights of the magnitude and log-magnitude terms.
        l2: squared differences instead of absolute ones.
        log_eps: ``log(eps)``, safe_log's value for an exact zero magnitude.
        bin_scale: ``[n_bins]`` real factor per bin applied to the cotangents (the 1/N of the
            mean and the rfft adjoint's half-spectrum weighting).
        want_a, want_t: whether to return the cotangent of ``xa`` / ``xt``.

    Returns:
        ``(sum_mag, sum_log, grad_a, grad_t)``: Python floats ``sum |Mt - Ma|`` and ``sum
        |safe_log Mt - safe_log Ma|`` (squares for l2), and complex ``[rows, n_bins]`` arrays
        ``dLoss/dM * z / |z| * bin_scale`` (0 where ``z == 0``) or None, for the loss
        ``w_mag sum_mag + w_log sum_log``. The cotangent is formed as the unit phasor
        ``z / |z|`` times a real factor, so a tiny ``|z|`` (quiet audio: 1e-25) gives a large
        but finite cotangent, as in TF, instead of overflowing through ``1 / |z|^2``.
    """
    xp = array_namespace(xt, xa)
    mt, ma = xp.abs(xt), xp.abs(xa)
    with np.errstate(divide="ignore"):  # log(0) = -inf is replaced by log(eps) just below
        lt = xp.where(mt > 0, xp.log(mt), log_eps)
        la = xp.where(ma > 0, xp.log(ma), log_eps)
    d, dl = mt - ma, lt - la
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
        with np.errstate(divide="ignore", over="ignore"):
            inv = xp.where(m > 0, 1 / xp.where(m > 0, m, 1), 0).astype(m.dtype)
        factor = sign * (w_mag * s_mag + w_log * s_log * inv) * bin_scale
        grads.append(((z * inv) * factor.astype(m.dtype)).astype(z.dtype))
    return float(sum_mag), float(sum_log), grads[0], grads[1]


def window_overlap_add(frames: Any, window: Any, hop: int, length: int) -> Any:
    """Adjoint of :func:`windowed_frames` (columns past ``len(window)`` are ignored).

    Args:
        frames: ``[rows, n_frames, >= frame_size]`` float array.
        window: ``[frame_size]`` window.
        hop: samples between frame starts.
        length: samples of the output.

    Returns:
        ``[rows, length]``: ``sum_f frames[r, f, t - f*hop] * window[t - f*hop]``.
    """
    xp = array_namespace(frames)
    rows, n_frames, _ = frames.shape
    frame_size = window.shape[0]
    frames = frames[:, :, :frame_size] * window
    n_pieces = -(-frame_size // hop)
    out = xp.zeros((rows, (n_frames + n_pieces) * hop), dtype=frames.dtype)
    for j in range(n_pieces):  # piece j of every frame at once
        piece = frames[:, :, j * hop : (j + 1) * hop]
        if piece.shape[-1] < hop:
            piece = xp.pad(piece, [(0, 0), (0, 0), (0, hop - piece.shape[-1])])
        out[:, j * hop : j * hop + n_frames * hop] += piece.reshape(rows, n_frames * hop)
    if out.shape[1] < length:  # samples beyond every frame (hop > frame_size) get nothing
        out = xp.pad(out, [(0, 0), (0, length - out.shape[1])])
    return out[:, :length]
