"""Energy and loudness (part of ddsp.spectral_ops): RMS, power, A-weighting, loudness."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.units import DB_RANGE, amplitude_to_db, power_to_db
from ..validation import check_real_dtype, finite_number, nonnegative_int, positive_int
from .framing import (
    audio_input,
    cached_constant,
    check_frames_fit,
    check_padding,
    frame_signal,
    hop_from_rates,
    pad,
)
from .spectrograms import _stft

__all__ = [
    "DB_RANGE",
    "F0_RANGE",
    "a_weighting",
    "compute_rms_energy",
    "compute_power",
    "compute_loudness",
    "pad_or_trim_to_expected_length",
]

F0_RANGE = 127.0  # [MIDI]


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
    where = "compute_rms_energy"
    audio = audio_input(audio, where, squeeze=False)
    hop_size = hop_from_rates(sample_rate, frame_rate, where)
    frame_size = positive_int(frame_size, "frame_size", where)
    audio = pad(audio, frame_size, hop_size, padding=check_padding(padding, where), axis=-1)
    check_frames_fit(int(audio.shape[-1]), frame_size, False, where)
    frames = frame_signal(audio, frame_size, hop_size, pad_end=False)
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
    ref_db = finite_number(ref_db, "ref_db", "compute_power")
    range_db = _range_db(range_db, "compute_power")
    rms_energy = compute_rms_energy(audio, sample_rate, frame_rate, frame_size, padding=padding)
    return amplitude_to_db(rms_energy, ref_db=ref_db, range_db=range_db, use_tf=True)


def _range_db(range_db: Any, where: str) -> float:
    range_db = finite_number(range_db, "range_db", where)
    if range_db <= 0:
        raise ValueError(f"{where}: range_db must be a positive number of dB, got {range_db}")
    return range_db


def a_weighting(frequencies: Any, min_db: float | None = -80.0) -> np.ndarray:
    """A-weighting [dB] of frequencies [Hz] (IEC 61672; librosa.A_weighting's constants).

    ``2 + 20 log10(f_4^2 f^4 / ((f^2 + f_1^2) sqrt(f^2 + f_2^2) sqrt(f^2 + f_3^2)
    (f^2 + f_4^2)))`` with f_1 = 20.598997, f_2 = 107.65265, f_3 = 737.86223,
    f_4 = 12194.217 Hz, floored at ``min_db`` (0 Hz -> ``min_db``). Host NumPy, float64.
    """
    frequencies = np.asarray(frequencies)
    if frequencies.dtype.kind not in "iuf":
        raise TypeError(
            f"a_weighting: frequencies must be real numbers, got dtype {frequencies.dtype}"
        )
    if min_db is not None:
        min_db = finite_number(min_db, "min_db", "a_weighting")
    f_sq = frequencies.astype(np.float64) ** 2
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
    where = "compute_loudness"
    audio = audio_input(audio, where, squeeze=False)
    n_fft = positive_int(n_fft, "n_fft", where)
    if n_fft & (n_fft - 1):
        raise ValueError(f"{where}: n_fft must be a power of two, got {n_fft}")
    hop_size = hop_from_rates(sample_rate, frame_rate, where)
    range_db = _range_db(range_db, where)
    ref_db = finite_number(ref_db, "ref_db", where)
    audio = pad(audio, n_fft, hop_size, padding=check_padding(padding, where), axis=-1)
    is_1d = len(audio.shape) == 1
    audio = audio[None, :] if is_1d else audio
    overlap = 1 - hop_size / n_fft  # ddsp's round trip through overlap, truncation included
    power = ops.square(ops.abs(_stft(audio, n_fft, overlap, False, where)))
    xp = array_namespace(power)
    weights = cached_constant(xp, power.dtype, _loudness_weights, float(sample_rate), n_fft)
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
    where = "pad_or_trim_to_expected_length"
    expected_len = nonnegative_int(expected_len, "expected_len", where)
    pad_value = finite_number(pad_value, "pad_value", where)
    tolerance = _scalar_or_inf(len_tolerance, where)
    if not hasattr(vector, "shape"):
        vector = np.asarray(vector)
    check_real_dtype(vector, "vector", where)  # dtype kept otherwise (ints stay ints)
    if len(vector.shape) not in (1, 2):
        raise ValueError(
            f"{where}: vector must be [n] or [batch, n], got shape {tuple(vector.shape)}"
        )
    vector_len = int(vector.shape[-1])
    if abs(vector_len - expected_len) > tolerance:
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


def _scalar_or_inf(value: Any, where: str) -> float:
    """A non-negative tolerance; ``math.inf`` allowed (no limit)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if value == float("inf") or (value == value and value >= 0):
            return float(value)
    raise ValueError(f"{where}: len_tolerance must be a non-negative number, got {value!r}")
