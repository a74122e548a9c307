"""Spectrograms (part of ddsp.spectral_ops): STFT and its inverse, magnitudes, mel, MFCC."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops
from ..backend import array_namespace, to_numpy
from ..core.math import safe_log
from ..numerics import next_power_of_2
from ..validation import check_real_dtype, finite_number, positive_int, positive_number
from .framing import (
    audio_input,
    cached_constant,
    check_frames_fit,
    frame_signal,
    hop_of,
    host_hann,
    overlap_add_signal,
    pad,
)

__all__ = [
    "stft",
    "stft_np",
    "istft",
    "compute_mag",
    "compute_logmag",
    "compute_mel",
    "compute_logmel",
    "compute_mfcc",
    "linear_to_mel_weight_matrix",
]


# -- STFT ---------------------------------------------------------------------------------------
def stft(audio: Any, frame_size: int = 2048, overlap: float = 0.75, pad_end: bool = True) -> Any:
    """Short-time Fourier transform (tf.signal.stft as ddsp calls it), batched over all frames.

    Periodic Hann window of ``frame_size``, hop ``int(frame_size * (1 - overlap))``, FFT length
    the next power of two >= ``frame_size`` (the frame is zero padded), no scaling.

    Args:
        audio: [batch, n_samples], [n_samples] or [batch, n_samples, 1] (squeezed).
        frame_size: window length [samples].
        overlap: fraction of a frame shared with the next one.
        pad_end: zero pad the end so that ``ceil(n_samples / hop)`` frames fit; otherwise
            ``1 + (n_samples - frame_size) // hop`` frames.

    Returns:
        Complex spectrogram [batch, n_frames, fft_size // 2 + 1] (complex64, or complex128
        for float64 audio).

    Raises:
        ValueError: audio shorter than one frame (ddsp returns an empty spectrogram there),
            NaN audio, a 3-D input with more than one channel, or an overlap leaving no hop.
    """
    return _stft(audio, frame_size, overlap, pad_end, "stft")


def _stft(audio: Any, frame_size: Any, overlap: Any, pad_end: Any, where: str) -> Any:
    """:func:`stft` with the caller's name in its error messages."""
    audio = audio_input(audio, where)
    frame_size = positive_int(frame_size, "frame_size", where)
    hop_size = hop_of(frame_size, overlap, where)
    check_frames_fit(int(audio.shape[-1]), frame_size, bool(pad_end), where)
    xp = array_namespace(audio)
    window = cached_constant(xp, audio.dtype, host_hann, frame_size)
    frames = frame_signal(audio, frame_size, hop_size, bool(pad_end))
    return ops.rfft(frames * window, n=next_power_of_2(frame_size), axis=-1)


def stft_np(
    audio: Any, frame_size: int = 2048, overlap: float = 0.75, pad_end: bool = True
) -> np.ndarray:
    """ddsp's NumPy/librosa STFT, written with NumPy (librosa is not needed).

    Like ``librosa.stft(center=False)``: periodic Hann, FFT length ``frame_size`` itself (not a
    power of two), end padded with :func:`pad` ('same') when ``pad_end``. Host only, not
    differentiable; returns complex64 [batch, n_frames, frame_size // 2 + 1] (or 2-D for 1-D).

    Raises:
        ValueError: where ddsp asserts ``frame_size * overlap % 2 == 0``.
    """
    where = "stft_np"
    frame_size = positive_int(frame_size, "frame_size", where)
    hop_size = hop_of(frame_size, overlap, where)
    if frame_size * overlap % 2.0 != 0.0:
        raise ValueError(
            f"{where}: frame_size * overlap must be an even number of samples, got "
            f"frame_size={frame_size}, overlap={overlap}"
        )
    audio = audio_input(audio, where, squeeze=False)
    audio = np.asarray(to_numpy(audio), dtype=np.float32)
    if pad_end:
        audio = np.asarray(pad(audio, frame_size, hop_size, "same", axis=audio.ndim - 1))
    check_frames_fit(audio.shape[-1], frame_size, False, where)
    view = np.lib.stride_tricks.sliding_window_view(audio, frame_size, axis=-1)
    frames = view[..., ::hop_size, :]
    window = host_hann(frame_size).astype(np.float32)
    return np.fft.rfft(frames * window, n=frame_size, axis=-1).astype(np.complex64)


