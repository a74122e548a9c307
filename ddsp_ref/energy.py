"""Framing, padding, RMS, power and loudness (part of ddsp.spectral_ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .autodiff import ops, stop_gradient
from .backend import array_namespace
from .core.units import DB_RANGE, amplitude_to_db, power_to_db
from .core.utils import to_float
from .spectrograms import _PADDINGS, _check_audio, _constant, compute_mag

__all__ = [
    "DB_RANGE",
    "F0_RANGE",
    "a_weighting",
    "get_framed_lengths",
    "pad",
    "compute_rms_energy",
    "compute_power",
    "compute_loudness",
    "pad_or_trim_to_expected_length",
]

F0_RANGE = 127.0  # [MIDI]


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
