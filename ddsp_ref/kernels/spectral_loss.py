"""Fused stages of the multi-scale spectral loss on raw arrays: launcher and array-code spec.

``ddsp_ref.losses.SpectralLoss`` computes its magnitude and log-magnitude terms with
:func:`spectral_terms` (value and, when asked, the gradients) instead of taping a dozen
elementwise ops per FFT size. Per size: windowed frames -> rfft -> one fused pass over both
spectra (loss sums and the spectra's cotangents) -> irfft -> window and overlap-add.

On numpy the frames go through in chunks of about ``CHUNK`` samples so that every intermediate
stays in the CPU caches (about twice as fast as whole-signal arrays), and the chunks run on a
small thread pool (scipy's FFT, numpy and the nogil numba kernels release the GIL). This beats
numba's parallel loops here: chunk-sized parallel regions cost more to start than they save.

Selection per call, as for the other kernel families: ``DDSP_REF_KERNELS=reference`` forces the
array code below (whole arrays, one thread); numpy float32 / float64 arrays use the numba
kernels of ``spectral_loss_cpu.py``; cupy arrays (and numba missing) use the array code, a few
elementwise passes that a GPU runs quickly.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from types import ModuleType
from typing import Any

import numpy as np

from ..backend import array_namespace, as_strided, fft_module
from .selection import KERNEL_DTYPES, use_reference

__all__ = [
    "CHUNK",
    "fft_length",
    "periodic_hann",
    "spectral_terms",
    "windowed_frames",
    "magnitude_terms",
    "window_overlap_add",
]

# Frame samples (all rows together) per chunk on the CPU: 512 KB of float32 frames.
CHUNK = 1 << 17


@functools.cache
def _cpu() -> ModuleType | None:
    try:
        from . import spectral_loss_cpu as module
    except ImportError:  # numba missing
        return None
    return module


def _use_cpu_kernel(xp: ModuleType, dtype: Any) -> bool:
    return (
        xp is np and not use_reference() and np.dtype(dtype) in KERNEL_DTYPES and _cpu() is not None
    )


_POOL: dict = {}


def _pool() -> concurrent.futures.ThreadPoolExecutor | None:
    """Threads for the chunks (one per usable core, at most 8); None on a single core.

    One pool per process: a forked child gets its own (the parent's threads do not exist there).
    """
    pid = os.getpid()
    if pid not in _POOL:
        _POOL.clear()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        workers = min(8, cores or os.cpu_count() or 1)
        _POOL[pid] = (
            None
            if workers < 2
            else concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix="ddsp_ref_spectral"
            )
        )
    return _POOL[pid]


def fft_length(frame_size: int) -> int:
    """tf.signal.stft's default fft_length: the smallest power of 2 >= frame_size."""
    return 1 << max(int(frame_size) - 1, 0).bit_length()


def periodic_hann(xp: ModuleType, length: int, dtype: Any) -> Any:
    """tf.signal.hann_window(length, periodic=True); TF uses ``length - 1`` for odd lengths."""
    if length == 1:
        return xp.ones(1, dtype=dtype)
    denominator = length if length % 2 == 0 else length - 1
    i = np.arange(length, dtype=np.float64)
    return xp.asarray(0.5 - 0.5 * np.cos(2.0 * np.pi * i / denominator), dtype=dtype)


def _rfft_bin_weights(n_fft: int) -> np.ndarray:
    """Per-bin factor of the rfft adjoint: ``irfft(g * w) = sum_k Re(g_k e^{2 pi i k t / n})``
    (DC and Nyquist once, the other bins twice, over irfft's 1/n)."""
    w = np.full(n_fft // 2 + 1, 0.5)
    w[0] = 1.0
    if n_fft % 2 == 0:
        w[-1] = 1.0
    return w * n_fft


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


# -- stage launchers ---------------------------------------------------------------------------
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
    mt, ma = xp.abs(xt), xp.abs(xa)  # numpy's SIMD abs / log beat scalar libm calls in numba
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
    terms = (w_mag, w_log, l2, log_eps, bin_scale)
    sum_mag, sum_log, grad_a = kernel.magnitude_terms(ma, mt, la, lt, z_a, *terms, want_a)
    grad_t = kernel.magnitude_terms(mt, ma, lt, la, z_t, *terms, True)[2] if want_t else None
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


# -- one FFT size of the loss ------------------------------------------------------------------
class _SerialFFT:
    """scipy.fft on one thread: the chunks themselves already run in parallel."""

    def __init__(self):
        import scipy.fft

        self._fft = scipy.fft

    def rfft(self, x, n, axis):
        return self._fft.rfft(x, n=n, axis=axis, workers=1)

    def irfft(self, x, n, axis):
        return self._fft.irfft(x, n=n, axis=axis, workers=1)


def _chunk_terms(job: dict, first: int, n: int) -> tuple:
    """Frames ``first .. first + n - 1`` of both signals: sums and gradient pieces."""
    fft, window, hop, n_fft = job["fft"], job["window"], job["hop"], job["n_fft"]
    rows, length = job["audio"].shape
    spectra = [
        fft.rfft(windowed_frames(x, window, hop, n, first), n=n_fft, axis=-1).reshape(rows * n, -1)
        for x in (job["target"], job["audio"])
    ]
    sum_mag, sum_log, g_a, g_t = magnitude_terms(*spectra, *job["terms"])
    start, stop = first * hop, min(length, (first + n - 1) * hop + window.shape[0])
    pieces = []
    for g in (g_t, g_a):  # spectrum cotangent -> rfft adjoint -> window and overlap-add
        if g is not None:
            frames = fft.irfft(g.reshape(rows, n, -1), n=n_fft, axis=-1)
            g = window_overlap_add(frames, window, hop, stop - start)
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
) -> tuple[float, Any, Any]:
    """Magnitude and log-magnitude terms of one FFT size, with their gradients.

    Frames of ``frame_size`` with hop ``frame_size // 4``, periodic Hann window, zero
    ``pad_end``, FFT length the next power of 2 (tf.signal.stft as ddsp calls it).

    Args:
        target, audio: ``[rows, n_samples]`` float arrays of one dtype.
        frame_size: frame (and window) length [samples], >= 4.
        w_mag, w_log: weights of ``mean |Mt - Ma|`` and ``mean |safe_log Mt - safe_log Ma|``.
        l2: squared differences instead of absolute ones.
        want_t, want_a: return the gradient with respect to the target / audio.
        eps: safe_log's replacement for exact zeros.

    Returns:
        ``(value, grad_target, grad_audio)``: the weighted sum of both means (Python float) and
        ``[rows, n_samples]`` gradients (or None).
    """
    xp = array_namespace(target, audio)
    rows, length = audio.shape
    hop, n_fft = frame_size // 4, fft_length(frame_size)
    n_frames = -(-length // hop)
    count = rows * n_frames * (n_fft // 2 + 1)
    cpu = _use_cpu_kernel(xp, audio.dtype) and target.dtype == audio.dtype
    job = {
        "target": np.ascontiguousarray(target) if cpu else target,
        "audio": np.ascontiguousarray(audio) if cpu else audio,
        "fft": _SerialFFT() if cpu else fft_module(xp),
        "window": periodic_hann(xp, frame_size, audio.dtype),
        "hop": hop,
        "n_fft": n_fft,
        "terms": (w_mag, w_log, l2, eps, _rfft_bin_weights(n_fft) / count, want_a, want_t),
    }
    per_chunk = max(1, CHUNK // (rows * frame_size)) if cpu else n_frames
    chunks = [(first, min(per_chunk, n_frames - first)) for first in range(0, n_frames, per_chunk)]
    pool = _pool() if cpu and len(chunks) > 1 else None
    if pool is None:
        results = [_chunk_terms(job, first, n) for first, n in chunks]
    else:
        results = list(pool.map(lambda c: _chunk_terms(job, *c), chunks))
    grads = [xp.zeros_like(audio) if want else None for want in (want_t, want_a)]
    total = 0.0
    for sum_mag, sum_log, start, stop, pieces in results:  # in chunk order: deterministic
        total += w_mag * sum_mag + w_log * sum_log
        for grad, piece in zip(grads, pieces, strict=True):
            if piece is not None:
                grad[:, start:stop] += piece
    return total / count, grads[0], grads[1]