def _inverse_window_sum(frame_size: int, hop_size: int, n_frames: int) -> np.ndarray:
    """1 / (overlap-added squared Hann window), 0 where no window reaches (Hann(0) = 0)."""
    w2 = host_hann(frame_size) ** 2
    total = np.zeros((n_frames - 1) * hop_size + frame_size)
    for i in range(n_frames):  # host-side and cached: paid once per setting
        total[i * hop_size : i * hop_size + frame_size] += w2
    tiny = 1e-10 * max(total.max(), 1.0)
    return np.where(total > tiny, 1.0 / np.maximum(total, tiny), 0.0)


def istft(
    stft_frames: Any, frame_size: int = 2048, overlap: float = 0.75, n_samples: int | None = None
) -> Any:
    """Inverse of :func:`stft` by weighted overlap-add (not part of ddsp).

    Each frame is inverse transformed, cropped to ``frame_size``, multiplied again by the Hann
    window and overlap-added; the sum is divided by the overlap-added squared window. This
    recovers ``x`` exactly wherever that window sum is not ~0, for any hop <= frame_size. With
    the periodic Hann at overlap 0.75 (or 0.5) the squared (resp. plain) window is COLA, so in
    the interior (from ``frame_size - hop`` samples after the start to as far before the end)
    the divisor is the constant 1.5; near the edges it is small and the division amplifies
    noise, and sample 0 (where the window is 0) comes back as 0.

    Args:
        stft_frames: complex [..., n_frames, fft_size // 2 + 1] from :func:`stft`.
        frame_size: the window length used by :func:`stft` [samples].
        overlap: the overlap used by :func:`stft`.
        n_samples: crop (or zero pad) the result to this many samples (the original length).

    Returns:
        Audio [..., n_samples] (default ``(n_frames - 1) * hop + frame_size``), real.

    Raises:
        TypeError: ``stft_frames`` not a numeric array.
        ValueError: fewer than 2 axes or no frame, a bin count that does not match
            ``frame_size``, non-positive sizes, or an overlap leaving no hop.
    """
    where = "istft"
    stft_frames = _spectrogram_input(stft_frames, where)
    frame_size = positive_int(frame_size, "frame_size", where)
    hop_size = hop_of(frame_size, overlap, where)
    if n_samples is not None:
        n_samples = positive_int(n_samples, "n_samples", where)
    n_frames, n_bins = int(stft_frames.shape[-2]), int(stft_frames.shape[-1])
    fft_size = next_power_of_2(frame_size)
    if n_bins != fft_size // 2 + 1 or n_frames < 1:
        raise ValueError(
            f"{where}: frame_size={frame_size} needs at least one frame of "
            f"{fft_size // 2 + 1} frequency bins, got shape {tuple(stft_frames.shape)}"
        )
    xp = array_namespace(stft_frames)
    dtype = np.float64 if stft_frames.dtype in (np.complex128, np.float64) else np.float32
    frames = ops.irfft(stft_frames, n=fft_size, axis=-1)[..., :frame_size]
    window = cached_constant(xp, dtype, host_hann, frame_size)
    audio = overlap_add_signal(frames * window, hop_size)
    inverse = cached_constant(xp, dtype, _inverse_window_sum, frame_size, hop_size, n_frames)
    audio = audio * inverse
    if n_samples is None or n_samples == int(audio.shape[-1]):
        return audio
    if n_samples < int(audio.shape[-1]):
        return audio[..., :n_samples]
    return ops.pad(audio, [(0, 0)] * (len(audio.shape) - 1) + [(0, n_samples - audio.shape[-1])])


