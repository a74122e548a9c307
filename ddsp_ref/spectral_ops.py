"""Spectral ops of ddsp.spectral_ops: STFT, magnitudes, mel / MFCC, loudness, RMS, framing."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .autodiff import ops, stop_gradient
from .backend import array_namespace, to_numpy
from .core.math import safe_log
from .core.units import DB_RANGE, amplitude_to_db, power_to_db
from .core.utils import to_float

__all__ = [
    "DB_RANGE",
    "F0_RANGE",
    "stft",
    "stft_np",
    "istft",
    "compute_mag",
    "compute_logmag",
    "compute_mel",
    "compute_logmel",
    "compute_mfcc",
    "linear_to_mel_weight_matrix",
    "a_weighting",
    "get_framed_lengths",
    "pad",
    "compute_rms_energy",
    "compute_power",
    "compute_loudness",
    "pad_or_trim_to_expected_length",
]

F0_RANGE = 127.0  # [MIDI]

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


# -- framing and padding ------------------------------------------------------------------------
def _check_padding(padding: str, where: str) -> None:
    if padding not in _PADDINGS:
        raise ValueError(f"{where}: padding must be one of {_PADDINGS}, got {padding!r}")


def get_framed_lengths(
    input_length: int, frame_size: int, hop_size: int, padding: str = "center"
) -> tuple[int, int]:
    """Number of frames and padded length for framing ``input_length`` samples.

    'valid': no padding, ``(L - frame) // hop + 1`` frames. 'center': padded length
    ``L + frame_size``, ``L // hop + 1`` frames. 'same': ``ceil(L / hop)`` frames, padded length
    ``(frames - 1) * hop + frame_size``.

    As in ddsp, 'center' reports ``L + frame_size`` although :func:`pad` adds
    ``2 * (frame_size // 2)`` samples, i.e. one fewer for an odd ``frame_size``; the frame
    count then overstates the frames of the padded signal by one when ``hop`` divides ``L``.

    Returns:
        (n_frames, padded_length) as Python ints.

    Raises:
        ValueError: unknown padding, or no frame fits (ddsp returns zero or negative counts).
    """
    _check_padding(padding, "get_framed_lengths")

    def n_frames_of(length):
        return int(np.floor((length - frame_size) / hop_size)) + 1

    if padding == "valid":
        padded_length = input_length
        n_frames = n_frames_of(input_length)
    elif padding == "center":
        padded_length = input_length + frame_size
        n_frames = n_frames_of(padded_length)
    else:
        n_frames = int(np.ceil(input_length / hop_size))
        padded_length = (n_frames - 1) * hop_size + frame_size
    if n_frames < 1:
        raise ValueError(
            f"get_framed_lengths: input_length={input_length} gives no frame of "
            f"frame_size={frame_size} with hop_size={hop_size} and padding={padding!r}"
        )
    return n_frames, int(padded_length)


def pad(
    x: Any,
    frame_size: int,
    hop_size: int,
    padding: str = "center",
    axis: int = 1,
    mode: str = "CONSTANT",
    constant_values: float = 0,
) -> Any:
    """Pad ``x`` along ``axis`` for framing ('valid': unchanged, 'same': end, 'center': both).

    Args:
        x: signal [batch, n_samples] (or [n_samples], then axis 0 is used), cast to float.
        frame_size: frame length [samples].
        hop_size: hop between frames [samples], at most ``frame_size`` (except for 'valid').
        padding: 'valid', 'same' (to the :func:`get_framed_lengths` padded length) or
            'center' (``frame_size // 2`` on both sides, like librosa).
        axis: time axis.
        mode: tf.pad's 'CONSTANT', 'REFLECT' or 'SYMMETRIC' (case-insensitive).
        constant_values: pad value for 'CONSTANT'.

    Returns:
        The padded signal, differentiable.

    Raises:
        ValueError: unknown padding or mode, or ``hop_size > frame_size``.
    """
    x = to_float(x)
    _check_padding(padding, "pad")
    if padding == "valid":
        return x
    if hop_size > frame_size:
        raise ValueError(
            f"pad: frame_size ({frame_size}) must be greater than hop_size ({hop_size})."
        )
    numpy_mode = str(mode).lower()
    if numpy_mode not in ("constant", "reflect", "symmetric"):
        raise ValueError(f"pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
    ndim = len(x.shape)
    axis = 0 if ndim <= 1 else axis % ndim
    n_t = int(x.shape[axis])
    width = [(0, 0)] * ndim
    if padding == "same":
        _, n_t_padded = get_framed_lengths(n_t, frame_size, hop_size, padding)
        width[axis] = (0, int(n_t_padded - n_t))
    else:
        width[axis] = (int(frame_size // 2),) * 2
    if numpy_mode == "constant":
        return ops.pad(x, width, constant_values=constant_values)
    return ops.pad(x, width, mode=numpy_mode)


def _hop_from_rates(sample_rate: float, frame_rate: float) -> int:
    hop_size = sample_rate // frame_rate
    if hop_size < 1:
        raise ValueError(
            f"sample_rate ({sample_rate}) // frame_rate ({frame_rate}) must be at least 1"
        )
    return int(hop_size)


# -- energy and loudness ------------------------------------------------------------------------
def compute_rms_energy(
    audio: Any,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    frame_size: int = 512,
    padding: str = "center",
) -> Any:
    """Root mean square of each (unwindowed) frame, hop ``sample_rate // frame_rate``.

    Args:
        audio: [batch, n_samples] or [n_samples].
        sample_rate: [Hz].
        frame_rate: frames per second [Hz].
        frame_size: frame length [samples].
        padding: 'center', 'same' or 'valid' (see :func:`pad`).

    Returns:
        RMS amplitude [batch, n_frames] (or [n_frames]).

    Note:
        ddsp takes ``mean ** 0.5``, whose gradient is NaN for an all-zero frame; here such a
        frame gets gradient 0 (same values).
    """
    hop_size = _hop_from_rates(sample_rate, frame_rate)
    audio = pad(audio, frame_size, hop_size, padding=padding)
    _check_audio(audio, frame_size, False, "compute_rms_energy")
    frames = ops.frame(audio, frame_size, hop_size, pad_end=False)
    mean_square = ops.mean(ops.square(frames), axis=-1)
    silent = stop_gradient(mean_square) <= 0.0
    return ops.where(silent, 0.0, ops.sqrt(ops.where(silent, 1.0, mean_square)))


def compute_power(
    audio: Any,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    frame_size: int = 512,
    ref_db: float = 0.0,
    range_db: float = DB_RANGE,
    padding: str = "center",
) -> Any:
    """Frame power in decibels: ``amplitude_to_db(compute_rms_energy(...))`` [batch, n_frames].

    ``20 log10(rms) - ref_db`` floored at ``-range_db``.
    """
    rms_energy = compute_rms_energy(audio, sample_rate, frame_rate, frame_size, padding=padding)
    return amplitude_to_db(rms_energy, ref_db=ref_db, range_db=range_db, use_tf=True)


def a_weighting(frequencies: Any, min_db: float | None = -80.0) -> np.ndarray:
    """A-weighting [dB] of frequencies [Hz] (IEC 61672; librosa.A_weighting's constants).

    ``2 + 20 log10(f_4^2 f^4 / ((f^2 + f_1^2) sqrt(f^2 + f_2^2) sqrt(f^2 + f_3^2)
    (f^2 + f_4^2)))`` with f_1 = 20.598997, f_2 = 107.65265, f_3 = 737.86223,
    f_4 = 12194.217 Hz, floored at ``min_db`` (0 Hz -> ``min_db``). Host NumPy, float64.
    """
    f_sq = np.asarray(frequencies, dtype=np.float64) ** 2
    c1, c2, c3, c4 = 20.598997**2, 107.65265**2, 737.86223**2, 12194.217**2
    with np.errstate(divide="ignore"):
        weights = 2.0 + 20.0 * (
            np.log10(c4) + 2.0 * np.log10(f_sq) - np.log10(f_sq + c4) - np.log10(f_sq + c1)
            - 0.5 * np.log10(f_sq + c2) - 0.5 * np.log10(f_sq + c3)
        )  # fmt: skip
    return weights if min_db is None else np.maximum(min_db, weights)


def _loudness_weights(sample_rate: float, n_fft: int) -> np.ndarray:
    """10^(A / 10) / n_bins per FFT bin: A-weighting and the mean over bins in one vector."""
    frequencies = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    return 10.0 ** (a_weighting(frequencies) / 10.0) / frequencies.size


def compute_loudness(
    audio: Any,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    n_fft: int = 512,
    range_db: float = DB_RANGE,
    ref_db: float = 0.0,
    use_tf: bool = True,
    padding: str = "center",
) -> Any:
    """Perceptual loudness [dB]: A-weighted power spectrum, averaged over FFT bins.

    Pads the audio (``padding``), takes :func:`stft` with frame ``n_fft`` and hop
    ``sample_rate // frame_rate`` (no end padding), weights ``|S|^2`` by ``10^(A(f) / 10)``
    (librosa's A-weighting, floor -80 dB), averages over the ``n_fft // 2 + 1`` bins (not a
    sum) and converts with ``power_to_db(ref_db, range_db)`` (floor ``-range_db``).

    Args:
        audio: [batch, n_samples] or [n_samples] (then the output is 1-D).
        sample_rate: [Hz].
        frame_rate: output frames per second [Hz].
        n_fft: frame and FFT length [samples], a power of two (ddsp fails otherwise).
        range_db: dynamic range [dB].
        ref_db: reference level [dB] subtracted.
        use_tf: accepted for API parity; ddsp's NumPy/librosa path gives the same numbers
            (within 1e-3 dB), so both use this implementation.
        padding: 'center' (1 + n_samples // hop frames), 'same' or 'valid'.

    Returns:
        Loudness [batch, n_frames] or [n_frames], in dB.
    """
    del use_tf
    n_fft = int(n_fft)
    if n_fft < 1 or n_fft & (n_fft - 1):
        raise ValueError(f"compute_loudness: n_fft must be a power of two, got {n_fft}")
    hop_size = _hop_from_rates(sample_rate, frame_rate)
    audio = pad(audio, n_fft, hop_size, padding=padding)
    is_1d = len(audio.shape) == 1
    audio = audio[None, :] if is_1d else audio
    overlap = 1 - hop_size / n_fft  # ddsp's round trip through overlap, truncation included
    power = ops.square(compute_mag(audio, size=n_fft, overlap=overlap, pad_end=False))
    xp = array_namespace(power)
    weights = _constant(xp, power.dtype, _loudness_weights, float(sample_rate), n_fft)
    loudness = power_to_db(ops.matmul(power, weights), ref_db=ref_db, range_db=range_db)
    return loudness[0] if is_1d else loudness


def pad_or_trim_to_expected_length(
    vector: Any,
    expected_len: int,
    pad_value: float = 0,
    len_tolerance: float = 20,
    use_tf: bool = False,
) -> Any:
    """Pad the end with ``pad_value`` or truncate the last axis to ``expected_len``.

    Args:
        vector: [n] or [batch, n] (dtype kept).
        expected_len: target length.
        pad_value: value appended when too short.
        len_tolerance: largest accepted ``|n - expected_len|``.
        use_tf: accepted for API parity (one implementation serves both).

    Raises:
        ValueError: if the length differs from ``expected_len`` by more than the tolerance.
    """
    del use_tf
    expected_len = int(expected_len)
    vector_len = int(vector.shape[-1])
    if abs(vector_len - expected_len) > len_tolerance:
        raise ValueError(
            f"Vector length: {vector_len} differs from expected length: {expected_len} "
            f"beyond tolerance of : {len_tolerance}"
        )
    if vector_len < expected_len:
        width = [(0, 0)] * (len(vector.shape) - 1) + [(0, expected_len - vector_len)]
        return ops.pad(vector, width, constant_values=pad_value)
    if vector_len > expected_len:
        return vector[..., :expected_len]
    return vector


# f0 estimation lives in pitch.py; ddsp exposes it here. pitch.py may import pad /
# get_framed_lengths from this module, so the re-export comes last.
def _reexport_pitch() -> None:
    from . import pitch

    # While pitch.py is still being imported (it imported this module first) some of its
    # names do not exist yet: __getattr__ below finds them on first use.
    names = [n for n in getattr(pitch, "__all__", ()) if n not in __all__ and hasattr(pitch, n)]
    globals().update({n: getattr(pitch, n) for n in names})
    __all__.extend(names)


_reexport_pitch()


def __getattr__(name: str) -> Any:
    # If pitch.py was imported first (and imported this module), it was only partly
    # initialised above: its names are looked up on first use instead.
    from . import pitch

    if name in getattr(pitch, "__all__", ()):
        return getattr(pitch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
