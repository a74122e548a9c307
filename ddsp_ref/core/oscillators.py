"""Oscillators of ddsp.core: phase accumulation, sinusoidal/harmonic banks and their controls.

Phase accuracy: ddsp accumulates phase with a float32 ``tf.cumsum`` (or a float32 chunked
``angular_cumsum``), whose error grows with the signal length. Here every oscillator integrates
its angular frequency in float64, in chunks wrapped modulo 2*pi, and casts the wrapped phase back
to the working dtype just before the sine: after 10 minutes at 48 kHz the float64 phase is within
~1e-7 rad of the exact one (a float32 output adds its own rounding, ~2e-7 rad). ddsp's phase
conventions are kept (inclusive cumsum: the first sample's phase is ``omega[0]``; ``>=`` at
Nyquist). Gradients flow through the wrapping (``mod`` has slope 1).

Fused kernels: ``oscillator_bank`` (summed), ``harmonic_oscillator_bank``,
``harmonic_synthesis`` and ``streaming_harmonic_synthesis`` run the fused oscillator kernels of
``core/fused.py`` (numba CPU / CUDA: upsampling, Nyquist mask, float64 phase and the sum over
oscillators in one pass, no ``[batch, n_samples, n_harmonics]`` arrays, harmonics by phasor
recurrence) wherever they apply: no ``harmonic_shifts``, amplitude resampling 'linear' or
'window', upsampling only. Elsewhere, and with ``DDSP_REF_KERNELS=composed``, the composed ops
below compute the same function (tests compare the two paths: equal to ~1e-9 in float64).
One numerical difference: the fused harmonic path forms harmonic k's phase as ``k * phi`` from
the float64 phase of the fundamental, where the composed path (like ddsp) rounds every
``k * f0`` to the working dtype before integrating it; with float32 controls that rounding
drifts the phase of high harmonics by up to ~1e-2 rad over 4 s (relative L2 ~7e-4 on the
standard workload), so the fused float32 output is the closer one to the exact answer (~1e-7).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from . import fused, resampling
from .math import safe_divide
from .utils import pad_axis, to_float

__all__ = [
    "sinusoidal_to_harmonic",
    "harmonic_to_sinusoidal",
    "angular_cumsum",
    "remove_above_nyquist",
    "normalize_harmonics",
    "oscillator_bank",
    "harmonic_oscillator_bank",
    "get_harmonic_frequencies",
    "harmonic_synthesis",
    "streaming_harmonic_synthesis",
]

_TWO_PI = 2.0 * math.pi
# Samples per chunk of the internal float64 phase accumulation (ddsp's angular_cumsum default).
_CHUNK_SIZE = 1000


# -- helpers -------------------------------------------------------------------------------------
def _cast(x: Any, dtype: Any) -> Any:
    return x if x.dtype == dtype else ops.astype(x, dtype)


def _check_sample_rate(sample_rate: Any, name: str) -> None:
    if not sample_rate > 0:
        raise ValueError(f"{name}: sample_rate must be positive, got {sample_rate!r}")


def _check_time_axis(x: Any, arg: str, name: str) -> None:
    if len(x.shape) < 2:
        raise ValueError(
            f"{name}: {arg} must have shape [batch, n_samples, ...], got shape {tuple(x.shape)}"
        )


def _check_broadcast(a: Any, b: Any, names: str, fn: str) -> None:
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(
            f"{fn}: {names} must have broadcastable shapes, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        ) from None


def _wrapped_cumsum64(omega: Any, chunk_size: int) -> Any:
    """Inclusive cumsum over axis 1 of float64 ``omega``, wrapped to [0, 2*pi] (float64).

    Sums run inside chunks of ``chunk_size`` samples; each chunk's total is reduced mod 2*pi
    before the totals are summed into chunk offsets, so no partial sum grows beyond
    ``n_chunks * 2*pi + chunk_size * max|omega|``: float64 rounding stays below ~1e-7 rad after
    3e7 samples (10 minutes at 48 kHz).
    """
    shape = tuple(omega.shape)
    n_time = shape[1]
    n_chunks = max(-(-n_time // chunk_size), 1)
    pad = n_chunks * chunk_size - n_time
    if pad:
        omega = pad_axis(omega, (0, pad), axis=1)
    chunks = ops.reshape(omega, (shape[0], n_chunks, chunk_size) + shape[2:])
    phase = ops.cumsum(chunks, axis=2)
    totals = ops.mod(phase[:, :, -1:], _TWO_PI)
    offsets = ops.mod(ops.cumsum(totals, axis=1, exclusive=True), _TWO_PI)
    phase = ops.mod(phase + offsets, _TWO_PI)
    phase = ops.reshape(phase, (shape[0], n_chunks * chunk_size) + shape[2:])
    return phase[:, :n_time] if pad else phase


def _phase_from_hz(frequency: Any, sample_rate: float) -> Any:
    """Float64 wrapped phase [rad] of oscillators with sample-wise ``frequency`` [Hz]."""
    xp = array_namespace(frequency)
    omega = _cast(frequency, xp.float64) * (_TWO_PI / float(sample_rate))  # rad / sample
    return _wrapped_cumsum64(omega, _CHUNK_SIZE)


def _sum_last(x: Any) -> Any:
    """Sum over the last (oscillator) axis."""
    return ops.sum(x, axis=-1)


def _working_dtype(*xs: Any) -> Any:
    return np.result_type(*[x.dtype for x in xs])


# -- phase accumulation and Nyquist ---------------------------------------------------------------
def angular_cumsum(angular_frequency: Any, chunk_size: int = 1000) -> Any:
    """Phase by cumulative summation of angular frequency, modulo 2*pi.

    Like ddsp, the input is split into chunks of ``chunk_size`` samples along time (zero padded
    at the end), summed inside each chunk, and stitched with offsets that are themselves
    accumulated modulo 2*pi. Unlike ddsp (float32 throughout) the sums run in float64, so the
    result is within ~1e-7 rad of the exact phase even after 3e7 samples, before the cast back
    to the input's dtype; it therefore differs from TF in the last bits (and beyond them on long
    inputs, where TF's float32 sums drift). Any number of channel axes is accepted (ddsp: one).

    Args:
        angular_frequency: Radians per sample, shape [batch, n_samples, ...].
        chunk_size: Samples per chunk (positive integer).

    Returns:
        Inclusive cumulative phase in [0, 2*pi) [rad], shape and dtype of the input (float32
        unless the input is float64).

    Raises:
        ValueError: if the input has no time axis or ``chunk_size`` is not positive.
    """
    angular_frequency = to_float(angular_frequency)
    _check_time_axis(angular_frequency, "angular_frequency", "angular_cumsum")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"angular_cumsum: chunk_size must be a positive int, got {chunk_size!r}")
    xp = array_namespace(angular_frequency)
    dtype = angular_frequency.dtype
    phase = _wrapped_cumsum64(_cast(angular_frequency, xp.float64), int(chunk_size))
    # A float64 phase just below 2*pi may round up to 2*pi (in float32, or in mod itself for
    # tiny negative sums); one more mod in the output dtype folds it to 0.
    return ops.mod(_cast(phase, dtype), _TWO_PI)


def remove_above_nyquist(
    frequency_envelopes: Any, amplitude_envelopes: Any, sample_rate: int = 16000
) -> Any:
    """Set to 0 the amplitudes whose frequency is at or above Nyquist (``f >= sample_rate/2``).

    Args:
        frequency_envelopes: Oscillator frequencies [Hz], shape [batch, n_samples, n_sinusoids].
        amplitude_envelopes: Oscillator amplitudes, same (or a broadcastable) shape.
        sample_rate: Samples per second.

    Returns:
        Amplitudes with the aliasing oscillators zeroed, the broadcast shape of both inputs.
        No gradient flows to the frequencies (the comparison is a mask).
    """
    frequency_envelopes = to_float(frequency_envelopes)
    amplitude_envelopes = to_float(amplitude_envelopes)
    _check_broadcast(
        frequency_envelopes,
        amplitude_envelopes,
        "frequency and amplitude envelopes",
        "remove_above_nyquist",
    )
    above = stop_gradient(frequency_envelopes) >= sample_rate / 2.0
    return ops.where(above, 0.0, amplitude_envelopes)


def normalize_harmonics(
    harmonic_distribution: Any, f0_hz: Any = None, sample_rate: Any = None
) -> Any:
    """Normalise a harmonic distribution to sum 1, optionally removing harmonics above Nyquist.

    Args:
        harmonic_distribution: Harmonic weights, shape [batch, n_frames, n_harmonics].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1]. Together with
            ``sample_rate``, harmonics with ``k * f0 >= sample_rate / 2`` are zeroed first.
        sample_rate: Samples per second (or None).

    Returns:
        The distribution divided by its sum over harmonics (``safe_divide``: an all-zero frame
        stays zero), shape [batch, n_frames, n_harmonics].
    """
    harmonic_distribution = to_float(harmonic_distribution)
    if sample_rate is not None and f0_hz is not None:
        n_harmonics = int(harmonic_distribution.shape[-1])
        harmonic_frequencies = get_harmonic_frequencies(f0_hz, n_harmonics)
        harmonic_distribution = remove_above_nyquist(
            harmonic_frequencies, harmonic_distribution, sample_rate
        )
    total = ops.sum(harmonic_distribution, axis=-1, keepdims=True)
    return safe_divide(harmonic_distribution, total)


def get_harmonic_frequencies(frequencies: Any, n_harmonics: int) -> Any:
    """Integer multiples of the fundamental frequency.

    Args:
        frequencies: Fundamental frequencies [Hz], shape [batch, n_frames, 1].
        n_harmonics: Number of harmonics.

    Returns:
        Harmonic frequencies ``f0 * [1, 2, ..., n_harmonics]`` [Hz], shape
        [batch, n_frames, n_harmonics].
    """
    frequencies = to_float(frequencies)
    xp = array_namespace(frequencies)
    ratios = xp.arange(1, int(n_harmonics) + 1).astype(frequencies.dtype)
    return frequencies * ratios


# -- synth conversions ---------------------------------------------------------------------------
def sinusoidal_to_harmonic(
    sin_amps: Any,
    sin_freqs: Any,
    f0_hz: Any,
    harmonic_width: float = 0.1,
    n_harmonics: int = 100,
    sample_rate: int = 16000,
    normalize: bool = False,
) -> tuple[Any, Any]:
    """Extract harmonic controls from sinusoids given a fundamental frequency.

    Sinusoid s contributes to harmonic h with the Gaussian weight
    ``exp(-(|f_s - h * f0| / f0 / harmonic_width) ** 2)`` (division by f0 through safe_divide).

    Args:
        sin_amps: Sinusoid amplitudes (linear), shape [batch, n_frames, n_sinusoids].
        sin_freqs: Sinusoid frequencies [Hz], shape [batch, n_frames, n_sinusoids].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1].
        harmonic_width: Width of the Gaussian weighting, relative to f0.
        n_harmonics: Number of output harmonics.
        sample_rate: Samples per second; harmonics at or above Nyquist are zeroed.
        normalize: If True, a harmonic whose weights over the sinusoids sum to more than 1
            has them divided by that sum (so max(harm_amp) = max(sin_amp)).

    Returns:
        harm_amp: Total harmonic amplitude, shape [batch, n_frames, 1].
        harm_dist: Harmonic distribution (sums to 1 where harm_amp > 0), shape
            [batch, n_frames, n_harmonics].
    """
    sin_amps, sin_freqs, f0_hz = to_float(sin_amps), to_float(sin_freqs), to_float(f0_hz)
    _check_broadcast(sin_amps, sin_freqs, "sin_amps and sin_freqs", "sinusoidal_to_harmonic")
    harm_freqs = get_harmonic_frequencies(f0_hz, n_harmonics)  # [b, t, h]
    # Axes [b, t, n_harmonics, n_sinusoids].
    freqs_diff = ops.expand_dims(sin_freqs, 2) - ops.expand_dims(harm_freqs, -1)
    freqs_ratio = ops.abs(safe_divide(freqs_diff, ops.expand_dims(f0_hz, -1)))
    weights = ops.exp(-ops.square(freqs_ratio / harmonic_width))
    if normalize:
        weights_sum = ops.sum(weights, axis=-1, keepdims=True)
        normalized = safe_divide(weights, weights_sum)
        weights = ops.where(stop_gradient(weights_sum) > 1.0, normalized, weights)
    harm_amps = _sum_last(weights * ops.expand_dims(sin_amps, 2))
    harm_amps = remove_above_nyquist(harm_freqs, harm_amps, sample_rate)
    harm_amp = ops.sum(harm_amps, axis=-1, keepdims=True)
    return harm_amp, safe_divide(harm_amps, harm_amp)


def harmonic_to_sinusoidal(
    harm_amp: Any, harm_dist: Any, f0_hz: Any, sample_rate: int = 16000
) -> tuple[Any, Any]:
    """Convert harmonic-synth controls into sinusoidal-synth controls.

    Harmonics at or above Nyquist are zeroed and the remaining distribution renormalised.

    Args:
        harm_amp: Total amplitude, shape [batch, n_frames, 1].
        harm_dist: Harmonic distribution, shape [batch, n_frames, n_harmonics].
        f0_hz: Fundamental frequency [Hz], shape [batch, n_frames, 1].
        sample_rate: Samples per second.

    Returns:
        amps: Sinusoid amplitudes ``harm_amp * dist``, shape [batch, n_frames, n_harmonics].
        freqs: Sinusoid frequencies ``f0 * k`` [Hz], shape [batch, n_frames, n_harmonics].
    """
    harm_amp, harm_dist = to_float(harm_amp), to_float(harm_dist)
    freqs = get_harmonic_frequencies(f0_hz, int(harm_dist.shape[-1]))
    harm_dist = remove_above_nyquist(freqs, harm_dist, sample_rate)
    harm_dist = safe_divide(harm_dist, ops.sum(harm_dist, axis=-1, keepdims=True))
    return harm_amp * harm_dist, freqs


# -- oscillator banks -----------------------------------------------------------------------------
def oscillator_bank(
    frequency_envelopes: Any,
    amplitude_envelopes: Any,
    sample_rate: int = 16000,
    sum_sinusoids: bool = True,
    use_angular_cumsum: bool = False,
) -> Any:
    """Audio from sample-wise frequencies and amplitudes of a bank of sinusoidal oscillators.

    ``out[b, n] = sum_k a[b, n, k] * sin(phi[b, n, k])`` with the inclusive phase
    ``phi[n] = 2*pi/sample_rate * sum_{m <= n} f[m]`` (the first sample's phase is
    ``omega[0]``, as in ddsp). Oscillators at or above Nyquist are silenced per sample.

    Args:
        frequency_envelopes: Sample-wise frequencies [Hz], shape [batch, n_samples, n_sinusoids].
        amplitude_envelopes: Sample-wise amplitudes, shape [batch, n_samples, n_sinusoids].
        sample_rate: Samples per second.
        sum_sinusoids: Sum the oscillators (else return each one).
        use_angular_cumsum: Accepted for API parity with ddsp. ddsp chooses between a float32
            cumsum and a float32 angular_cumsum; here both use the float64 chunked accumulation
            (see the module docstring), so the flag changes nothing.

    Returns:
        Audio, shape [batch, n_samples] (or [batch, n_samples, n_sinusoids] when
        ``sum_sinusoids`` is False); float32 unless an input is float64.

    Raises:
        ValueError: for inputs without a time axis, unbroadcastable shapes or a non-positive
            sample rate.
    """
    del use_angular_cumsum  # both paths are the same exact accumulation
    frequency_envelopes = to_float(frequency_envelopes)
    amplitude_envelopes = to_float(amplitude_envelopes)
    _check_time_axis(frequency_envelopes, "frequency_envelopes", "oscillator_bank")
    _check_sample_rate(sample_rate, "oscillator_bank")
    if sum_sinusoids:
        audio = fused.oscillator_bank_fused(frequency_envelopes, amplitude_envelopes, sample_rate)
        if audio is not None:
            return audio
    amplitude_envelopes = remove_above_nyquist(
        frequency_envelopes, amplitude_envelopes, sample_rate
    )
    dtype = _working_dtype(frequency_envelopes, amplitude_envelopes)
    phases = _cast(_phase_from_hz(frequency_envelopes, sample_rate), dtype)
    audio = amplitude_envelopes * ops.sin(phases)
    return _sum_last(audio) if sum_sinusoids else audio


def harmonic_oscillator_bank(
    frequency: Any,
    amplitude_envelopes: Any,
    initial_phase: Any = None,
    sample_rate: int = 16000,
    use_angular_cumsum: bool = True,
) -> tuple[Any, Any]:
    """Harmonic oscillator bank for streaming synthesis: only the fundamental is integrated.

    The fundamental's inclusive phase plus ``initial_phase`` gives phi; harmonic k has phase
    ``k * phi`` (coherent harmonics), computed modulo 2*pi in float64. There is no Nyquist
    removal here (callers do it at frame rate, see ``streaming_harmonic_synthesis``).

    Deviation from ddsp: ``final_phase`` is wrapped to [0, 2*pi) (ddsp returns the unwrapped
    ``angular_cumsum + initial_phase``). Both are equal modulo 2*pi, so the audio of the next
    block is the same, but carrying the wrapped phase block after block never loses precision.

    Args:
        frequency: Sample-wise fundamental frequency [Hz], shape [batch, n_samples, 1].
        amplitude_envelopes: Sample-wise harmonic amplitudes, shape
            [batch, n_samples, n_harmonics].
        initial_phase: Phase [rad] before the first sample, shape [batch, 1, 1] (default 0).
        sample_rate: Samples per second.
        use_angular_cumsum: Accepted for API parity (both ddsp paths are replaced by the same
            exact float64 accumulation).

    Returns:
        audio: shape [batch, n_samples].
        final_phase: Phase of the fundamental at the last sample [rad], in [0, 2*pi],
            shape [batch, 1, 1]; pass it as the next block's ``initial_phase``.

    Raises:
        ValueError: if ``frequency`` is not [batch, n_samples, 1] or the sample rate is not
            positive.
    """
    del use_angular_cumsum
    frequency = to_float(frequency)
    amplitude_envelopes = to_float(amplitude_envelopes)
    if len(frequency.shape) != 3 or frequency.shape[-1] != 1:
        raise ValueError(
            "harmonic_oscillator_bank: frequency must have shape [batch, n_samples, 1], got "
            f"{tuple(frequency.shape)}"
        )
    _check_sample_rate(sample_rate, "harmonic_oscillator_bank")
    result = fused.harmonic_oscillator_bank_fused(
        frequency, amplitude_envelopes, initial_phase, sample_rate
    )
    if result is not None:
        return result
    xp = array_namespace(frequency)
    dtype = _working_dtype(frequency, amplitude_envelopes)
    phase = _phase_from_hz(frequency, sample_rate)  # float64 [batch, n_samples, 1]
    if initial_phase is not None:
        phase = ops.mod(phase + _cast(to_float(initial_phase), xp.float64), _TWO_PI)
    final_phase = _cast(phase[:, -1:, 0:1], dtype)
    ratios = xp.arange(1, int(amplitude_envelopes.shape[-1]) + 1, dtype=xp.float64)
    harmonic_phases = _cast(ops.mod(phase * ratios, _TWO_PI), dtype)
    audio = _sum_last(amplitude_envelopes * ops.sin(harmonic_phases))
    return audio, final_phase


# -- frame-rate synthesis -------------------------------------------------------------------------
def harmonic_synthesis(
    frequencies: Any,
    amplitudes: Any,
    harmonic_shifts: Any = None,
    harmonic_distribution: Any = None,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
    use_angular_cumsum: bool = False,
) -> Any:
    """Audio from frame-wise controls of a monophonic harmonic oscillator bank.

    Harmonic k has frequency ``f0 * k * (1 + shift_k)`` and amplitude ``amp * dist_k``.
    Frequencies are upsampled linearly, amplitudes with ``amp_resample_method``, then
    ``oscillator_bank`` runs at the sample rate (silencing harmonics above Nyquist per sample).
    As in ddsp, the distribution is not normalised here. Without shifts, and with 'linear' or
    'window' amplitudes, this runs the fused harmonic kernel (see the module docstring).

    Args:
        frequencies: Frame-wise fundamental frequency [Hz], shape [batch, n_frames, 1].
        amplitudes: Frame-wise amplitude, shape [batch, n_frames, 1].
        harmonic_shifts: Relative frequency deviations of the harmonics (zero-centred), shape
            [batch, n_frames, n_harmonics], or None.
        harmonic_distribution: Harmonic amplitudes relative to ``amplitudes``, shape
            [batch, n_frames, n_harmonics], or None.
        n_samples: Output length in samples.
        sample_rate: Samples per second.
        amp_resample_method: 'nearest', 'linear', 'cubic' or 'window' (see ``resample``).
        use_angular_cumsum: Accepted for API parity (see ``oscillator_bank``).

    Returns:
        Audio, shape [batch, n_samples] (ddsp's docstring says [batch, n_samples, 1]; the
        tensor is 2-D there too).
    """
    frequencies, amplitudes = to_float(frequencies), to_float(amplitudes)
    if harmonic_shifts is None:
        _check_sample_rate(sample_rate, "harmonic_synthesis")
        audio = fused.harmonic_synthesis_fused(
            frequencies,
            amplitudes,
            harmonic_distribution,
            n_samples,
            sample_rate,
            amp_resample_method,
        )
        if audio is not None:
            return audio
    if harmonic_distribution is not None:
        harmonic_distribution = to_float(harmonic_distribution)
        n_harmonics = int(harmonic_distribution.shape[-1])
    elif harmonic_shifts is not None:
        harmonic_shifts = to_float(harmonic_shifts)
        n_harmonics = int(harmonic_shifts.shape[-1])
    else:
        n_harmonics = 1
    harmonic_frequencies = get_harmonic_frequencies(frequencies, n_harmonics)
    if harmonic_shifts is not None:
        harmonic_frequencies = harmonic_frequencies * (1.0 + to_float(harmonic_shifts))
    harmonic_amplitudes = amplitudes
    if harmonic_distribution is not None:
        harmonic_amplitudes = amplitudes * harmonic_distribution
    frequency_envelopes = resampling.resample(harmonic_frequencies, n_samples)
    amplitude_envelopes = resampling.resample(
        harmonic_amplitudes, n_samples, method=amp_resample_method
    )
    return oscillator_bank(
        frequency_envelopes,
        amplitude_envelopes,
        sample_rate=sample_rate,
        use_angular_cumsum=use_angular_cumsum,
    )


def streaming_harmonic_synthesis(
    frequencies: Any,
    amplitudes: Any,
    harmonic_distribution: Any = None,
    initial_phase: Any = None,
    n_samples: int = 64000,
    sample_rate: int = 16000,
    amp_resample_method: str = "linear",
) -> tuple[Any, Any]:
    """Block-wise harmonic synthesis that carries the oscillator phase between calls.

    The distribution is normalised with harmonics above Nyquist removed at frame rate
    (``normalize_harmonics(dist, f0, sample_rate)``), multiplied by the amplitude, upsampled
    (f0 linearly, amplitudes with ``amp_resample_method``) and rendered by
    ``harmonic_oscillator_bank``.

    Args:
        frequencies: Frame-wise fundamental frequency [Hz], shape [batch, n_frames, 1].
        amplitudes: Frame-wise amplitude, shape [batch, n_frames, 1].
        harmonic_distribution: shape [batch, n_frames, n_harmonics], or None (one harmonic).
        initial_phase: Phase [rad] before the first sample, shape [batch, 1, 1] (default 0).
        n_samples: Output length in samples.
        sample_rate: Samples per second.
        amp_resample_method: 'nearest', 'linear', 'cubic' or 'window'.

    Returns:
        audio: shape [batch, n_samples].
        final_phase: shape [batch, 1, 1], in [0, 2*pi] (see ``harmonic_oscillator_bank``).
    """
    frequencies, amplitudes = to_float(frequencies), to_float(amplitudes)
    harmonic_amplitudes = amplitudes
    if harmonic_distribution is not None:
        harmonic_distribution = normalize_harmonics(
            to_float(harmonic_distribution), frequencies, sample_rate
        )
        harmonic_amplitudes = amplitudes * harmonic_distribution
    _check_sample_rate(sample_rate, "streaming_harmonic_synthesis")
    result = fused.streaming_synthesis_fused(
        frequencies,
        harmonic_amplitudes,
        initial_phase,
        n_samples,
        sample_rate,
        amp_resample_method,
    )
    if result is not None:
        return result
    frequency_envelope = resampling.resample(frequencies, n_samples)
    amplitude_envelopes = resampling.resample(
        harmonic_amplitudes, n_samples, method=amp_resample_method
    )
    return harmonic_oscillator_bank(
        frequency_envelope, amplitude_envelopes, initial_phase, sample_rate=sample_rate
    )