def _spectrogram_input(stft_frames: Any, where: str) -> Any:
    """A complex (or real) array [..., n_frames, n_bins]; complex64 unless complex128."""
    if isinstance(stft_frames, (list, tuple)):  # nested lists of (complex) numbers
        stft_frames = np.asarray(stft_frames)
    if not hasattr(stft_frames, "dtype"):
        raise TypeError(f"{where}: stft_frames must be an array, got {type(stft_frames).__name__}")
    dtype = np.dtype(stft_frames.dtype)
    if not np.issubdtype(dtype, np.complexfloating):
        check_real_dtype(stft_frames, "stft_frames", where)
    if len(stft_frames.shape) < 2:
        raise ValueError(
            f"{where}: stft_frames must be [..., n_frames, n_bins], got shape "
            f"{tuple(stft_frames.shape)}"
        )
    return stft_frames


# -- magnitudes, mel, MFCC ----------------------------------------------------------------------
def compute_mag(audio: Any, size: int = 2048, overlap: float = 0.75, pad_end: bool = True) -> Any:
    """Magnitude spectrogram ``|stft(audio, size, overlap, pad_end)|`` [batch, n_frames, bins].

    The gradient of |z| at z = 0 is 0 (TF's ``div_no_nan``), never NaN, and stays finite for
    tiny magnitudes (see the ``abs`` VJP in ``autodiff/elementwise.py``).
    """
    return ops.abs(_stft(audio, size, overlap, pad_end, "compute_mag"))


def compute_logmag(
    audio: Any, size: int = 2048, overlap: float = 0.75, pad_end: bool = True
) -> Any:
    """``safe_log(compute_mag(...))``: natural log, exact zeros replaced by 1e-5 first."""
    return safe_log(ops.abs(_stft(audio, size, overlap, pad_end, "compute_logmag")))


def _hz_to_mel_htk(f_hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f_hz, dtype=np.float64) / 700.0)


def _mel_matrix(
    num_mel_bins: int, num_spectrogram_bins: int, sample_rate: float, lo_hz: float, hi_hz: float
) -> np.ndarray:
    nyquist = sample_rate / 2.0
    spectrogram_mel = _hz_to_mel_htk(np.linspace(0.0, nyquist, num_spectrogram_bins)[1:])[:, None]
    edges = np.linspace(_hz_to_mel_htk(lo_hz), _hz_to_mel_htk(hi_hz), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spectrogram_mel - lower) / (center - lower)
    falling = (upper - spectrogram_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, num_mel_bins)), weights], axis=0)  # bin 0 (DC) zeroed


def _mel_weights(xp: Any, dtype: Any, bins, n_bins, sample_rate, lo_hz, hi_hz, where) -> Any:
    """Checked, cached mel matrix [n_bins, bins] on ``xp`` (TF's argument checks)."""
    bins = positive_int(bins, "num_mel_bins" if where.startswith("linear") else "bins", where)
    n_bins = positive_int(n_bins, "num_spectrogram_bins", where)
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    lo_hz = finite_number(lo_hz, "lower edge", where)
    hi_hz = finite_number(hi_hz, "upper edge", where)
    if n_bins < 2:
        raise ValueError(f"{where}: the spectrogram must have at least 2 bins, got {n_bins}")
    if not 0.0 <= lo_hz < hi_hz <= sample_rate / 2.0:
        raise ValueError(
            f"{where}: mel edges must satisfy 0 <= lower < upper <= sample_rate / 2, got "
            f"lower={lo_hz}, upper={hi_hz}, sample_rate={sample_rate}"
        )
    return cached_constant(xp, dtype, _mel_matrix, bins, n_bins, sample_rate, lo_hz, hi_hz)


