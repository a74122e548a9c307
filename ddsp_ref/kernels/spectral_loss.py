"""Launcher of the multi-scale spectral-loss kernels: validate, lay out, pick the kernels, drive.

``autodiff.fused.spectral_loss`` (the op behind ``losses.SpectralLoss``) computes its magnitude
and log-magnitude terms with :func:`spectral_terms`: value and, when asked, the gradients,
instead of taping a dozen elementwise ops per FFT size. Per FFT size and chunk of frames:
windowed frames -> rfft -> one fused pass over both spectra (loss sums and the spectra's
cotangents) -> irfft -> window and overlap-add.

Selection (``kernels.selection.select``, the rule of every family): numba CPU kernels for numpy
float32 / float64 arrays (cache-sized chunks on a thread pool, see ``spectral_loss_cpu.py``),
numba CUDA kernels for cupy arrays, the pure-array reference (``spectral_loss_reference.py``,
whole arrays, one thread) for ``DDSP_REF_KERNELS=reference``, other dtypes, or where numba is
missing. numba and scipy are imported on the first call that needs them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..backend import array_namespace
from ..numerics import half_spectrum_weights, hann_window, next_power_of_2
from .selection import select

__all__ = ["spectral_terms", "n_frames_of"]


def n_frames_of(n_samples: int, frame_size: int) -> int:
    """Frames of tf.signal.stft with ``pad_end=True`` and hop ``frame_size // 4``."""
    return -(-n_samples // (frame_size // 4))


def _chunk_terms(kernels: ModuleType, job: dict, first: int, n: int) -> tuple:
    """Frames ``first .. first + n - 1`` of both signals: loss sums and gradient pieces."""
    window, hop, n_fft = job["window"], job["hop"], job["n_fft"]
    rows, length = job["audio"].shape
    spectra = [
        kernels.rfft(kernels.windowed_frames(x, window, hop, n, first), n_fft).reshape(rows * n, -1)
        for x in (job["target"], job["audio"])
    ]
    sum_mag, sum_log, g_a, g_t = kernels.magnitude_terms(*spectra, *job["terms"])
    start, stop = first * hop, min(length, (first + n - 1) * hop + window.shape[0])
    pieces = []
    for g in (g_t, g_a):  # spectrum cotangent -> rfft adjoint -> window and overlap-add
        if g is not None:
            frames = kernels.irfft(g.reshape(rows, n, -1), n_fft)
            g = kernels.window_overlap_add(frames, window, hop, stop - start)
        pieces.append(g)
    return sum_mag, sum_log, start, stop, pieces


def spectral_terms(
    target: Any,
    audio: Any,
    frame_size: int,
    w_mag: float,
    w_log: float,
    l2: bool,
    want_t: bool,
    want_a: bool,
    eps: float = 1e-5,
    implementation: str | None = None,
) -> tuple[float, Any, Any]:
    """Magnitude and log-magnitude terms of one FFT size, with their gradients.

    Frames of ``frame_size`` with hop ``frame_size // 4``, periodic Hann window, zero
    ``pad_end``, FFT length the next power of 2 (tf.signal.stft as ddsp calls it).

    Args:
        target, audio: ``[rows, n_samples]`` float arrays (of one dtype after promotion).
        frame_size: frame (and window) length [samples], >= 4.
        w_mag, w_log: weights of ``mean |Mt - Ma|`` and ``mean |safe_log Mt - safe_log Ma|``.
        l2: squared differences instead of absolute ones.
        want_t, want_a: return the gradient with respect to the target / audio.
        eps: safe_log's replacement for exact zeros.
        implementation: None (the selection rule), or 'reference', 'cpu', 'cuda' (tests).

    Returns:
        ``(value, grad_target, grad_audio)``: the weighted sum of both means (Python float) and
        ``[rows, n_samples]`` gradients (or None), each in its input's dtype.

    Raises:
        ValueError: shapes that differ or are not 2-D, or ``frame_size < 4``.
    """
    xp = array_namespace(target, audio)
    if target.shape != audio.shape or len(audio.shape) != 2 or int(frame_size) < 4:
        raise ValueError(
            f"spectral_terms: need target and audio of one [rows, n_samples] shape and "
            f"frame_size >= 4, got {tuple(target.shape)}, {tuple(audio.shape)}, {frame_size}"
        )
    dtype = np.result_type(target.dtype, audio.dtype)
    kernels = select("spectral_loss", xp, (dtype,), implementation=implementation)
    rows, length = audio.shape
    hop, n_fft = frame_size // 4, next_power_of_2(frame_size)
    n_frames = n_frames_of(length, frame_size)
    count = rows * n_frames * (n_fft // 2 + 1)
    # Cotangent scale per bin: the mean's 1 / count and the rfft adjoint's half-spectrum weights.
    bin_scale = half_spectrum_weights(np, n_fft // 2 + 1, n_fft, 0.5, np.float64) * n_fft / count
    job = {
        "target": xp.ascontiguousarray(target, dtype=dtype),
        "audio": xp.ascontiguousarray(audio, dtype=dtype),
        "window": hann_window(xp, frame_size, dtype),
        "hop": hop,
        "n_fft": n_fft,
        "terms": (w_mag, w_log, l2, float(np.log(dtype.type(eps))), bin_scale, want_a, want_t),
    }
    per_chunk = kernels.frames_per_chunk(rows, frame_size, n_frames)
    chunks = [(first, min(per_chunk, n_frames - first)) for first in range(0, n_frames, per_chunk)]
    results = kernels.map_chunks(lambda first, n: _chunk_terms(kernels, job, first, n), chunks)
    grads = [xp.zeros((rows, length), dtype=dtype) if want else None for want in (want_t, want_a)]
    total = 0.0
    for sum_mag, sum_log, start, stop, pieces in results:  # in chunk order: deterministic
        total += w_mag * sum_mag + w_log * sum_log
        for grad, piece in zip(grads, pieces, strict=True):
            if piece is not None:
                grad[:, start:stop] += piece
    grads = [g if g is None else g.astype(x.dtype, copy=False)
             for g, x in zip(grads, (target, audio), strict=True)]  # fmt: skip
    return total / count, grads[0], grads[1]
