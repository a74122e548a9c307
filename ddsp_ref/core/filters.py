"""FIR filter design of ddsp.core: windowed frequency-sampled and sinc impulse responses, and
the filters that convolve with them (frequency_filter, sinc_filter)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..numerics import hann_window
from ..validation import check_rank, nonnegative_int, positive_number
from .convolution import (
    check_crop_mode,
    convolution_shapes,
    convolve_and_crop,
    fft_convolve,
    is_traced,
)
from .utils import to_float

__all__ = [
    "apply_window_to_impulse_response",
    "frequency_impulse_response",
    "sinc",
    "sinc_impulse_response",
    "frequency_filter",
    "sinc_filter",
]


# -- windows ---------------------------------------------------------------------------------------
def _tf_hamming(xp: Any, length: int, dtype: Any) -> Any:
    """``tf.signal.hamming_window(length)``: ``0.54 - 0.46 cos(2 pi n / d)`` with TF's
    denominator convention (see ``numerics.hann_window``), written as ``0.08 + 0.92 hann``
    in float64, then cast. Length 1 gives ``[1.0]``."""
    if length == 1:
        return xp.ones(1, dtype=dtype)
    return (0.08 + 0.92 * hann_window(xp, length, xp.float64)).astype(dtype)


def _window_size(window_size: Any, where: str) -> int:
    """An integer window size (ddsp: ``<= 0`` means the whole IR); text, NaN and fractions
    raise."""
    number = isinstance(window_size, (int, float, np.integer, np.floating))
    if not number or isinstance(window_size, bool) or not float(window_size).is_integer():
        raise ValueError(f"{where}: window_size must be an integer, got {window_size!r}")
    return int(window_size)


def _fftshift_last(x: Any) -> Any:
    """np.fft.fftshift on the last axis (roll by n // 2), differentiable."""
    n = x.shape[-1]
    split = n - n // 2
    return ops.concatenate([x[..., split:], x[..., :split]], axis=-1)


# -- filter design --------------------------------------------------------------------------------
def apply_window_to_impulse_response(
    impulse_response: Any, window_size: int = 0, causal: bool = False
) -> Any:
    """Window a zero-phase IR with a Hann window and put it in causal form.

    ``window_size <= 0`` or ``> ir_size`` means ``ir_size``. TensorFlow's "periodic" Hann
    window is symmetric for odd sizes (see ``_tf_raised_cosine``).

    - ``window_size == ir_size``: the window is fftshifted onto the zero-phase IR and the
      product fftshifted again: ``ir_size`` taps, zero-phase sample at index ``ir_size // 2``.
      For odd sizes the two fftshifts leave the window one sample off centre (output tap
      ``i`` is weighted by ``w[(i + 1) % ir_size]``), as in ddsp.
    - ``window_size < ir_size``: the IR is trimmed around sample 0 with ``h = (window_size +
      1) // 2``: ``window_size`` taps for odd sizes, ``window_size - 1`` for even sizes, the
      zero-phase sample at index ``h - 2`` and the last one or two taps always zero (ddsp's
      index arithmetic, kept for parity). The window is centred on ``w[h]``, one sample
      after the peak of an odd symmetric window. ``window_size`` 1 or 2 gives 2 taps.

    Args:
        impulse_response: IRs [..., ir_size], zero-phase form (sample 0 = time 0), or causal
            form (peak in the middle) if ``causal``. Real: ddsp silently keeps the real part of
            a complex IR; here that is a TypeError (take ``.real`` explicitly if you mean it).
        window_size: Hann window length in samples.
        causal: the input is in causal form (it is fftshifted to zero-phase first).

    Returns:
        Windowed causal IRs [..., n_taps] as described above.
    """
    where = "apply_window_to_impulse_response"
    impulse_response = to_float(impulse_response, "impulse_response", where)
    if len(impulse_response.shape) < 1 or impulse_response.shape[-1] < 1:
        raise ValueError(
            f"{where}: impulse_response must have shape [..., ir_size >= 1], got "
            f"{tuple(impulse_response.shape)}"
        )
    xp = array_namespace(impulse_response)
    if causal:
        impulse_response = _fftshift_last(impulse_response)

    ir_size = int(impulse_response.shape[-1])
    window_size = _window_size(window_size, "apply_window_to_impulse_response")
    if window_size <= 0 or window_size > ir_size:
        window_size = ir_size
    window = hann_window(xp, window_size, impulse_response.dtype)

    padding = ir_size - window_size
    if padding > 0:
        half_idx = (window_size + 1) // 2
        zeros = xp.zeros(padding, dtype=window.dtype)
        window = xp.concatenate([window[half_idx:], zeros, window[:half_idx]])
    else:
        window = xp.roll(window, window_size // 2)  # fftshift

    impulse_response = impulse_response * window
    if padding > 0:
        first_half_start = (ir_size - (half_idx - 1)) + 1
        second_half_end = half_idx + 1
        return ops.concatenate(
            [impulse_response[..., first_half_start:], impulse_response[..., :second_half_end]],
            axis=-1,
        )
    return _fftshift_last(impulse_response)


def frequency_impulse_response(magnitudes: Any, window_size: int = 0) -> Any:
    """Linear-phase FIR from a magnitude response by the frequency sampling method.

    The zero-phase IR is ``irfft(magnitudes)`` (``2 (n_frequencies - 1)`` taps), then
    :func:`apply_window_to_impulse_response` windows it and makes it causal. Examples:
    65 bins -> 128 taps; 1025 bins with ``window_size=257`` -> 257 taps; 22 -> 21 taps.

    Args:
        magnitudes: linear gains [batch, n_frames, n_frequencies] or [batch,
            n_frequencies], bins equally spaced from 0 Hz to Nyquist.
        window_size: Hann window length; <= 0 (or larger than the IR) for the full IR.

    Returns:
        Causal IRs [batch, n_frames, n_taps] or [batch, n_taps].

    Raises:
        ValueError: if there are fewer than 2 frequency bins.
    """
    where = "frequency_impulse_response"
    magnitudes = to_float(magnitudes, "magnitudes", where)
    check_rank(magnitudes, (2, 3), "magnitudes", where, "[batch(, n_frames), n_frequencies]")
    window_size = _window_size(window_size, where)
    n_frequencies = magnitudes.shape[-1]
    if n_frequencies < 2:
        raise ValueError(
            f"magnitudes needs at least 2 frequency bins, got shape {tuple(magnitudes.shape)}"
        )
    # Real spectrum = zero imaginary part: irfft treats real input that way.
    impulse_response = ops.irfft(magnitudes, n=2 * (n_frequencies - 1), axis=-1)
    return apply_window_to_impulse_response(impulse_response, window_size)


def sinc(x: Any, threshold: float = 1e-20) -> Any:
    """Normalised sinc ``sin(pi x) / (pi x)``; entries with ``|x| < threshold`` use
    ``threshold`` instead (so sinc(0) is 1 without a 0/0)."""
    x = to_float(x, "x", "sinc")
    threshold = positive_number(threshold, "threshold", "sinc")
    raw = stop_gradient(x)
    x = ops.where(abs(raw) < threshold, threshold, x)
    x = math.pi * x
    return ops.sin(x) / x


def sinc_impulse_response(
    cutoff_frequency: Any,
    window_size: int = 512,
    sample_rate: float | None = None,
    high_pass: bool = False,
) -> Any:
    """Windowed-sinc low-pass (or high-pass) FIRs, one per cutoff.

    ``n_taps = 2 (window_size // 2) + 1`` (always odd). The IR is ``sinc(cutoff * n)`` for
    ``n = -half .. half`` times TensorFlow's "periodic" Hamming window, which for this odd
    length is the symmetric window ``0.54 - 0.46 cos(2 pi k / (n_taps - 1))`` (same taps as
    ``scipy.signal.firwin(n_taps, cutoff)``), divided by ``|sum|`` for unit DC gain. The
    high-pass is a unit impulse at the centre minus the low-pass. Used through
    :func:`fft_convolve`, the output is 1 sample late (centre ``half``, crop ``half - 1``).

    Unlike ddsp 3.7.0, which multiplies a NumPy ``cutoff_frequency`` by ``2 / sample_rate``
    in place (ddsp bug 22), the input is never modified.

    Args:
        cutoff_frequency: cutoffs [batch, n_time, 1] in Hz if ``sample_rate`` is given, else
            normalised to Nyquist (0..1).
        window_size: Hamming window length in samples (rounded up to odd).
        sample_rate: sample rate in Hz, or None for normalised cutoffs.
        high_pass: return high-pass filters instead of low-pass.

    Returns:
        IRs [batch, n_time, n_taps].
    """
    where = "sinc_impulse_response"
    cutoff_frequency = to_float(cutoff_frequency, "cutoff_frequency", where)
    window_size = nonnegative_int(window_size, "window_size", where)
    if sample_rate is not None:
        sample_rate = positive_number(sample_rate, "sample_rate", where)
        cutoff_frequency = cutoff_frequency * (2.0 / sample_rate)
    xp = array_namespace(cutoff_frequency)
    dtype = stop_gradient(cutoff_frequency).dtype

    half_size = window_size // 2
    full_size = half_size * 2 + 1
    idx = xp.arange(-half_size, half_size + 1, dtype=dtype).reshape(1, 1, full_size)
    impulse_response = sinc(cutoff_frequency * idx)

    window = _tf_hamming(xp, full_size, dtype)
    impulse_response = impulse_response * window
    impulse_response = impulse_response / ops.abs(ops.sum(impulse_response, axis=-1, keepdims=True))
    if high_pass:
        pass_through = xp.zeros(full_size, dtype=dtype)
        pass_through[half_size] = 1.0
        impulse_response = pass_through - impulse_response
    return impulse_response


def frequency_filter(
    audio: Any, magnitudes: Any, window_size: int = 0, padding: str = "same"
) -> Any:
    """Filter audio with (time-varying) frequency-sampling FIRs.

    ``fft_convolve(audio, frequency_impulse_response(magnitudes, window_size), padding)``
    with automatic delay compensation: exact for ``0 < window_size < 2 (n_frequencies -
    1)``, 2 samples late for ``window_size`` 0 or >= the raw IR length (ddsp quirk). On plain
    arrays the FIRs are designed and applied a chunk of frames at a time, so long audio
    (e.g. 10 minutes at 48 kHz) filters in bounded memory.

    Args:
        audio: input audio [batch, n_samples].
        magnitudes: linear gains [batch, n_frames, n_frequencies] or [batch,
            n_frequencies], 0 Hz to Nyquist.
        window_size: Hann window length of the IR; <= 0 for the full IR.
        padding: 'same' or 'valid' (see :func:`fft_convolve`).

    Returns:
        Filtered audio [batch, n_samples] ('same') or [batch, n_samples + n_taps - 1].
    """
    audio = to_float(audio, "audio", "frequency_filter")
    magnitudes = to_float(magnitudes, "magnitudes", "frequency_filter")
    check_rank(magnitudes, (2, 3), "magnitudes", "frequency_filter", "[batch(, n_frames), n_freq]")
    _check_filter_batch(audio, magnitudes, "magnitudes", "frequency_filter")
    traced = is_traced(audio, magnitudes)
    if traced or len(magnitudes.shape) != 3:
        impulse_response = frequency_impulse_response(magnitudes, window_size=window_size)
        return fft_convolve(audio, impulse_response, padding=padding)
    # Plain arrays: design the FIRs of a chunk of frames at a time (bounded memory).
    check_crop_mode(padding)
    convolution_shapes(audio, magnitudes)
    ir_size = frequency_impulse_response(magnitudes[:1, :1], window_size=window_size).shape[-1]

    def ir_of(lo: int, hi: int) -> Any:
        return frequency_impulse_response(magnitudes[:, lo:hi], window_size=window_size)

    return convolve_and_crop(audio, ir_of, magnitudes.shape[1], ir_size, padding, -1, traced)


def sinc_filter(
    audio: Any,
    cutoff_frequency: Any,
    window_size: int = 512,
    sample_rate: float | None = None,
    padding: str = "same",
    high_pass: bool = False,
) -> Any:
    """Filter audio with (time-varying) windowed-sinc low- or high-pass FIRs.

    ``fft_convolve(audio, sinc_impulse_response(...), padding)`` with automatic delay
    compensation, which leaves the output 1 sample late (ddsp quirk).

    Args:
        audio: input audio [batch, n_samples].
        cutoff_frequency: cutoffs [batch, n_frames, 1], Hz if ``sample_rate`` is given else
            normalised to Nyquist (0..1).
        window_size: Hamming window length in samples (rounded up to odd).
        sample_rate: sample rate in Hz, or None.
        padding: 'same' or 'valid' (see :func:`fft_convolve`).
        high_pass: high-pass instead of low-pass.

    Returns:
        Filtered audio [batch, n_samples] ('same') or [batch, n_samples + n_taps - 1].
    """
    audio = to_float(audio, "audio", "sinc_filter")
    cutoff_frequency = to_float(cutoff_frequency, "cutoff_frequency", "sinc_filter")
    _check_filter_batch(audio, cutoff_frequency, "cutoff_frequency", "sinc_filter")
    impulse_response = sinc_impulse_response(
        cutoff_frequency, window_size=window_size, sample_rate=sample_rate, high_pass=high_pass
    )
    return fft_convolve(audio, impulse_response, padding=padding)


def _check_filter_batch(audio: Any, controls: Any, name: str, where: str) -> None:
    """The filter controls' batch is the audio's (or 1): checked before the FIRs are built,
    so the error names the argument the caller passed."""
    if len(audio.shape) and len(controls.shape) and controls.shape[0] not in (1, audio.shape[0]):
        raise ValueError(
            f"{where}: {name} has batch size {controls.shape[0]}, audio has {audio.shape[0]}"
        )
