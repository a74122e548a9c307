"""Spectrograms (part of ddsp.spectral_ops): STFT and its inverse, magnitudes, mel, MFCC."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .autodiff import ops, stop_gradient
from .backend import array_namespace, to_numpy
from .core.math import safe_log
from .core.utils import to_float

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

_PADDINGS = ("valid", "same", "center")


# -- constants built on the host, cached per arguments, dtype and device --------------------------
_CONSTANTS: dict = {}


def _constant(xp: Any, dtype: Any, builder: Callable, *args: Any) -> Any:
    """``builder(*args)`` (a float64 numpy array) as a read-only ``dtype`` array on ``xp``."""
    device = None if xp is np else xp.cuda.Device().id
    key = (xp.__name__, device, np.dtype(dtype).str, builder.__name__, args)
    value = _CONSTANTS.get(key)
    if value is None:
        host = np.ascontiguousarray(builder(*args), dtype=dtype)
        host.flags.writeable = False
        value = host if xp is np else xp.asarray(host)
        if len(_CONSTANTS) > 512:  # many distinct settings: start over rather than grow forever
            _CONSTANTS.clear()
        _CONSTANTS[key] = value
    return value


def _hann_window(length: int) -> np.ndarray:
    """tf.signal.hann_window(length, periodic=True) in float64.

    TF's periodic window divides by ``length`` only for even lengths; odd lengths get the
    symmetric window (divide by ``length - 1``). Length 1 gives ``[1]``.
    """
    if length == 1:
        return np.ones(1)
    denominator = length if length % 2 == 0 else length - 1
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / denominator)


def _next_power_of_2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _hop_of(frame_size: int, overlap: float) -> int:
    """ddsp's ``int(frame_size * (1 - overlap))`` (truncation), checked to be positive."""
    hop_size = int(frame_size * (1.0 - overlap))
    if hop_size < 1:
        raise ValueError(
            f"overlap={overlap} with frame_size={frame_size} gives hop_size={hop_size}; "
            "overlap must leave a hop of at least one sample (overlap < 1)"
        )
    return hop_size


def _check_audio(audio: Any, frame_size: int, pad_end: bool, where: str) -> None:
    """Reject audio that would give no frame at all, and NaN audio (one reduction)."""
    n_samples = audio.shape[-1] if len(audio.shape) else 0
    if n_samples < 1 or (not pad_end and n_samples < frame_size):
        raise ValueError(
            f"{where}: audio of {n_samples} samples (shape {tuple(audio.shape)}) is shorter "
            f"than one frame of {frame_size} samples, so there is no frame to analyse"
        )
    raw = stop_gradient(audio)
    xp = array_namespace(raw)
    if bool(xp.isnan(xp.sum(raw))):
        raise ValueError(f"{where}: audio contains NaN (or both +inf and -inf) values")


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
    audio = to_float(audio)
    if len(audio.shape) == 3:
        if audio.shape[-1] != 1:
            raise ValueError(f"stft: 3-D audio must be [batch, n_samples, 1], got {audio.shape}")
        audio = ops.squeeze(audio, axis=-1)
    frame_size = int(frame_size)
    if frame_size < 1:
        raise ValueError(f"stft: frame_size must be a positive integer, got {frame_size}")
    hop_size = _hop_of(frame_size, overlap)
    _check_audio(audio, frame_size, pad_end, "stft")
    xp = array_namespace(audio)
    window = _constant(xp, audio.dtype, _hann_window, frame_size)
    frames = ops.frame(audio, frame_size, hop_size, pad_end=pad_end)
    return ops.rfft(frames * window, n=_next_power_of_2(frame_size), axis=-1)


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
    if frame_size * overlap % 2.0 != 0.0:
        raise ValueError(
            f"stft_np: frame_size * overlap must be an even number of samples, got "
            f"frame_size={frame_size}, overlap={overlap}"
        )
    frame_size = int(frame_size)
    hop_size = _hop_of(frame_size, overlap)
    audio = np.asarray(to_numpy(audio), dtype=np.float32)
    if pad_end:
        from .energy import pad  # energy builds on this module

        audio = pad(audio, frame_size, hop_size, "same", axis=audio.ndim - 1)
    if audio.shape[-1] < frame_size:
        raise ValueError(f"stft_np: {audio.shape[-1]} samples are fewer than frame_size")
    view = np.lib.stride_tricks.sliding_window_view(audio, frame_size, axis=-1)
    frames = view[..., ::hop_size, :]
    window = _hann_window(frame_size).astype(np.float32)
    return np.fft.rfft(frames * window, n=frame_size, axis=-1).astype(np.complex64)