def linear_to_mel_weight_matrix(
    num_mel_bins: int = 20,
    num_spectrogram_bins: int = 129,
    sample_rate: float = 8000,
    lower_edge_hertz: float = 125.0,
    upper_edge_hertz: float = 3800.0,
    dtype: Any = np.float32,
) -> np.ndarray:
    """tf.signal.linear_to_mel_weight_matrix as a NumPy array [num_spectrogram_bins, mel_bins].

    HTK mel scale ``1127 ln(1 + f / 700)``; spectrogram bin k sits at ``k * nyquist / (K - 1)``;
    triangles rise from one of ``num_mel_bins + 2`` mel-spaced edges to the next and fall to the
    one after; the row of bin 0 (DC) is zero; no area normalisation.

    Raises:
        ValueError: non-positive counts or sample rate, a negative lower edge, edges out of
            order, or an upper edge above Nyquist (TF's checks).
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(
            f"linear_to_mel_weight_matrix: dtype must be float32 or float64, got {dtype}"
        )
    where = "linear_to_mel_weight_matrix"
    weights = _mel_weights(np, dtype, num_mel_bins, num_spectrogram_bins, sample_rate,
                           lower_edge_hertz, upper_edge_hertz, where)  # fmt: skip
    return np.array(weights)  # a writable copy for the caller


def compute_mel(
    audio: Any,
    lo_hz: float = 0.0,
    hi_hz: float = 8000.0,
    bins: int = 64,
    fft_size: int = 2048,
    overlap: float = 0.75,
    pad_end: bool = True,
    sample_rate: int = 16000,
) -> Any:
    """Mel-warped magnitude (not power) spectrogram [batch, n_frames, bins].

    ``compute_mag(audio, fft_size, ...) @ linear_to_mel_weight_matrix(bins, ..., lo_hz, hi_hz)``.
    """
    return _mel(audio, lo_hz, hi_hz, bins, fft_size, overlap, pad_end, sample_rate, "compute_mel")


def _mel(audio, lo_hz, hi_hz, bins, fft_size, overlap, pad_end, sample_rate, where) -> Any:
    audio = audio_input(audio, where)
    fft_size = positive_int(fft_size, "fft_size", where)
    n_bins = next_power_of_2(fft_size) // 2 + 1
    weights = _mel_weights(array_namespace(audio), audio.dtype, bins, n_bins, sample_rate,
                           lo_hz, hi_hz, where)  # fmt: skip
    mag = ops.abs(_stft(audio, fft_size, overlap, pad_end, where))
    return ops.matmul(mag, weights)


def compute_logmel(
    audio: Any,
    lo_hz: float = 80.0,
    hi_hz: float = 7600.0,
    bins: int = 64,
    fft_size: int = 2048,
    overlap: float = 0.75,
    pad_end: bool = True,
    sample_rate: int = 16000,
) -> Any:
    """``safe_log(compute_mel(...))``; note the defaults lo_hz=80, hi_hz=7600 (as ddsp)."""
    return safe_log(
        _mel(audio, lo_hz, hi_hz, bins, fft_size, overlap, pad_end, sample_rate, "compute_logmel")
    )


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_in, n_out]: TF's mfccs_from_log_mel_spectrograms, sqrt(2 / M) cos(pi k (2m + 1) / 2M)."""
    m = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    return math.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * m + 1) / (2.0 * n_in))


def compute_mfcc(
    audio: Any,
    lo_hz: float = 20.0,
    hi_hz: float = 8000.0,
    fft_size: int = 1024,
    mel_bins: int = 128,
    mfcc_bins: int = 13,
    overlap: float = 0.75,
    pad_end: bool = True,
    sample_rate: int = 16000,
) -> Any:
    """MFCCs [batch, n_frames, min(mfcc_bins, mel_bins)] of the log-mel spectrogram.

    DCT-II without normalisation times ``1 / sqrt(2 * mel_bins)`` (TF's
    ``mfccs_from_log_mel_spectrograms``, which does not treat k = 0 differently), first
    ``mfcc_bins`` coefficients.
    """
    where = "compute_mfcc"
    mel_bins = positive_int(mel_bins, "mel_bins", where)
    n_out = min(positive_int(mfcc_bins, "mfcc_bins", where), mel_bins)
    mel = _mel(audio, lo_hz, hi_hz, mel_bins, fft_size, overlap, pad_end, sample_rate, where)
    logmel = safe_log(mel)
    xp = array_namespace(logmel)
    return ops.matmul(logmel, cached_constant(xp, logmel.dtype, _dct_matrix, mel_bins, n_out))