def _inverse_window_sum(frame_size: int, hop_size: int, n_frames: int) -> np.ndarray:
    """1 / (overlap-added squared Hann window), 0 where no window reaches (Hann(0) = 0)."""
    w2 = _hann_window(frame_size) ** 2
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
    """
    frame_size = int(frame_size)
    hop_size = _hop_of(frame_size, overlap)
    if hop_size > frame_size:
        raise ValueError(f"istft: hop_size {hop_size} > frame_size {frame_size} leaves gaps")
    n_frames, n_bins = int(stft_frames.shape[-2]), int(stft_frames.shape[-1])
    fft_size = _next_power_of_2(frame_size)
    if n_bins != fft_size // 2 + 1:
        raise ValueError(
            f"istft: frame_size={frame_size} needs {fft_size // 2 + 1} frequency bins, "
            f"got {n_bins} (shape {tuple(stft_frames.shape)})"
        )
    xp = array_namespace(stft_frames)
    dtype = np.float64 if stft_frames.dtype == np.complex128 else np.float32
    frames = ops.irfft(stft_frames, n=fft_size, axis=-1)[..., :frame_size]
    window = _constant(xp, dtype, _hann_window, frame_size)
    audio = ops.overlap_add(frames * window, hop_size)
    audio = audio * _constant(xp, dtype, _inverse_window_sum, frame_size, hop_size, n_frames)
    if n_samples is not None:
        from .energy import pad_or_trim_to_expected_length  # energy builds on this module

        audio = pad_or_trim_to_expected_length(audio, n_samples, len_tolerance=math.inf)
    return audio


# -- magnitudes, mel, MFCC ----------------------------------------------------------------------
def compute_mag(audio: Any, size: int = 2048, overlap: float = 0.75, pad_end: bool = True) -> Any:
    """Magnitude spectrogram ``|stft(audio, size, overlap, pad_end)|`` [batch, n_frames, bins].

    The gradient of |z| at z = 0 is 0 (TF's ``div_no_nan``), never NaN.
    """
    return ops.abs(stft(audio, frame_size=size, overlap=overlap, pad_end=pad_end))


def compute_logmag(
    audio: Any, size: int = 2048, overlap: float = 0.75, pad_end: bool = True
) -> Any:
    """``safe_log(compute_mag(...))``: natural log, exact zeros replaced by 1e-5 first."""
    return safe_log(compute_mag(audio, size, overlap, pad_end))


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


def _mel_weights(xp: Any, dtype: Any, bins, n_bins, sample_rate, lo_hz, hi_hz) -> Any:
    """Checked, cached mel matrix [n_bins, bins] on ``xp`` (TF's argument checks)."""
    if bins <= 0 or n_bins <= 1 or sample_rate <= 0:
        raise ValueError(
            f"mel: bins ({bins}) and sample_rate ({sample_rate}) must be positive and the "
            f"spectrogram must have at least 2 bins ({n_bins})"
        )
    if not 0.0 <= lo_hz < hi_hz <= sample_rate / 2.0:
        raise ValueError(
            "mel edges must satisfy 0 <= lower < upper <= sample_rate / 2, got "
            f"lower={lo_hz}, upper={hi_hz}, sample_rate={sample_rate}"
        )
    args = (int(bins), int(n_bins), float(sample_rate), float(lo_hz), float(hi_hz))
    return _constant(xp, dtype, _mel_matrix, *args)


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
    return _mel_weights(np, dtype, num_mel_bins, num_spectrogram_bins, sample_rate,
                        lower_edge_hertz, upper_edge_hertz)  # fmt: skip


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
    audio = to_float(audio)
    n_bins = _next_power_of_2(fft_size) // 2 + 1
    weights = _mel_weights(array_namespace(audio), audio.dtype, bins, n_bins, sample_rate,
                           lo_hz, hi_hz)  # fmt: skip
    return ops.matmul(compute_mag(audio, fft_size, overlap, pad_end), weights)


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
    mel = compute_mel(audio, lo_hz, hi_hz, bins, fft_size, overlap, pad_end, sample_rate)
    return safe_log(mel)


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
    logmel = compute_logmel(audio, lo_hz, hi_hz, mel_bins, fft_size, overlap, pad_end, sample_rate)
    n_out = min(int(mfcc_bins), int(mel_bins))
    xp = array_namespace(logmel)
    return ops.matmul(logmel, _constant(xp, logmel.dtype, _dct_matrix, int(mel_bins), n_out))
